"""`{{ value|clinic_datetime:clinic.time_zone }}`: a date in the clinic's zone, one format (clinics.dates)."""

import datetime

from django import template

from clinics.dates import datetime_for_people

register = template.Library()


@register.filter
def clinic_datetime(value: datetime.datetime | None, time_zone: str = "") -> str:
    """The date as clinic pages show it: in `time_zone`, with the zone abbreviation."""
    return datetime_for_people(value, time_zone)
