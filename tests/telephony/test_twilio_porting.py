"""The porting and hosted SMS adapter (telephony.twilio.porting, .hosted) against the sandbox
Twilio, through the real SDK over HTTP: typed results, statuses followed, and failures as
TwilioErrors whose sentences staff can act on."""

from __future__ import annotations

import datetime

import pytest

from telephony import twilio
from tests.twilio_sandbox.trust_hub import control_post
from twilio_sandbox import SANDBOX_ACCOUNT_SID

CARRIER = twilio.LosingCarrierInfo(
    customer_name="Smile Dental LLC",
    authorized_representative="Ana Lopez",
    authorized_representative_email="ana@smile.example.com",
    account_number="ACC-1",
    street="1 Main St",
    city="Austin",
    state="TX",
    zip="78701",
)
IN_TEN_DAYS = datetime.date.today() + datetime.timedelta(days=10)


def _bill() -> twilio.PortingDocument:
    return twilio.utility_bill_upload(
        friendly_name="Smile Dental bill", filename="bill.pdf", content=b"%PDF-1.4 bill", content_type="application/pdf"
    )


def _port(bill: twilio.PortingDocument, *, target: datetime.date = IN_TEN_DAYS, pin: str = "") -> twilio.PortInRequest:
    """Port +15125550100 into the main account with `bill`."""
    return twilio.port_in_create(
        account_sid=SANDBOX_ACCOUNT_SID,
        phone_number="+15125550100",
        losing_carrier=CARRIER,
        document_sids=(bill.sid,),
        target_port_in_date=target,
        pin=pin,
    )


def test_portability_says_whether_a_pin_is_needed_and_why_a_number_is_not_portable(sandbox):
    check = twilio.portability_check(phone_number="+15125550190", target_account_sid=SANDBOX_ACCOUNT_SID)
    assert (check.portable, check.pin_and_account_number_required) == (True, True)
    toll_free = twilio.portability_check(phone_number="+18005550100", target_account_sid=SANDBOX_ACCOUNT_SID)
    assert (toll_free.portable, toll_free.not_portable_reason_code) == (False, 22133)
    sentence = twilio.not_portable_sentence(toll_free.not_portable_reason_code, toll_free.not_portable_reason)
    assert "manual port" in sentence and "22133" in sentence and "MANUAL_PORTING" not in sentence
    [request] = [r for r in sandbox.api_requests("GET") if "Portability" in r["path"]][:1]
    assert request["query"] == {"TargetAccountSid": SANDBOX_ACCOUNT_SID}


def test_a_port_in_is_created_followed_through_rejection_and_completed(sandbox):
    bill = _bill()
    assert (bill.sid[:2], bill.mime_type) == ("RD", "application/pdf")
    created = _port(bill, pin="1234")
    assert (created.status, created.target_port_in_date, created.documents) == ("in_review", IN_TEN_DAYS.isoformat(), (bill.sid,))
    [number] = created.numbers
    control_post(sandbox, "port-in-status", {"sid": created.sid, "status": "waiting_for_signature"})
    assert twilio.port_in_fetch(sid=created.sid).signature_request_url.startswith("https://")
    control_post(
        sandbox,
        "port-in-number-status",
        {"sid": number.sid, "status": "rejected", "rejection_reason": "Account number mismatch", "rejection_reason_code": 6010},
    )
    rejected = twilio.port_in_number_fetch(request_sid=created.sid, number_sid=number.sid)
    assert (rejected.status, rejected.rejection_reason, rejected.rejection_reason_code) == (
        "rejected",
        "Account number mismatch",
        6010,
    )
    sentence = twilio.port_rejection_sentence(rejected.rejection_reason_code, rejected.rejection_reason)
    assert "Account number mismatch" in sentence and "account number, PIN" in sentence
    assert twilio.port_in_fetch(sid=created.sid).status == "action_required"

    corrected = _port(bill)
    control_post(sandbox, "port-in-status", {"sid": corrected.sid, "status": "completed"})
    assert [n.status for n in twilio.port_in_fetch(sid=corrected.sid).numbers] == ["completed"]
    assert [n.phone_number for n in twilio.incoming_numbers_list()] == ["+15125550100"]
    ported = twilio.portability_check(phone_number="+15125550100", target_account_sid=SANDBOX_ACCOUNT_SID)
    assert (ported.portable, ported.account_sid) == (False, SANDBOX_ACCOUNT_SID)
    already = twilio.not_portable_sentence(
        ported.not_portable_reason_code, ported.not_portable_reason, account_sid=ported.account_sid
    )
    assert "already in one of DentSignal's Twilio accounts: nothing to port" in already


def test_not_portable_reason_codes_twilio_publishes_no_page_for_are_not_interpreted():
    """22131 and 22136 come from a third-party reason table, not from Twilio: without the
    check's account_sid (Twilio's documented sign that the number is ours) the sentence only
    repeats Twilio's reason, and a number that is ours gets no link to a page Twilio lacks."""
    for code, reason in ((22131, "ALREADY_IN_THE_TARGET_ACCOUNT"), (22136, "ALREADY_IN_ONE_OF_YOUR_TWILIO_ACCOUNTS")):
        sentence = twilio.not_portable_sentence(code, reason)
        assert sentence.startswith(f"Twilio cannot port this number ({reason.replace('_', ' ').lower()})"), sentence
        assert "clinic's own" not in sentence and "another of DentSignal's" not in sentence
    ours = twilio.not_portable_sentence(22131, "ALREADY_IN_THE_TARGET_ACCOUNT", account_sid="AC" + "1" * 32)
    assert "nothing to port" in ours and "errors/22131" not in ours


def test_a_port_in_too_soon_or_twice_is_a_sentence_and_cancel_works(sandbox):
    bill = _bill()
    with pytest.raises(twilio.TwilioError) as too_soon:
        _port(bill, target=datetime.date.today() + datetime.timedelta(days=2))
    assert "7 days" in str(too_soon.value) and not too_soon.value.retryable
    first = _port(bill)
    with pytest.raises(twilio.TwilioError) as twice:
        _port(bill)
    assert twice.value.code == 22137 and "already in progress" in str(twice.value)
    twilio.port_in_cancel(sid=first.sid)
    assert twilio.port_in_fetch(sid=first.sid).status == "canceled"


def test_porting_webhooks_are_set_read_and_removed(sandbox):
    url = "https://dentsignal.example.com/twilio/porting"
    assert twilio.porting_webhooks_set(port_in_url=url).port_in_target_url == url
    again = twilio.porting_webhooks_set(port_in_url=url)  # idempotent
    assert twilio.porting_webhooks_fetch() == again
    assert set(again.notifications_of) == set(twilio.PORT_IN_EVENTS)
    twilio.porting_webhooks_delete()
    assert twilio.porting_webhooks_fetch().port_in_target_url == ""


def test_hosted_eligibility_is_typed_and_an_ineligible_number_gets_a_sentence(sandbox):
    eligible = twilio.hosted_eligibility_check(phone_number="+15125550111", hosting_account_sid=SANDBOX_ACCOUNT_SID)
    assert (eligible.eligible, eligible.status) == (True, "ELIGIBLE")
    sandbox.seed_numbers([{"phone_number": "+15125550120"}])
    owned = twilio.hosted_eligibility_check(phone_number="+15125550120", hosting_account_sid=SANDBOX_ACCOUNT_SID)
    assert (owned.eligible, owned.ineligibility_reason) == (False, "ALREADY_IN_TWILIO")
    sentence = twilio.hosted_ineligible_sentence(owned.ineligibility_reason, owned.next_step)
    assert "already in twilio" in sentence and "ALREADY_IN_TWILIO" not in sentence
    assert [r["status"] for r in sandbox.api_requests("POST", "/v1/HostedNumber/Eligibility")] == [200, 200]


def test_a_hosted_order_is_found_again_by_name_followed_and_cancelled(sandbox):
    name = "DentSignal clinic #1 hosted SMS"
    order = twilio.hosted_order_create(
        account_sid=SANDBOX_ACCOUNT_SID,
        phone_number="+15125550111",
        friendly_name=name,
        contact_phone_number="+15125550112",
        contact_title="Office manager",
        email="ana@smile.example.com",
        address_sid="AD" + "1" * 32,
        sms_url="https://dentsignal.example.com/api/sms/inbound",
        sms_fallback_url="https://dentsignal.example.com/api/sms/inbound/fallback",
    )
    assert order.status == "twilio-processing"
    assert twilio.hosted_orders_find(friendly_name=name) == [order]
    assert twilio.hosted_orders_find(phone_number="+15125550111") == [order]
    control_post(sandbox, "hosted-order-status", {"sid": order.sid, "status": "action-required", "failure_reason": "LOA expired"})
    needs = twilio.hosted_order_fetch(sid=order.sid)
    assert (needs.status, needs.failure_reason) == ("action-required", "LOA expired")
    assert "LOA expired" in twilio.hosted_order_failure_sentence(needs.failure_reason)
    with pytest.raises(twilio.TwilioError):
        twilio.hosted_order_cancel(sid=order.sid)  # Twilio cancels only a `received` order
    control_post(sandbox, "hosted-order-status", {"sid": order.sid, "status": "received"})
    twilio.hosted_order_cancel(sid=order.sid)
    with pytest.raises(twilio.TwilioError) as gone:
        twilio.hosted_order_fetch(sid=order.sid)
    assert gone.value.not_found
    form = sandbox.api_requests("POST", "/v2/HostedNumber/Orders")[0]["form"]
    assert (form["SmsUrl"], form["SmsFallbackUrl"], form["AccountSid"], form["SmsCapability"]) == (
        "https://dentsignal.example.com/api/sms/inbound",
        "https://dentsignal.example.com/api/sms/inbound/fallback",
        SANDBOX_ACCOUNT_SID,
        "true",
    )
