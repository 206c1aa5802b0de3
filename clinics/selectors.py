"""Reads of clinics that several places need."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from .models import MANUAL_STEPS, STEP_REQUIRES, ChecklistItem, Clinic, OnboardingStep

CHECKLIST_TOTAL = len(OnboardingStep.choices)


def clinics_by_numbers(*, phone_numbers: Iterable[str], phone_sids: Iterable[str]) -> list[Clinic]:
    """Every clinic holding one of these numbers or SIDs, in one query."""
    return list(Clinic.objects.filter(Q(twilio_number__in=list(phone_numbers)) | Q(twilio_number_sid__in=list(phone_sids))))


def clinic_list_with_progress() -> QuerySet[Clinic]:
    """Clinics for the list: `checklist_done` is a column kept by the services, so filtering
    and sorting on it costs an index lookup at any size (no COUNT over the items)."""
    return Clinic.objects.all()


def clinic_checklist(*, clinic: Clinic) -> list[dict]:
    """The steps of the clinic's current run in their natural order, each with done_at /
    done_by (None when not done), what it requires and which of those are still to do."""
    done = {item.step: item for item in ChecklistItem.objects.filter(clinic=clinic).select_related("done_by")}
    steps = []
    for value, label in OnboardingStep.choices:
        item = done.get(value)
        waiting_for = [OnboardingStep(required).label for required in STEP_REQUIRES.get(value, ()) if required not in done]
        steps.append(
            {
                "step": value,
                "label": label,
                "done": item is not None,
                "done_at": item.done_at if item else None,
                "done_by": (item.done_by.get_username() if item.done_by else "system") if item else None,
                "note": item.note if item else "",
                "manual": value in MANUAL_STEPS,
                "waiting_for": waiting_for,
            }
        )
    return steps


def clinic_account_sid_for_number(*, phone_sid: str) -> str:
    """The Twilio account holding this number: its clinic's subaccount, or "" (the main account)."""
    return Clinic.objects.filter(twilio_number_sid=phone_sid).values_list("twilio_account_sid", flat=True).first() or ""


def clinic_account_sid(*, clinic_id: int) -> str:
    """The clinic's own Twilio subaccount, or "" (its numbers are on the main account)."""
    return Clinic.objects.filter(pk=clinic_id).values_list("twilio_account_sid", flat=True).first() or ""
