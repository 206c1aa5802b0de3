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
    # Without pip: ensurepip takes 5 s, and uv below installs pip with the rest in less.
    [ -x .venv/bin/python ] || "$python" -m venv --without-pip .venv
    stamp=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)-$requirements
    if [ "$(cat .venv/.dentsignal-stamp 2>/dev/null)" != "$stamp" ]; then
        # uv (pinned here: it installs, it is not imported; kept in .venv/tools) installs
        # the same pinned packages as pip, and pip itself, downloading and unpacking in
        # parallel: 4 s for a fresh .venv here, where pip took about 20. Without uv (the
        # machine's Python has no pip to fetch it), ensurepip and pip do it. Neither
        # byte-compiles: compileall then uses every core. The .pyc files matter: with
        # PYTHONDONTWRITEBYTECODE set, every process a run starts would otherwise compile
        # what it imports. A file that does not compile (a package's Python 2 leftovers) is
        # skipped, as pip skips it.
        if "$python" -m pip install -q --target .venv/tools uv==0.9.16 >/dev/null 2>&1 \
            && .venv/tools/bin/uv pip install -q --python .venv/bin/python pip -r "$requirements"; then
            :
        else
            .venv/bin/python -m ensurepip -q >/dev/null 2>&1 || true
            .venv/bin/python -m pip install -q --no-compile -r "$requirements"
        fi
        .venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true
        echo "$stamp" > .venv/.dentsignal-stamp
    fi
}
