"""Settings for the test suite: production settings plus what tests need to run anywhere."""

import os
from urllib.parse import urlsplit

# Tests must not depend on the developer's environment for a secret.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
# Likewise the key that seals EINs and subaccount tokens, required with DEBUG off.
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWZpZWxkLWtleS1uZXZlci1pbi11c2U=")
# Tests run on the sandbox Twilio only (tests/conftest.py starts it). Set in the environment,
# not only here, so that the processes tests start (workers, settings checks) inherit it.
os.environ["TWILIO_SANDBOX"] = "true"

from .settings import *  # noqa: F403

# Fast password hashing: tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client speaks plain HTTP.
SECURE_SSL_REDIRECT = False


def _redis_database_of_this_process(url: str, process: str) -> str:
    """`url` with the Redis database of pytest-xdist's process `process` (gw0, gw1, ...):
    the database given + 2 x its number (the database after it is its benchmarks', see
    tests/test_benchmarks.py). Redis has 16 databases by default: up to 8 processes."""
    parts = urlsplit(url)
    given = int(parts.path.strip("/") or 0)
    return parts._replace(path=f"/{given + 2 * int(process.removeprefix('gw'))}").geturl()


# pytest-xdist runs the suite in several processes (scripts/test), each named in
# PYTEST_XDIST_WORKER. What a process keeps outside its own test database (pytest-django
# names those test_<name>_gw0, ...) must be its own too: the Redis database its worker tests
# purge and its fallback store fills, and the fallback spool directory. The Redis URL is
# rewritten in the environment, where the tests read it and the processes they start
# (real Celery workers) inherit it, once: those processes load these settings again.
XDIST_PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_PROCESS and os.environ.get("TEST_CELERY_BROKER_URL") and os.environ.get("TEST_REDIS_DATABASE_OF") != XDIST_PROCESS:
    os.environ["TEST_CELERY_BROKER_URL"] = _redis_database_of_this_process(os.environ["TEST_CELERY_BROKER_URL"], XDIST_PROCESS)
    os.environ["TEST_REDIS_DATABASE_OF"] = XDIST_PROCESS

# Tasks run in-process; the worker tests switch this off and send to the Redis at
# TEST_CELERY_BROKER_URL, which a real `celery worker` process consumes. A worker started
# with TEST_CELERY_EAGER=false sends its own retries and follow-up tasks there too, as in
# production (the outage tests); otherwise it runs them in-process at once.
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = os.environ.get("TEST_CELERY_EAGER", "true") != "false"
# No real sleeps: the A2P poll's pace between Trust Hub requests (a test of the pacing sets it).
A2P_TRUST_HUB_PACE_SECONDS = 0.0
# Beat's A2P poll in the test's own thread: a thread of its own would not see the test's
# uncommitted rows (the poll's threads are shown by bench/run-fleet).
A2P_POLL_CONCURRENCY = 1
# The fallbacks' store: the test Redis when there is one (as production with a broker),
# else files; never the developer's own var/fallback.
FALLBACK_REDIS_URL = CELERY_BROKER_URL
FALLBACK_SPOOL_DIR = str(VAR_DIR / ("test-fallback" + (f"-{XDIST_PROCESS}" if XDIST_PROCESS else "")))  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests close connections (outages) and use several threads.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-dentsignal.sqlite3")}  # noqa: F405
# The suite's tests log staff in with force_login (no second factor); the staff-login tests
# (tests/test_staff_login.py, tests/browser/test_staff_login.py) switch it on, as production has it.
STAFF_2FA_REQUIRED = False
