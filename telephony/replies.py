"""Patients' SMS replies: confirm, reschedule, opt out/in, help, or a message for staff.

Keywords match Twilio's defaults: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT,
REVOKE opt out (CANCEL is an opt-out at Twilio, never an appointment cancellation);
START, UNSTOP, YES opt back in; HELP, INFO ask for help. Matching ignores case, spaces
and punctuation. Twilio itself answers opt-out and opt-in keywords, so we stay silent
on those.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clinics.models import Appointment, AppointmentStatus, ChecklistItem, Clinic, OnboardingStep, Patient
from clinics.phone import phone_format_national
from clinics.selectors import checklist_step_done, clinic_get_by_twilio_number

from .db import insert_or_ignore
from .models import MessageLog

logger = logging.getLogger(__name__)

CONFIRM = {"C", "CONFIRM", "Y"}
RESCHEDULE = {"R", "RESCHEDULE"}
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "UNSTOP", "YES"}
HELP = {"HELP", "INFO"}
OPEN_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULE_REQUESTED)


def keyword_of(body: str) -> str:
    """The message reduced to upper-case letters: ' c. ' -> 'C', 'Stop!' -> 'STOP'."""
    return re.sub(r"[^A-Z]", "", (body or "").upper())


@dataclass(frozen=True)
class Reply:
    """What an inbound SMS did and the text we answer with ('' for no answer)."""

    action: str
    text: str


def _next_appointment(*, to_number: str, phone: str) -> Appointment | None:
    """The patient's next open appointment at the clinic owning `to_number`, with the
    patient and the clinic, in one query."""
    return (
        Appointment.objects.select_related("patient", "clinic")
        .annotate(step_done=checklist_step_done(OnboardingStep.TEST_INBOUND_SMS, clinic_ref="clinic"))
        .filter(
            clinic__twilio_number=to_number,
            patient__clinic=F("clinic"),
            patient__phone=phone,
            starts_at__gte=timezone.now(),
            status__in=OPEN_STATUSES,
        )
        .order_by("starts_at")
        .first()
    )


def _patient(clinic: Clinic, phone: str) -> Patient | None:
    return Patient.objects.filter(clinic=clinic, phone=phone).first()


def appointment_when(appointment: Appointment) -> str:
    """The appointment's local date and time for a text, e.g. 'Tue Dec 1 at 9:30 AM'."""
    local = timezone.localtime(appointment.starts_at)
    return f"{local:%a %b} {local.day} at {local:%I:%M %p}".replace(" 0", " ")


def sms_reply_process(*, message_sid: str, to_number: str, from_number: str, body: str) -> str:
    """Act on an inbound SMS once and return the reply text ('' for none).

    The same MessageSid delivered again returns the reply given the first time and
    changes nothing (its log row is the claim). Replies act only on the patient's next
    appointment at the clinic that owns `to_number`. At most five queries whatever the
    number of clinics, patients and appointments.
    """
    keyword = keyword_of(body)
    message = MessageLog(
        message_sid=message_sid,
        direction=MessageLog.Direction.INBOUND,
        from_number=from_number[:32],
        to_number=to_number[:32],
        body=body[:1600],
        status="received",
    )
    if keyword in CONFIRM or keyword in RESCHEDULE:
        appointment = _next_appointment(to_number=to_number, phone=from_number)
        if appointment is not None:
            clinic = appointment.clinic
            clinic.step_done = appointment.step_done
            reply = _act_on_appointment(message, appointment, confirm=keyword in CONFIRM)
            return _finish(message, clinic, reply)
    clinic = clinic_get_by_twilio_number(phone_number=to_number, step_done=OnboardingStep.TEST_INBOUND_SMS)
    message.clinic = clinic
    if clinic is not None and (keyword in OPT_OUT or keyword in OPT_IN):
        return _finish(message, clinic, _opt(message, clinic, from_number, opted_out=keyword in OPT_OUT))
    if clinic is None:
        reply = Reply("unknown_number", "")
    else:
        message.patient = _patient(clinic, from_number)
        if keyword in HELP:
            phone = phone_format_national(clinic.office_phone or clinic.twilio_number or "")
            reply = Reply("help", f"{clinic.name}: call us at {phone}. Reply STOP to stop texts.")
        elif keyword in CONFIRM or keyword in RESCHEDULE:
            text = f"{clinic.name}: we could not find an upcoming appointment for this number. Please call us."
            reply = Reply("no_appointment", text)
        else:
            reply = Reply("inbox", f"Thanks, {clinic.name} got your message and will get back to you.")
    _describe(message, reply)
    if not insert_or_ignore(lambda: message.save(force_insert=True)):
        return _earlier_reply(message_sid)
    return _finish(message, clinic, reply)


def _describe(message: MessageLog, reply: Reply) -> None:
    message.action = reply.action
    message.reply = reply.text
    message.needs_reading = reply.action == "inbox"


def _earlier_reply(message_sid: str) -> str:
    return MessageLog.objects.filter(message_sid=message_sid).values_list("reply", flat=True).first() or ""


def _act_on_appointment(message: MessageLog, appointment: Appointment, *, confirm: bool) -> Reply | None:
    """Log the message and change the appointment in one transaction; None if it is a repeat."""
    name = appointment.clinic.name
    if confirm:
        appointment.status = AppointmentStatus.CONFIRMED
        reply = Reply("confirmed", f"Thanks! Your appointment at {name} on {appointment_when(appointment)} is confirmed.")
    else:
        appointment.status = AppointmentStatus.RESCHEDULE_REQUESTED
        appointment.needs_staff_attention = True
        reply = Reply("reschedule", f"Thanks. {name} will call you to find a new time.")
    message.clinic, message.patient, message.appointment = appointment.clinic, appointment.patient, appointment
    _describe(message, reply)
    try:
        with transaction.atomic():
            # The log row first: a repeated MessageSid fails here and changes nothing.
            message.save(force_insert=True)
            appointment.save(update_fields=["status", "needs_staff_attention", "updated_at"])
    except IntegrityError:
        return None
    return reply


def _opt(message: MessageLog, clinic: Clinic, phone: str, *, opted_out: bool) -> Reply:
    """Opt the patient out or back in (idempotent, so no transaction) and log the message."""
    patient, _ = Patient.objects.get_or_create(clinic=clinic, phone=phone)
    message.patient = patient
    reply = Reply("opt_out" if opted_out else "opt_in", "")
    _describe(message, reply)
    if insert_or_ignore(lambda: message.save(force_insert=True)):
        Patient.objects.filter(pk=patient.pk).update(
            sms_opted_out=opted_out, sms_opted_out_at=timezone.now() if opted_out else None
        )
    return reply


def _finish(message: MessageLog, clinic: Clinic | None, reply: Reply | None) -> str:
    """Tick the clinic's first-SMS step (once) and return the reply to give."""
    if reply is None:
        return _earlier_reply(message.message_sid)
    if clinic is not None and not clinic.step_done:
        ChecklistItem.objects.get_or_create(
            clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS, defaults={"note": f"first SMS {message.message_sid}"}
        )
    return reply.text
