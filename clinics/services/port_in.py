"""The port-in requests of a clinic's published number (clinics.models_porting): the intent
committed before Twilio is asked, what Twilio answered, and the completed port making the
ported number the clinic's number. Nothing here talks to Twilio (telephony/numbers/porting_in.py does).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ChecklistItem, Clinic, NumberEvent, NumberState, OnboardingPath, OnboardingStep
from ..models_porting import PORT_IN_OPEN, NumberPortIn, PortInState
from ..phone import phone_format_national
from .checklist import checklist_tick_locked, checklist_untick_locked
from .errors import ClinicInputError, ClinicNumberError
from .number_state import PROVISIONING_STEPS, number_save_active
from .rows import clinic_lock, number_event_write

# The steps a test of the temporary number ticked: they say nothing about the ported number.
RETEST_STEPS = (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS)


def _port_in_lock(port_in_id: int) -> NumberPortIn:
    port_in = NumberPortIn.objects.select_for_update().filter(pk=port_in_id).first()
    if port_in is None:
        raise ClinicInputError(f"No port-in request with id {port_in_id}.")
    return port_in


def port_in_intend(
    *, clinic_id: int, target_date: datetime.date, losing_carrier: dict[str, Any], actor: User | None, lease: datetime.timedelta
) -> tuple[NumberPortIn, bool]:
    """Commit the intent to port the clinic's published number in, before Twilio is asked;
    return (the row, whether an earlier unanswered intent is resumed).

    An earlier intent still within `lease` (its answer may still come) refuses, so a double
    click never makes two requests; an older one is resumed: the caller looks it up at
    Twilio before asking again. Raises ClinicInputError when the clinic is not on the port-in
    path or a port of the number is already under way.
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.onboarding_path != OnboardingPath.PORT_IN or not clinic.published_number:
            raise ClinicInputError(f"{clinic.name} is not on the port-in path: choose Port the number in first.")
        number = clinic.published_number
        open_port = NumberPortIn.objects.filter(phone_number=number, state__in=PORT_IN_OPEN).first()
        if open_port is not None and open_port.state == PortInState.REQUESTING and open_port.clinic_id == clinic.id:
            if timezone.now() - open_port.requested_at < lease:
                raise ClinicInputError(
                    f"The port-in of {phone_format_national(number)} is being requested right now: wait a minute, "
                    "then reload the page."
                )
            return open_port, True
        if open_port is not None and open_port.state != PortInState.ACTION_REQUIRED:
            raise ClinicInputError(
                f"A port of {phone_format_national(number)} is already under way ({open_port.get_state_display()}): "
                "follow it on the clinic's page, or cancel it first."
            )
        if open_port is not None:
            # A corrected resubmission: the rejected request gives way (the workflow cancelled it at Twilio).
            open_port.state = PortInState.REPLACED
            open_port.save(update_fields=["state"])
        try:
            with transaction.atomic():
                port_in = NumberPortIn.objects.create(
                    clinic=clinic,
                    phone_number=number,
                    target_date=target_date,
                    losing_carrier=losing_carrier,
                    requested_by=actor,
                )
        except IntegrityError as exc:
            raise ClinicInputError(f"A port of {phone_format_national(number)} is already under way.") from exc
        detail = f"target date {target_date.isoformat()}" + (", corrected resubmission" if open_port else "")
        number_event_write(clinic, NumberEvent.Kind.PORT_IN_REQUESTED, number=number, detail=detail, actor=actor)
    return port_in, False


def port_in_refused(*, port_in_id: int, error: str) -> NumberPortIn:
    """Twilio refused the request (nothing was created there): the row says why, and the
    number is free for a new request."""
    with transaction.atomic():
        port_in = _port_in_lock(port_in_id)
        if port_in.state == PortInState.REQUESTING:
            port_in.state, port_in.error = PortInState.REFUSED, error[:500]
            port_in.save(update_fields=["state", "error"])
            number_event_write(port_in.clinic, NumberEvent.Kind.PORT_IN_CHANGED, number=port_in.phone_number, detail=error)
    return port_in


def port_in_recorded(
    *,
    port_in_id: int,
    request_sid: str,
    status: str,
    number_sid: str = "",
    number_status: str = "",
    signature_request_url: str = "",
    rejection_reason: str = "",
    rejection_reason_code: int | None = None,
    document_sid: str = "",
    error: str = "",
) -> NumberPortIn:
    """Save the port-in request as Twilio has it now (a create's answer or a poll); a change
    of status is written to the number history. A completed one is finished by port_in_complete."""
    if status not in PortInState.values or status in (PortInState.REQUESTING, PortInState.REFUSED, PortInState.REPLACED):
        raise ClinicInputError("Twilio reported a port-in status this version does not know; nothing was saved.")
    with transaction.atomic():
        port_in = _port_in_lock(port_in_id)
        before = (port_in.state, port_in.number_status)
        if port_in.state in (PortInState.COMPLETED, PortInState.REPLACED):
            return port_in  # finished here: a late answer changes nothing
        port_in.request_sid = request_sid or port_in.request_sid
        port_in.number_sid = number_sid or port_in.number_sid
        port_in.document_sid = document_sid or port_in.document_sid
        port_in.number_status = number_status
        port_in.signature_request_url = signature_request_url or port_in.signature_request_url
        port_in.rejection_reason, port_in.rejection_reason_code = rejection_reason[:500], rejection_reason_code
        port_in.error = error[:500]
        # Completion is port_in_complete's, once the number is in the clinic's account.
        if status != PortInState.COMPLETED:
            port_in.state = status
        port_in.polled_at = timezone.now()
        port_in.save()
        if (port_in.state, port_in.number_status) != before:
            detail = f"{port_in.get_state_display()}; the number: {(number_status or 'not reported').replace('_', ' ')}"
            if rejection_reason:
                detail += f"; rejected: {rejection_reason} ({rejection_reason_code})"
            number_event_write(
                port_in.clinic, NumberEvent.Kind.PORT_IN_CHANGED, number=port_in.phone_number, sid=request_sid, detail=detail
            )
    return port_in


def port_in_complete(*, port_in_id: int, phone_sid: str) -> Clinic:
    """The port is done and the number is in the clinic's account as `phone_sid`: it becomes
    the clinic's number (saved with its SID, in the history, the provisioning steps and
    "calls to the published number reach the agent" ticked). A temporary number the clinic
    had is kept on the port-in row, not released; the tests it passed are unticked (they
    were of that number). Repeating it is a no-op. ClinicNumberError while the clinic's
    number is being bought or released (the next poll tries again)."""
    with transaction.atomic():
        port_in = _port_in_lock(port_in_id)
        clinic = clinic_lock(port_in.clinic_id)
        if clinic.twilio_number_sid == phone_sid:
            return clinic
        if clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING):
            raise ClinicNumberError(
                f"{clinic.name}'s number is being {'bought' if clinic.number_state == NumberState.PROVISIONING else 'released'}: "
                "the ported number is saved on it once that is done."
            )
        temporary = clinic.twilio_number or ""
        if temporary:
            port_in.temporary_number, port_in.temporary_number_sid = temporary, clinic.twilio_number_sid or ""
        port_in.state, port_in.completed_at = PortInState.COMPLETED, timezone.now()
        port_in.error = ""
        port_in.save(update_fields=["state", "completed_at", "temporary_number", "temporary_number_sid", "error"])
        number_save_active(clinic, phone_number=port_in.phone_number, phone_sid=phone_sid, webhooks={})
        kept = f"; the temporary number {phone_format_national(temporary)} is kept until staff release it" if temporary else ""
        number_event_write(
            clinic, NumberEvent.Kind.PORTED_IN, number=port_in.phone_number, sid=phone_sid, detail=f"ported in{kept}"
        )
        published = phone_format_national(port_in.phone_number)
        for step in RETEST_STEPS if temporary else ():
            checklist_untick_locked(clinic, step, actor=None, why=f"that test was of the temporary number; test {published}")
        for step in PROVISIONING_STEPS:
            checklist_tick_locked(clinic, step, actor=None, note="ported in")
        if not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE).exists():
            checklist_tick_locked(
                clinic, OnboardingStep.PUBLISHED_LINE, actor=None, note=f"{published} was ported in: it is the clinic's number"
            )
    return clinic


def port_in_temporary_forget(*, port_in_id: int) -> NumberPortIn:
    """Staff asked to release the temporary number kept after the port: the page no longer
    offers it (its SID stays, saying which subaccount the release acts in)."""
    with transaction.atomic():
        port_in = _port_in_lock(port_in_id)
        port_in.temporary_number = ""
        port_in.save(update_fields=["temporary_number"])
    return port_in


def ports_in_open() -> list[int]:
    """The ids of the port-in requests that may still move, least recently polled first."""
    rows = NumberPortIn.objects.filter(state__in=PORT_IN_OPEN).exclude(request_sid="").order_by("polled_at", "id")
    return list(rows.values_list("id", flat=True))
