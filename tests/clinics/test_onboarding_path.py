"""Issue 23: every clinic has an onboarding path, chosen on its page. New number (the
default, today's flow) and forward are built; port-in and text-enable refuse with a
sentence. Forwarding keeps the published number: its last step ticks on a forwarded call
(tests/telephony/webhooks/test_forwarding.py) or a staff confirmation, recorded as such."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from clinics import services
from clinics.models import ChecklistItem, Clinic, NumberEvent, OnboardingPath, OnboardingStep, path_steps
from clinics.selectors import CHECKLIST_TOTAL, clinic_checklist, clinic_next_step
from tests.factories import ActiveClinicFactory, ClinicFactory

pytestmark = pytest.mark.django_db

PUBLISHED = "+15125557000"


def path_url(clinic):
    return reverse("admin:clinics_clinic_onboarding_path", args=[clinic.pk])


def page(client, clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def forwarding(clinic):
    """A clinic with its number bought (the system's ticks), forwarding its published line."""
    for step in (OnboardingStep.BUY_NUMBER, OnboardingStep.SAVE_NUMBER, OnboardingStep.SAVE_SID):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)
    services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.FORWARD, published_number=PUBLISHED, actor=None)
    clinic.refresh_from_db()
    return clinic


def test_every_path_has_as_many_steps_and_forward_ends_with_the_published_line():
    assert {len(path_steps(path)) for path in OnboardingPath.values} == {CHECKLIST_TOTAL}
    assert path_steps(OnboardingPath.NEW_NUMBER)[-1] == OnboardingStep.UPDATE_LISTING
    assert path_steps(OnboardingPath.FORWARD)[-1] == OnboardingStep.PUBLISHED_LINE
    assert OnboardingStep.PUBLISHED_LINE not in path_steps(OnboardingPath.NEW_NUMBER)
    assert ClinicFactory().onboarding_path == OnboardingPath.NEW_NUMBER


def test_staff_choose_forward_with_the_published_number_in_any_format(admin_client, admin_user):
    clinic = ActiveClinicFactory(name="Lake Dental")

    response = admin_client.post(path_url(clinic), {"path": "forward", "published_number": "(512) 555-7000"}, follow=True)

    clinic.refresh_from_db()
    assert (clinic.onboarding_path, clinic.published_number) == (OnboardingPath.FORWARD, PUBLISHED)
    assert "onboarding path is Forward the existing line" in response.content.decode()
    event = NumberEvent.objects.get(clinic=clinic, kind=NumberEvent.Kind.ONBOARDING_PATH_SET)
    assert event.actor == admin_user and "(512) 555-7000" in event.detail and "was: New number" in event.detail
    steps = [step["step"] for step in clinic_checklist(clinic=clinic)]
    assert OnboardingStep.PUBLISHED_LINE in steps and OnboardingStep.UPDATE_LISTING not in steps


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        (OnboardingPath.TEXT_ENABLE, "Text-enabling the existing line is not available yet"),
    ],
)
def test_paths_not_built_yet_refuse_with_a_sentence_and_change_nothing(admin_client, path, sentence):
    clinic = ActiveClinicFactory()

    response = admin_client.post(path_url(clinic), {"path": path, "published_number": PUBLISHED})

    assert response.status_code == 200 and escape(sentence) in response.content.decode()
    clinic.refresh_from_db()
    assert (clinic.onboarding_path, clinic.published_number) == (OnboardingPath.NEW_NUMBER, "")
    assert not NumberEvent.objects.filter(kind=NumberEvent.Kind.ONBOARDING_PATH_SET).exists()


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("", "Enter a phone number."),
        ("555-12", "is not a valid phone number"),
        ("(512) 555-7000 ext 2", "has an extension"),
    ],
)
def test_forwarding_needs_a_valid_published_number(admin_client, typed, sentence):
    clinic = ActiveClinicFactory()

    response = admin_client.post(path_url(clinic), {"path": "forward", "published_number": typed})

    assert escape(sentence) in response.content.decode()
    clinic.refresh_from_db()
    assert clinic.onboarding_path == OnboardingPath.NEW_NUMBER


def test_the_published_number_cannot_be_the_twilio_number_it_forwards_to():
    clinic = ActiveClinicFactory(twilio_number="+15125557001")

    with pytest.raises(services.ClinicInputError, match="the one forwarding goes to"):
        services.clinic_onboarding_path_set(clinic_id=clinic.id, path="forward", published_number="512-555-7001", actor=None)


def test_a_new_number_on_the_listing_is_past_its_point_of_no_return(admin_user):
    clinic = ActiveClinicFactory()
    for step in path_steps(OnboardingPath.NEW_NUMBER):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)

    with pytest.raises(services.ClinicInputError, match="untick the listing step first"):
        services.clinic_onboarding_path_set(clinic_id=clinic.id, path="forward", published_number=PUBLISHED, actor=admin_user)

    services.clinic_checklist_untick(clinic_id=clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=admin_user, reason="keep")
    services.clinic_onboarding_path_set(clinic_id=clinic.id, path="forward", published_number=PUBLISHED, actor=admin_user)
    assert Clinic.objects.get(pk=clinic.pk).onboarding_path == OnboardingPath.FORWARD


def test_leaving_forward_unticks_its_step_with_why(admin_user):
    clinic = forwarding(ActiveClinicFactory())
    services.clinic_forwarding_confirm(clinic_id=clinic.id, actor=admin_user)

    services.clinic_onboarding_path_set(clinic_id=clinic.id, path="new_number", actor=admin_user)

    clinic.refresh_from_db()
    assert (clinic.onboarding_path, clinic.published_number) == (OnboardingPath.NEW_NUMBER, "")
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE).exists()
    assert clinic.checklist_done == 3
    untick = NumberEvent.objects.get(clinic=clinic, kind=NumberEvent.Kind.CHECKLIST_UNTICKED)
    assert "the onboarding path is now New number" in untick.detail


def test_a_new_published_number_unticks_the_old_numbers_evidence(admin_user):
    clinic = forwarding(ActiveClinicFactory())
    services.clinic_forwarded_call_record(clinic_id=clinic.id, forwarded_from=PUBLISHED)

    services.clinic_onboarding_path_set(clinic_id=clinic.id, path="forward", published_number="512-555-7300", actor=admin_user)

    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE).exists()


def test_the_published_line_step_is_not_a_new_number_clinics():
    clinic = ActiveClinicFactory()
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.SAVE_NUMBER)

    with pytest.raises(services.ClinicInputError, match="is not a step of"):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.PUBLISHED_LINE)
    with pytest.raises(services.ClinicInputError, match="does not forward its line"):
        services.clinic_forwarding_confirm(clinic_id=clinic.id, actor=_staff())
    assert not services.clinic_forwarded_call_record(clinic_id=clinic.id, forwarded_from=PUBLISHED)


def _staff():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("desk", password="pw-desk-123456", is_staff=True)


def test_forwarded_call_evidence_is_only_the_published_number():
    clinic = forwarding(ActiveClinicFactory())

    assert not services.clinic_forwarded_call_record(clinic_id=clinic.id, forwarded_from="+15125559999")
    assert services.clinic_forwarded_call_record(clinic_id=clinic.id, forwarded_from=PUBLISHED)

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE)
    assert item.done_by is None and "ForwardedFrom" in item.note


def test_staff_confirmation_is_recorded_and_shown_with_who_and_when(admin_client, admin_user):
    clinic = forwarding(ActiveClinicFactory(name="Lake Dental"))
    before = page(admin_client, clinic)
    assert 'id="forwarding-confirm-button"' in before
    assert "*72" in before and "**21*" in before

    admin_client.post(reverse("admin:clinics_clinic_forwarding_confirm", args=[clinic.pk]))

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE)
    assert item.done_by == admin_user and item.note.startswith(f"confirmed by {admin_user.get_username()}")
    after = page(admin_client, clinic)
    assert f"by {admin_user.get_username()}: confirmed by {admin_user.get_username()}" in after
    assert 'id="forwarding-confirm-button"' not in after


def test_confirming_needs_a_number_to_forward_to(admin_client):
    clinic = ClinicFactory()
    services.clinic_onboarding_path_set(clinic_id=clinic.id, path="forward", published_number=PUBLISHED, actor=None)

    response = admin_client.post(reverse("admin:clinics_clinic_forwarding_confirm", args=[clinic.pk]), follow=True)

    assert "has no number to forward to yet" in response.content.decode()
    assert not ChecklistItem.objects.filter(clinic=clinic).exists()
    clinic.refresh_from_db()
    assert clinic_next_step(clinic=clinic, retry_helps=True).text.startswith("Provision a number (button above): the number")


def test_the_forward_step_is_the_next_action_in_one_line(admin_client):
    clinic = forwarding(ActiveClinicFactory(name="Lake Dental"))
    for step in path_steps(OnboardingPath.FORWARD)[:-1]:
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)
    clinic.refresh_from_db()

    step = clinic_next_step(clinic=clinic, retry_helps=True)

    assert step.lead == "Set the forwarding:" and "(512) 555-7000" in step.text
    assert "Forward the existing line · 9/10 done · next: <strong>Set the forwarding:</strong>" in page(admin_client, clinic)
