"""Reads of clinics that several places need."""

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from dentsignal.sql import ModelColumns, sql_fetch_one

from .models import ChecklistItem, Clinic, OnboardingStep

CHECKLIST_TOTAL = len(OnboardingStep.choices)


# Webhooks read this for every call and SMS: fixed SQL (see dentsignal/sql.py). The
# SELECT list of a clinic aliased `c`: the columns the webhooks use, then whether the
# checklist step given as its one parameter is ticked. The voice webhook embeds
# CLINIC_BY_TWILIO_NUMBER_SQL (parameters: the step, the number) in its own statement;
# the SMS confirmation reads the clinic with the appointment.
_ROUTE_COLUMNS = ModelColumns(Clinic, "c", "id", "name", "office_phone", "twilio_number", "number_state")
CLINIC_ROUTE_SELECT = (
    f"{_ROUTE_COLUMNS.sql}, EXISTS (SELECT 1 FROM {ChecklistItem._meta.db_table} i"  # noqa: S608 - names from the models; values are parameters
    " WHERE i.clinic_id = c.id AND i.step = %s)"
)
CLINIC_BY_TWILIO_NUMBER_SQL = f"SELECT {CLINIC_ROUTE_SELECT} FROM {Clinic._meta.db_table} c WHERE c.twilio_number = %s"  # noqa: S608


def clinic_from_row(row: tuple | None, start: int = 0) -> Clinic | None:
    """The clinic (carrying `step_done`) from the CLINIC_ROUTE_SELECT values of a row,
    which begin at `start`."""
    if row is None:
        return None
    clinic = _ROUTE_COLUMNS.build(row, start)
    clinic.step_done = bool(row[start + _ROUTE_COLUMNS.width])
    return clinic


def clinic_get_by_twilio_number(*, phone_number: str, step_done: str) -> Clinic | None:
    """The clinic that holds this E.164 number, or None (one indexed query).

    Loads the fields the webhooks use (id, name, office_phone, twilio_number,
    number_state; others load on access) and `step_done`: whether that checklist step
    is already ticked (the webhooks tick their step on the first real call or SMS).
    """
    if not phone_number:
        return None
    return clinic_from_row(sql_fetch_one(CLINIC_BY_TWILIO_NUMBER_SQL, [step_done, phone_number]))


def clinics_by_numbers(*, phone_numbers: Iterable[str], phone_sids: Iterable[str]) -> list[Clinic]:
    """Every clinic holding one of these numbers or SIDs, in one query."""
    return list(Clinic.objects.filter(Q(twilio_number__in=list(phone_numbers)) | Q(twilio_number_sid__in=list(phone_sids))))


def clinic_list_with_progress() -> QuerySet[Clinic]:
    """Clinics annotated with `checklist_done`, the number of ticked steps."""
    return Clinic.objects.annotate(checklist_done=Count("checklist_items", distinct=True))


def clinic_checklist(*, clinic: Clinic) -> list[dict]:
    """The six steps in order, each with done_at / done_by (None when not done)."""
    done = {item.step: item for item in ChecklistItem.objects.filter(clinic=clinic).select_related("done_by")}
    steps = []
    for value, label in OnboardingStep.choices:
        item = done.get(value)
        steps.append(
            {
                "step": value,
                "label": label,
                "done": item is not None,
                "done_at": item.done_at if item else None,
                "done_by": (item.done_by.get_username() if item.done_by else "system") if item else None,
                "note": item.note if item else "",
            }
        )
    return steps
