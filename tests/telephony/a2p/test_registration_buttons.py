"""Issue 22, item 8: the registration's buttons where "Next:" is read, on the clinic page and
the profile page (Start, Edit and resubmit, Check now); the vetting fee warning before a
campaign is resubmitted; the sandbox's Approve and Reject in sandbox mode only; and a
"checked every 10 minutes" that is true only where beat runs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony.a2p import polling, registration
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import decide, review

# Real commits: the registration workflows send their advance task on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def clinic_page(clinic) -> str:
    return reverse("admin:clinics_clinic_change", args=[clinic.pk])


def profile_page(clinic) -> str:
    return reverse("admin:clinics_businessprofile_change", args=[BusinessProfile.objects.get(clinic=clinic).pk])


def button(clinic, what: str) -> str:
    return reverse("admin:clinics_businessprofile_registration", args=[clinic.pk, what])


def test_start_is_a_button_on_the_profile_page_and_comes_back_to_it(admin_client, clinic, sandbox, a2p_enabled):
    review(sandbox, mode="manual")
    page = admin_client.get(profile_page(clinic)).content.decode()
    assert "Start registration." in page and f'formaction="{button(clinic, "start")}"' in page

    started = admin_client.post(button(clinic, "start"), {"_back": "profile"})

    assert started.status_code == 302 and started.url == profile_page(clinic)
    assert A2PRegistration.objects.get(clinic=clinic).customer_profile_status == "pending-review"
    after = admin_client.get(profile_page(clinic)).content.decode()
    assert f'formaction="{button(clinic, "check")}"' in after and f'formaction="{button(clinic, "start")}"' not in after


def test_check_now_and_the_sandbox_reviewer_are_on_the_clinic_page(admin_client, clinic, sandbox, a2p_enabled):
    review(sandbox, mode="manual")
    registration.registration_start(clinic_id=clinic.id)
    page = admin_client.get(clinic_page(clinic)).content.decode()
    approve = f"{button(clinic, 'approve')}?step=customer_profile"
    assert f'formaction="{button(clinic, "check")}"' in page and f'formaction="{approve}"' in page
    assert "Reject the business profile (trust hub) (sandbox)" in page

    approved = admin_client.post(approve, {"_back": "clinic"}, follow=True)

    assert approved.redirect_chain[-1][0] == clinic_page(clinic)
    reg = A2PRegistration.objects.get(clinic=clinic)
    assert reg.customer_profile_status == "twilio-approved" and reg.trust_product_status == "pending-review"
    assert "Approved in the sandbox" in approved.content.decode()


def test_without_the_sandbox_there_is_no_approve_or_reject(admin_client, clinic, sandbox, a2p_enabled, settings):
    review(sandbox, mode="manual")
    registration.registration_start(clinic_id=clinic.id)
    settings.TWILIO_SANDBOX = False

    page = admin_client.get(clinic_page(clinic)).content.decode()

    assert "(sandbox)" not in page and f'formaction="{button(clinic, "check")}"' in page
    refused = admin_client.post(f"{button(clinic, 'approve')}?step=customer_profile")
    assert refused.status_code == 404
    assert A2PRegistration.objects.get(clinic=clinic).customer_profile_status == "pending-review"


def test_resubmitting_a_rejected_campaign_warns_of_the_vetting_fee(admin_client, clinic, sandbox, a2p_enabled):
    review(sandbox, mode="approve", after_seconds=0)
    registration.registration_start(clinic_id=clinic.id)
    for _ in range(4):
        reg = polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))
        if reg.campaign_sid:
            break
    review(sandbox, mode="manual")
    decide(sandbox, reg.campaign_sid, "reject", 30909)
    polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))

    page = admin_client.get(clinic_page(clinic)).content.decode()

    assert f'formaction="{button(clinic, "resubmit")}"' in page
    assert "Twilio charges the campaign vetting fee again" in page


def test_a_rejected_profile_offers_resubmit_without_the_campaign_fee(admin_client, clinic, sandbox, a2p_enabled):
    review(sandbox, mode="reject", code=30909, after_seconds=0)
    registration.registration_start(clinic_id=clinic.id)
    polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))

    page = admin_client.get(profile_page(clinic)).content.decode()

    assert f'formaction="{button(clinic, "resubmit")}"' in page and "vetting fee" not in page


def test_a_clinic_without_a_profile_links_to_the_form_and_a_user_without_the_power_sees_no_buttons(
    admin_client, client, staff_user, sandbox, a2p_enabled
):
    bare = ClinicFactory(name="Bare Dental")
    page = admin_client.get(clinic_page(bare)).content.decode()
    assert f"{reverse('admin:clinics_businessprofile_add')}?clinic={bare.pk}" in page

    staff_user.user_permissions.clear()
    staff_user.groups.clear()
    staff_user.user_permissions.add(Permission.objects.get(codename="view_clinic"))
    client.force_login(staff_user)
    assert "a2p-profile-add" not in client.get(clinic_page(bare)).content.decode()
    assert client.post(button(bare, "start")).status_code == 403


@pytest.mark.parametrize(("eager", "said"), [(True, "press Check now: nothing checks by itself"), (False, "every 10 minutes")])
def test_the_review_wait_says_how_reviews_are_really_checked(clinic, sandbox, a2p_enabled, settings, eager, said):
    review(sandbox, mode="manual")
    reg = registration.registration_start(clinic_id=clinic.id)
    settings.CELERY_TASK_ALWAYS_EAGER = eager

    assert said in registration.registration_next_action(A2PRegistration.objects.get(pk=reg.pk), profile=True)
