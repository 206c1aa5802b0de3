"""The fallback webhooks: what Twilio calls when our primary webhooks fail or time out.

Every number's VoiceFallbackUrl and SmsFallbackUrl point here (telephony/webhook_urls.py,
served from API_FALLBACK_BASE_URL). Twilio requests a fallback URL when the primary one
answers an error (5xx) or does not answer in time, so these views assume our database is
down and never touch it: they are signed like the other webhooks (over the fallback's
public URL) and read and write only the fallback store (telephony/fallback_store.py).

- Voice: dial the clinic's office line from the office-line cache, or say a clear
  message when the number is unknown there, or the clinic's message when the office
  line is the published line forwarding here (ringing it would loop the call back).
- SMS: keep the message durably in the spool and acknowledge it; `fallback_sms_replay()`
  (Celery task on beat, or `manage.py telephony_fallback_replay`) later runs every spooled
  message through the primary SMS webhook's own code (replies.sms_reply_process) once the
  database is back. That code claims a MessageSid with its log row, so a message replayed
  twice, or also delivered to the primary webhook, acts once.

The office-line cache is rebuilt from the clinics table whenever a clinic's number,
office line or name is saved (a signal, on commit) and every ten minutes (beat).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from twilio.twiml.voice_response import VoiceResponse

from clinics.models import PATHS_FORWARDING, Clinic
from telephony import fallback_store
from telephony.a2p import texts
from telephony.fallback_store import FallbackStoreError, OfficeLine, SpooledSms
from telephony.sids import sid_is_valid
from telephony.tenants import ForeignAccountError, account_check
from telephony.webhooks import replies, twiml
from telephony.webhooks.signatures import account_tokens_refresh, request_signer, twilio_webhook

logger = logging.getLogger(__name__)

UNKNOWN_LINE_MESSAGE = (
    "Sorry, we are having trouble answering right now and cannot connect you to the office. Please call back in a few minutes."
)
# The clinic's message, played instead of ringing an office line that forwards back here.
NO_OFFICE_LINE_MESSAGE = "Thank you for calling {name}. We cannot take your call right now. Please call back in a few minutes."
SMS_ACKNOWLEDGEMENT = "Thanks, {name} got your message and will get back to you."
# A clinic save that changes one of these changes what the voice fallback dials.
OFFICE_LINE_FIELDS = frozenset(
    {"twilio_number", "voice_number", "office_phone", "name", "twilio_account_sid", "onboarding_path", "published_number"}
)
# Said in the call log when the office line was not rung because it forwards here.
FORWARD_LOOP_REASON = (
    "the office line is the published number, which forwards its calls here: ringing it would send an unanswered "
    "call straight back, so the clinic's message was played"
)
# A clinic save that changes one of these changes the fallbacks' copy of the subaccount tokens.
ACCOUNT_TOKEN_FIELDS = frozenset({"twilio_account_sid", "twilio_account_token_sealed", "twilio_account_status"})


def _param(request: HttpRequest, name: str) -> str:
    return request.POST.get(name, "").replace("\x00", "")


def _xml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/xml")


def office_line_loops(*, office_phone: str, forwarded_line: str) -> bool:
    """Whether the office line is the published line that forwards its calls to the clinic's
    Twilio number (the forward path): a no-answer or busy forward would bring the call back."""
    return bool(office_phone) and office_phone == forwarded_line


def office_line_rings(*, office_phone: str, twilio_number: str, forwarded_line: str = "") -> bool:
    """Whether a call can ring the office line: there is one, and it is neither the Twilio
    number itself nor the published line forwarding to it (either would loop the call back to us)."""
    return (
        bool(office_phone)
        and office_phone != twilio_number
        and not office_line_loops(office_phone=office_phone, forwarded_line=forwarded_line)
    )


def office_dial_twiml(*, office_phone: str, twilio_number: str, message: str, forwarded_line: str = "") -> VoiceResponse:
    """Ring the clinic's office line, with the clinic's Twilio number as caller ID; or
    say `message` when it cannot ring (office_line_rings)."""
    response = VoiceResponse()
    # Stored values go through twiml.xml_safe: the SDK writes whatever it is given.
    if office_line_rings(office_phone=office_phone, twilio_number=twilio_number, forwarded_line=forwarded_line):
        response.dial(twiml.xml_safe(office_phone), caller_id=twiml.xml_safe(twilio_number) or None)
    else:
        response.say(twiml.xml_safe(message))
    return response


def office_line_twiml(*, to_number: str, signer: str, message: str = UNKNOWN_LINE_MESSAGE) -> VoiceResponse:
    """A call to `to_number` rung through to the office line in the cache (no database
    query), or `message` when the cache does not know one. ForeignAccountError when the
    cache says the number is another account's than the signer's."""
    line = _office_line_of(to_number, signer=signer)
    if line is None:
        return office_dial_twiml(office_phone="", twilio_number=to_number, message=message)
    if office_line_loops(office_phone=line.office_phone, forwarded_line=line.forwarded_line):
        # No database here to note it on the call's log row: the log says it instead.
        logger.warning("Voice fallback for %s: %s", to_number, FORWARD_LOOP_REASON)
        message = NO_OFFICE_LINE_MESSAGE.format(name=line.name)
    return office_dial_twiml(
        office_phone=line.office_phone, twilio_number=to_number, message=message, forwarded_line=line.forwarded_line
    )


def _office_line_of(to_number: str, *, signer: str) -> OfficeLine | None:
    """The cached office line of the clinic holding `to_number`, checked against the
    request's signer (telephony.tenants) from the cache alone."""
    line = fallback_store.office_line_get(to_number)
    account_check(signer=signer, owner=line.account_sid if line else None, what=f"The number {to_number}")
    return line


@twilio_webhook
def voice_fallback(request: HttpRequest) -> HttpResponse:
    """Twilio's VoiceFallbackUrl: dial the office line from the cache (no database)."""
    return _xml(str(office_line_twiml(to_number=_param(request, "To"), signer=request_signer(request))))


@twilio_webhook
def sms_fallback(request: HttpRequest) -> HttpResponse:
    """Twilio's SmsFallbackUrl: spool the text durably (no database) and acknowledge it.

    500 if it could not be kept anywhere: Twilio then reports the message as failed to us
    rather than the patient being told it arrived.
    """
    message_sid = _param(request, "MessageSid") or _param(request, "SmsSid")
    # fullmatch: the SID names the spool file, so not even a trailing newline may pass.
    if not sid_is_valid(message_sid):
        return HttpResponse("MessageSid is missing or not a Twilio SID.", status=400, content_type="text/plain")
    signer, to_number = request_signer(request), _param(request, "To")[:32]
    # Refused here when the cache knows the number is another account's; otherwise the
    # replay checks the signer against the database.
    line = _office_line_of(to_number, signer=signer)
    message = SpooledSms(
        message_sid=message_sid,
        to_number=to_number,
        from_number=_param(request, "From")[:32],
        body=_param(request, "Body")[:1600],
        received_at=time.time(),
        account_sid=_param(request, "AccountSid")[:34],
        signer=signer,
    )
    try:
        fallback_store.sms_spool(message)
    except FallbackStoreError:
        logger.exception("Lost SMS %s: the fallback could not spool it", message_sid)
        return HttpResponse("The message could not be stored.", status=500, content_type="text/plain")
    logger.warning("SMS %s taken by the fallback; it is processed when the database is back", message_sid)
    keyword = replies.keyword_of(message.body)
    # Twilio answers opt-out and opt-in keywords itself (see replies.py): stay silent on them.
    if line is None or keyword in texts.OPT_OUT or keyword in texts.OPT_IN:
        return _xml(twiml.message_reply(""))
    return _xml(twiml.message_reply(SMS_ACKNOWLEDGEMENT.format(name=line.name)))


# ----------------------------------------------------------------- replay


def fallback_sms_replay() -> int:
    """Process every spooled SMS, oldest first, exactly as the primary SMS webhook would,
    and forget each once processed; the number processed. Stops at the first sign that
    the database is unreachable (OperationalError/InterfaceError) by raising it; a message
    that fails on its own is logged and left spooled, and the next ones still run."""
    processed = 0
    for message in fallback_store.sms_spooled():
        try:
            replies.sms_reply_process(
                message_sid=message.message_sid,
                to_number=message.to_number,
                from_number=message.from_number,
                body=message.body,
                signer=message.signer,
            )
        except (OperationalError, InterfaceError):
            raise  # the database is (still) unreachable: the rest waits for the next run
        except ForeignAccountError as exc:
            # Refused, as the primary webhook would have answered 403: never acted on.
            logger.warning("Dropped the spooled SMS %s: %s", message.message_sid, exc)
            fallback_store.sms_unspool(message.message_sid)
            continue
        except Exception:
            # This one message fails on its own (bad data): it stays spooled, reported by
            # telephony_doctor, and must not hold back the texts behind it.
            logger.exception("Could not replay the spooled SMS %s; it stays spooled", message.message_sid)
            continue
        # Forgotten only after processing: a crash in between replays it once more,
        # and the MessageSid's log row makes that replay change nothing.
        fallback_store.sms_unspool(message.message_sid)
        processed += 1
    if processed:
        logger.info("Replayed %s SMS taken by the fallback", processed)
    return processed


# ----------------------------------------------------------------- the office-line cache


def office_lines_refresh() -> int:
    """Rebuild the voice fallback's office-line cache from the clinics table; the number
    of clinic numbers cached. Raises DatabaseError or FallbackStoreError."""
    with fallback_store.office_lines_lock():
        rows = Clinic.objects.filter(twilio_number__isnull=False).exclude(twilio_number="")
        columns = (
            "id", "name", "twilio_number", "voice_number", "office_phone", "twilio_account_sid", "onboarding_path",
            "published_number",
        )  # fmt: skip
        lines = {
            number: OfficeLine(
                clinic_id=pk,
                name=name,
                office_phone=office_phone or "",
                account_sid=account_sid,
                forwarded_line=published if path in PATHS_FORWARDING else "",
            )
            for pk, name, twilio_number, voice_number, office_phone, account_sid, path, published in rows.values_list(*columns)
            for number in (twilio_number, voice_number)  # a text-enabled clinic's calls come to its voice number
            if number
        }
        fallback_store.office_lines_replace(lines)
    return len(lines)


# The fallback caches that copy clinic fields: those fields, the cache's rebuild, and what
# it is (for the log). A clinic save that changes none of a cache's fields leaves it be.
_CACHES: tuple[tuple[frozenset[str], Callable[[], int], str], ...] = (
    (OFFICE_LINE_FIELDS, office_lines_refresh, "the office-line cache of the voice fallback"),
    (ACCOUNT_TOKEN_FIELDS, account_tokens_refresh, "the fallbacks' copy of the subaccount tokens"),
)


def _refresh_quietly(refresh: Callable[[], int], what: str) -> None:
    try:
        refresh()
    except (DatabaseError, FallbackStoreError):
        # Never fail a clinic's save for a cache; beat rebuilds it within ten minutes.
        logger.exception("Could not refresh %s", what)


def _clinic_saved(sender: type[Clinic], instance: Clinic, update_fields: frozenset[str] | None = None, **kwargs: object) -> None:
    for fields, refresh, what in _CACHES:
        if update_fields is None or fields & set(update_fields):
            transaction.on_commit(functools.partial(_refresh_quietly, refresh, what))


def _clinic_deleted(sender: type[Clinic], instance: Clinic, **kwargs: object) -> None:
    for fields, refresh, what in _CACHES:
        if any(getattr(instance, name) for name in fields):  # the clinic was in this cache
            transaction.on_commit(functools.partial(_refresh_quietly, refresh, what))


def fallback_caches_follow_clinics() -> None:
    """Refresh each fallback cache (office lines, subaccount tokens) after every committed
    clinic save that changes one of its fields (a token rotation too:
    clinic_subaccount_token_update saves), and after a clinic in it is deleted (called from
    apps.ready); beat rebuilds both every ten minutes for changes that send no signal."""
    post_save.connect(_clinic_saved, sender=Clinic, dispatch_uid="telephony.webhooks.fallbacks.caches")
    post_delete.connect(_clinic_deleted, sender=Clinic, dispatch_uid="telephony.webhooks.fallbacks.caches_delete")
