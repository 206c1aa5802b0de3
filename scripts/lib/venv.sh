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
        # uv (pinned here: it installs, it is not imported) installs the same pinned packages
        # as pip, downloading and unpacking in parallel: 4 s instead of about 16 for a fresh
        # .venv here; pip does it when uv cannot be had. Neither byte-compiles: compileall
        # then uses every core. The .pyc files matter: with PYTHONDONTWRITEBYTECODE set, every
        # process a run starts would otherwise compile what it imports. A file that does not
        # compile (a package's Python 2 leftovers) is skipped, as pip skips it.
        if .venv/bin/python -m pip install -q uv==0.9.16 >/dev/null 2>&1 \
            && .venv/bin/uv pip install -q --python .venv/bin/python -r "$requirements"; then
            :
        else
            .venv/bin/python -m pip install -q --no-compile -r "$requirements"
        fi
        .venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true
        echo "$stamp" > .venv/.dentsignal-stamp
    fi
}
