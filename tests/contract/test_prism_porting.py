"""Contract: every porting and hosted SMS call of the adapter, sent to Prism serving Twilio's
own twilio_numbers_v1.json (porting) and twilio_numbers_v2.json (hosted number orders).
Prism answers 422 to any request whose path, query or body the spec does not allow; the
adapter raises that as a TwilioError, so each call returning is the proof.

The utility bill upload goes to numbers-upload.twilio.com, which no OpenAPI description
covers (https://www.twilio.com/docs/phone-numbers/document-apis): the sandbox's tests cover it."""

from __future__ import annotations

import datetime

import pytest

from telephony import twilio
from tests.contract.prism import ACCOUNT

pytestmark = [pytest.mark.contract, pytest.mark.no_sandbox]
PORT_IN = "KW" + "1a" * 16
PORT_IN_NUMBER = "PU" + "2b" * 16
ORDER = "HR" + "3c" * 16


@pytest.fixture(autouse=True)
def twilio_is_prism(prism, prism_numbers, settings):
    settings.TWILIO_API_BASE_URL = prism
    settings.TWILIO_NUMBERS_API_BASE_URL = prism_numbers
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "contract-test-token"


def test_every_porting_call_is_accepted_by_twilios_numbers_v1_spec():
    twilio.portability_check(phone_number="+15125550100", target_account_sid=ACCOUNT)
    carrier = twilio.LosingCarrierInfo(
        customer_name="Smile Dental LLC",
        authorized_representative="Ana Lopez",
        authorized_representative_email="ana@smile.example.com",
        account_number="ACC-1",
        account_telephone_number="+15125550100",
        street="1 Main St",
        street_2="Suite 2",
        city="Austin",
        state="TX",
        zip="78701",
    )
    twilio.port_in_create(
        account_sid=ACCOUNT,
        phone_number="+15125550100",
        losing_carrier=carrier,
        document_sids=("RD" + "4d" * 16,),
        target_port_in_date=datetime.date.today() + datetime.timedelta(days=10),
        pin="1234",
        notification_emails=("ops@dentsignal.example.com",),
    )
    twilio.port_in_fetch(sid=PORT_IN)
    twilio.port_ins_find(phone_number="+15125550100", account_sid=ACCOUNT, created_after=datetime.date.today())
    twilio.port_in_number_fetch(request_sid=PORT_IN, number_sid=PORT_IN_NUMBER)
    twilio.port_in_cancel(sid=PORT_IN)
    twilio.porting_webhooks_set(port_in_url="https://dentsignal.example.com/twilio/porting")
    twilio.porting_webhooks_fetch()
    twilio.porting_webhooks_delete(webhook_type="PORT_IN")
    twilio.hosted_eligibility_check(phone_number="+15125550111", hosting_account_sid=ACCOUNT)


def test_every_hosted_order_call_is_accepted_by_twilios_numbers_v2_spec(prism_numbers_v2, settings):
    settings.TWILIO_NUMBERS_API_BASE_URL = prism_numbers_v2
    twilio.hosted_order_create(
        account_sid=ACCOUNT,
        phone_number="+15125550111",
        friendly_name="DentSignal clinic #1 hosted SMS",
        contact_phone_number="+15125550112",
        contact_title="Office manager",
        email="ana@smile.example.com",
        address_sid="AD" + "5e" * 16,
        sms_url="https://dentsignal.example.com/api/sms/inbound",
        sms_fallback_url="https://dentsignal.example.com/api/sms/inbound/fallback",
        status_callback_url="https://dentsignal.example.com/twilio/status",
    )
    twilio.hosted_orders_find(phone_number="+15125550111", friendly_name="DentSignal clinic #1 hosted SMS")
    twilio.hosted_order_fetch(sid=ORDER)
    twilio.hosted_order_cancel(sid=ORDER)
