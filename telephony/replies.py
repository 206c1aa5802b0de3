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

from django.db import connection
from django.utils import timezone

from clinics.models import Appointment, AppointmentStatus, ChecklistItem, Clinic, OnboardingStep, Patient
from clinics.phone import phone_format_national
from clinics.selectors import CLINIC_ROUTE_SELECT, clinic_from_row, clinic_get_by_twilio_number
from dentsignal.sql import ModelColumns, row_insert_or_ignore, row_insert_then_update, sql_fetch_one

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


# The confirm/reschedule hot path (see dentsignal/sql.py): the patient's next open
# appointment at the clinic owning the number, with the clinic and its first-SMS
# checklist step, in one statement.
_APPOINTMENT = ModelColumns(Appointment, "a", "id", "clinic_id", "patient_id", "starts_at", "status", "needs_staff_attention")
_NEXT_APPOINTMENT_SQL = (
    f"SELECT {_APPOINTMENT.sql}, {CLINIC_ROUTE_SELECT}"  # noqa: S608 - names from the models; values are parameters
    f" FROM {Appointment._meta.db_table} a"
    f" JOIN {Patient._meta.db_table} p ON p.id = a.patient_id AND p.clinic_id = a.clinic_id"
    f" JOIN {Clinic._meta.db_table} c ON c.id = a.clinic_id"
    f" WHERE c.twilio_number = %s AND p.phone = %s AND a.starts_at >= %s"
    f" AND a.status IN ({', '.join(['%s'] * len(OPEN_STATUSES))})"
    f" ORDER BY a.starts_at, a.id LIMIT 1"
)


def _next_appointment(*, to_number: str, phone: str) -> Appointment | None:
    """The patient's next open appointment at the clinic owning `to_number`, with the
    clinic (carrying `step_done` for the first-SMS step), in one query."""
    starts_at = Appointment._meta.get_field("starts_at")
    now = starts_at.get_db_prep_value(timezone.now(), connection)
    row = sql_fetch_one(_NEXT_APPOINTMENT_SQL, [OnboardingStep.TEST_INBOUND_SMS, to_number, phone, now, *OPEN_STATUSES])
    if row is None:
        return None
    appointment = _APPOINTMENT.build(row)
    appointment.clinic = clinic_from_row(row, _APPOINTMENT.width)
    return appointment


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
    # The log row's values by attname (dentsignal.sql.row_insert_params).
    message = {
        "message_sid": message_sid,
        "direction": MessageLog.Direction.INBOUND,
        "from_number": from_number[:32],
        "to_number": to_number[:32],
        "body": body[:1600],
        "status": "received",
    }
    if keyword in CONFIRM or keyword in RESCHEDULE:
        appointment = _next_appointment(to_number=to_number, phone=from_number)
        if appointment is not None:
            clinic = appointment.clinic
            reply = _act_on_appointment(message, appointment, confirm=keyword in CONFIRM)
            return _finish(message, clinic, reply)
    clinic = clinic_get_by_twilio_number(phone_number=to_number, step_done=OnboardingStep.TEST_INBOUND_SMS)
    message["clinic_id"] = clinic.id if clinic is not None else None
    if clinic is not None and (keyword in OPT_OUT or keyword in OPT_IN):
        return _finish(message, clinic, _opt(message, clinic, from_number, opted_out=keyword in OPT_OUT))
    if clinic is None:
        reply = Reply("unknown_number", "")
    else:
        patient = _patient(clinic, from_number)
        message["patient_id"] = patient.id if patient is not None else None
        if keyword in HELP:
            phone = phone_format_national(clinic.office_phone or clinic.twilio_number or "")
            reply = Reply("help", f"{clinic.name}: call us at {phone}. Reply STOP to stop texts.")
        elif keyword in CONFIRM or keyword in RESCHEDULE:
            text = f"{clinic.name}: we could not find an upcoming appointment for this number. Please call us."
            reply = Reply("no_appointment", text)
        else:
            reply = Reply("inbox", f"Thanks, {clinic.name} got your message and will get back to you.")
    _describe(message, reply)
    if not row_insert_or_ignore(MessageLog, message, conflict="message_sid"):
        return _earlier_reply(message_sid)
    return _finish(message, clinic, reply)


def _describe(message: dict, reply: Reply) -> None:
    message.update(action=reply.action, reply=reply.text, needs_reading=reply.action == "inbox")


def _earlier_reply(message_sid: str) -> str:
    return MessageLog.objects.filter(message_sid=message_sid).values_list("reply", flat=True).first() or ""


def _act_on_appointment(message: dict, appointment: Appointment, *, confirm: bool) -> Reply | None:
    """Log the message and change the appointment atomically; None if it is a repeat."""
    name = appointment.clinic.name
    if confirm:
        appointment.status = AppointmentStatus.CONFIRMED
        reply = Reply("confirmed", f"Thanks! Your appointment at {name} on {appointment_when(appointment)} is confirmed.")
    else:
        appointment.status = AppointmentStatus.RESCHEDULE_REQUESTED
        appointment.needs_staff_attention = True
        reply = Reply("reschedule", f"Thanks. {name} will call you to find a new time.")
    message.update(clinic_id=appointment.clinic_id, patient_id=appointment.patient_id, appointment_id=appointment.id)
    _describe(message, reply)
    # The log row first: a repeated MessageSid is ignored there and changes nothing.
    fields = ["status", "needs_staff_attention", "updated_at"]
    if not row_insert_then_update(MessageLog, message, conflict="message_sid", update=appointment, fields=fields):
        return None
    return reply


def _opt(message: dict, clinic: Clinic, phone: str, *, opted_out: bool) -> Reply:
    """Opt the patient out or back in (idempotent, so no transaction) and log the message."""
    patient, _ = Patient.objects.get_or_create(clinic=clinic, phone=phone)
    message["patient_id"] = patient.id
    reply = Reply("opt_out" if opted_out else "opt_in", "")
    _describe(message, reply)
    if row_insert_or_ignore(MessageLog, message, conflict="message_sid"):
        Patient.objects.filter(pk=patient.pk).update(
            sms_opted_out=opted_out, sms_opted_out_at=timezone.now() if opted_out else None
        )
    return reply


def _finish(message: dict, clinic: Clinic | None, reply: Reply | None) -> str:
    """Tick the clinic's first-SMS step (once) and return the reply to give."""
    if reply is None:
        return _earlier_reply(message["message_sid"])
    if clinic is not None and not clinic.step_done:
        ChecklistItem.objects.get_or_create(
            clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS, defaults={"note": f"first SMS {message['message_sid']}"}
        )
    return reply.text
