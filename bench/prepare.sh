# shellcheck shell=bash
# bench_prepare [redis]: what every bench/run-* needs before its Python script, run from the
# project's root. Exports DATABASE_URL, and with `redis` CELERY_BROKER_URL.
#
# - .venv from requirements-dev.txt, the same as scripts/test makes, so that neither
#   reinstalls after the other (requirements.txt alone would replace its stamp each time);
# - a private PostgreSQL (and Redis) on 127.0.0.1, stopped when the script exits; or, when
#   BENCH_DATABASE_URL (and BENCH_REDIS_URL) are set, those: the test suite runs each
#   benchmark's --smoke this way, on a scratch database of its own server. The benchmarks
#   empty the database they are given, which is why they never read DATABASE_URL here.
bench_prepare() {
    local needs=${1:-}
    # shellcheck source=scripts/lib/venv.sh
    source scripts/lib/venv.sh
    venv_ready requirements-dev.txt
    if [ -n "${BENCH_DATABASE_URL:-}" ]; then
        export DATABASE_URL=$BENCH_DATABASE_URL
        if [ "$needs" = redis ]; then
            if [ -z "${BENCH_REDIS_URL:-}" ]; then
                echo "BENCH_DATABASE_URL is set: set BENCH_REDIS_URL to a Redis URL too, this benchmark needs one." >&2
                exit 2
            fi
            export CELERY_BROKER_URL=$BENCH_REDIS_URL
        fi
        return 0
    fi
    # shellcheck source=scripts/lib/services.sh
    source scripts/lib/services.sh
    trap 'set +e; services_stop' EXIT INT TERM
    services_start
    "${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"
    if [ "$needs" = redis ]; then
        export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
    fi
}
