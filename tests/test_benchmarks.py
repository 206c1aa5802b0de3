"""Every benchmark's smoke mode runs here, for real, so a change that breaks a benchmark fails
the suite instead of rotting unseen until the next measurement.

`--smoke` is the benchmark itself at tiny sizes with one short round: the same seed, the same
servers and workers, the same checks and exit status (bench/smoke.py). Each test runs the
entry point a person runs (`bench/run-*`, or the Python script where there is no wrapper) as a
subprocess with a minimal environment. Instead of starting their own PostgreSQL they get a
scratch database on the suite's server (BENCH_DATABASE_URL, see bench/prepare.sh), created for
the test and dropped after it; the provisioning benchmark gets a Redis database of its own on
the suite's Redis. PostgreSQL only, as the benchmarks are (the embedded SQLite pass skips them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
# A smoke run takes a few seconds; this only stops a hung one from holding the suite.
TIMEOUT = 180
# The provisioning benchmark purges its queue and runs its own workers: on a Redis database
# of its own, the one after the suite's (each pytest-xdist process has its own, see
# dentsignal/test_settings.py), neither touches the queue of the suite's worker tests.
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "")

pytestmark = [
    pytest.mark.bench,
    pytest.mark.no_sandbox,  # each benchmark starts its own sandbox Twilio
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmarks run on PostgreSQL only: set DATABASE_URL to one (scripts/test does)",
    ),
]


def _server_admin() -> dict[str, object]:
    """psycopg.connect() arguments for the suite's PostgreSQL server's maintenance database."""
    server = connection.settings_dict
    return {
        "host": server["HOST"],
        "port": server["PORT"],
        "user": server["USER"],
        "password": server["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }


def _database_url(name: str) -> str:
    server = connection.settings_dict
    credentials = quote(server["USER"], safe="") + (":" + quote(server["PASSWORD"], safe="") if server["PASSWORD"] else "")
    return f"postgres://{credentials}@{server['HOST']}:{server['PORT']}/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(**_server_admin()) as conn:
        # FORCE: a server or worker left behind by a failed run must not keep it alive.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[str]:
    """A database migrated once for the whole session, which each smoke run's scratch
    database copies (CREATE DATABASE ... TEMPLATE): every benchmark migrates the database it
    is given, and applying all migrations to an empty one costs seconds per benchmark;
    on a copy of a migrated one, its `migrate` finds nothing to do."""
    name = f"bench_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**_server_admin()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        basics = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
        env = {**basics, "DJANGO_DEBUG": "true", "TWILIO_SANDBOX": "true", "CELERY_BROKER_URL": ""}
        env["DATABASE_URL"] = _database_url(name)
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert migrated.returncode == 0, f"migrating the benchmarks' template database failed:\n{migrated.stderr[-5000:]}"
        yield name
    finally:
        _drop(name)


@pytest.fixture
def scratch_database_url(migrated_template: str) -> Iterator[str]:
    """The URL of a new database on the suite's PostgreSQL server, a copy of the migrated
    template (no rows but the migrations' own), dropped afterwards."""
    name = f"bench_smoke_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**_server_admin()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(migrated_template)))
    try:
        yield _database_url(name)
    finally:
        _drop(name)


def run_benchmark(*command: str, **env: str) -> str:
    """Run a benchmark from the project's root as a person would, in an environment holding
    only `env` beyond the basics (none of the suite's settings); its output. Fails the test,
    with the output, when the benchmark exits non-zero."""
    basics = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env={**basics, **env}, capture_output=True, text=True, timeout=TIMEOUT)
    print(f"{' '.join(command)}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{(result.stdout + result.stderr)[-5000:]}"
    return result.stdout


@pytest.fixture
def wrapper_ready() -> None:
    """bench/run-* run the checkout's .venv; without one they would make it, which is not a test's job."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("bench/run-* use the checkout's .venv, which scripts/test makes")


def test_admin_benchmark_smoke(wrapper_ready, scratch_database_url):
    out = run_benchmark("bench/run-admin", "--smoke", BENCH_DATABASE_URL=scratch_database_url)

    assert out.startswith("seeded ")
    assert "search number" in out and "(the last)" in out


def test_webhooks_benchmark_smoke(wrapper_ready, scratch_database_url):
    out = run_benchmark("bench/run-webhooks", "--smoke", BENCH_DATABASE_URL=scratch_database_url)

    assert out.startswith("Webhook benchmark, ")
    assert "Database queries per request: voice " in out and "Twilio API calls: provisioning " in out


@pytest.fixture
def bench_redis_url() -> str:
    """A Redis database on the suite's Redis apart from the worker tests': the one after theirs."""
    if not BROKER_URL:
        pytest.skip("the provisioning benchmark needs Redis: set TEST_CELERY_BROKER_URL (scripts/test does)")
    suite = urlsplit(BROKER_URL)
    return suite._replace(path=f"/{int(suite.path.strip('/') or 0) + 1}").geturl()


def test_provision_benchmark_smoke(wrapper_ready, scratch_database_url, bench_redis_url):
    out = run_benchmark(
        "bench/run-provision", "--smoke", BENCH_DATABASE_URL=scratch_database_url, BENCH_REDIS_URL=bench_redis_url
    )

    assert "clinics provisioned:" in out and "purchase requests:" in out


def test_fleet_benchmark_smoke(wrapper_ready, scratch_database_url):
    out = run_benchmark("bench/run-fleet", "--smoke", BENCH_DATABASE_URL=scratch_database_url)

    assert "full audit:" in out and "0 wrong" in out
    assert "A2P poll, one tick:" in out and "usage refresh:" in out and "re-drive scan:" in out


def test_webhook_profile_smoke(scratch_database_url):
    out = run_benchmark(sys.executable, "bench/profile_webhooks.py", "--smoke", DATABASE_URL=scratch_database_url)

    kinds = [line.split()[0] for line in out.splitlines() if "µs/request" in line]
    assert kinds == "baseline one-write voice status sms".split()
