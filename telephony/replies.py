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
from django.utils import timezone

from clinics.models import Appointment, AppointmentStatus, ChecklistItem, Clinic, OnboardingStep, Patient
from clinics.phone import phone_format_national

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


def _next_appointment(patient: Patient) -> Appointment | None:
    return (
        Appointment.objects.filter(
            patient=patient, clinic_id=patient.clinic_id, starts_at__gte=timezone.now(), status__in=OPEN_STATUSES
        )
        .order_by("starts_at")
        .first()
    )


def appointment_when(appointment: Appointment) -> str:
    """The appointment's local date and time for a text, e.g. 'Tue Dec 1 at 9:30 AM'."""
    local = timezone.localtime(appointment.starts_at)
    return f"{local:%a %b} {local.day} at {local:%I:%M %p}".replace(" 0", " ")


def _act(
    clinic: Clinic, patient: Patient | None, from_number: str, keyword: str
) -> tuple[Reply, Patient | None, Appointment | None]:
    name = clinic.name
    if keyword in OPT_OUT or keyword in OPT_IN:
        opted_out = keyword in OPT_OUT
        if patient is None:
            patient, _ = Patient.objects.get_or_create(clinic=clinic, phone=from_number)
        patient.sms_opted_out = opted_out
        patient.sms_opted_out_at = timezone.now() if opted_out else None
        patient.save(update_fields=["sms_opted_out", "sms_opted_out_at"])
        return Reply("opt_out" if opted_out else "opt_in", ""), patient, None
    if keyword in HELP:
        phone = phone_format_national(clinic.office_phone or clinic.twilio_number or "")
        text = f"{name}: call us at {phone}. Reply STOP to stop texts." if phone else f"{name}. Reply STOP to stop texts."
        return Reply("help", text), patient, None
    if keyword in CONFIRM or keyword in RESCHEDULE:
        appointment = _next_appointment(patient) if patient else None
        if appointment is None:
            return (
                Reply("no_appointment", f"{name}: we could not find an upcoming appointment for this number. Please call us."),
                patient,
                None,
            )
        if keyword in CONFIRM:
            appointment.status = AppointmentStatus.CONFIRMED
            appointment.save(update_fields=["status", "updated_at"])
            return (
                Reply("confirmed", f"Thanks! Your appointment at {name} on {appointment_when(appointment)} is confirmed."),
                patient,
                appointment,
            )
        appointment.status = AppointmentStatus.RESCHEDULE_REQUESTED
        appointment.needs_staff_attention = True
        appointment.save(update_fields=["status", "needs_staff_attention", "updated_at"])
        return Reply("reschedule", f"Thanks. {name} will call you to find a new time."), patient, appointment
    return Reply("inbox", f"Thanks, {name} got your message and will get back to you."), patient, None


def sms_reply_process(*, message_sid: str, to_number: str, from_number: str, body: str) -> str:
    """Act on an inbound SMS once and return the reply text ('' for none).

    The same MessageSid delivered again returns the reply given the first time and
    changes nothing. Replies act only on the patient's next appointment at the clinic
    that owns `to_number`.
    """
    earlier = MessageLog.objects.filter(message_sid=message_sid).only("reply", "direction").first()
    if earlier is not None:
        return earlier.reply
    clinic = Clinic.objects.filter(twilio_number=to_number).first() if to_number else None
    message = MessageLog(
        message_sid=message_sid,
        clinic=clinic,
        direction=MessageLog.Direction.INBOUND,
        from_number=from_number[:32],
        to_number=to_number[:32],
        body=body[:1600],
        status="received",
    )
    if clinic is None:
        _log(message, Reply("unknown_number", ""))
        return ""
    with transaction.atomic():
        message.patient = Patient.objects.filter(clinic=clinic, phone=from_number).first()
        reply, message.patient, message.appointment = _act(clinic, message.patient, from_number, keyword_of(body))
        created = _log(message, reply)
        if not created:
            # Another delivery of this message won the race: undo ours, answer like it.
            transaction.set_rollback(True)
    if not created:
        return MessageLog.objects.get(message_sid=message_sid).reply
    ChecklistItem.objects.get_or_create(
        clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS, defaults={"note": f"first SMS {message_sid}"}
    )
    return reply.text


def _log(message: MessageLog, reply: Reply) -> bool:
    """Save the inbound message with what it did; False if its MessageSid is already logged."""
    message.action = reply.action
    message.reply = reply.text
    message.needs_reading = reply.action == "inbox"
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        return False
    return True
