"""Outbound texts: appointment reminders, through the clinic's A2P route."""

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Appointment, AppointmentStatus, Clinic, NumberState, Patient
from clinics.models import ReminderOutcome as ReminderState
from clinics.models_a2p import A2PRegistration, A2PStep
from telephony import task_names, twilio
from telephony.a2p.rules import registration_account_sid, registration_disabled_reason
from telephony.a2p.texts import appointment_when
from telephony.models import MessageLog
from telephony.queue import task_send_on_commit
from telephony.statuses import message_status_rank
from telephony.webhook_urls import webhook_urls

REMINDER_TEXT = "{clinic}: reminder of your appointment on {when}. Reply C to confirm, R to reschedule."


def reminder_request(*, appointment_id: int) -> None:
    """Send the reminder task for the appointment after commit (the task skips what it must)."""
    task_send_on_commit(task_names.SEND_APPOINTMENT_REMINDER, appointment_id)


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
    """Send the reminder (reminder_attempt) and record its outcome on the appointment for staff:
    sent, skipped with why, or refused by Twilio with its sentence (a retryable failure is
    recorded when the task gives up: reminder_give_up)."""
    try:
        outcome = reminder_attempt(appointment_id=appointment_id)
    except twilio.TwilioError as exc:
        if not exc.retryable:
            reminder_give_up(appointment_id=appointment_id, error=str(exc))
        raise
    if outcome.message is not None:
        clinic_services.appointment_reminder_outcome_record(
            appointment_id=appointment_id, outcome=ReminderState.SENT, detail="Twilio accepted the reminder for sending."
        )
    else:
        clinic_services.appointment_reminder_outcome_record(
            appointment_id=appointment_id, outcome=ReminderState.SKIPPED, detail=outcome.skipped
        )
    return outcome


def reminder_give_up(*, appointment_id: int, error: str) -> None:
    """Twilio refused the reminder (or retries ran out): record it on the appointment with the sentence."""
    clinic_services.appointment_reminder_outcome_record(
        appointment_id=appointment_id, outcome=ReminderState.REFUSED, detail=f"Twilio refused the reminder: {error}"
    )


def reminder_attempt(*, appointment_id: int) -> ReminderOutcome:
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
        return ReminderOutcome(skipped="The patient has opted out of texts.")
    if clinic.number_state != NumberState.ACTIVE or not clinic.twilio_number:
        return ReminderOutcome(skipped=f"{clinic.name} has no active number to text from.")
    if appointment.status == AppointmentStatus.CANCELLED or appointment.starts_at < timezone.now():
        return ReminderOutcome(skipped="The appointment is cancelled or past.")
    route = texting_route(clinic)
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
        return ReminderOutcome(skipped="The patient has unsubscribed at the carrier (Twilio 21610); marked opted out.")
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


# --------------------------------------------------------------------------- the route

# Message status error codes that mean carriers (or Twilio) refuse the clinic's texts until
# its registration is fixed (https://www.twilio.com/docs/api/errors/<code>).
CARRIER_BLOCK_SENTENCES = {
    30034: "US carriers blocked a text because the number is not in an approved A2P 10DLC campaign (Twilio 30034).",
    30032: "Carriers blocked a text from an unverified toll-free number (Twilio 30032).",
    30035: "Carriers blocked a text for a registration reason (Twilio 30035, https://www.twilio.com/docs/api/errors/30035).",
    21712: "The number is in another Messaging Service than the clinic's registered one (Twilio 21712).",
}


@dataclass(frozen=True)
class TextingRoute:
    """How a clinic's outbound SMS go: through its Messaging Service, from its number, or not at all (`skipped`)."""

    service_sid: str = ""
    account_sid: str = ""
    skipped: str = ""


def texting_route(clinic: Clinic) -> TextingRoute:
    """The route for the clinic's next outbound SMS.

    With registration enabled, texts go only through the clinic's Messaging Service once
    its campaign is approved and the number is in it; before that (or while carriers
    block the clinic) they are skipped with the reason, never sent to fail. With it
    disabled (no TWILIO_PRIMARY_CUSTOMER_PROFILE_SID), from the number as before.
    """
    if registration_disabled_reason():
        return TextingRoute()
    registration = A2PRegistration.objects.filter(clinic=clinic).first()
    if registration is not None and registration.messaging_blocked_reason:
        return TextingRoute(skipped=f"Texting is blocked for {clinic.name}: {registration.messaging_blocked_reason}")
    if registration is not None and registration.step_approved(A2PStep.CAMPAIGN) and not _number_in_service(clinic, registration):
        return TextingRoute(
            skipped=f"{clinic.name}'s number is not in its Messaging Service yet (the number changed): it joins by itself "
            "within minutes, so nothing was sent. Send the reminder again then."
        )
    if registration is None or not registration.campaign_ready:
        return TextingRoute(
            skipped=f"{clinic.name}'s A2P 10DLC campaign is not approved yet: US carriers block texts from unregistered "
            "numbers (Twilio 30034), so nothing was sent."
        )
    return TextingRoute(service_sid=registration.messaging_service_sid, account_sid=registration_account_sid(clinic))


def _number_in_service(clinic: Clinic, registration: A2PRegistration) -> bool:
    """The clinic's number today is the one in its Messaging Service."""
    return registration.step_approved(A2PStep.NUMBER) and registration.number_sid == clinic.twilio_number_sid


def texting_block_on_failure(*, message_sid: str, error_code: int | None) -> bool:
    """A message failed with a registration error: mark its clinic's texting blocked with the reason."""
    if error_code not in CARRIER_BLOCK_SENTENCES:
        return False
    clinic_id = MessageLog.objects.filter(message_sid=message_sid).values_list("clinic_id", flat=True).first()
    if clinic_id is None:
        return False
    reason = f"{CARRIER_BLOCK_SENTENCES[error_code]} Check the registration pipeline, fix, then Edit and resubmit."
    return clinic_services.a2p_messaging_block(clinic_id=clinic_id, code=error_code, reason=reason)
