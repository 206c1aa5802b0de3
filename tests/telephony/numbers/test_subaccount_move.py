"""Issue 14, "Existing clinics": Move to its own subaccount transfers a clinic's number from
the main account into the clinic's subaccount and re-sets its webhooks there; a failure
leaves a clear state and a retry resumes. Real SDK into the sandbox Twilio."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from clinics import services as clinic_services
from clinics.models import Clinic, NumberEvent
from telephony import twilio as twilio_client
from telephony import twilio_service
from telephony.numbers import provisioning, subaccounts
from tests.factories import ClinicFactory
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")
MAIN = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}"


@pytest.fixture
def on_main(sandbox, settings):
    """A clinic provisioned before subaccounts: its number on the main account."""
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = False
    clinic = ClinicFactory(name="Legacy Dental")
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = True
    sandbox._call("DELETE", "requests")
    return Clinic.objects.get(pk=clinic.id)


def move(client, clinic):
    response = client.post(CHANGELIST, {"action": "move_to_subaccount", ACTION_CHECKBOX_NAME: [clinic.pk]}, follow=True)
    return [str(m) for m in get_messages(response.wsgi_request)]


def transfers(sandbox) -> list[dict]:
    return [r for r in sandbox.api_requests("POST", "/IncomingPhoneNumbers/PN") if "AccountSid" in r["form"]]


def test_move_creates_the_subaccount_transfers_the_number_and_resets_its_webhooks(
    admin_client, sandbox, on_main, expected_webhooks
):
    pn = on_main.twilio_number_sid

    said = move(admin_client, on_main)

    clinic = Clinic.objects.get(pk=on_main.pk)
    sub = clinic.twilio_account_sid
    assert sub and f"Legacy Dental: {clinic.twilio_number} is now in the clinic's own Twilio subaccount." in said
    assert [(r["method"], r["path"]) for r in sandbox.requests() if r["status"] < 300] == [
        ("POST", "/2010-04-01/Accounts.json"),
        ("GET", f"/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers.json"),
        ("POST", f"{MAIN}/IncomingPhoneNumbers/{pn}.json"),
        ("POST", f"/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json"),
    ]
    assert transfers(sandbox)[0]["form"] == {"AccountSid": sub}  # main credentials, main path
    (number,) = sandbox.owned_numbers()
    assert number["account_sid"] == sub and number["sid"] == pn and number["voice_url"] == expected_webhooks["voice"]
    assert clinic.number_move_step == "done"
    kinds = set(NumberEvent.objects.filter(clinic=clinic).values_list("kind", flat=True))
    assert {"move_requested", "subaccount_set", "move_transferred", "webhooks_updated", "moved"} <= kinds
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "Moved into its own Twilio subaccount." in page
    # From now on the number is managed under the subaccount: the release runs there.
    assert twilio_service.release_number(pn)["success"] is True
    assert sandbox.api_requests("DELETE", f"/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json")


def test_a_failure_after_the_transfer_is_shown_and_the_retry_resumes_without_a_second_transfer(admin_client, sandbox, on_main):
    # An earlier attempt was asked for and made the subaccount, then its worker died.
    clinic_services.clinic_number_move_request(clinic_id=on_main.id)
    sub = provisioning.clinic_subaccount_ensure(clinic=on_main)
    # Now the webhook update under the subaccount fails once.
    path = f"/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{on_main.twilio_number_sid}.json"
    sandbox.fault(path=path, method="POST", status=400, code=21402, message="VoiceUrl is not valid")

    said = move(admin_client, on_main)

    clinic = Clinic.objects.get(pk=on_main.pk)
    assert clinic.number_move_step == "failed" and "21402" in clinic.number_move_error
    assert any("Move to its own subaccount" in m and "21402" in m for m in said)
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "Move not finished:" in page

    move(admin_client, clinic)

    clinic.refresh_from_db()
    assert clinic.number_move_step == "done", clinic.number_move_error
    (number,) = sandbox.owned_numbers()
    assert number["account_sid"] == clinic.twilio_account_sid == sub
    assert len(transfers(sandbox)) == 1  # the number was already in the subaccount: no second transfer
    assert len(sandbox.api_requests("POST", "/Accounts.json")) == 1  # one subaccount, ever


def test_21474_is_a_sentence_and_the_number_stays_where_it_was(admin_client, sandbox, on_main):
    sandbox.fault(
        path=f"{MAIN}/IncomingPhoneNumbers/{on_main.twilio_number_sid}.json",
        method="POST",
        status=400,
        code=21474,
        message="API User must be the parent account to transfer phone numbers.",
    )

    said = move(admin_client, on_main)

    clinic = Clinic.objects.get(pk=on_main.pk)
    assert clinic.number_move_step == "failed"
    # Staff read it in the one mapping's words (telephony/twilio/errors.py), with the code's link.
    assert any("only the main (parent) account may transfer numbers" in m and "errors/21474" in m for m in said)
    (number,) = sandbox.owned_numbers()
    assert number["account_sid"] == SANDBOX_ACCOUNT_SID
    assert transfers(sandbox)[0]["status"] == 400

    move(admin_client, clinic)  # fixed: the retry transfers it

    assert sandbox.owned_numbers()[0]["account_sid"] == Clinic.objects.get(pk=clinic.pk).twilio_account_sid


def test_move_refuses_a_clinic_already_in_its_own_subaccount_or_without_a_number(admin_client, sandbox):
    assert twilio_service.provision_clinic_number(ClinicFactory(name="Modern Dental").id, "512")["success"] is True
    modern = Clinic.objects.get(name="Modern Dental")
    bare = ClinicFactory(name="Bare Dental")
    before = len(sandbox.requests())

    said = move(admin_client, modern) + move(admin_client, bare)

    assert any("already in its own Twilio subaccount" in m for m in said)
    assert any("Bare Dental has no active number to move." in m for m in said)
    assert len(sandbox.requests()) == before


def test_move_is_refused_with_subaccounts_off(sandbox, on_main, settings):
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = False
    with pytest.raises(provisioning.InvalidInput, match="keeps every clinic's number on the main Twilio account"):
        subaccounts.clinic_number_move_request(clinic_id=on_main.id)
    assert Clinic.objects.get(pk=on_main.pk).number_move_step == ""


# ------------------------------------------------------------------ two moves at once (issue 20)


def test_two_staff_moving_the_same_number_at_once_make_one_transfer_and_the_move_ends_moved(
    client, django_user_model, sandbox, on_main
):
    """Both clicks in flight together (Twilio slow to create the subaccount): one run claims
    the move, the other leaves it alone; nobody is told it failed."""
    sandbox.fault(path="/2010-04-01/Accounts.json", method="POST", mode="delay_before", delay=1.5)
    staff = [django_user_model.objects.create_superuser(username=f"boss{i}", password="pw-boss-123456") for i in range(2)]

    def click(user) -> list[str]:
        try:
            own = Client()
            own.force_login(user)
            return move(own, on_main)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        said = [m for messages in pool.map(click, staff) for m in messages]

    clinic = Clinic.objects.get(pk=on_main.pk)
    assert clinic.number_move_step == "done", said
    assert len(transfers(sandbox)) == 1 and transfers(sandbox)[0]["status"] == 200
    assert not any("20404" in m or "not finished" in m.lower() for m in said), said
    kinds = list(NumberEvent.objects.filter(clinic=clinic).order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds[-1] == "moved" and "move_failed" not in kinds, kinds


def test_a_404_on_the_transfer_after_another_run_moved_the_number_reads_as_success(admin_client, sandbox, on_main):
    """The other run transferred the number between our look in the subaccount and our
    transfer: Twilio answers 20404 (no longer on the main account), and the number is where
    we wanted it."""
    main_path = f"{MAIN}/IncomingPhoneNumbers/{on_main.twilio_number_sid}.json"
    sandbox.fault(path=main_path, method="POST", mode="delay_before", delay=2.0)

    def the_other_run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sub = Clinic.objects.get(pk=on_main.pk).twilio_account_sid
            if sub and sandbox.api_requests("GET", f"/Accounts/{sub}/IncomingPhoneNumbers.json"):
                time.sleep(0.3)  # our transfer is on its way (held 2 s by Twilio)
                twilio_client.incoming_number_transfer(on_main.twilio_number_sid, to_account_sid=sub)
                return
            time.sleep(0.05)
        raise AssertionError("our run never looked in the subaccount")

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(the_other_run)
        said = move(admin_client, on_main)
        other.result()

    assert [t["status"] for t in transfers(sandbox)] == [200, 404]
    clinic = Clinic.objects.get(pk=on_main.pk)
    assert clinic.number_move_step == "done", clinic.number_move_error
    assert any("is now in the clinic's own Twilio subaccount" in m for m in said), said
    kinds = list(NumberEvent.objects.filter(clinic=clinic).order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds[-1] == "moved" and "move_failed" not in kinds, kinds


def test_a_failure_reported_after_the_move_was_done_changes_nothing(on_main):
    clinic_services.clinic_number_move_request(clinic_id=on_main.id)
    clinic_services.clinic_number_move_step(clinic_id=on_main.id, step=clinic_services.MOVE_DONE, detail="AC123")

    clinic = clinic_services.clinic_number_move_step(
        clinic_id=on_main.id, step=clinic_services.MOVE_FAILED, error="The number was not found (20404)."
    )

    assert (clinic.number_move_step, clinic.number_move_error) == ("done", "")
    assert not NumberEvent.objects.filter(clinic=on_main, kind=NumberEvent.Kind.MOVE_FAILED).exists()
