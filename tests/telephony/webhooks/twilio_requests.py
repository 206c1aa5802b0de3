"""Requests as Twilio makes them to the webhooks (signed over the public URL with the account's
auth token), the clinic they reach, and the TwiML they answer; shared by the webhook tests."""

import xml.etree.ElementTree as ET

from django.conf import settings
from twilio.request_validator import RequestValidator

from clinics.models import NumberState
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory

VOICE, SMS, STATUS = "/inbound/voice", "/api/sms/inbound", "/twilio/status"
CLINIC_NUMBER = "+15125550142"
OTHER_NUMBER = "+17375550142"
PATIENT = "+15125550999"


def signed_post(client, path, params, *, url=None, token=None, **headers):
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url or PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def active_clinic(number=CLINIC_NUMBER, **kwargs):
    return ClinicFactory(
        twilio_number=number, twilio_number_sid="PN" + number[-10:].rjust(32, "0"), number_state=NumberState.ACTIVE, **kwargs
    )


def call_params(to=CLINIC_NUMBER, sid="CA" + "a" * 32):
    return {"CallSid": sid, "From": PATIENT, "To": to, "CallStatus": "ringing", "AccountSid": settings.TWILIO_ACCOUNT_SID}


def twiml(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root
