"""Inbound calls: which clinic answers, the call log, call status updates, and the AI
agent's stream events (the proof that the agent, not a fallback, answered)."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from clinics.models import OnboardingStep
from clinics.phone import phone_search_term
from telephony.models import CallLog
from telephony.statuses import call_status_rank
from telephony.tenants import account_check
from telephony.webhooks import hot_path
from telephony.webhooks.hot_path import ClinicRoute

logger = logging.getLogger(__name__)


def _inbound_log(*, call_sid: str, from_number: str, to_number: str, status: str) -> dict:
    """The new CallLog row's values, by attname."""
    now = timezone.now()
    return {
        "call_sid": call_sid,
        "from_number": from_number[:32],
        "to_number": to_number[:32],
        "direction": "inbound",
        "status": status[:20],
        "status_rank": call_status_rank(status),
        "created_at": now,
        "updated_at": now,
    }


def call_route_and_log(*, call_sid: str, from_number: str, to_number: str, status: str, signer: str) -> ClinicRoute | None:
    """The clinic holding `to_number` (None if none), and the call logged with it (a
    repeated CallSid changes nothing). ForeignAccountError, with nothing logged, when the
    clinic is another account's than the request's `signer` (telephony.tenants).

    On PostgreSQL both in one statement; if that fails, or elsewhere, the read and the
    log are two statements. A failed log write never stops the caller being answered:
    it is logged at ERROR with the CallSid and counted (telephony_doctor reports it).
    A failed read raises DatabaseError.
    """
    call = _inbound_log(call_sid=call_sid, from_number=from_number, to_number=to_number, status=status)
    if to_number and hot_path.route_and_log_in_one_statement():
        try:
            route = hot_path.call_route_and_log(to_number=to_number, call=call, signer=signer)
        except DatabaseError:
            logger.exception("Could not route and log inbound call %s in one statement; trying apart", call_sid)
        else:
            return clinic_route_check(route, signer=signer)
    route = clinic_route_check(hot_path.clinic_route_get(to_number=to_number), signer=signer)
    call["clinic_id"] = route.id if route else None
    try:
        hot_path.call_log_insert(call)  # a duplicate CallSid (Twilio retried) is ignored
    except DatabaseError:
        pass  # logged at ERROR and counted by hot_path; the caller is answered anyway
    return route


def clinic_route_check(route: ClinicRoute | None, *, signer: str) -> ClinicRoute | None:
    """`route`, unless its clinic is another account's than `signer`'s (ForeignAccountError)."""
    if route is not None:
        account_check(signer=signer, owner=route.twilio_account_sid, what=f"The number {route.twilio_number}")
    return route


def call_status_record(*, call_sid: str, status: str, duration: int | None, sequence: int | None, signer: str) -> None:
    """Apply a call status callback: forward-only, duplicate-safe, unknown SIDs kept.

    One statement: an UPDATE when the call is known (the usual case), an INSERT when not.
    A clinic's call is changed only for the main account or that clinic's (`signer`);
    ForeignAccountError otherwise (one more query, on that rare path only).
    """
    now = timezone.now()
    call = {
        "call_sid": call_sid,
        "status": status[:20],
        "status_rank": call_status_rank(status),
        "sequence_number": sequence,
        "duration_seconds": duration,
        "created_at": now,
        "updated_at": now,
    }
    update = ["status", "status_rank", "updated_at", "sequence_number"]
    if duration is not None:
        update.append("duration_seconds")
    if not hot_path.call_status_upsert(call, update=update, signer=signer) and signer:
        account_check(signer=signer, owner=hot_path.log_owner_account(CallLog, sid=call_sid), what=f"Call {call_sid}")


def call_answer_record(*, call_sid: str, answered_by: str, reason: str) -> None:
    """Note on the call's log row how the voice webhook answered (agent, office line or a
    message) and why not the agent; one UPDATE. A failure is logged, never raised: the
    caller is answered anyway."""
    try:
        hot_path.call_answer_update(call_sid=call_sid, answered_by=answered_by, reason=reason)
    except DatabaseError:
        logger.warning("Could not note how call %s was answered", call_sid, exc_info=True)


def forwarded_call_record(*, clinic: ClinicRoute, forwarded_from: str) -> bool:
    """The forward path's evidence: Twilio's ForwardedFrom (the number the call was forwarded
    from, sent only when the caller's carrier passes it on: Twilio's voice webhook request
    parameters) read in any format the carrier gives, compared with the clinic's published
    line, and the step ticked when they match. A failure is logged, never raised: the
    caller is answered anyway, and the next forwarded call tries again."""
    number = phone_search_term(forwarded_from[:32])
    if number is None or number != clinic.forwarded_line:
        return False
    try:
        return hot_path.forwarded_call_record(clinic_id=clinic.id, forwarded_from=number)
    except DatabaseError:
        logger.warning("Could not record the forwarded call to clinic %s", clinic.id, exc_info=True)
        return False


# Twilio's <Stream> statusCallback events (TwiML docs, "<Stream>": StreamEvent), ranked so
# that the call log's stream status only moves forward: a late "started" never hides a
# "stopped", and an error stays visible (stream_error) whatever comes after it.
STREAM_STARTED, STREAM_STOPPED, STREAM_ERROR = "stream-started", "stream-stopped", "stream-error"
STREAM_EVENT_RANKS = {STREAM_STARTED: 1, STREAM_ERROR: 2, STREAM_STOPPED: 3}
# A <ConversationRelay> session reports only its end, as SessionStatus on the <Connect>
# action request (TwiML docs, "<ConversationRelay>"): a session that ended or completed
# ran, so the agent had the call; a failed one never connected.
RELAY_SESSION_EVENTS = {
    "completed": (STREAM_STARTED, STREAM_STOPPED),
    "ended": (STREAM_STARTED, STREAM_STOPPED),
    "failed": (STREAM_ERROR,),
}


def stream_event_record(*, call_sid: str, event: str, signer: str, stream_sid: str = "", error: str = "") -> bool:
    """Record one of the AI agent's stream events (a STREAM_EVENT_RANKS key) on the call's
    log row, created if the CallSid is unknown; repeats and late deliveries change nothing.
    ForeignAccountError, with nothing written, when the call is a clinic's of another
    account than `signer`'s (telephony.tenants).

    On "stream-started" for a call to a clinic's number, tick that clinic's "test inbound
    call" step: the agent answered. Returns whether the stream has started for this call.
    """
    now, rank = timezone.now(), STREAM_EVENT_RANKS[event]
    with transaction.atomic():
        call, _ = CallLog.objects.select_for_update().get_or_create(
            call_sid=call_sid, defaults={"created_at": now, "updated_at": now}
        )
        if signer and call.clinic_id is not None:
            account_check(signer=signer, owner=hot_path.log_owner_account(CallLog, sid=call_sid), what=f"Call {call_sid}")
        changed: dict[str, object] = {"updated_at": now}
        if rank > call.stream_status_rank:
            changed.update(stream_status=event, stream_status_rank=rank)
        if event == STREAM_STARTED and call.stream_started_at is None:
            changed["stream_started_at"] = now
        if stream_sid and not call.stream_sid:
            changed["stream_sid"] = stream_sid[:40]
        if error:
            changed["stream_error"] = error[:300]
        for name, value in changed.items():
            setattr(call, name, value)
        call.save(update_fields=list(changed))
    if event == STREAM_STARTED and call.clinic_id is not None:
        hot_path.checklist_step_tick(
            clinic_id=call.clinic_id, step=OnboardingStep.TEST_INBOUND_CALL, note=f"AI agent answered call {call_sid}"
        )
    return call.stream_started_at is not None


def relay_session_record(*, call_sid: str, session_status: str, signer: str, session_id: str = "", error: str = "") -> bool:
    """Record a ConversationRelay session's end (its SessionStatus) as the stream events it
    implies (RELAY_SESSION_EVENTS); an unknown status records nothing. Returns whether the
    agent's session ran."""
    started = False
    for event in RELAY_SESSION_EVENTS.get(session_status, ()):
        started = stream_event_record(call_sid=call_sid, event=event, signer=signer, stream_sid=session_id, error=error)
    return started


def call_test_latest(*, clinic_id: int) -> CallLog | None:
    """The clinic's latest inbound call whose answer was noted (while its "test inbound
    call" step was open): what the clinic page explains until the agent has answered."""
    return CallLog.objects.filter(clinic_id=clinic_id).exclude(answered_by="").order_by("-created_at", "-id").first()
