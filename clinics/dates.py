"""Dates for people: each clinic's time zone and the ONE format every clinic page uses.

The server runs in UTC; staff and clinics read dates in the clinic's own zone, with the
zone's abbreviation, e.g. "2 Dec 2026, 11:05 CST". Templates use the `clinic_datetime`
filter (clinics/templatetags/clinic_dates.py), Python code `datetime_for_people`.
"""

import datetime
import zoneinfo
from functools import lru_cache

import phonenumbers
import phonenumbers.timezone
from django.conf import settings
from django.core.exceptions import ValidationError

BLANK = "—"
# Day month year, 24-hour clock, zone abbreviation: unambiguous for US and other readers.
FORMAT = "%-d %b %Y, %H:%M %Z"


@lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def time_zone_of(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone an IANA name stands for, or None when blank or unknown here."""
    return _zone(name or "")


def time_zone_validate(value: str) -> None:
    """Model/form validator: `value` is blank or an IANA time zone name this server knows."""
    if value and _zone(value) is None:
        raise ValidationError(
            "'%(value)s' is not a time zone name; use an IANA name such as America/Chicago or America/New_York.",
            code="invalid",
            params={"value": value[:64]},
        )


def time_zone_for_number(phone_number: str) -> str:
    """The IANA zone of a number's area code (offline, libphonenumber's data), or "" when
    the area code spans several zones or is unknown (staff then set it by hand)."""
    if not phone_number:
        return ""
    try:
        parsed = phonenumbers.parse(phone_number, "US")
    except phonenumbers.NumberParseException:
        return ""
    zones = [zone for zone in phonenumbers.timezone.time_zones_for_number(parsed) if _zone(zone) is not None]
    return zones[0] if len(zones) == 1 else ""


def datetime_for_people(value: datetime.datetime | None, time_zone: str = "") -> str:
    """`value` in the zone `time_zone` (the server's zone when blank or unknown), as
    "2 Dec 2026, 11:05 CST"; "—" for no date."""
    if value is None:
        return BLANK
    zone = _zone(time_zone or "") or _zone(settings.TIME_ZONE) or datetime.UTC
    return value.astimezone(zone).strftime(FORMAT)
