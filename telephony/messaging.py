"""Messages: status callbacks for SMS, and outbound appointment reminders."""

from django.utils import timezone

from . import hot_path
from .models import MessageLog
from .statuses import message_status_rank


def message_status_record(*, message_sid: str, status: str, error_code: int | None) -> None:
    """Apply a message status callback: forward-only, duplicate-safe, unknown SIDs kept."""
    now = timezone.now()
    message = {
        "message_sid": message_sid,
        "direction": MessageLog.Direction.OUTBOUND,
        "status": status[:20],
        "status_rank": message_status_rank(status),
        "error_code": error_code,
        "created_at": now,
        "updated_at": now,
    }
    update = ["status", "status_rank", "updated_at"]
    if error_code is not None:
        update.append("error_code")
    hot_path.message_status_upsert(message, update=update)


REMINDER_TEXT = "{clinic}: reminder of your appointment on {when}. Reply C to confirm, R to reschedule."


def reminder_send(*, appointment_id: int) -> dict:
    """Text the patient a reminder of the appointment from the clinic's number.

    Skips opted-out patients and clinics without an active number; Twilio's 21610
    (unsubscribed recipient) marks the patient opted out. Returns the service result
    with `skipped` set when nothing was sent.
    """
    from clinics.models import Appointment, AppointmentStatus, NumberState

    from . import twilio_service
    from .replies import appointment_when

    appointment = Appointment.objects.select_related("patient", "clinic").filter(pk=appointment_id).first()
    if appointment is None:
        return {"success": False, "skipped": f"No appointment with id {appointment_id}.", "retryable": False}
    patient, clinic = appointment.patient, appointment.clinic
    if patient.sms_opted_out:
        return {"success": False, "skipped": f"{patient} has opted out of texts.", "retryable": False}
    if clinic.number_state != NumberState.ACTIVE or not clinic.twilio_number:
        return {"success": False, "skipped": f"{clinic.name} has no active number to text from.", "retryable": False}
    if appointment.status == AppointmentStatus.CANCELLED or appointment.starts_at < timezone.now():
        return {"success": False, "skipped": "The appointment is cancelled or past.", "retryable": False}
    body = REMINDER_TEXT.format(clinic=clinic.name, when=appointment_when(appointment))
    result = twilio_service.send_sms(from_number=clinic.twilio_number, to_number=patient.phone, body=body)
    if result["success"]:
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
            message_sid=result["sid"],
            defaults=fields,
            create_defaults={**fields, "status": result["status"], "status_rank": message_status_rank(result["status"])},
        )
        type(appointment).objects.filter(pk=appointment.pk).update(reminder_sent_at=timezone.now())
    elif result["code"] == twilio_service.ERR_UNSUBSCRIBED_RECIPIENT:
        type(patient).objects.filter(pk=patient.pk).update(sms_opted_out=True, sms_opted_out_at=timezone.now())
        result["skipped"] = f"{patient} has unsubscribed at the carrier (Twilio 21610); marked opted out."
    return result
