"""The number audit: the setup guide's common issues with numbers and accounts, found.

`number_audit()` compares every number on the main account and its active subaccounts
with the clinics in our database (Twilio's paging, page size 1000; the accounts listed in
bounded parallel, telephony/fleet.py; a fixed number of database queries whatever the
number of clinics), every number in a Messaging Service of any of those accounts whose
inbound settings override the number's SMS URL, and every subaccount with the clinic that
should hold it. `fleet_audit()` does the same over listings the sweep kept per account
(audit_runs.py). It returns Findings (findings.py) that say, in plain words, what is
wrong and how to fix it; repairs.py repairs what is safe to repair, doctor.py checks our
own configuration. Nothing is ever released here.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from clinics.models import Clinic, HostedOrder
from clinics.models_porting import PORT_IN_OPEN, NumberPortIn
from clinics.phone import phone_format_national
from telephony import twilio
from telephony.numbers import inventory, provisioning
from telephony.numbers.findings import ERROR, FIX_ADOPT, FIX_WEBHOOKS, WARNING, AuditResult, Finding
from telephony.numbers.inventory import AccountNumber
from telephony.webhook_paths import (
    SMS_PATH,
)
from telephony.webhook_urls import webhook_params

FIELD_LABELS = {
    "voice_url": "Voice URL",
    "voice_method": "Voice method",
    "sms_url": "SMS URL",
    "sms_method": "SMS method",
    "status_callback": "Status callback URL",
    "status_callback_method": "Status callback method",
    "voice_fallback_url": "Voice fallback URL",
    "voice_fallback_method": "Voice fallback method",
    "sms_fallback_url": "SMS fallback URL",
    "sms_fallback_method": "SMS fallback method",
}


# --------------------------------------------------------------------------- numbers


# A hosted number (hosted SMS: the clinic's own line, texts only) has only its SMS webhooks at Twilio.
HOSTED_FIELDS = ("sms_url", "sms_method", "sms_fallback_url", "sms_fallback_method")


def _webhook_findings(row: AccountNumber, clinic: Clinic, *, hosted: bool = False) -> list[Finding]:
    expected = {k: v for k, v in webhook_params().items() if not hosted or k in HOSTED_FIELDS}
    found = row.number.webhook_fields
    findings = []
    for name, want in expected.items():
        have = found.get(name, "")
        if have == want:
            continue
        label = FIELD_LABELS[name]
        code, message = "webhook_drift", f"{label} is {have or '(empty)'!r}; it should be {want!r}."
        if (
            name == "sms_url"
            and urlsplit(have).path.rstrip("/").endswith("/sms/inbound")
            and not urlsplit(have).path.rstrip("/").endswith(SMS_PATH)
        ):
            code = "sms_path_mistake"
            message = (
                f"The SMS webhook points at {urlsplit(have).path!r} instead of {SMS_PATH!r} (the classic /sms/inbound "
                f"mistake): patients' replies get a 404 and are never processed. Expected {want!r}."
            )
        elif name.endswith("_url") and have and urlsplit(have).netloc != urlsplit(want).netloc:
            message += " It points at another host (an old API_BASE_URL or a tunnel that is gone?)."
        findings.append(
            Finding(
                code=code,
                severity=ERROR,
                message=message,
                fix="Press Fix webhooks beside this number on the Number audit page "
                "(from a shell: manage.py telephony_doctor --fix).",
                phone_number=row.phone_number,
                sid=row.sid,
                clinic_id=clinic.id,
                clinic_name=clinic.name,
                fixable=FIX_WEBHOOKS,
                details={"field": name, "found": have, "expected": want},
            )
        )
    return findings


def _capability_findings(row: AccountNumber, clinic: Clinic | None, *, hosted: bool = False) -> list[Finding]:
    findings = []
    for capability, effect in (("sms", "patients' texts never arrive"), ("voice", "patients' calls cannot reach the clinic")):
        if not getattr(row.number.capabilities, capability) and not (hosted and capability == "voice"):
            findings.append(
                Finding(
                    code=f"no_{capability}",
                    severity=ERROR,
                    message=f"This number cannot do {capability.upper() if capability == 'sms' else capability}: {effect}.",
                    fix="Buy a new number with voice and SMS for the clinic (Provision number), move the listing to it, "
                    "then release this one.",
                    phone_number=row.phone_number,
                    sid=row.sid,
                    clinic_id=clinic.id if clinic else None,
                    clinic_name=clinic.name if clinic else "",
                )
            )
    return findings


def number_audit() -> AuditResult:
    """Every number on the account against every clinic; see the module docstring."""
    try:
        listing = inventory.fleet_numbers_list()
    except twilio.TwilioError as exc:
        return AuditResult(success=False, findings=[], error=str(exc))
    return fleet_audit(listing)


def fleet_audit(listing: inventory.FleetNumbers) -> AuditResult:
    """The findings for what Twilio listed (fresh, or as the sweep kept it per account):
    a fixed number of queries whatever the number of clinics."""
    overrides = listing.overrides
    clinics = list(
        Clinic.objects.only(
            "id",
            "name",
            "twilio_number",
            "twilio_number_sid",
            "voice_number",
            "voice_number_sid",
            "number_state",
            "twilio_account_sid",
            "twilio_account_status",
        )
    )
    by_id = {c.id: c for c in clinics}
    # A text-enabled clinic holds two numbers: its hosted (texting) number and its voice number.
    by_sid = {sid: c for c in clinics for sid in (c.twilio_number_sid, c.voice_number_sid) if sid}
    by_number = {number: c for c in clinics for number in (c.twilio_number, c.voice_number) if number}
    # Hosted SMS orders, one query: those waiting for action are reported; completed ones
    # make their clinic's number SMS only (its calls stay with the clinic's carrier).
    orders = list(HostedOrder.objects.filter(status__in=("completed", "action-required")))
    findings: list[Finding] = [_hosted_order_finding(o, by_id.get(o.clinic_id)) for o in orders if o.status != "completed"]
    hosted_clinics = {o.clinic_id for o in orders if o.status == "completed"}
    hosted_sids = {c.twilio_number_sid for c in clinics if c.twilio_number_sid and c.id in hosted_clinics}
    seen_sids = set()
    for row in listing.numbers:
        seen_sids.add(row.sid)
        clinic = by_sid.get(row.sid)
        holder_by_number = by_number.get(row.phone_number)
        if clinic is None and holder_by_number is not None:
            findings.append(
                _mismatch(
                    holder_by_number,
                    row,
                    f"holds {row.phone_number} with the SID "
                    f"{holder_by_number.twilio_number_sid}, but Twilio's SID for it is {row.sid}",
                )
            )
            continue
        if clinic is None:
            findings.append(_orphan(row, by_id))
            findings.extend(_capability_findings(row, None))
            continue
        if row.phone_number not in (clinic.twilio_number, clinic.voice_number):
            findings.append(
                _mismatch(
                    clinic,
                    row,
                    f"saved the number {clinic.twilio_number} for SID {row.sid}, but Twilio says that SID is {row.phone_number}",
                )
            )
        findings.extend(_wrong_account_findings(row, clinic))
        hosted = row.sid in hosted_sids  # its calls stay with the clinic's carrier
        findings.extend(_webhook_findings(row, clinic, hosted=hosted))
        findings.extend(_capability_findings(row, clinic, hosted=hosted))
        override = overrides.get(row.sid)
        if override:
            findings.append(
                Finding(
                    code="messaging_service_override",
                    severity=ERROR,
                    message=(
                        f"The number is in the Messaging Service {override.service_name!r}, "
                        f"whose inbound settings send texts to {override.inbound_request_url or '(none)'!r} instead of "
                        "our SMS webhook: patients' replies are not processed."
                    ),
                    fix="In the Messaging Service's Integration settings choose 'Defer to sender's webhook', or remove "
                    "the number from the service.",
                    phone_number=row.phone_number,
                    sid=row.sid,
                    clinic_id=clinic.id,
                    clinic_name=clinic.name,
                    details=asdict(override),
                )
            )
    # A clinic whose subaccount is not active gets a subaccount finding instead (its numbers are not listed).
    listed_accounts = set(listing.active_account_sids())
    for clinic in clinics:
        if (clinic.twilio_account_sid or settings.TWILIO_ACCOUNT_SID) not in listed_accounts:
            continue
        if clinic.voice_number_sid and clinic.voice_number_sid not in seen_sids:
            findings.append(_voice_missing(clinic))
        if clinic.twilio_number_sid and clinic.twilio_number_sid not in seen_sids:
            findings.append(
                Finding(
                    code="missing",
                    severity=ERROR,
                    message=(
                        f"{clinic.name} has the number {clinic.twilio_number} saved, but "
                        "the Twilio account does not have it: calls and texts to it do not reach us."
                    ),
                    fix="Release it on the clinic (Release number: Twilio's 'not found' counts as released), then "
                    "provision a new number and update the clinic's listing.",
                    phone_number=clinic.twilio_number or "",
                    sid=clinic.twilio_number_sid,
                    clinic_id=clinic.id,
                    clinic_name=clinic.name,
                )
            )
    findings.extend(_subaccount_findings(listing.subaccounts, clinics))
    findings.extend(_unlisted_finding(sid, why) for sid, why in listing.unlisted.items())
    findings.extend(port_in_findings())
    per_account = dict.fromkeys(listing.active_account_sids(), 0)
    for row in listing.numbers:
        per_account[row.account_sid] = per_account.get(row.account_sid, 0) + 1
    flagged = {f.sid for f in findings}
    all_good = [
        {
            "phone_number": row.phone_number,
            "sid": row.sid,
            "clinic_id": by_sid[row.sid].id,
            "clinic_name": by_sid[row.sid].name,
        }
        for row in listing.numbers
        if row.sid in by_sid and row.sid not in flagged
    ]
    return AuditResult(
        success=True,
        findings=findings,
        numbers_checked=len(listing.numbers),
        clinics_checked=len(clinics),
        all_good=all_good,
        numbers_per_account=per_account,
    )


def _voice_missing(clinic: Clinic) -> Finding:
    return Finding(
        code="missing",
        severity=ERROR,
        message=(
            f"{clinic.name} has the voice number {clinic.voice_number} saved, but the Twilio account does not have it: "
            "calls forwarded from the clinic's published line do not reach us."
        ),
        fix="Release the clinic's number (Release number releases both), then provision again and set the forwarding.",
        phone_number=clinic.voice_number or "",
        sid=clinic.voice_number_sid or "",
        clinic_id=clinic.id,
        clinic_name=clinic.name,
    )


def _hosted_order_finding(order: HostedOrder, clinic: Clinic | None) -> Finding:
    """A hosted SMS order waiting for action (Twilio's action-required), as beat's poll last saw it."""
    return Finding(
        code="hosted_order_action_required",
        severity=WARNING,
        message=f"The texting order for {order.phone_number} (hosted SMS) is waiting for action: "
        f"{order.failure_reason or 'Twilio gave no reason'}.",
        fix=twilio.hosted_order_failure_sentence(order.failure_reason),
        phone_number=order.phone_number,
        sid=order.sid,
        clinic_id=order.clinic_id,
        clinic_name=clinic.name if clinic else "",
        details={"status": order.status, "since": order.status_changed_at.isoformat()},
    )


# --------------------------------------------------------------------------- accounts
# The main account and every subaccount (issue 14): a clinic's number must live in the
# clinic's own subaccount (or on the main account when it has none); every open subaccount
# belongs to a clinic; a clinic's subaccount is active.


def _wrong_account_findings(row: AccountNumber, clinic: Clinic) -> list[Finding]:
    expected = clinic.twilio_account_sid or settings.TWILIO_ACCOUNT_SID
    if row.account_sid == expected:
        return []
    where = "the main account" if row.account_sid == settings.TWILIO_ACCOUNT_SID else "another subaccount"
    should = "its own subaccount" if clinic.twilio_account_sid else "the main account"
    return [
        Finding(
            code="wrong_account",
            severity=ERROR,
            message=(
                f"{clinic.name}'s number is on {where}, not on {should}: releases, webhook fixes and reminders look for it "
                "in the wrong account and fail."
            ),
            fix=(
                "Run 'Move to its own subaccount' on the clinic to finish moving it."
                if clinic.twilio_account_sid and row.account_sid == settings.TWILIO_ACCOUNT_SID
                else "Transfer it back to the clinic's account in the Twilio Console (Phone Numbers > Transfer), "
                "then run the audit again."
            ),
            phone_number=row.phone_number,
            sid=row.sid,
            clinic_id=clinic.id,
            clinic_name=clinic.name,
            details={"found_in": row.account_sid, "expected_in": expected},
        )
    ]


def _subaccount_findings(subaccounts: list[twilio.Subaccount], clinics: list[Clinic]) -> list[Finding]:
    """Subaccounts no clinic holds, and clinics whose subaccount is suspended, closed or gone."""
    findings = []
    by_sid = {a.sid: a for a in subaccounts}
    held = {c.twilio_account_sid for c in clinics if c.twilio_account_sid}
    for account in subaccounts:
        if account.status == "closed" or account.sid in held:
            continue
        findings.append(
            Finding(
                code="subaccount_orphan",
                severity=WARNING,
                message=f"The Twilio subaccount {account.friendly_name!r} belongs to no clinic.",
                fix="If a clinic should have it, check its name's '(clinic #id)'; if nobody uses it, release its numbers "
                "and close it in the Twilio Console.",
                details={"account_sid": account.sid, "status": account.status},
            )
        )
    for clinic in clinics:
        if not clinic.twilio_account_sid:
            continue
        listed = by_sid.get(clinic.twilio_account_sid)
        status = listed.status if listed else ""
        if status == "active":
            continue
        holds = bool(clinic.twilio_number_sid)
        if listed is None:
            severity, message = ERROR, "is not listed by Twilio (closed and deleted, or another main account's?)"
        elif status == "suspended":
            we_did = clinic.twilio_account_status == "suspended"
            severity = WARNING if we_did else ERROR
            message = "is suspended" + (" (by us)" if we_did else ", not by us (Twilio suspended it, or someone in the Console)")
        else:
            severity, message = (ERROR if holds else WARNING), "is closed" if status == "closed" else "is not active"
        effect = ": calls and texts to its number do not reach us." if holds else "."
        findings.append(
            Finding(
                code=f"subaccount_{status or 'missing'}",
                severity=severity,
                message=f"{clinic.name}'s Twilio subaccount {message}{effect}",
                fix="Reactivate it (admin action 'Reactivate Twilio subaccount'; if Twilio suspended it, Twilio Support) "
                "if the clinic is still a customer."
                if status == "suspended"
                else "A closed subaccount cannot be reopened: release the clinic's number record and provision a new one.",
                phone_number=clinic.twilio_number or "",
                sid=clinic.twilio_number_sid or "",
                clinic_id=clinic.id,
                clinic_name=clinic.name,
                details={"account_sid": clinic.twilio_account_sid, "status": status or "missing"},
            )
        )
    return findings


def _unlisted_finding(account_sid: str, why: str) -> Finding:
    """A subaccount whose numbers could not be listed this time (its clinic is not judged on it)."""
    return Finding(
        code="account_not_listed",
        severity=WARNING,
        message=f"One Twilio subaccount could not be checked this time: {why}",
        fix="Run the audit again later; if it keeps failing, check the subaccount in the Twilio Console.",
        details={"account_sid": account_sid},
    )


def _orphan(row: AccountNumber, by_id: dict[int, Clinic]) -> Finding:
    clinic_id = provisioning.clinic_id_from_friendly_name(row.friendly_name)
    clinic = by_id.get(clinic_id) if clinic_id else None
    base = f"{row.phone_number} ({row.sid}, named {row.friendly_name!r}) is on the Twilio account but no clinic holds it"
    if clinic is not None and not clinic.twilio_number_sid:
        return Finding(
            code="orphan_adoptable",
            severity=WARNING,
            message=f"{base}. Its name identifies {clinic.name} (clinic #{clinic.id}), which has no number: it was "
            "probably bought and then not saved.",
            fix=f"Press Adopt for {clinic.name} beside this number on the Number audit page "
            "(from a shell: manage.py telephony_doctor --adopt).",
            phone_number=row.phone_number,
            sid=row.sid,
            clinic_id=clinic.id,
            clinic_name=clinic.name,
            fixable=FIX_ADOPT,
        )
    return Finding(
        code="orphan",
        severity=WARNING,
        message=f"{base}, and its name identifies no clinic without a number. It costs money every month.",
        fix="If nobody uses it, press Release beside this number on the Number audit page (it asks you to confirm; "
        "from a shell: manage.py release_number --sid <its SID, in the details> --yes).",
        phone_number=row.phone_number,
        sid=row.sid,
    )


def _mismatch(clinic: Clinic, row: AccountNumber, what: str) -> Finding:
    return Finding(
        code="mismatch",
        severity=ERROR,
        message=f"{clinic.name} {what}. Releases and webhook fixes would act on the wrong number.",
        fix="Check in the Twilio console which number the clinic really uses, then correct the clinic "
        "(release the wrong one, or provision again).",
        phone_number=row.phone_number,
        sid=row.sid,
        clinic_id=clinic.id,
        clinic_name=clinic.name,
        details={"saved_number": clinic.twilio_number, "saved_sid": clinic.twilio_number_sid},
    )


# --------------------------------------------------------------------------- ports in


def port_in_findings() -> list[Finding]:
    """Port-ins still open after their target date: the carrier or the signer is holding them up."""
    today = timezone.localdate()
    stuck = NumberPortIn.objects.filter(state__in=PORT_IN_OPEN, target_date__lt=today).select_related("clinic")
    return [
        Finding(
            code="port_in_overdue",
            severity=WARNING,
            message=(
                f"The port of {phone_format_national(port.phone_number)} was due on {port.target_date:%B %-d, %Y} and is "
                f"still {port.get_state_display().lower()}."
            ),
            fix="Open the clinic's page: do the next action it names (sign the authorization, correct a rejection), "
            "or cancel the port and submit it again with a new date.",
            phone_number=port.phone_number,
            clinic_id=port.clinic_id,
            clinic_name=port.clinic.name,
            details={"request_sid": port.request_sid, "state": port.state, "target_date": port.target_date.isoformat()},
        )
        for port in stuck
    ]
