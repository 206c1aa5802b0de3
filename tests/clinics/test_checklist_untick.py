"""Issue 22, item 4: untick only what a person checked. Steps that follow the number's or
the registration's state cannot be unticked by hand; unticking a person's step unticks the
steps that depend on it, each with the reason."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from clinics import services
from clinics.models import STATE_STEPS, ChecklistItem, NumberEvent, OnboardingPath, OnboardingStep, path_steps, step_dependents
from tests.factories import ActiveClinicFactory

pytestmark = pytest.mark.django_db

NEW_NUMBER_STEPS = path_steps(OnboardingPath.NEW_NUMBER)


@pytest.fixture
def live_clinic():
    """An active clinic whose whole run is done (10/10), ticked as the system ticks it."""
    clinic = ActiveClinicFactory(name="Austin Dental")
    for step in NEW_NUMBER_STEPS:
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)
    clinic.refresh_from_db()
    assert clinic.checklist_done == len(NEW_NUMBER_STEPS)
    return clinic


def ticked(clinic) -> set[str]:
    return set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))


def untick_url(clinic, step) -> str:
    return reverse("admin:clinics_clinic_untick", args=[clinic.pk, step])


def test_dependents_follow_the_declared_order():
    assert step_dependents(OnboardingStep.TEST_INBOUND_CALL) == [OnboardingStep.UPDATE_LISTING]
    assert step_dependents(OnboardingStep.A2P_BRAND_REGISTERED) == [
        OnboardingStep.A2P_CAMPAIGN_APPROVED,
        OnboardingStep.TEST_INBOUND_SMS,
        OnboardingStep.UPDATE_LISTING,
    ]
    assert step_dependents(OnboardingStep.UPDATE_LISTING) == []


@pytest.mark.parametrize("step", sorted(STATE_STEPS))
def test_a_step_that_follows_the_state_cannot_be_unticked(admin_client, admin_user, live_clinic, step):
    with pytest.raises(services.ClinicInputError, match="cannot be unticked by hand"):
        services.clinic_checklist_untick(clinic_id=live_clinic.id, step=step, actor=admin_user, reason="wrong")

    posted = admin_client.post(untick_url(live_clinic, step), {"reason": "wrong"}, follow=True)

    assert escape(f"“{OnboardingStep(step).label}” follows the") in posted.content.decode()
    assert ticked(live_clinic) == set(NEW_NUMBER_STEPS)
    assert not NumberEvent.objects.filter(kind=NumberEvent.Kind.CHECKLIST_UNTICKED).exists()
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[live_clinic.pk])).content.decode()
    assert f'data-step="{step}">Untick' not in page


def test_the_buy_step_of_an_active_clinic_says_why_in_words(admin_client, live_clinic):
    page = admin_client.get(untick_url(live_clinic, OnboardingStep.BUY_NUMBER), follow=True).content.decode()

    assert "Austin Dental: “Buy a Twilio number” follows the clinic&#x27;s number: it is ticked when the number is bought" in page


def test_unticking_the_test_call_unticks_the_listing_with_the_reason(admin_client, admin_user, live_clinic):
    url = untick_url(live_clinic, OnboardingStep.TEST_INBOUND_CALL)

    form = admin_client.get(url).content.decode()
    done = admin_client.post(url, {"reason": "the call went to the old number"}, follow=True)

    assert 'id="untick-dependents"' in form and "Update the Google/website listing" in form
    assert "with the step(s) that depend on it: Update the Google/website listing" in done.content.decode()
    assert ticked(live_clinic) == set(NEW_NUMBER_STEPS) - {
        OnboardingStep.TEST_INBOUND_CALL,
        OnboardingStep.UPDATE_LISTING,
    }
    live_clinic.refresh_from_db()
    assert live_clinic.checklist_done == len(NEW_NUMBER_STEPS) - 2
    details = sorted(
        NumberEvent.objects.filter(clinic=live_clinic, kind=NumberEvent.Kind.CHECKLIST_UNTICKED).values_list("detail", "actor")
    )
    assert details == [
        ("Test an inbound call (run 1): the call went to the old number", admin_user.pk),
        (
            "Update the Google/website listing (run 1): it depends on “Test an inbound call”, unticked: "
            "the call went to the old number",
            admin_user.pk,
        ),
    ]


def test_a_person_may_untick_the_listing_alone(admin_user, live_clinic):
    unticked = services.clinic_checklist_untick(
        clinic_id=live_clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=admin_user, reason="old website"
    )

    assert unticked == [OnboardingStep.UPDATE_LISTING]
    assert ticked(live_clinic) == set(NEW_NUMBER_STEPS) - {OnboardingStep.UPDATE_LISTING}


def test_the_checklist_offers_untick_only_on_steps_a_person_checked(admin_client, live_clinic):
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[live_clinic.pk])).content.decode()

    offered = {step for step in NEW_NUMBER_STEPS if f'data-step="{step}">Untick' in page}
    assert offered == set(NEW_NUMBER_STEPS) - STATE_STEPS
