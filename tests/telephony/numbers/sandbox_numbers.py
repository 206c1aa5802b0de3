"""Numbers as the audit finds them at the sandbox Twilio, and `manage.py telephony_doctor` as an
operator runs it; shared by the audit, doctor and fallback tests."""

from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError

from clinics.models import Clinic, NumberState
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory

# The webhooks a healthy number has.
GOOD = {
    "voice_url": f"{PUBLIC_BASE_URL}/inbound/voice",
    "sms_url": f"{PUBLIC_BASE_URL}/api/sms/inbound",
    "status_callback": f"{PUBLIC_BASE_URL}/twilio/status",
    "voice_fallback_url": f"{PUBLIC_BASE_URL}/inbound/voice/fallback",
    "sms_fallback_url": f"{PUBLIC_BASE_URL}/api/sms/inbound/fallback",
}


def clinic_with_number(sandbox, number, name, **webhooks):
    clinic = ClinicFactory(name=name)
    spec = {"phone_number": number, "friendly_name": f"{name} (clinic #{clinic.id})", **GOOD, **webhooks}
    (sid,) = sandbox.seed_numbers([spec])
    Clinic.objects.filter(pk=clinic.pk).update(twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE)
    clinic.refresh_from_db()
    return clinic


def doctor(*args):
    out = StringIO()
    try:
        call_command("telephony_doctor", *args, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        out.write(str(exc))
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()
