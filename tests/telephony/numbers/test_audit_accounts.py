"""Issue 14, "Audit and doctor cover the main account and every subaccount": numbers per
account, subaccounts with no clinic, clinics whose subaccount is suspended or closed, a
number on the wrong account. Real SDK into the sandbox Twilio."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from clinics.models import Clinic
from telephony import twilio as twilio_client
from telephony import twilio_service
from telephony.numbers import audit, findings, subaccounts
from tests.factories import ClinicFactory
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db


def provisioned(name: str) -> Clinic:
    clinic = ClinicFactory(name=name)
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    return Clinic.objects.get(pk=clinic.id)


def by_code(result: findings.AuditResult) -> dict[str, list[findings.Finding]]:
    found: dict[str, list[findings.Finding]] = {}
    for finding in result.findings:
        found.setdefault(finding.code, []).append(finding)
    return found


def test_a_healthy_setup_counts_numbers_per_account_and_finds_nothing_about_accounts(sandbox):
    one, two = provisioned("One Dental"), provisioned("Two Dental")

    result = audit.number_audit()

    assert result.numbers_per_account == {SANDBOX_ACCOUNT_SID: 0, one.twilio_account_sid: 1, two.twilio_account_sid: 1}
    assert not {"wrong_account", "subaccount_orphan", "subaccount_suspended"} & set(by_code(result))


def test_a_number_on_the_wrong_account_is_an_error_saying_how_to_fix_it(sandbox):
    clinic = provisioned("Drifted Dental")
    # Someone moved it back to the main account in the Console.
    twilio_client.incoming_number_transfer(
        clinic.twilio_number_sid, to_account_sid=SANDBOX_ACCOUNT_SID, account_sid=clinic.twilio_account_sid
    )

    (finding,) = by_code(audit.number_audit())["wrong_account"]

    assert finding.severity == findings.ERROR and finding.clinic_id == clinic.id and finding.sid == clinic.twilio_number_sid
    assert "on the main account, not on its own subaccount" in finding.message
    assert "Move to its own subaccount" in finding.fix
    assert finding.details == {"found_in": SANDBOX_ACCOUNT_SID, "expected_in": clinic.twilio_account_sid}


def test_a_subaccount_no_clinic_holds_is_reported(sandbox):
    provisioned("Held Dental")
    stray = twilio_client.subaccount_create(friendly_name="Forgotten experiment")

    (finding,) = by_code(audit.number_audit())["subaccount_orphan"]

    assert finding.severity == findings.WARNING and "Forgotten experiment" in finding.message
    assert stray.sid not in finding.message and finding.details["account_sid"] == stray.sid
    assert stray.auth_token not in json.dumps(finding.as_dict())


def test_a_subaccount_suspended_behind_our_back_is_an_error_one_we_suspended_a_warning(sandbox):
    clinic = provisioned("Paused Dental")
    twilio_client.subaccount_status_set(clinic.twilio_account_sid, status="suspended")  # e.g. in the Console

    (finding,) = by_code(audit.number_audit())["subaccount_suspended"]
    assert finding.severity == findings.ERROR and "not by us" in finding.message and "do not reach us" in finding.message

    subaccounts.clinic_subaccount_status_change(clinic_id=clinic.id, status="active")
    subaccounts.clinic_subaccount_status_change(clinic_id=clinic.id, status="suspended")
    (finding,) = by_code(audit.number_audit())["subaccount_suspended"]
    assert finding.severity == findings.WARNING and "(by us)" in finding.message


def test_a_closed_subaccount_of_a_clinic_is_reported_and_the_doctor_exits_non_zero(sandbox, capsys):
    clinic = provisioned("Gone Dental")
    twilio_client.subaccount_status_set(clinic.twilio_account_sid, status="closed")  # its number goes with it

    found = by_code(audit.number_audit())
    (closed,) = found["subaccount_closed"]
    assert closed.severity == findings.ERROR and "cannot be reopened" in closed.fix and "do not reach us" in closed.message
    assert "missing" not in found  # said once, by the subaccount finding

    with pytest.raises(SystemExit) as exited:
        call_command("telephony_doctor", "--json")
    report = json.loads(capsys.readouterr().out)
    assert exited.value.code != 0 and "subaccount_closed" in {f["code"] for f in report["findings"]}
    assert report["numbers_per_account"] == {SANDBOX_ACCOUNT_SID: 0}


def test_drift_in_a_messaging_service_inside_a_clinics_subaccount_is_found(sandbox):
    clinic, other = provisioned("Texting Dental"), provisioned("Quiet Dental")
    # The clinic's own Messaging Service lives in its subaccount; someone set an inbound URL there.
    sandbox._call(
        "POST",
        "messaging-services",
        {
            "account_sid": clinic.twilio_account_sid,
            "friendly_name": "Texting Dental A2P",
            "inbound_request_url": "https://crm.example.com/sms",
            "use_inbound_webhook_on_number": False,
            "number_sids": [clinic.twilio_number_sid],
        },
    )
    sandbox._call("DELETE", "requests")

    (finding,) = by_code(audit.number_audit())["messaging_service_override"]

    assert finding.clinic_id == clinic.id and finding.sid == clinic.twilio_number_sid
    assert "'Texting Dental A2P'" in finding.message and "https://crm.example.com/sms" in finding.message
    # Each account's services were listed with that account's own credentials.
    lists = [r for r in sandbox.requests() if r["method"] == "GET" and r["path"] == "/v1/Services"]
    assert sorted(r["auth"] for r in lists) == sorted([SANDBOX_ACCOUNT_SID, clinic.twilio_account_sid, other.twilio_account_sid])
