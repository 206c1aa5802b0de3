"""Issue 22, item 9: every date staff see in the clinic's zone and the one format, and the
small things found in the browser walk-through (history rows twice, a read-only call log
with Save buttons, a new clinic told to "move it", View site, the close action)."""

import datetime
import re

import pytest
from django.contrib import admin
from django.urls import reverse

from clinics.models import A2PEvent, A2PRegistration, Appointment, ClinicUsage, NumberEvent, NumberState, Patient
from telephony.models import CallAnswer, CallLog, MessageLog
from tests.factories import ActiveClinicFactory, ClinicFactory

pytestmark = pytest.mark.django_db

# 17:05 UTC on 2 Dec 2026 is 11:05 in Austin (CST).
MOMENT = datetime.datetime(2026, 12, 2, 17, 5, tzinfo=datetime.UTC)
IN_AUSTIN = "2 Dec 2026, 11:05 CST"
# The formats these pages used before: ISO-like, or Django's default, in the server's zone.
OTHER_FORMATS = re.compile(r"2026-12-02|Dec\. 2, 2026|17:05")


@pytest.fixture
def austin():
    return ActiveClinicFactory(name="Austin Dental")


def clinic_page(client, clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def test_the_clinic_page_dates_are_in_the_clinics_zone(admin_client, austin):
    CallLog.objects.create(
        call_sid="CA" + "1" * 32, clinic=austin, to_number=austin.twilio_number, created_at=MOMENT, answered_by=CallAnswer.AGENT
    )
    A2PRegistration.objects.create(clinic=austin, brand_status="APPROVED", brand_at=MOMENT)
    A2PEvent.objects.create(clinic=austin, step="brand", status="APPROVED", created_at=MOMENT)
    ClinicUsage.objects.create(clinic=austin, account_sid=austin.twilio_account_sid, month="2026-12", fetched_at=MOMENT)

    page = clinic_page(admin_client, austin)

    test_call = page.split('class="test-call-link"')[1].split("</div>")[0]
    pipeline = page.split("a2p-pipeline")[1].split("</details>")[0]
    usage = page.split("fetched at")[1][:40]
    for shown in (test_call, pipeline, usage):
        assert IN_AUSTIN in shown and not OTHER_FORMATS.search(shown)


def test_the_logs_detail_pages_show_dates_in_the_clinics_zone_and_no_internal_ranks(admin_client, austin):
    call = CallLog.objects.create(call_sid="CA" + "2" * 32, clinic=austin, created_at=MOMENT, updated_at=MOMENT)
    message = MessageLog.objects.create(message_sid="SM" + "2" * 32, clinic=austin, body="hi", created_at=MOMENT)

    call_page = admin_client.get(reverse("admin:telephony_calllog_change", args=[call.pk])).content.decode()
    message_page = admin_client.get(reverse("admin:telephony_messagelog_change", args=[message.pk])).content.decode()

    for page in (call_page, message_page):
        assert IN_AUSTIN in page and not OTHER_FORMATS.search(page.split('id="content"')[1])
        assert "Status rank" not in page and "status_rank" not in page
    # The call log is read-only: nothing to save.
    assert 'name="_save"' not in call_page and 'name="_continue"' not in call_page


def test_appointments_are_listed_and_edited_in_the_clinics_zone(admin_client, austin):
    patient = Patient.objects.create(clinic=austin, name="Pat", phone="+15125550192")
    appointment = Appointment.objects.create(clinic=austin, patient=patient, starts_at=MOMENT, reminder_sent_at=MOMENT)
    change = reverse("admin:clinics_appointment_change", args=[appointment.pk])

    listed = admin_client.get(reverse("admin:clinics_appointment_changelist")).content.decode()
    form = admin_client.get(change).content.decode()

    assert listed.count(IN_AUSTIN) >= 2 and not OTHER_FORMATS.search(listed.split('id="changelist"')[1])
    assert 'value="2026-12-02"' in form and 'value="11:05:00"' in form  # the form's time is Austin's
    edited = {"clinic": austin.pk, "patient": patient.pk, "status": "scheduled"}
    admin_client.post(change, {**edited, "starts_at_0": "2026-12-03", "starts_at_1": "09:30:00"})
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime.datetime(2026, 12, 3, 15, 30, tzinfo=datetime.UTC)  # 09:30 CST


def test_each_number_history_row_prints_once(admin_client, austin):
    NumberEvent.objects.create(
        clinic=austin, clinic_name=austin.name, kind=NumberEvent.Kind.PURCHASED, phone_number="+15125550191"
    )

    page = clinic_page(admin_client, austin)

    history = page.split('id="number_events-heading"')[1].split("</table>")[0]
    assert history.count("Number bought") == 1 and history.count("+15125550191") == 1


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({}, "No usage yet: it is counted once the clinic has its number."),
        (
            {"twilio_number": "+15125550193", "twilio_number_sid": "PN" + "3" * 32, "number_state": NumberState.ACTIVE},
            "On the main Twilio account",
        ),
    ],
)
def test_only_a_clinic_with_a_number_on_the_main_account_is_told_to_move_it(admin_client, fields, says):
    clinic = ClinicFactory(**fields)

    page = clinic_page(admin_client, clinic)

    usage = page.split("field-usage_display")[1].split("</div>\n")[0:3]
    assert says in "".join(usage)
    assert ("move it" in page) == bool(fields)


def test_no_view_site_link_to_a_page_that_does_not_exist(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert admin.site.site_url is None
    assert "View site" not in page and admin_client.get("/").status_code == 404


def test_the_provision_form_has_the_admins_form_styles(admin_client, austin):
    clinic = ClinicFactory()

    page = admin_client.get(reverse("admin:clinics_clinic_provision", args=[clinic.pk])).content.decode()

    assert "admin/css/forms.css" in page and "clinics/admin-layout.css" in page
