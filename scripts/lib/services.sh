# shellcheck shell=bash
# services_start: a private PostgreSQL and Redis on 127.0.0.1 (installed from Debian's
# packages when missing), stopped by services_stop (call it from an EXIT trap).
# Sets PG_PORT, REDIS_PORT, SERVICES_DIR.

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

services_start() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    local missing=()
    { [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ]; } || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing ${missing[*]} from Debian's packages"
        sudo_if_needed apt-get update -qq
        sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    SERVICES_DIR=$(mktemp -d /tmp/dentsignal-services.XXXXXX)
    chmod 755 "$SERVICES_DIR"
    PG_PORT=$(free_port)
    REDIS_PORT=$(free_port)
    AS_PG=()
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root.
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        AS_PG=(runuser -u postgres --)
        chown postgres "$SERVICES_DIR"
    fi
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$SERVICES_DIR/pgdata" -U postgres --auth=trust -E UTF8 >/dev/null
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pgdata" -w -l "$SERVICES_DIR/postgres.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SERVICES_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
        --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log" --dir "$SERVICES_DIR"
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
}

services_stop() {
    [ -n "${SERVICES_DIR:-}" ] || return 0
    [ -f "$SERVICES_DIR/pgdata/postmaster.pid" ] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pgdata" -m fast -w stop >/dev/null 2>&1
    [ -f "$SERVICES_DIR/redis.pid" ] && kill "$(cat "$SERVICES_DIR/redis.pid")" 2>/dev/null
    sleep 0.5
    rm -rf "$SERVICES_DIR"
    SERVICES_DIR=""
}
