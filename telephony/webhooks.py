"""Twilio's three webhooks: inbound voice, inbound SMS, status callbacks.

Each is POST-only, CSRF-exempt and requires a valid X-Twilio-Signature (see
signatures.py). They read only the parameters they need: Twilio adds new ones over time.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from twilio.twiml.voice_response import VoiceResponse

from . import calls, fallbacks, hot_path, messaging, replies, twiml
from .hot_path import ClinicRoute
from .sids import SID_RE
from .signatures import twilio_webhook

logger = logging.getLogger(__name__)
# Twilio SIDs: two letters and 32 hex digits. Anything else is not from Twilio.

UNKNOWN_NUMBER_MESSAGE = "Sorry, this number is not in service. Goodbye."
NO_AGENT_MESSAGE = "Thank you for calling {name}. We cannot take your call right now. Please call back during office hours."
TROUBLE_MESSAGE = "Sorry, we are having trouble answering right now. Please call back in a few minutes."


def _param(request: HttpRequest, name: str, default: str = "") -> str:
    """A form parameter without NUL characters (PostgreSQL text cannot hold them)."""
    return request.POST.get(name, default).replace("\x00", "")


def _twiml(response: VoiceResponse | str) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _agent_twiml(clinic: ClinicRoute, *, caller: str, call_sid: str) -> str:
    """Hand the call to the AI voice agent, telling it which clinic it answers for."""
    parameters = {"clinic_id": str(clinic.id), "clinic_name": clinic.name, "caller": caller, "call_sid": call_sid}
    return twiml.connect_agent(mode=settings.AI_AGENT_MODE, url=settings.AI_AGENT_STREAM_URL, parameters=parameters)


def _fallback_twiml(clinic: ClinicRoute) -> VoiceResponse:
    """No agent (or clinic not live): ring the clinic's own line, else a short message."""
    return fallbacks.office_dial_twiml(
        office_phone=clinic.office_phone,
        twilio_number=clinic.twilio_number or "",
        message=NO_AGENT_MESSAGE.format(name=clinic.name),
    )


@twilio_webhook
def inbound_voice(request: HttpRequest) -> HttpResponse:
    """An inbound call: the AI agent for an active clinic, a fallback otherwise."""
    to_number = _param(request, "To", "")
    caller = _param(request, "From", "")
    call_sid = _param(request, "CallSid", "")
    logged = SID_RE.match(call_sid) is not None
    try:
        if logged:
            status = _param(request, "CallStatus", "ringing")
            clinic = calls.call_route_and_log(call_sid=call_sid, from_number=caller, to_number=to_number, status=status)
        else:
            clinic = hot_path.clinic_route_get(to_number=to_number)
    except DatabaseError:
        # The database is down: the caller still reaches the office, from the voice
        # fallback's cache (no query), or hears that we are in trouble.
        logger.exception("Clinic lookup failed for an inbound call to %s", to_number)
        return _twiml(fallbacks.office_line_twiml(to_number=to_number, message=TROUBLE_MESSAGE))
    if clinic is None:
        response = VoiceResponse()
        response.say(UNKNOWN_NUMBER_MESSAGE)
        response.hangup()
    elif clinic.active and settings.AI_AGENT_STREAM_URL:
        response = _agent_twiml(clinic, caller=caller, call_sid=call_sid)
    else:
        response = _fallback_twiml(clinic)
    if logged and clinic is not None and not clinic.call_tested:
        calls.call_checklist_tick(clinic_id=clinic.id, call_sid=call_sid)
    return _twiml(response)


@twilio_webhook
def inbound_sms(request: HttpRequest) -> HttpResponse:
    """A patient's SMS: act on it once and answer with TwiML."""
    message_sid = _param(request, "MessageSid") or _param(request, "SmsSid") or ""
    if not SID_RE.match(message_sid):
        return HttpResponse("MessageSid is missing or not a Twilio SID.", status=400, content_type="text/plain")
    text = replies.sms_reply_process(
        message_sid=message_sid,
        to_number=_param(request, "To", ""),
        from_number=_param(request, "From", ""),
        body=_param(request, "Body", ""),
    )
    return _twiml(twiml.message_reply(text))


def _int_or_none(value: str) -> int | None:
    """A non-negative 32-bit integer from a form value, or None (bad values are ignored)."""
    if not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number < 2**31 else None


@twilio_webhook
def status_callback(request: HttpRequest) -> HttpResponse:
    """A call or message status: recorded forward-only; 204 fast."""
    message_sid, call_sid = _param(request, "MessageSid"), _param(request, "CallSid")
    message_status, call_status = _param(request, "MessageStatus"), _param(request, "CallStatus")
    if SID_RE.match(message_sid) and message_status:
        messaging.message_status_record(
            message_sid=message_sid, status=message_status, error_code=_int_or_none(_param(request, "ErrorCode"))
        )
    elif SID_RE.match(call_sid) and call_status:
        calls.call_status_record(
            call_sid=call_sid,
            status=call_status,
            duration=_int_or_none(_param(request, "CallDuration")),
            sequence=_int_or_none(_param(request, "SequenceNumber")),
        )
    else:
        return HttpResponse(
            "Expected a Twilio CallSid with CallStatus, or MessageSid with MessageStatus.", status=400, content_type="text/plain"
        )
    return HttpResponse(status=204)
