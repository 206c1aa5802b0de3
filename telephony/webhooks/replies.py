"""Patients' SMS replies: confirm, reschedule, opt out/in, help, or a message for staff.

The keywords and the wording are the ones registered with the clinic's A2P campaign
(telephony/a2p/texts.py). Matching ignores case, spaces and punctuation. Twilio itself
answers opt-out and opt-in keywords, so we stay silent on those.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings

from clinics.models import AppointmentStatus, OnboardingStep
from telephony.a2p.texts import CONFIRM, HELP, OPT_IN, OPT_OUT, RESCHEDULE, appointment_when, help_text
from telephony.models import MessageLog
from telephony.tenants import account_check
from telephony.webhooks import hot_path
from telephony.webhooks.hot_path import ClinicRoute, NextAppointment

logger = logging.getLogger(__name__)


def keyword_of(body: str) -> str:
    """The message reduced to upper-case letters: ' c. ' -> 'C', 'Stop!' -> 'STOP'."""
    return re.sub(r"[^A-Z]", "", (body or "").upper())


@dataclass(frozen=True)
class Reply:
    """What an inbound SMS did and the text we answer with ('' for no answer)."""

    action: str
    text: str


def sms_reply_process(*, message_sid: str, to_number: str, from_number: str, body: str, signer: str) -> str:
    """Act on an inbound SMS once and return the reply text ('' for none).

    The same MessageSid delivered again returns the reply given the first time and
    changes nothing (its log row is the claim). Replies act only on the patient's next
    appointment at the clinic that owns `to_number`, and only when that clinic is the
    request's `signer`'s or the signer is the main account (ForeignAccountError before
    anything is written otherwise: telephony.tenants). At most five queries whatever the
    number of clinics, patients and appointments.
    """
    keyword = keyword_of(body)
    # The log row's values by attname (hot_path.message_log_insert).
    message: dict[str, object] = {
        "message_sid": message_sid,
        "direction": MessageLog.Direction.INBOUND,
        "from_number": from_number[:32],
        "to_number": to_number[:32],
        "body": body[:1600],
        "status": "received",
    }
    if keyword in CONFIRM or keyword in RESCHEDULE:
        appointment = hot_path.sms_next_appointment(to_number=to_number, from_number=from_number)
        if appointment is not None:
            _account_check(appointment.clinic, signer)
            reply = _act_on_appointment(message, appointment, confirm=keyword in CONFIRM)
            return _finish(message, appointment.clinic, reply)
    clinic = hot_path.clinic_route_get(to_number=to_number)
    if clinic is not None:
        _account_check(clinic, signer)
    message["clinic_id"] = clinic.id if clinic is not None else None
    if clinic is not None and (keyword in OPT_OUT or keyword in OPT_IN):
        return _finish(message, clinic, _opt(message, clinic, from_number, opted_out=keyword in OPT_OUT))
    if clinic is None:
        reply = Reply("unknown_number", "")
    else:
        message["patient_id"] = hot_path.patient_id_get(clinic_id=clinic.id, phone=from_number)
        if keyword in HELP:
            reply = Reply("help", help_text(clinic.name, clinic.office_phone or clinic.twilio_number or ""))
        elif keyword in CONFIRM or keyword in RESCHEDULE:
            text = f"{clinic.name}: we could not find an upcoming appointment for this number. Please call us."
            reply = Reply("no_appointment", text)
        else:
            reply = Reply("inbox", f"Thanks, {clinic.name} got your message and will get back to you.")
    _describe(message, reply)
    if not hot_path.message_log_insert(message):
        return hot_path.message_reply_earlier(message_sid=message_sid)
    return _finish(message, clinic, reply)


def _account_check(clinic: ClinicRoute, signer: str) -> None:
    account_check(signer=signer, owner=clinic.twilio_account_sid, what=f"The number {clinic.twilio_number}")


def _describe(message: dict, reply: Reply) -> None:
    message.update(action=reply.action, reply=reply.text, needs_reading=reply.action == "inbox")


def _act_on_appointment(message: dict, appointment: NextAppointment, *, confirm: bool) -> Reply | None:
    """Log the message and change the appointment atomically; None if it is a repeat."""
    name = appointment.clinic.name
    if confirm:
        status, needs_staff_attention = AppointmentStatus.CONFIRMED, appointment.needs_staff_attention
        reply = Reply("confirmed", f"Thanks! Your appointment at {name} on {appointment_when(appointment)} is confirmed.")
    else:
        status, needs_staff_attention = AppointmentStatus.RESCHEDULE_REQUESTED, True
        reply = Reply("reschedule", f"Thanks. {name} will call you to find a new time.")
    message.update(clinic_id=appointment.clinic.id, patient_id=appointment.patient_id, appointment_id=appointment.id)
    _describe(message, reply)
    # The log row first: a repeated MessageSid is ignored there and changes nothing.
    changed = hot_path.message_log_insert_then_appointment_update(
        message, appointment_id=appointment.id, status=status, needs_staff_attention=needs_staff_attention
    )
    return reply if changed else None


def _opt(message: dict, clinic: ClinicRoute, phone: str, *, opted_out: bool) -> Reply:
    """Opt the patient out or back in (idempotent, so no transaction) and log the message."""
    patient_id = hot_path.patient_id_get_or_create(clinic_id=clinic.id, phone=phone)
    message["patient_id"] = patient_id
    reply = Reply("opt_out" if opted_out else "opt_in", "")
    _describe(message, reply)
    if hot_path.message_log_insert(message):
        hot_path.patient_sms_opt_set(patient_id=patient_id, opted_out=opted_out)
    return reply


def _finish(message: dict, clinic: ClinicRoute | None, reply: Reply | None) -> str:
    """Tick the clinic's first-SMS step (once) and return the reply to give."""
    if reply is None:
        return hot_path.message_reply_earlier(message_sid=message["message_sid"])
    # With A2P registration on, our replies reach patients only once the campaign is
    # approved: the SMS test is ticked only then (the clinic page says why it waits).
    a2p_waits = bool(settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID) and clinic is not None and not clinic.campaign_approved
    if clinic is not None and not clinic.sms_tested and not a2p_waits and clinic.texts_reach(message["to_number"]):
        note = f"first SMS {message['message_sid']}"
        hot_path.checklist_step_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_SMS, note=note)
    return reply.text
