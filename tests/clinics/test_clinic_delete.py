"""A clinic holding a number, or an open Twilio subaccount, cannot be deleted (admin, bulk
action, shell); its history outlives it."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from clinics.models import Clinic, ClinicHoldsNumberError, NumberEvent, NumberState
from telephony import twilio as twilio_client
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")


@pytest.fixture
def provisioned(admin_client, sandbox):
    """A clinic whose number was bought through the admin (so it has a history)."""
    clinic = ClinicFactory(name="Closing Dental")
    admin_client.post(reverse("admin:clinics_clinic_provision", args=[clinic.pk]), {"apply": "1", "area_code": "512"})
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    return clinic


def delete_page(clinic):
    return reverse("admin:clinics_clinic_delete", args=[clinic.pk])


def test_delete_page_refuses_a_clinic_holding_a_number_and_links_release(admin_client, provisioned, sandbox):
    page = admin_client.get(delete_page(provisioned))
    confirmed = admin_client.post(delete_page(provisioned), {"post": "yes"})

    body = page.content.decode()
    assert "cannot be deleted" in body and provisioned.twilio_number in body
    assert reverse("admin:clinics_clinic_release", args=[provisioned.pk]) in body
    assert 'name="post"' not in body  # no "Yes, I'm sure" button
    assert confirmed.status_code == 200 and "cannot be deleted" in confirmed.content.decode()
    assert Clinic.objects.filter(pk=provisioned.pk).exists()
    assert [n["phone_number"] for n in sandbox.owned_numbers()] == [provisioned.twilio_number]


def test_delete_selected_refuses_the_whole_batch_when_one_clinic_holds_a_number(admin_client, provisioned, sandbox):
    fresh = ClinicFactory(name="Fresh Dental")
    data = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [provisioned.pk, fresh.pk]}

    page = admin_client.post(CHANGELIST, data)
    confirmed = admin_client.post(CHANGELIST, {**data, "post": "yes"})

    for response in (page, confirmed):
        body = response.content.decode()
        assert "cannot be deleted" in body and "Closing Dental holds the number" in body
        assert "Fresh Dental holds" not in body
    assert Clinic.objects.filter(pk__in=[provisioned.pk, fresh.pk]).count() == 2
    assert len(sandbox.owned_numbers()) == 1


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"number_state": NumberState.PROVISIONING}, "is getting a number"),
        (
            {"number_state": NumberState.RELEASING, "twilio_number": "+15125550161", "twilio_number_sid": "PN" + "6" * 32},
            "is releasing its number",
        ),
        ({"number_state": NumberState.FAILED, "pending_number": "+15125550162"}, "may have bought +15125550162"),
    ],
)
def test_a_clinic_getting_or_giving_back_a_number_cannot_be_deleted(admin_client, sandbox, fields, says):
    clinic = ClinicFactory(**fields)

    page = admin_client.post(delete_page(clinic), {"post": "yes"})

    assert says in page.content.decode()
    assert Clinic.objects.filter(pk=clinic.pk).exists()


def test_below_the_admin_a_delete_is_refused_with_a_sentence(provisioned, sandbox):
    with pytest.raises(ClinicHoldsNumberError, match="release it first"):
        provisioned.delete()
    with pytest.raises(ClinicHoldsNumberError, match=f"Clinic {provisioned.pk} cannot be deleted"):
        Clinic.objects.filter(pk__in=[provisioned.pk, ClinicFactory().pk]).delete()

    assert Clinic.objects.count() == 2  # the whole delete was undone
    assert len(sandbox.owned_numbers()) == 1


def test_the_guard_reads_the_row_not_a_stale_instance(provisioned, sandbox):
    before_the_number = ClinicFactory(name="Late Dental")
    Clinic.objects.filter(pk=before_the_number.pk).update(
        twilio_number="+15125550163", twilio_number_sid="PN" + "3" * 32, number_state=NumberState.ACTIVE
    )

    with pytest.raises(ClinicHoldsNumberError):
        before_the_number.delete()  # the instance still says "no number"


def close_subaccount(admin_client, clinic: Clinic) -> None:
    """The admin action staff run: Close Twilio subaccount, confirmed."""
    admin_client.post(CHANGELIST, {"action": "close_subaccount", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1"})


def test_after_release_and_close_the_clinic_is_deleted_and_its_number_history_kept(admin_client, provisioned, sandbox):
    number, sub = provisioned.twilio_number, provisioned.twilio_account_sid
    admin_client.post(reverse("admin:clinics_clinic_release", args=[provisioned.pk]), {"apply": "1"})
    close_subaccount(admin_client, provisioned)

    done = admin_client.post(delete_page(provisioned), {"post": "yes"})

    assert done.status_code == 302
    assert not Clinic.objects.filter(pk=provisioned.pk).exists()
    assert sandbox.owned_numbers() == []
    history = NumberEvent.objects.filter(phone_number=number)
    assert {e.kind for e in history} >= {NumberEvent.Kind.PURCHASED, NumberEvent.Kind.RELEASED}
    assert {(e.clinic_id, e.clinic_name) for e in history} == {(None, "Closing Dental")}
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.SUBACCOUNT_CLOSED, detail=sub, clinic_id=None).exists()


# Issue 20: a deleted clinic's subaccount stayed active at Twilio. Deletion now requires it
# closed first, through the recorded Close Twilio subaccount step.
OPEN_SUBACCOUNT = "Twilio subaccount is not closed"  # its SID is the operators' detail, not in the sentence


@pytest.fixture
def released_with_subaccount(admin_client, provisioned, sandbox):
    """A clinic whose number was released; its own subaccount is still open at Twilio."""
    admin_client.post(reverse("admin:clinics_clinic_release", args=[provisioned.pk]), {"apply": "1"})
    provisioned.refresh_from_db()
    assert provisioned.twilio_account_sid and not provisioned.twilio_number_sid
    return provisioned


def test_a_clinic_whose_subaccount_is_open_cannot_be_deleted_one_or_in_bulk(admin_client, released_with_subaccount, sandbox):
    clinic, sub = released_with_subaccount, released_with_subaccount.twilio_account_sid
    fresh = ClinicFactory(name="Fresh Dental")
    bulk = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [clinic.pk, fresh.pk]}

    answers = [
        admin_client.get(delete_page(clinic)),
        admin_client.post(delete_page(clinic), {"post": "yes"}),
        admin_client.post(CHANGELIST, bulk),
        admin_client.post(CHANGELIST, {**bulk, "post": "yes"}),
    ]

    for response in answers:
        body = response.content.decode()
        assert response.status_code == 200 and 'name="post"' not in body
        assert OPEN_SUBACCOUNT.format(sub=sub) in body and "close it first" in body
        assert "Close Twilio subaccount" in body and f"{CHANGELIST}?id={clinic.pk}" in body  # where to do it
    assert Clinic.objects.filter(pk__in=[clinic.pk, fresh.pk]).count() == 2
    assert twilio_client.subaccount_fetch(sub).status == "active"
    # The link opens the clinic list showing this clinic alone, where the action is.
    listed = admin_client.get(f"{CHANGELIST}?id={clinic.pk}")
    assert [c.pk for c in listed.context["cl"].result_list] == [clinic.pk]
    assert 'value="close_subaccount"' in listed.content.decode()


def test_below_the_admin_a_clinic_whose_subaccount_is_open_is_not_deleted(released_with_subaccount, sandbox):
    clinic, sub = released_with_subaccount, released_with_subaccount.twilio_account_sid

    with pytest.raises(ClinicHoldsNumberError, match=OPEN_SUBACCOUNT.format(sub=sub)):
        clinic.delete()
    with pytest.raises(ClinicHoldsNumberError, match=f"Clinic {clinic.pk} cannot be deleted"):
        Clinic.objects.filter(pk__in=[clinic.pk, ClinicFactory().pk]).delete()

    assert Clinic.objects.count() == 2


def test_once_its_subaccount_is_closed_the_clinic_is_deleted_in_bulk(admin_client, released_with_subaccount, sandbox):
    clinic, sub = released_with_subaccount, released_with_subaccount.twilio_account_sid
    close_subaccount(admin_client, clinic)
    bulk = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [clinic.pk, ClinicFactory().pk]}

    done = admin_client.post(CHANGELIST, {**bulk, "post": "yes"})

    assert done.status_code == 302
    assert not Clinic.objects.exists()
    assert twilio_client.subaccount_fetch(sub).status == "closed"


def test_a_subaccount_closed_at_twilio_meanwhile_is_recorded_by_the_close_action(admin_client, released_with_subaccount, sandbox):
    """Closed in Twilio's Console: its numbers can no longer be listed (20404), yet running
    Close Twilio subaccount records it closed, and the clinic can go."""
    clinic, sub = released_with_subaccount, released_with_subaccount.twilio_account_sid
    twilio_client.subaccount_status_set(sub, status="closed")
    confirm = admin_client.post(CHANGELIST, {"action": "close_subaccount", ACTION_CHECKBOX_NAME: [clinic.pk]})
    assert 'id="confirm-close"' in confirm.content.decode()  # offered, not refused

    close_subaccount(admin_client, clinic)

    clinic.refresh_from_db()
    assert clinic.twilio_account_status == "closed"
    assert admin_client.post(delete_page(clinic), {"post": "yes"}).status_code == 302
    assert not Clinic.objects.filter(pk=clinic.pk).exists()


def test_a_clinic_that_never_had_a_number_is_deleted_as_before(admin_client, sandbox):
    clinic = ClinicFactory()

    assert admin_client.post(delete_page(clinic), {"post": "yes"}).status_code == 302
    assert not Clinic.objects.filter(pk=clinic.pk).exists()
