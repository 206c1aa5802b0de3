"""Where a webhook's time goes: the WSGI app called in-process, without a server or network.

    DATABASE_URL=postgres://… .venv/bin/python bench/profile_webhooks.py [--kind voice] [--profile]

Seeds the same 1,000 clinics as bench/webhooks.py, then sends each webhook (and the
baseline view) N signed requests straight into Django's WSGI handler and prints the CPU
microseconds per request. With --profile, prints cProfile's top functions for each kind.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import smoke  # noqa: E402
from bench.loadgen import PATHS, build  # noqa: E402
from bench.webhooks import KINDS, seed, setup_django  # noqa: E402

BASE_URL = "http://127.0.0.1:8000"


def environ_for(path: str, body: str, headers: dict) -> dict:
    data = body.encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": headers["Content-Type"],
        "CONTENT_LENGTH": str(len(data)),
        "HTTP_X_TWILIO_SIGNATURE": headers["X-Twilio-Signature"],
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def backend_cpu_seconds() -> float:
    """CPU time used so far by this process's PostgreSQL backend (Linux /proc), or 0."""
    from django.db import connection

    connection.ensure_connection()
    try:
        with open(f"/proc/{connection.connection.info.backend_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(application, path: str, requests: list) -> None:
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    for body, headers in requests:
        response = application(environ_for(path, body, headers), start_response)
        b"".join(response)
        response.close()
    bad = [s for s in statuses if not s.startswith("2")]
    if bad:
        raise SystemExit(f"{path}: {len(bad)} non-2xx answers, first {bad[0]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["all", *sorted(PATHS)], default="all")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per kind before them")
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime, ...)")
    parser.add_argument("--lines", type=int, default=35, help="functions to print")
    args = smoke.parse_args(parser, {"clinics": 20, "requests": 20, "warmup": 5})
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database.", file=sys.stderr)
        return 2
    setup_django(BASE_URL)
    from django.core.wsgi import get_wsgi_application

    from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    clinics = seed(args.clinics)
    application = get_wsgi_application()
    kinds = KINDS if args.kind == "all" else [args.kind]
    for kind in kinds:
        warmup, requests = (
            build(kind, n, clinics, BASE_URL, SANDBOX_AUTH_TOKEN, SANDBOX_ACCOUNT_SID) for n in (args.warmup, args.requests)
        )
        run(application, PATHS[kind], warmup)
        profiler = cProfile.Profile() if args.profile else None
        backend_started = backend_cpu_seconds()
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        run(application, PATHS[kind], requests)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        backend = backend_cpu_seconds() - backend_started
        n = len(requests)
        print(
            f"{kind:<9} µs/request: {wall / n * 1e6:6.0f} wall, {cpu / n * 1e6:6.0f} CPU in Django, "
            f"{backend / n * 1e6:6.0f} CPU in PostgreSQL"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
