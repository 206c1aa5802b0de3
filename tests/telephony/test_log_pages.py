"""Issue 16, "Reading": the call and message logs show codes as people's words and
dates in the clinic's time zone, in the one format, with one blank marker."""

import datetime

import pytest
from django.urls import reverse

from telephony.models import CallLog, MessageLog
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


def test_message_log_shows_the_action_in_words_and_the_clinic_time(admin_client):
    clinic = ClinicFactory(name="Austin Dental", time_zone="America/Chicago")
    moment = datetime.datetime(2026, 12, 2, 17, 5, tzinfo=datetime.UTC)
    MessageLog.objects.create(message_sid="SM" + "1" * 32, clinic=clinic, body="hi", action="no_appointment", created_at=moment)

    page = admin_client.get(reverse("admin:telephony_messagelog_changelist")).content.decode()

    assert "No upcoming appointment" in page and ">no_appointment<" not in page
    assert "2 Dec 2026, 11:05 CST" in page
    assert "telephony/admin-logs.css" in page
    filtered = admin_client.get(reverse("admin:telephony_messagelog_changelist"), {"action": "confirmed"}).content.decode()
    assert "0 message logs" in filtered


def test_call_log_dates_in_the_clinic_zone_and_one_blank_marker(admin_client):
    clinic = ClinicFactory(name="Boston Dental", time_zone="America/New_York")
    moment = datetime.datetime(2026, 12, 2, 17, 5, tzinfo=datetime.UTC)
    CallLog.objects.create(call_sid="CA" + "1" * 32, clinic=clinic, created_at=moment)

    page = admin_client.get(reverse("admin:telephony_calllog_changelist")).content.decode()

    assert "2 Dec 2026, 12:05 EST" in page
    assert ">-<" not in page and "—" in page  # duration unknown
