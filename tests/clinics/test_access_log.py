"""Issue 24, "Every look recorded": each admin page showing patients' data writes one
append-only access record; superusers read and export them; nobody changes them; the
Onboarding staff group sees no patients' data, the Clinic support group does."""

import csv
import datetime as dt
import io

import pytest
from django.contrib import admin
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinics import services
from clinics.models import AccessRecord, Appointment, Patient, ReminderOutcome
from clinics.models_access import AccessRecordImmutable
from dentsignal.admin_tools import AccessLoggedAdminMixin
from telephony.models import CallLog, MessageLog
from tests.factories import ClinicFactory
from tests.permissions import clinic_support_group, onboarding_staff_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    """One clinic with a patient, an appointment whose reminder was skipped, a text and a call."""
    clinic = ClinicFactory(name="Austin Dental")
    patient = Patient.objects.create(clinic=clinic, name="Pat Doe", phone="+15125550999")
    appointment = Appointment.objects.create(
        clinic=clinic,
        patient=patient,
        starts_at=timezone.now() + dt.timedelta(days=1),
        reminder_outcome=ReminderOutcome.SKIPPED,
        reminder_outcome_detail="The patient opted out of texts.",
        reminder_outcome_at=timezone.now(),
    )
    message = MessageLog.objects.create(
        message_sid="SM" + "1" * 32, clinic=clinic, patient=patient, from_number="+15125550999", body="Is 3pm ok?"
    )
    call = CallLog.objects.create(call_sid="CA" + "1" * 32, clinic=clinic, from_number="+15125550999")
    return {"clinic": clinic, "patient": patient, "appointment": appointment, "message": message, "call": call}


def member(django_user_model, username, group):
    user = django_user_model.objects.create_user(username=username, password=f"pw-{username}-1234", is_staff=True)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def support(django_user_model):
    return member(django_user_model, "support", clinic_support_group())


@pytest.fixture
def onboarding(django_user_model):
    return member(django_user_model, "onboarder", onboarding_staff_group())


def records():
    return list(AccessRecord.objects.order_by("id").values("username", "model", "object_ids", "fields", "view", "path"))


# ------------------------------------------------------------------ append-only


def test_an_access_record_can_be_neither_changed_nor_deleted():
    record = services.access_record_write(
        user_id=1,
        username="pat",
        model="telephony.messagelog",
        object_ids=[7],
        fields=["body"],
        view="detail",
        ip=None,
        path="/x",
    )

    record.username = "someone else"
    with pytest.raises(AccessRecordImmutable):
        record.save()
    with pytest.raises(AccessRecordImmutable):
        record.delete()
    with pytest.raises(AccessRecordImmutable):
        AccessRecord.objects.filter(pk=record.pk).update(username="someone else")
    with pytest.raises(AccessRecordImmutable):
        AccessRecord.objects.all().delete()
    # A new object given the row's id is an insert, never an overwrite.
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessRecord(pk=record.pk, username="forged", model="x", view="list", path="/").save()

    assert AccessRecord.objects.get().username == "pat"


# ------------------------------------------------------------------ what writes a record


def test_every_admin_of_patients_data_writes_access_records():
    """A new admin of a patient-data model cannot forget the log."""
    for label in services.PATIENT_DATA_MODELS:
        model = next(m for m in admin.site._registry if m._meta.label_lower == label)
        assert isinstance(admin.site._registry[model], AccessLoggedAdminMixin), label


@pytest.mark.parametrize(
    ("model", "name", "columns"),
    [
        ("telephony.messagelog", "message", ["when", "clinic", "direction", "from_number", "body_short", "action_label"]),
        ("telephony.calllog", "call", ["when", "clinic", "from_number", "to_number", "status"]),
        ("clinics.patient", "patient", ["name", "phone", "clinic"]),
        ("clinics.appointment", "appointment", ["patient", "clinic", "starts"]),
    ],
)
def test_a_list_page_writes_one_record_naming_the_rows_and_columns(support, data, model, name, columns):
    url = reverse(f"admin:{model.replace('.', '_')}_changelist")

    assert support.get(url, REMOTE_ADDR="203.0.113.9").status_code == 200

    (record,) = AccessRecord.objects.all()
    assert (record.username, record.model, record.view, record.ip) == ("support", model, "list", "203.0.113.9")
    assert record.object_ids == [str(data[name].pk)]
    assert record.fields[: len(columns)] == columns and "action_checkbox" not in record.fields
    assert record.path == url


@pytest.mark.parametrize(
    ("model", "name", "field"),
    [
        ("telephony.messagelog", "message", "body"),
        ("telephony.calllog", "call", "from_number"),
        ("clinics.patient", "patient", "phone"),
    ],
)
def test_a_detail_page_writes_one_record_for_the_row_and_its_fields(support, data, model, name, field):
    url = reverse(f"admin:{model.replace('.', '_')}_change", args=[data[name].pk])

    assert support.get(url).status_code == 200

    assert records() == [
        {
            "username": "support",
            "model": model,
            "object_ids": [str(data[name].pk)],
            "fields": records()[0]["fields"],
            "view": "detail",
            "path": url,
        }
    ]
    assert field in records()[0]["fields"]


def test_the_appointment_page_and_a_history_page_are_recorded(admin_client, data):
    admin_client.get(reverse("admin:clinics_appointment_change", args=[data["appointment"].pk]))
    admin_client.get(reverse("admin:clinics_patient_history", args=[data["patient"].pk]))

    (appointment, history) = records()
    assert (appointment["model"], appointment["object_ids"], appointment["view"]) == (
        "clinics.appointment",
        [str(data["appointment"].pk)],
        "detail",
    )
    assert "patient" in appointment["fields"] and "starts_at" in appointment["fields"]
    assert (history["model"], history["object_ids"], history["fields"]) == (
        "clinics.patient",
        [str(data["patient"].pk)],
        ["name"],
    )


def test_an_appointments_page_shows_its_own_patient_only(admin_client, data):
    """The patient field is no select of every patient, which no record would name."""
    Patient.objects.create(clinic=data["clinic"], name="Other Person", phone="+15125550888")

    page = admin_client.get(reverse("admin:clinics_appointment_change", args=[data["appointment"].pk])).content.decode()

    assert "Pat Doe" in page and "Other Person" not in page


def test_a_search_is_recorded_as_typed(support, data):
    support.get(reverse("admin:telephony_messagelog_changelist"), {"q": "5550999"})

    (record,) = AccessRecord.objects.all()
    assert record.path == reverse("admin:telephony_messagelog_changelist") + "?q=5550999"
    assert record.object_ids == [str(data["message"].pk)]


def test_a_clinics_delete_page_naming_its_patients_is_recorded_and_the_delete_itself_is_not(admin_client, data):
    url = reverse("admin:clinics_clinic_delete", args=[data["clinic"].pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})

    assert "Pat Doe" in page
    assert [(r["model"], r["object_ids"], r["fields"], r["view"]) for r in records()] == [
        ("clinics.patient", [str(data["patient"].pk)], ["name"], "section"),
        ("clinics.appointment", [str(data["appointment"].pk)], ["name"], "section"),
    ]
    assert not Patient.objects.exists()  # the clinic and its patients are gone; the records stay


def test_pages_that_show_nothing_write_nothing(onboarding, admin_client, data):
    """A refused page, an add form and an action's redirect show no patient's data."""
    assert onboarding.get(reverse("admin:telephony_messagelog_changelist")).status_code == 403
    assert admin_client.get(reverse("admin:clinics_patient_add")).status_code == 200
    marked = admin_client.post(
        reverse("admin:telephony_messagelog_changelist"), {"action": "mark_read", "_selected_action": [data["message"].pk]}
    )
    assert marked.status_code == 302

    assert records() == []


def test_the_address_is_the_trusted_proxys_last_forwarded_entry_only_behind_it(support, data, settings):
    url = reverse("admin:telephony_calllog_changelist")
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.7"}

    support.get(url, **forwarded)
    settings.DJANGO_TRUST_X_FORWARDED_PROTO = True
    support.get(url, **forwarded)
    support.get(url, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not an address")

    assert [r.ip for r in AccessRecord.objects.order_by("id")] == ["10.0.0.2", "203.0.113.7", "10.0.0.2"]


# ------------------------------------------------------------------ the clinic page and the groups


def test_the_clinic_pages_reminders_are_hidden_from_onboarding_and_recorded_for_support(onboarding, django_user_model, data):
    """Onboarding staff read one line saying why; a member of both groups sees the patients, recorded."""
    url = reverse("admin:clinics_clinic_change", args=[data["clinic"].pk])
    both = member(django_user_model, "both", onboarding_staff_group())
    both.get("/admin/")  # any request: the user is set on the session
    django_user_model.objects.get(username="both").groups.add(clinic_support_group())

    hidden = onboarding.get(url).content.decode()

    assert "Pat Doe" not in hidden and "only the Clinic support group may see patients&#x27; data" in hidden
    assert records() == []

    shown = both.get(url).content.decode()

    assert "Pat Doe" in shown and "The patient opted out of texts." in shown
    assert records() == [
        {
            "username": "both",
            "model": "clinics.appointment",
            "object_ids": [str(data["appointment"].pk)],
            "fields": ["reminder_outcome_at", "patient", "starts_at", "reminder_outcome", "reminder_outcome_detail"],
            "view": "section",
            "path": url,
        }
    ]


def test_onboarding_staff_reach_no_patients_data_and_clinic_support_only_views_it(onboarding, support, data):
    pages = [
        reverse("admin:telephony_messagelog_changelist"),
        reverse("admin:telephony_messagelog_change", args=[data["message"].pk]),
        reverse("admin:telephony_calllog_changelist"),
        reverse("admin:clinics_patient_changelist"),
        reverse("admin:clinics_patient_change", args=[data["patient"].pk]),
        reverse("admin:clinics_appointment_changelist"),
    ]

    assert [onboarding.get(page).status_code for page in pages] == [403] * len(pages)
    assert [support.get(page).status_code for page in pages] == [200] * len(pages)
    held = {f"{p.content_type.app_label}.{p.codename}" for p in clinic_support_group().permissions.select_related("content_type")}
    assert held == {
        "clinics.view_clinic",
        "clinics.view_patient",
        "clinics.view_appointment",
        "clinics.send_appointment_reminder",
        "clinics.export_patient_data",
        "telephony.view_messagelog",
        "telephony.change_messagelog",
        "telephony.view_calllog",
    }
    # Support reads a patient's text and marks it read; it has no onboarding power.
    page = support.get(reverse("admin:telephony_messagelog_change", args=[data["message"].pk])).content.decode()
    assert "Is 3pm ok?" in page
    powers = [p.codename for p in clinic_support_group().permissions.all()]
    assert not [p for p in powers if p.startswith(("provision", "release", "change_clinic"))]
    assert support.get(reverse("admin:clinics_clinic_change", args=[data["message"].clinic_id])).status_code == 200


# ------------------------------------------------------------------ reading and exporting the log


def test_superusers_read_and_export_the_log_and_nobody_else_does(admin_client, support, data, django_user_model):
    admin_client.get(reverse("admin:telephony_messagelog_change", args=[data["message"].pk]), REMOTE_ADDR="203.0.113.9")
    support.get(reverse("admin:clinics_patient_changelist"))
    listing = reverse("admin:clinics_accessrecord_changelist")
    export = reverse("admin:clinics_accessrecord_export")

    page = admin_client.get(listing).content.decode()
    assert "support" in page and 'id="access-log-export"' in page
    rows = list(csv.DictReader(io.StringIO(b"".join(admin_client.get(export).streaming_content).decode())))
    assert [(r["username"], r["model"], r["view"]) for r in rows] == [
        ("support", "clinics.patient", "list"),
        ("admin", "telephony.messagelog", "detail"),
    ]
    assert rows[1]["object_ids"] == str(data["message"].pk) and "body" in rows[1]["fields"].split()
    assert rows[1]["ip"] == "203.0.113.9"
    filtered = list(csv.DictReader(io.StringIO(b"".join(admin_client.get(export, {"view": "list"}).streaming_content).decode())))
    assert [r["username"] for r in filtered] == ["support"]

    refused = admin_client.get(export, {"at__gte": "not a date"}, follow=True)
    assert "The export's filters were not valid; nothing was exported." in refused.content.decode().replace("&#x27;", "'")

    # Staff holding every other power, Clinic support included, read none of it.
    assert support.get(listing).status_code == 403
    assert support.get(export).status_code == 403


def test_nobody_changes_or_deletes_a_record_through_the_app_not_even_a_superuser(admin_client, data):
    admin_client.get(reverse("admin:telephony_calllog_changelist"))
    record = AccessRecord.objects.get()
    before = records()

    assert admin_client.get(reverse("admin:clinics_accessrecord_add")).status_code == 403
    change = reverse("admin:clinics_accessrecord_change", args=[record.pk])
    assert 'name="_save"' not in admin_client.get(change).content.decode()
    assert admin_client.post(change, {"username": "forged"}).status_code == 403
    assert admin_client.post(reverse("admin:clinics_accessrecord_delete", args=[record.pk]), {"post": "yes"}).status_code == 403
    assert 'value="delete_selected"' not in admin_client.get(reverse("admin:clinics_accessrecord_changelist")).content.decode()
    admin_client.post(
        reverse("admin:clinics_accessrecord_changelist"), {"action": "delete_selected", "_selected_action": [record.pk]}
    )

    assert records() == before
