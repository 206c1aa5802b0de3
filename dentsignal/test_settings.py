"""Settings for the test suite: production settings plus what tests need to run anywhere."""

import os

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
# Tasks run in-process; the worker tests switch this off and send to the Redis at
# TEST_CELERY_BROKER_URL, which a real `celery worker` process consumes. A worker started
# with TEST_CELERY_EAGER=false sends its own retries and follow-up tasks there too, as in
# production (the outage tests); otherwise it runs them in-process at once.
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = os.environ.get("TEST_CELERY_EAGER", "true") != "false"
# The fallbacks' store: the test Redis when there is one (as production with a broker),
# else files; never the developer's own var/fallback.
FALLBACK_REDIS_URL = CELERY_BROKER_URL
FALLBACK_SPOOL_DIR = str(VAR_DIR / "test-fallback")  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests close connections (outages) and use several threads.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-dentsignal.sqlite3")}  # noqa: F405
