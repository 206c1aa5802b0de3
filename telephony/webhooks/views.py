"""Twilio's webhooks: inbound voice, inbound SMS, status callbacks, the AI agent's
stream status (set in each agent call's TwiML), and the A2P registration's Trust Hub
status callbacks (set on each clinic's customer profile and trust product).

Each is POST-only, CSRF-exempt and requires a valid X-Twilio-Signature (see
signatures.py). They read only the parameters they need: Twilio adds new ones over time.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from twilio.twiml.voice_response import VoiceResponse

from clinics.models import NumberState
from telephony.a2p import polling
from telephony.models import CallAnswer
from telephony.sids import sid_is_valid
from telephony.webhook_urls import stream_status_url
from telephony.webhooks import calls, fallbacks, hot_path, messages, replies, twiml
from telephony.webhooks.hot_path import ClinicRoute
from telephony.webhooks.signatures import request_signer, twilio_webhook

logger = logging.getLogger(__name__)

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
    # Twilio reports on stream_status_url whether the agent's stream really started.
    return twiml.connect_agent(
        mode=settings.AI_AGENT_MODE, url=settings.AI_AGENT_STREAM_URL, parameters=parameters, status_callback=stream_status_url()
    )


def _fallback_twiml(clinic: ClinicRoute) -> tuple[VoiceResponse, str]:
    """No agent (or clinic not live): ring the clinic's own line, else a short message;
    with the CallAnswer it amounts to. The published line that forwards here is never rung
    (a no-answer forward would send the call straight back): the message is played."""
    line = {
        "office_phone": clinic.office_phone,
        "twilio_number": clinic.twilio_number or "",
        "forwarded_line": clinic.forwarded_line,
    }
    response = fallbacks.office_dial_twiml(**line, message=NO_AGENT_MESSAGE.format(name=clinic.name))
    return response, CallAnswer.OFFICE_LINE if fallbacks.office_line_rings(**line) else CallAnswer.MESSAGE


def _fallback_reason(clinic: ClinicRoute) -> str:
    """Why a call to this clinic did not go to the AI agent, in words staff can act on
    (and why not the office line, when that would loop)."""
    reasons = []
    if not settings.AI_AGENT_STREAM_URL:
        reasons.append("no AI agent is configured yet (tell the DentSignal operator: the doctor check says what to set)")
    if not clinic.active:
        reasons.append(f"the clinic's number is not active (it is {NumberState(clinic.number_state).label.lower()})")
    if fallbacks.office_line_loops(office_phone=clinic.office_phone, forwarded_line=clinic.forwarded_line):
        reasons.append(fallbacks.FORWARD_LOOP_REASON)
    return "; ".join(reasons)


@twilio_webhook
def inbound_voice(request: HttpRequest) -> HttpResponse:
    """An inbound call: the AI agent for an active clinic, a fallback otherwise."""
    to_number = _param(request, "To", "")
    caller = _param(request, "From", "")
    call_sid = _param(request, "CallSid", "")
    signer = request_signer(request)
    logged = sid_is_valid(call_sid)
    try:
        if logged:
            status = _param(request, "CallStatus", "ringing")
            clinic = calls.call_route_and_log(
                call_sid=call_sid, from_number=caller, to_number=to_number, status=status, signer=signer
            )
        else:
            clinic = calls.clinic_route_check(hot_path.clinic_route_get(to_number=to_number), signer=signer)
    except DatabaseError:
        # The database is down: the caller still reaches the office, from the voice
        # fallback's cache (no query), or hears that we are in trouble.
        logger.exception("Clinic lookup failed for an inbound call to %s", to_number)
        return _twiml(fallbacks.office_line_twiml(to_number=to_number, signer=signer, message=TROUBLE_MESSAGE))
    if clinic is None:
        unknown = VoiceResponse()
        unknown.say(UNKNOWN_NUMBER_MESSAGE)
        unknown.hangup()
        return _twiml(unknown)
    answer: VoiceResponse | str
    if clinic.active and settings.AI_AGENT_STREAM_URL:
        answer = _agent_twiml(clinic, caller=caller, call_sid=call_sid)
        answered_by, reason = str(CallAnswer.AGENT), ""
    else:
        answer, answered_by = _fallback_twiml(clinic)
        reason = _fallback_reason(clinic)
    # The "test inbound call" step is ticked by the agent's stream-started callback
    # (stream_status), never here: a call the fallback answered proves nothing about the
    # agent. Until the step is ticked, the log notes how the call was answered and why,
    # for the clinic page; once it is, this costs nothing. A message played instead of a
    # forwarding office line is always noted: the log says why the office was not rung.
    loop_avoided = answered_by == CallAnswer.MESSAGE and fallbacks.office_line_loops(
        office_phone=clinic.office_phone, forwarded_line=clinic.forwarded_line
    )
    if logged and (not clinic.call_tested or loop_avoided):
        calls.call_answer_record(call_sid=call_sid, answered_by=answered_by, reason=reason)
    # The forward path's evidence: the carrier said this call was forwarded from the
    # clinic's published line (ForwardedFrom). Read from the route; written once per clinic.
    forwarded_from = _param(request, "ForwardedFrom")
    if forwarded_from and clinic.forwarded_line and not clinic.forward_reached:
        calls.forwarded_call_record(clinic=clinic, forwarded_from=forwarded_from)
    return _twiml(answer)


@twilio_webhook
def inbound_sms(request: HttpRequest) -> HttpResponse:
    """A patient's SMS: act on it once and answer with TwiML."""
    message_sid = _param(request, "MessageSid") or _param(request, "SmsSid") or ""
    if not sid_is_valid(message_sid):
        return HttpResponse("MessageSid is missing or not a Twilio SID.", status=400, content_type="text/plain")
    text = replies.sms_reply_process(
        message_sid=message_sid,
        to_number=_param(request, "To", ""),
        from_number=_param(request, "From", ""),
        body=_param(request, "Body", ""),
        signer=request_signer(request),
    )
    return _twiml(twiml.message_reply(text))


def _int_or_none(value: str) -> int | None:
    """A non-negative 32-bit integer from a form value, or None (bad values are ignored)."""
    # isdigit() alone admits "²" and other scripts' digits, which int() then refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if number < 2**31 else None


@twilio_webhook
def status_callback(request: HttpRequest) -> HttpResponse:
    """A call or message status: recorded forward-only; 204 fast."""
    message_sid, call_sid = _param(request, "MessageSid"), _param(request, "CallSid")
    message_status, call_status = _param(request, "MessageStatus"), _param(request, "CallStatus")
    signer = request_signer(request)
    if sid_is_valid(message_sid) and message_status:
        error_code = _int_or_none(_param(request, "ErrorCode"))
        messages.message_status_record(message_sid=message_sid, status=message_status, error_code=error_code, signer=signer)
    elif sid_is_valid(call_sid) and call_status:
        calls.call_status_record(
            call_sid=call_sid,
            status=call_status,
            duration=_int_or_none(_param(request, "CallDuration")),
            sequence=_int_or_none(_param(request, "SequenceNumber")),
            signer=signer,
        )
    else:
        return HttpResponse(
            "Expected a Twilio CallSid with CallStatus, or MessageSid with MessageStatus.", status=400, content_type="text/plain"
        )
    return HttpResponse(status=204)


@twilio_webhook
def stream_status(request: HttpRequest) -> HttpResponse:
    """The AI agent's stream for a call: a <Stream> statusCallback (StreamEvent; 204) or
    the <Connect> action of a <ConversationRelay> session that ended (SessionStatus;
    answered with an empty <Response />, which ends the call as no action would).

    Recorded on the call log; stream-started ticks the clinic's "test inbound call" step.
    """
    call_sid = _param(request, "CallSid")
    if not sid_is_valid(call_sid):
        return HttpResponse("CallSid is missing or not a Twilio SID.", status=400, content_type="text/plain")
    event, session_status = _param(request, "StreamEvent"), _param(request, "SessionStatus")
    if event:
        if event not in calls.STREAM_EVENT_RANKS:
            expected = ", ".join(calls.STREAM_EVENT_RANKS)
            return HttpResponse(f"StreamEvent must be one of {expected}.", status=400, content_type="text/plain")
        calls.stream_event_record(
            call_sid=call_sid,
            event=event,
            signer=request_signer(request),
            stream_sid=_param(request, "StreamSid"),
            error=_param(request, "StreamError"),
        )
        return HttpResponse(status=204)
    if session_status:
        error = " ".join(filter(None, (_param(request, "ErrorCode"), _param(request, "ErrorMessage"))))
        calls.relay_session_record(
            call_sid=call_sid,
            session_status=session_status,
            signer=request_signer(request),
            session_id=_param(request, "SessionId"),
            error=error,
        )
        return _twiml(VoiceResponse())
    return HttpResponse(
        "Expected StreamEvent (a <Stream> status callback) or SessionStatus (a <ConversationRelay> session's end).",
        status=400,
        content_type="text/plain",
    )


# Twilio documents the StatusCallback parameter of Trust Hub's CustomerProfiles and
# TrustProducts ("The URL we call to inform your application of status changes") but not
# the request it makes to it. The bundle's SID is taken from the first of these
# parameters that holds one (the names Twilio gives a bundle's SID elsewhere); its status
# is then fetched from Twilio, never taken from the request.
A2P_BUNDLE_SID_PARAMS = ("BundleSid", "CustomerProfileSid", "TrustProductSid", "Sid")


@twilio_webhook
def a2p_status(request: HttpRequest) -> HttpResponse:
    """A clinic's Trust Hub bundle changed review status: its registration is polled after
    commit (204). An unknown or already recorded bundle is answered 204 too, with nothing
    done: there is nothing for Twilio to send again."""
    sids = (_param(request, name) for name in A2P_BUNDLE_SID_PARAMS)
    bundle_sid = next((sid for sid in sids if sid_is_valid(sid, prefix="BU")), "")
    if not bundle_sid:
        # The parameters' names only, to see what Twilio sends should it use another name.
        logger.warning("A2P status callback without a bundle SID; parameters: %s", ", ".join(sorted(request.POST)[:20]))
        return HttpResponse(
            "Expected BundleSid: the SID (BU followed by 32 hex digits) of the Trust Hub customer profile or trust "
            "product whose status changed.",
            status=400,
            content_type="text/plain",
        )
    polling.registration_status_callback(signer=request_signer(request), bundle_sid=bundle_sid)
    return HttpResponse(status=204)
