"""Repairs staff start on existing numbers: re-set a number's webhooks, adopt an orphan
that names a clinic without a number. Each is recorded as an Operation before its task
is sent (telephony/operations.py), so the re-drive covers it.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from clinics import selectors as clinic_selectors
from clinics import services as clinic_services
from telephony import operations, task_names, twilio
from telephony.models import Operation
from telephony.numbers.changes import clinic_audit_request, clinic_number_changed
from telephony.numbers.findings import FIX_ADOPT, FIX_WEBHOOKS, Finding
from telephony.numbers.provisioning import WORKFLOW_ERRORS, phone_sid_clean
from telephony.queue import operation_send_on_commit
from telephony.webhook_urls import webhook_params


def number_webhooks_update_request(*, phone_sids: list[str], actor: User | None = None) -> list[Operation]:
    """Record a webhook reset per number and send each after commit; the operations as they
    stand after the send (`send_failed_at` set: queued for re-send). An invalid SID raises
    InvalidInput and nothing is recorded."""
    sids = [phone_sid_clean(sid) for sid in dict.fromkeys(phone_sids)]
    with transaction.atomic():
        sent = [operation_send_on_commit(task_names.UPDATE_NUMBER_WEBHOOKS, sid, phone_sid=sid, actor=actor) for sid in sids]
    return operations.operations_reread(sent)


def number_webhooks_update_run(*, phone_sid: str) -> twilio.IncomingNumber:
    """Point an existing number's webhooks at today's API_BASE_URL (fixes drift) and record it;
    the clinic holding it gets its audit again (changes.clinic_audit_request)."""
    phone_sid = phone_sid_clean(phone_sid)
    account_sid = clinic_selectors.clinic_account_sid_for_number(phone_sid=phone_sid)
    number = twilio.incoming_number_update(phone_sid, webhook_fields=webhook_params(), account_sid=account_sid)
    clinic = clinic_services.clinic_number_webhooks_saved(phone_sid=phone_sid, webhooks=number.webhooks)
    if clinic is not None:
        clinic_audit_request(clinic_id=clinic.id)
    return number


def orphan_adopt_request(*, clinic_id: int, phone_sid: str, phone_number: str, actor: User | None = None) -> Operation:
    """Record the adoption of an orphan number by its clinic and send it after commit; the
    operation as it stands after the send."""
    sid = phone_sid_clean(phone_sid)
    with transaction.atomic():
        operation = operation_send_on_commit(
            task_names.ADOPT_ORPHAN_NUMBER,
            clinic_id,
            sid,
            phone_number,
            clinic_id=clinic_id,
            phone_sid=sid,
            phone_number=phone_number,
            actor=actor,
        )
    return operations.operations_reread([operation])[0]


def orphan_adopt_run(*, clinic_id: int, phone_sid: str, phone_number: str, actor: User | None = None) -> str:
    """Save an orphan number on its clinic and point its webhooks at us; a line saying what happened.

    A clinic with its own subaccount adopts only a number in that subaccount: its number
    operations run there, so a number on another account would be out of reach.
    """
    account_sid = clinic_selectors.clinic_account_sid(clinic_id=clinic_id)
    if account_sid:
        try:
            held = twilio.incoming_numbers_find(phone_number=phone_number, account_sid=account_sid)
        except twilio.TwilioError as exc:
            return f"Did not adopt {phone_number}: {exc}"
        if not any(n.sid == phone_sid for n in held):
            return (
                f"Did not adopt {phone_number}: it is not in the clinic's Twilio subaccount, where its "
                "numbers are managed. Transfer the number into that subaccount first, then adopt it."
            )
    try:
        with transaction.atomic():
            clinic = clinic_services.clinic_number_adopt(
                clinic_id=clinic_id, phone_number=phone_number, phone_sid=phone_sid, webhooks={}, actor=actor
            )
            clinic_number_changed(clinic_id=clinic.id)
    except clinic_services.ClinicNumberError as exc:
        return f"Did not adopt {phone_number}: {exc}"
    try:
        number_webhooks_update_run(phone_sid=phone_sid)
    except twilio.TwilioError as exc:
        return f"Adopted {phone_number} ({phone_sid}) for {clinic.name} (its webhooks could not be reset: {exc})."
    return f"Adopted {phone_number} ({phone_sid}) for {clinic.name}."


# --------------------------------------------------------------------------- from the audit's findings


def fix_webhooks(findings: list[Finding]) -> list[str]:
    """Reset the webhooks of every number with a webhook finding; lines saying what changed."""
    changes = []
    for sid in dict.fromkeys(f.sid for f in findings if f.fixable == FIX_WEBHOOKS):
        try:
            number = number_webhooks_update_run(phone_sid=sid)
        except WORKFLOW_ERRORS as exc:
            changes.append(f"Could not reset the webhooks of {sid}: {exc}")
        else:
            changes.append(f"Reset the webhooks of {number.phone_number} ({sid}) to {number.webhooks['voice']}, …")
    return changes


def adopt_orphans(findings: list[Finding]) -> list[str]:
    """Adopt every orphan that identifies a clinic without a number; lines saying what changed."""
    changes = []
    for finding in findings:
        if finding.fixable != FIX_ADOPT or finding.clinic_id is None:
            continue
        changes.append(orphan_adopt_run(clinic_id=finding.clinic_id, phone_sid=finding.sid, phone_number=finding.phone_number))
    return changes
