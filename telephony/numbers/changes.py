"""The one hook every change of a clinic's number or account calls: a purchase, an adoption,
a release, a move into its own subaccount, a number ported in or text-enabled (hosted SMS),
and a webhook reset.

`clinic_number_changed` makes texting follow the number (the registration's number step,
telephony/a2p/registration.py) and asks for the clinic's own audit (`clinic_audit_request`):
its account alone is listed again and the Number audit page's findings about it are brought
up to date (clinic_audit.py), so the page is current without a full sweep. Both are sent
after the change commits.
"""

from __future__ import annotations

from telephony import task_names
from telephony.a2p.registration import registration_number_changed
from telephony.models import AuditRun
from telephony.queue import task_send_on_commit


def clinic_number_changed(*, clinic_id: int) -> None:
    """The clinic's number or account changed: its texting registration and its audit follow."""
    registration_number_changed(clinic_id=clinic_id)
    clinic_audit_request(clinic_id=clinic_id)


def clinic_audit_request(*, clinic_id: int) -> bool:
    """Send the clinic's own audit after commit; False when no audit has completed yet (the
    page has nothing to bring up to date: the first sweep lists every account). A send the
    broker refused is not marked for re-send: the next sweep covers it."""
    if not AuditRun.objects.filter(status=AuditRun.Status.DONE).exists():
        return False
    task_send_on_commit(task_names.CLINIC_NUMBER_AUDIT, clinic_id)
    return True
