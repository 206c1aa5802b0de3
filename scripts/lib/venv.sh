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
        .venv/bin/python -m pip install -q -r "$requirements"
        echo "$stamp" > .venv/.dentsignal-stamp
    fi
}
