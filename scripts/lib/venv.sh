# shellcheck shell=bash
# venv_ready REQUIREMENTS: make .venv (Python 3.11) hold exactly what REQUIREMENTS pins.
# Re-running is fast: pip runs again only when a requirements file changed.
venv_ready() {
    local requirements=$1 python stamp
    python=$(command -v python3.11 || command -v python3)
    if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "DentSignal needs Python 3.11 (found $("$python" --version 2>&1))." >&2
        exit 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    stamp=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)-$requirements
    if [ "$(cat .venv/.dentsignal-stamp 2>/dev/null)" != "$stamp" ]; then
        # pip byte-compiles in one process; compileall uses every core (26.6 s instead of
        # 32.4 s for a fresh .venv here). The .pyc files matter: with PYTHONDONTWRITEBYTECODE
        # set, every process a run starts would otherwise compile what it imports. Like pip,
        # a file that does not compile (a package's Python 2 leftovers) is skipped.
        .venv/bin/python -m pip install -q --no-compile -r "$requirements"
        .venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true
        echo "$stamp" > .venv/.dentsignal-stamp
    fi
}
