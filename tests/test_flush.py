"""The flush that ends each test with real commits leaves every table empty, whatever
referenced what (tests/conftest.py deletes instead of truncating on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from clinics.models import Appointment, ChecklistItem, NumberEvent, Patient
from telephony.models import MessageLog
from tests.factories import ClinicFactory


@pytest.mark.django_db(transaction=True)
def test_the_flush_after_a_committing_test_empties_every_table_in_any_order():
    clinic = ClinicFactory()
    patient = Patient.objects.create(clinic=clinic, name="Ada", phone="+15125550100")
    appointment = Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now())
    ChecklistItem.objects.create(clinic=clinic, step="buy_number")
    NumberEvent.objects.create(clinic=clinic, clinic_name=clinic.name, kind=NumberEvent.Kind.RELEASED)
    MessageLog.objects.create(message_sid="SM" + "1" * 32, clinic=clinic, patient=patient, appointment=appointment)

    # As TransactionTestCase flushes after each test with real commits.
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)

    left = {model._meta.label: model.objects.count() for model in apps.get_models() if model._meta.managed}
    # On PostgreSQL the flush keeps what migrations made once (tests/conftest.py, FLUSH_KEEPS).
    kept = {"contenttypes.ContentType", "auth.Permission"} if connection.vendor == "postgresql" else set()
    assert {label: count for label, count in left.items() if count and label not in kept} == {}
    assert all(left[label] for label in kept)
