"""What a staff member's authenticator app does, for the staff-login tests (unit and browser)."""

from __future__ import annotations

import datetime
import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def code_for(key: bytes, *, later: int = 0) -> str:
    """The code an authenticator app shows for this key (`later` steps of 30 s from now)."""
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() + 30 * later
    return f"{totp.token():06d}"


def throttle_passed(device: TOTPDevice) -> None:
    """django-otp makes a device wait 2^(failures-1) seconds after a wrong code: that time has passed."""
    device.refresh_from_db()
    device.throttling_failure_timestamp -= datetime.timedelta(seconds=2**device.throttling_failure_count)
    device.save(update_fields=["throttling_failure_timestamp"])
