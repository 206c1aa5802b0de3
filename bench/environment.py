"""The environment both benchmarks run the app under: production settings (DEBUG off),
the sandbox's credentials (the load generator and the sandbox sign with them) and the
benchmark's own settings module (bench/settings.py)."""

import os

from cryptography.fernet import Fernet


def production_like_environ(**extra: str) -> None:
    """Set os.environ for production settings with the benchmark's URLs, plus `extra`."""
    from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "TWILIO_ACCOUNT_SID": SANDBOX_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN,
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-only-secret-key-" + "x" * 40,
            # Production (DEBUG off) refuses to start without it: it seals EINs and subaccount tokens.
            "FIELD_ENCRYPTION_KEY": os.environ.get("FIELD_ENCRYPTION_KEY") or Fernet.generate_key().decode(),
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    os.environ.pop("DJANGO_DEBUG", None)
