"""The clinic's hosted SMS order (clinics.models_hosted.HostedOrder): the intent recorded
before the order is placed at Twilio, the order's statuses as Twilio reports them, and its
completion, when the published number becomes the clinic's (texting) number."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ChecklistItem, Clinic, HostedOrder, NumberEvent, OnboardingPath, OnboardingStep
from ..phone import phone_format_national
from .checklist import checklist_untick_locked
from .errors import ClinicInputError
from .number_state import clinic_number_activate
from .rows import clinic_lock, number_event_write

HOSTED_FAILED = "failed"
HOSTED_COMPLETED = "completed"
HOSTED_ACTION_REQUIRED = "action-required"


def hosted_order_intend(*, clinic_id: int, friendly_name: str, actor: User | None) -> HostedOrder:
    """Record the intent to text-enable the clinic's published number, before Twilio is asked.
    A Twilio number the clinic holds already is its forwarding target (its voice number once
    the order completes: hosted_order_complete).

    Idempotent: while an order stands (not failed) it is returned as it is, so a double
    click or a retried task orders nothing more. After a failed order, the row starts a new
    attempt. Raises ClinicInputError, changing nothing, when the clinic is not on the
    text-enable path, is text-enabled already, or another clinic orders the number.
    """
    try:
        with transaction.atomic():
            clinic = clinic_lock(clinic_id)
            if clinic.onboarding_path != OnboardingPath.TEXT_ENABLE or not clinic.published_number:
                raise ClinicInputError(
                    f"{clinic.name} is not on the path Text-enable the existing line: choose it first, with the published number."
                )
            order = HostedOrder.objects.filter(clinic=clinic).first()
            if order is not None and order.status != HOSTED_FAILED:
                return order
            if clinic.twilio_number and clinic.voice_number:
                raise ClinicInputError(
                    f"{clinic.name} already holds its text-enabled number and its voice number. Nothing was changed."
                )
            if order is None:
                order = HostedOrder(clinic=clinic)
            order.phone_number, order.friendly_name = clinic.published_number, friendly_name
            order.sid = order.status = order.failure_reason = order.signing_document_sid = ""
            order.requested_at = order.status_changed_at = timezone.now()
            order.save()
            number_event_write(
                clinic,
                NumberEvent.Kind.HOSTED_ORDER,
                number=clinic.published_number,
                detail=f"texting for {phone_format_national(clinic.published_number)} requested at Twilio (hosted SMS)",
                actor=actor,
            )
            return order
    except IntegrityError as exc:
        raise ClinicInputError(
            "Another clinic has a texting order for this number: check the published number. Nothing was changed."
        ) from exc


def hosted_order_record(
    *, clinic_id: int, sid: str, status: str, failure_reason: str = "", signing_document_sid: str = ""
) -> tuple[HostedOrder, bool]:
    """Save what Twilio says of the clinic's order (its SID, status, why it needs action, the
    authorization document); return the order and whether its status changed. A change
    writes the history row with Twilio's own status token (the operators' detail)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        order = HostedOrder.objects.select_for_update().get(clinic=clinic)
        changed = status != order.status
        order.sid = sid or order.sid
        order.failure_reason = failure_reason
        order.signing_document_sid = signing_document_sid or order.signing_document_sid
        if changed:
            order.status, order.status_changed_at = status, timezone.now()
        order.save()
        if changed:
            why = f": {failure_reason}" if failure_reason else ""
            number_event_write(
                clinic,
                NumberEvent.Kind.HOSTED_ORDER,
                number=order.phone_number,
                sid=order.sid,
                detail=f"the texting order is {order.status_words} (Twilio: {status}){why}",
            )
        return order, changed


def hosted_order_complete(*, clinic_id: int, phone_sid: str) -> Clinic:
    """The order is completed: the published number, hosted for SMS at Twilio (its
    IncomingPhoneNumber `phone_sid`), becomes the clinic's number, and the number steps tick.
    Voice stays with the clinic's carrier. A Twilio number bought before as the forwarding
    target becomes the clinic's voice number (calls forwarded from the published line still
    reach the agent there); the SMS test, made on it, is asked again of the published number.
    Repeating it changes nothing."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        order = HostedOrder.objects.select_for_update().get(clinic=clinic)
        if order.completed_at is None:
            order.completed_at = timezone.now()
            order.save(update_fields=["completed_at"])
        if clinic.twilio_number_sid and clinic.twilio_number_sid != phone_sid and not clinic.voice_number_sid:
            _forward_target_keep(clinic, hosted_number=order.phone_number, hosted_sid=phone_sid)
            return clinic
        return clinic_number_activate(
            clinic_id=clinic_id,
            phone_number=order.phone_number,
            phone_sid=phone_sid,
            webhooks={},
            how="text-enabled at Twilio (hosted SMS order; SMS only, calls stay with the clinic's carrier)",
        )


def _forward_target_keep(clinic: Clinic, *, hosted_number: str, hosted_sid: str) -> None:
    """Locked clinic: its bought number moves to `voice_number`, the hosted one takes its place."""
    voice, voice_sid = clinic.twilio_number or "", clinic.twilio_number_sid or ""
    clinic.voice_number, clinic.voice_number_sid = voice, voice_sid
    clinic.twilio_number, clinic.twilio_number_sid, clinic.twilio_webhooks = hosted_number, hosted_sid, {}
    clinic.save(update_fields=["voice_number", "voice_number_sid", "twilio_number", "twilio_number_sid", "twilio_webhooks"])
    number_event_write(
        clinic,
        NumberEvent.Kind.PURCHASED,
        number=hosted_number,
        sid=hosted_sid,
        detail=(
            "text-enabled at Twilio (hosted SMS order; SMS only): the clinic's number for texts now; "
            f"{phone_format_national(voice)} stays its voice number, where the published line forwards its calls"
        ),
    )
    if ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS).exists():
        checklist_untick_locked(
            clinic,
            OnboardingStep.TEST_INBOUND_SMS,
            actor=None,
            why=f"that test was of {phone_format_national(voice)}; texts now go to {phone_format_national(hosted_number)}",
        )


def clinic_voice_number_released(*, clinic_id: int, phone_sid: str) -> bool:
    """The clinic's voice number (text-enable path) was released at Twilio: forget it, with
    the history. Return False when the clinic no longer held it (safe to repeat)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if not phone_sid or clinic.voice_number_sid != phone_sid:
            return False
        number = clinic.voice_number or ""
        clinic.voice_number = clinic.voice_number_sid = None
        clinic.save(update_fields=["voice_number", "voice_number_sid"])
        number_event_write(clinic, NumberEvent.Kind.RELEASED, number=number, sid=phone_sid, detail="the clinic's voice number")
        return True


def hosted_order_cancelled(*, clinic_id: int, actor: User | None) -> str:
    """Twilio cancelled (deleted) the clinic's order at staff's request: the row goes, so the
    path may change and a new order may be placed, and the history says who cancelled it.
    Return the number that was ordered (E.164)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        order = HostedOrder.objects.select_for_update().get(clinic=clinic)
        number, sid = order.phone_number, order.sid
        order.delete()
        number_event_write(
            clinic,
            NumberEvent.Kind.HOSTED_ORDER,
            number=number,
            sid=sid,
            detail=f"texting order for {phone_format_national(number)} cancelled at Twilio",
            actor=actor,
        )
        return number


def hosted_orders_following() -> list[int]:
    """The clinics whose hosted order is placed and not final yet (or completed but not yet
    saved as the clinic's number), oldest status first: what beat's poll follows."""
    return list(
        HostedOrder.objects.exclude(sid="")
        .exclude(status=HOSTED_FAILED)
        .filter(completed_at__isnull=True)
        .order_by("status_changed_at")
        .values_list("clinic_id", flat=True)
    )
