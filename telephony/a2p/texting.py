"""Outbound texts: appointment reminders, through the clinic's A2P route."""

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from clinics.models import Appointment, AppointmentStatus, NumberState, Patient
from telephony import twilio
from telephony.a2p import registration
from telephony.a2p.texts import appointment_when
from telephony.models import MessageLog
from telephony.queue import task_send_on_commit
from telephony.statuses import message_status_rank
from telephony.webhook_urls import webhook_urls

REMINDER_TEXT = "{clinic}: reminder of your appointment on {when}. Reply C to confirm, R to reschedule."
TASK_REMINDER = "telephony.tasks.send_appointment_reminder"


def reminder_request(*, appointment_id: int) -> None:
    """Send the reminder task for the appointment after commit (the task skips what it must)."""
    task_send_on_commit(TASK_REMINDER, appointment_id)


@dataclass(frozen=True)
class ReminderOutcome:
    """One reminder: the message Twilio accepted, or why nothing was sent."""

    message: twilio.Message | None = None
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        """{"success": True, "sid", "status"}, or {"success": False, "skipped": why, "retryable": False}."""
        if self.message is not None:
            return {"success": True, "sid": self.message.sid, "status": self.message.status}
        return {"success": False, "skipped": self.skipped, "retryable": False}


def reminder_send(*, appointment_id: int) -> ReminderOutcome:
    """Text the patient a reminder of the appointment from the clinic's number.

    Skips opted-out patients, clinics without an active number, cancelled or past
    appointments, and (with A2P registration on) clinics whose campaign is not approved
    or whose texting carriers blocked (it sends through the clinic's Messaging Service
    then). Twilio's 21610 (unsubscribed recipient) marks the patient opted out and
    skips. Any other Twilio failure is raised as TwilioError (the task retries the
    retryable ones).
    """
    appointment = Appointment.objects.select_related("patient", "clinic").filter(pk=appointment_id).first()
    if appointment is None:
        return ReminderOutcome(skipped=f"No appointment with id {appointment_id}.")
    patient, clinic = appointment.patient, appointment.clinic
    if patient.sms_opted_out:
        return ReminderOutcome(skipped=f"{patient} has opted out of texts.")
    if clinic.number_state != NumberState.ACTIVE or not clinic.twilio_number:
        return ReminderOutcome(skipped=f"{clinic.name} has no active number to text from.")
    if appointment.status == AppointmentStatus.CANCELLED or appointment.starts_at < timezone.now():
        return ReminderOutcome(skipped="The appointment is cancelled or past.")
    route = registration.texting_route(clinic)
    if route.skipped:
        return ReminderOutcome(skipped=route.skipped)
    body = REMINDER_TEXT.format(clinic=clinic.name, when=appointment_when(appointment))
    status_callback = webhook_urls()["status_callback"]
    try:
        if route.service_sid:
            sent = twilio.message_send_via_service(
                account_sid=route.account_sid,
                service_sid=route.service_sid,
                to_number=patient.phone,
                body=body,
                status_callback=status_callback,
            )
        else:
            sent = twilio.message_send(
                from_number=clinic.twilio_number,
                to_number=patient.phone,
                body=body,
                status_callback=status_callback,
                # A number in the clinic's subaccount sends only as that subaccount.
                account_sid=clinic.twilio_account_sid,
            )
    except twilio.TwilioError as exc:
        if exc.code != twilio.ERR_UNSUBSCRIBED_RECIPIENT:
            raise
        Patient.objects.filter(pk=patient.pk).update(sms_opted_out=True, sms_opted_out_at=timezone.now())
        return ReminderOutcome(skipped=f"{patient} has unsubscribed at the carrier (Twilio 21610); marked opted out.")
    fields = {
        "clinic": clinic,
        "patient": patient,
        "appointment": appointment,
        "direction": MessageLog.Direction.OUTBOUND,
        "from_number": clinic.twilio_number,
        "to_number": patient.phone,
        "body": body,
        "action": "reminder",
    }
    # A status callback may have created the row first: keep its (later) status.
    MessageLog.objects.update_or_create(
        message_sid=sent.sid,
        defaults=fields,
        create_defaults={**fields, "status": sent.status, "status_rank": message_status_rank(sent.status)},
    )
    Appointment.objects.filter(pk=appointment.pk).update(reminder_sent_at=timezone.now())
    return ReminderOutcome(message=sent)
