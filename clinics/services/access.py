"""The access log's one write: who looked at which patients' data (clinics.models_access)."""

from __future__ import annotations

from collections.abc import Iterable

from ..models_access import AccessRecord, AccessView

# Patients' data, by model ("app_label.model_name"): a page showing rows of these writes an
# access record. Message bodies and replies live in MessageLog, callers' numbers in CallLog.
PATIENT_DATA_MODELS = frozenset({"clinics.patient", "clinics.appointment", "telephony.messagelog", "telephony.calllog"})


def access_record_write(
    *,
    user_id: int | None,
    username: str,
    model: str,
    object_ids: Iterable[object],
    fields: Iterable[str],
    view: AccessView,
    ip: str | None,
    path: str,
) -> AccessRecord:
    """Append one access record: `username` (`user_id`) was shown `fields` of the rows
    `object_ids` of `model`, on the page `path`, from the address `ip`. Never updates one."""
    return AccessRecord.objects.create(
        user_id=user_id,
        username=username[:150],
        model=model,
        object_ids=[str(pk) for pk in object_ids],
        fields=list(dict.fromkeys(fields)),
        view=view,
        ip=ip or None,
        path=path[:500],
    )
