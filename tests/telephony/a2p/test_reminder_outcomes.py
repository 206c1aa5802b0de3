"""Green means it worked (issue 22, item 2): a reminder that was skipped or refused by Twilio
is never reported as queued or sent; staff see it, with the reason, on the appointment and
on the clinic."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import constants
from django.urls import reverse
from django.utils import timezone

from clinics.models import Appointment, Clinic, Patient, ReminderOutcome
from tests.telephony.a2p.conftest import registered

# Real commits: the reminder task is sent with transaction.on_commit (and runs eagerly).
pytestmark = pytest.mark.django_db(transaction=True)

SID = re.compile(r"\b(PN|SM|MG|AC|BN|QE|BU)[0-9a-f]{32}\b")


@pytest.fixture
def appointment(clinic: Clinic) -> Appointment:
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone="+15125550999")
    return Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))


def _send(admin_client, appointment: Appointment) -> list:
    response = admin_client.post(
        reverse("admin:clinics_appointment_changelist"),
        {"action": "send_reminders", ACTION_CHECKBOX_NAME: [appointment.pk]},
        follow=True,
    )
    return list(response.context["messages"])


def _clinic_page(admin_client, clinic: Clinic) -> str:
    html = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    return html[html.index("Reminders not sent") :]


def test_a_reminder_skipped_for_an_unapproved_campaign_is_a_warning_with_the_reason(
    appointment, clinic, sandbox, a2p_enabled, admin_client
):
    (message,) = _send(admin_client, appointment)

    assert message.level == constants.WARNING
    assert "not sent" in str(message) and "campaign is not approved yet" in str(message)
    assert "queued" not in str(message)
    assert sandbox.api_requests("POST", "Messages.json") == []
    appointment.refresh_from_db()
    assert appointment.reminder_outcome == ReminderOutcome.SKIPPED
    listing = admin_client.get(reverse("admin:clinics_appointment_changelist")).content.decode()
    assert "Not sent" in listing and "campaign is not approved yet" in listing
    assert "campaign is not approved yet" in _clinic_page(admin_client, clinic)


def test_a_reminder_twilio_refuses_is_an_error_with_twilios_reason(appointment, clinic, sandbox, admin_client):
    sandbox.remove_number(clinic.twilio_number_sid)  # Twilio no longer has the clinic's number: 21606

    (message,) = _send(admin_client, appointment)

    assert message.level == constants.ERROR
    assert "refused" in str(message) and "21606" in str(message)
    assert not SID.search(str(message))
    appointment.refresh_from_db()
    assert (appointment.reminder_outcome, appointment.reminder_sent_at) == (ReminderOutcome.REFUSED, None)
    page = _clinic_page(admin_client, clinic)
    assert "Refused by Twilio" in page and "21606" in page


def test_a_sent_reminder_says_sent_and_the_clinic_lists_nothing(appointment, clinic, sandbox, a2p_enabled, admin_client):
    registered(clinic, sandbox)

    (message,) = _send(admin_client, appointment)

    assert message.level == constants.SUCCESS and "Reminder sent" in str(message)
    appointment.refresh_from_db()
    assert appointment.reminder_outcome == ReminderOutcome.SENT and appointment.reminder_sent_at is not None
    assert "every reminder asked for was sent" in _clinic_page(admin_client, clinic)
