"""Issue 24, Twilio's side: the checklist's "HIPAA account confirmed" step, ticked by staff
(who and when shown) and linking Twilio's HIPAA page, and the doctor's production warning
for clinics with a number that nobody confirmed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinics.models import TWILIO_HIPAA_URL, ChecklistItem, Clinic, OnboardingPath, OnboardingStep, path_steps
from clinics.selectors import CHECKLIST_TOTAL
from telephony.numbers import doctor
from tests.factories import ActiveClinicFactory

pytestmark = [pytest.mark.no_sandbox, pytest.mark.django_db]


def change_page(client, clinic: Clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def test_every_path_has_the_hipaa_step_before_going_live():
    for path in OnboardingPath.values:
        steps = path_steps(path)
        assert OnboardingStep.HIPAA_CONFIRMED in steps
        assert steps.index(OnboardingStep.HIPAA_CONFIRMED) == len(steps) - 2, "just before the go-live step"
    assert CHECKLIST_TOTAL == 10


def test_staff_confirm_the_hipaa_account_and_the_checklist_shows_who_and_when(admin_client, admin_user):
    clinic = ActiveClinicFactory(name="Hill Dental")
    page = change_page(admin_client, clinic)
    assert 'id="hipaa-confirm-button"' in page
    assert f'href="{TWILIO_HIPAA_URL}"' in page

    response = admin_client.post(reverse("admin:clinics_clinic_hipaa_confirm", args=[clinic.pk]), follow=True)

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.HIPAA_CONFIRMED)
    assert item.done_by == admin_user
    page = response.content.decode()
    assert "Hill Dental: the HIPAA account recorded as confirmed by you." in page
    assert f"1/{CHECKLIST_TOTAL}" in page
    assert 'id="hipaa-confirm-button"' not in page
    row = page[page.index("data-step='hipaa_account_confirmed'") :].split("</li>")[0]
    assert "HIPAA account confirmed" in row and f"by {admin_user.username}" in row and "done " in row
    assert f'href="{TWILIO_HIPAA_URL}"' in row

    again = admin_client.post(reverse("admin:clinics_clinic_hipaa_confirm", args=[clinic.pk]), follow=True)
    assert "was already confirmed" in again.content.decode()
    assert ChecklistItem.objects.filter(clinic=clinic).count() == 1


def test_a_viewer_cannot_confirm_and_a_get_changes_nothing(client, admin_client, django_user_model):
    clinic = ActiveClinicFactory()
    viewer = django_user_model.objects.create_user(username="viewer", password="pw-viewer-12345", is_staff=True)
    client.force_login(viewer)

    assert client.post(reverse("admin:clinics_clinic_hipaa_confirm", args=[clinic.pk])).status_code in (403, 404)
    assert admin_client.get(reverse("admin:clinics_clinic_hipaa_confirm", args=[clinic.pk])).status_code == 405
    assert not ChecklistItem.objects.filter(clinic=clinic).exists()


def test_the_doctor_warns_in_production_about_clinics_with_a_number_nobody_confirmed(settings, admin_user):
    unconfirmed = ActiveClinicFactory(name="Bay Dental")
    confirmed = ActiveClinicFactory(name="Cove Dental")
    Clinic.objects.create(name="No Number Yet")
    ChecklistItem.objects.create(clinic=confirmed, step=OnboardingStep.HIPAA_CONFIRMED, done_by=admin_user)

    found = {f.code: f for f in doctor.config_check(check_credentials=False)}

    warning = found["hipaa_unconfirmed"]
    assert warning.severity == "warning"
    assert "1 clinic(s)" in warning.message and "Bay Dental" in warning.message
    assert "Cove Dental" not in warning.message and "No Number Yet" not in warning.message
    assert TWILIO_HIPAA_URL in warning.fix

    ChecklistItem.objects.create(clinic=unconfirmed, step=OnboardingStep.HIPAA_CONFIRMED, done_by=admin_user)
    assert "hipaa_unconfirmed" not in {f.code for f in doctor.config_check(check_credentials=False)}
    ChecklistItem.objects.filter(clinic=unconfirmed).delete()
    settings.DEBUG = True  # a developer's machine: no warning
    assert "hipaa_unconfirmed" not in {f.code for f in doctor.config_check(check_credentials=False)}
