"""Issue 14, the rest of "Subaccount per clinic": suspend, reactivate and close a clinic's
Twilio subaccount from the admin, driven through the real SDK into the sandbox Twilio."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from clinics.models import Clinic, NumberEvent
from telephony import twilio as twilio_client
from telephony import twilio_service
from telephony.numbers import subaccounts
from tests.factories import ClinicFactory

CHANGELIST = reverse("admin:clinics_clinic_changelist")


def provisioned(clinic_id: int) -> Clinic:
    result = twilio_service.provision_clinic_number(clinic_id, "512")
    assert result["success"] is True, result
    return Clinic.objects.get(pk=clinic_id)


def released(clinic: Clinic) -> Clinic:
    assert twilio_service.release_number(clinic.twilio_number_sid)["success"] is True
    return Clinic.objects.get(pk=clinic.pk)


def act(client, action: str, clinics: list[Clinic], **extra):
    return client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in clinics], **extra}, follow=True)


def close_page(client, clinic: Clinic, **extra):
    """Close Twilio subaccount, on the clinic's page: GET shows the confirmation, apply closes."""
    url = reverse("admin:clinics_clinic_close_subaccount", args=[clinic.pk])
    return client.post(url, extra, follow=True) if extra else client.get(url)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def status_posts(sandbox, sub: str) -> list[str]:
    return [r["form"].get("Status") for r in sandbox.api_requests("POST", f"/Accounts/{sub}.json")]


@pytest.mark.django_db
def test_suspend_then_reactivate_sets_the_status_at_twilio_records_history_and_shows_it(admin_client, sandbox):
    clinic = provisioned(ClinicFactory(name="Austin Dental").id)
    sub = clinic.twilio_account_sid

    done = act(admin_client, "suspend_subaccount", [clinic])

    assert "Austin Dental: its Twilio subaccount is suspended." in said(done)
    assert status_posts(sandbox, sub) == ["suspended"]
    clinic.refresh_from_db()
    assert clinic.twilio_account_status == "suspended"
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "suspended" in page
    # While suspended, Twilio refuses the number's operations (20005) with a sentence staff can act on.
    with pytest.raises(twilio_client.TwilioError) as refused:
        twilio_client.incoming_number_update(clinic.twilio_number_sid, webhook_fields={"voice_url": "https://x"}, account_sid=sub)
    assert refused.value.code == 20005 and "Reactivate Twilio subaccount" in str(refused.value)

    done = act(admin_client, "reactivate_subaccount", [clinic])

    assert status_posts(sandbox, sub) == ["suspended", "active"]
    clinic.refresh_from_db()
    assert clinic.twilio_account_status == "active"
    kinds = list(NumberEvent.objects.filter(clinic=clinic).values_list("kind", flat=True))
    assert kinds[:2] == [NumberEvent.Kind.SUBACCOUNT_REACTIVATED, NumberEvent.Kind.SUBACCOUNT_SUSPENDED]
    assert twilio_client.incoming_numbers_list(account_sid=sub)  # usable again


@pytest.mark.django_db
def test_a_clinic_without_its_own_subaccount_is_refused_and_twilio_not_asked(admin_client, sandbox, settings):
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = False
    clinic = provisioned(ClinicFactory(name="Main Account Dental").id)
    before = len(sandbox.requests())

    done = act(admin_client, "suspend_subaccount", [clinic])

    assert any("has no Twilio subaccount of its own" in m for m in said(done))
    assert len(sandbox.requests()) == before


@pytest.mark.django_db
def test_close_is_refused_while_the_clinic_holds_its_number(admin_client, sandbox):
    clinic = provisioned(ClinicFactory(name="Holding Dental").id)

    confirm = close_page(admin_client, clinic)
    assert "holds the number" in confirm.content.decode() and b"confirm-close" not in confirm.content
    done = close_page(admin_client, clinic, apply="1")

    assert any("Not closed:" in m and "release it first" in m for m in said(done))
    assert status_posts(sandbox, clinic.twilio_account_sid) == []
    assert len(sandbox.owned_numbers()) == 1


@pytest.mark.django_db
def test_close_is_refused_while_the_subaccount_still_holds_numbers_at_twilio(sandbox):
    clinic = released(provisioned(ClinicFactory(name="Leftover Dental").id))
    sub = clinic.twilio_account_sid
    # A number bought into the subaccount outside our records (e.g. in the Console).
    (for_sale,) = twilio_client.available_numbers_search(area_code="512", limit=1, account_sid=sub)
    stray = twilio_client.incoming_number_buy(
        phone_number=for_sale.phone_number, friendly_name="stray", webhook_fields={}, account_sid=sub
    )

    with pytest.raises(subaccounts.SubaccountRefused, match=f"still holds \\{stray.phone_number} at Twilio"):
        subaccounts.clinic_subaccount_status_change(clinic_id=clinic.id, status="closed")

    assert status_posts(sandbox, sub) == []


@pytest.mark.django_db
def test_close_confirms_naming_the_consequence_then_closes_for_good(admin_client, sandbox):
    clinic = released(provisioned(ClinicFactory(name="Closing Dental").id))
    sub = clinic.twilio_account_sid

    confirm = close_page(admin_client, clinic)

    text = confirm.content.decode()
    assert "cannot be undone" in text and "30 days after closure" in text and "Closing Dental" in text
    assert sub not in text  # a sentence for staff, not a SID
    assert status_posts(sandbox, sub) == []  # nothing done before "yes"
    done = close_page(admin_client, clinic, apply="1")

    assert "Closing Dental: its Twilio subaccount is closed." in said(done)
    assert status_posts(sandbox, sub) == ["closed"]
    clinic.refresh_from_db()
    assert clinic.twilio_account_status == "closed"
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.SUBACCOUNT_CLOSED, detail=sub).exists()
    # Closed is closed: reactivating is refused by Twilio (21479) and said.
    again = act(admin_client, "reactivate_subaccount", [clinic])
    assert any("21479" in m for m in said(again))
    clinic.refresh_from_db()
    assert clinic.twilio_account_status == "closed"


@pytest.mark.django_db
def test_suspended_by_twilio_and_a_vanished_subaccount_reach_staff_as_sentences(admin_client, sandbox):
    clinic = provisioned(ClinicFactory(name="Flagged Dental").id)
    sub = clinic.twilio_account_sid
    sandbox.fault(
        path=f"/2010-04-01/Accounts/{sub}.json",
        method="POST",
        status=400,
        code=21478,
        message="Unable to update Status for subaccount, subaccount has been suspended by Twilio",
    )

    done = act(admin_client, "suspend_subaccount", [clinic])

    assert any("Only Twilio Support can reactivate it" in m for m in said(done))
    sandbox.fault(path=f"/2010-04-01/Accounts/{sub}.json", method="GET", status=404, code=20404, message="not found")
    gone = act(admin_client, "suspend_subaccount", [clinic])
    assert any("20404" in m for m in said(gone))
    clinic.refresh_from_db()
    assert clinic.twilio_account_status == ""  # nothing recorded on a refusal


@pytest.mark.django_db
def test_the_actions_are_hidden_without_their_permissions_and_close_is_never_a_list_action(client, django_user_model):
    from django.contrib.auth.models import Permission

    clinic = ClinicFactory(twilio_account_sid="AC" + "5" * 32)  # the changelist shows actions only with a row
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-1234", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_clinic", "change_clinic"]))
    client.force_login(user)
    clinic_page = reverse("admin:clinics_clinic_change", args=[clinic.pk])
    page = client.get(CHANGELIST).content.decode()
    assert "suspend_subaccount" not in page and "close_subaccount" not in page
    assert "close-subaccount-button" not in client.get(clinic_page).content.decode()
    assert close_page(client, clinic).status_code == 403
    user.user_permissions.add(*Permission.objects.filter(codename__in=["suspend_subaccount", "close_subaccount"]))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    page = client.get(CHANGELIST).content.decode()
    assert "suspend_subaccount" in page and "reactivate_subaccount" in page
    # Irreversible: a button on the clinic's page, behind its confirmation, not an everyday bulk action.
    assert "close_subaccount" not in page and "Close Twilio subaccount" not in page
    assert "close-subaccount-button" in client.get(clinic_page).content.decode()
