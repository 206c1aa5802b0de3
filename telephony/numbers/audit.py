"""The number audit and the "telephony doctor": the setup guide's common issues, found.

`number_audit()` compares every number on the Twilio account with the clinics in our
database (Twilio's paging, page size 1000; a fixed number of database queries whatever
the number of clinics). `config_check()` checks our own configuration. Both return
Findings that say, in plain words, what is wrong and how to fix it; `fix_webhooks()`
and `adopt_orphans()` repair what is safe to repair. Nothing is ever released here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import timezone

from clinics.dates import datetime_for_people
from clinics.models import Clinic, NumberEvent
from telephony import fallback_store, task_names, twilio
from telephony.checks import SANDBOX_IN_PRODUCTION, SANDBOX_IN_PRODUCTION_FIX, sandbox_in_production
from telephony.models import AuditRun, Operation
from telephony.numbers import inventory, provisioning, repairs
from telephony.numbers.inventory import AccountNumber
from telephony.queue import QUEUED_FOR_RESEND, task_send_on_commit
from telephony.webhook_paths import (
    A2P_STATUS_PATH,
    SMS_FALLBACK_PATH,
    SMS_PATH,
    STATUS_PATH,
    STREAM_STATUS_PATH,
    VOICE_FALLBACK_PATH,
    VOICE_PATH,
)
from telephony.webhook_urls import webhook_params

ERROR, WARNING = "error", "warning"
FIX_WEBHOOKS, FIX_ADOPT = "webhooks", "adopt"
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


@dataclass
class Finding:
    """One problem, with what a person (or --fix / --adopt) should do about it."""

    code: str
    severity: str
    message: str
    fix: str
    phone_number: str = ""
    sid: str = ""
    clinic_id: int | None = None
    clinic_name: str = ""
    fixable: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditResult:
    """The findings of one audit, and how much it looked at."""

    success: bool
    findings: list[Finding]
    numbers_checked: int = 0
    clinics_checked: int = 0
    error: str = ""
    # The numbers with nothing to report: held by a clinic, as Twilio and we agree.
    all_good: list[dict[str, Any]] = field(default_factory=list)
    # How many numbers each account holds (the main account and every open subaccount).
    numbers_per_account: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "error": self.error or None,
            "numbers_checked": self.numbers_checked,
            "clinics_checked": self.clinics_checked,
            "numbers_per_account": self.numbers_per_account,
            "findings": [f.as_dict() for f in self.findings],
            "all_good": self.all_good,
        }


# --------------------------------------------------------------------------- numbers


def _webhook_findings(row: AccountNumber, clinic: Clinic) -> list[Finding]:
    expected = webhook_params()
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


def _capability_findings(row: AccountNumber, clinic: Clinic | None) -> list[Finding]:
    findings = []
    for capability, effect in (("sms", "patients' texts never arrive"), ("voice", "patients' calls cannot reach the clinic")):
        if not getattr(row.number.capabilities, capability):
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
        overrides = inventory.messaging_overrides_list()
    except twilio.TwilioError as exc:
        return AuditResult(success=False, findings=[], error=str(exc))
    clinics = list(
        Clinic.objects.only(
            "id", "name", "twilio_number", "twilio_number_sid", "number_state", "twilio_account_sid", "twilio_account_status"
        )
    )
    by_id = {c.id: c for c in clinics}
    by_sid = {c.twilio_number_sid: c for c in clinics if c.twilio_number_sid}
    by_number = {c.twilio_number: c for c in clinics if c.twilio_number}
    findings: list[Finding] = []
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
        if clinic.twilio_number != row.phone_number:
            findings.append(
                _mismatch(
                    clinic,
                    row,
                    f"saved the number {clinic.twilio_number} for SID {row.sid}, but Twilio says that SID is {row.phone_number}",
                )
            )
        findings.extend(_wrong_account_findings(row, clinic))
        findings.extend(_webhook_findings(row, clinic))
        findings.extend(_capability_findings(row, clinic))
        override = overrides.get(row.sid)
        if override:
            findings.append(
                Finding(
                    code="messaging_service_override",
                    severity=ERROR,
                    message=(
                        f"The number is in the Messaging Service {override.service_name!r} ({override.service_sid}), "
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
        if clinic.twilio_number_sid and clinic.twilio_number_sid not in seen_sids:
            findings.append(
                Finding(
                    code="missing",
                    severity=ERROR,
                    message=(
                        f"{clinic.name} has the number {clinic.twilio_number} (SID {clinic.twilio_number_sid}) saved, but "
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


# --------------------------------------------------------------------------- accounts
# The main account and every subaccount (issue 14): a clinic's number must live in the
# clinic's own subaccount (or on the main account when it has none); every open subaccount
# belongs to a clinic; a clinic's subaccount is active.


def _wrong_account_findings(row: AccountNumber, clinic: Clinic) -> list[Finding]:
    expected = clinic.twilio_account_sid or settings.TWILIO_ACCOUNT_SID
    if row.account_sid == expected:
        return []
    where = "the main account" if row.account_sid == settings.TWILIO_ACCOUNT_SID else f"the subaccount {row.account_sid}"
    should = f"its subaccount {clinic.twilio_account_sid}" if clinic.twilio_account_sid else "the main account"
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
                message=f"The Twilio subaccount {account.sid} ({account.friendly_name!r}, {account.status}) "
                "belongs to no clinic.",
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
            severity, message = (ERROR if holds else WARNING), f"is {status}"
        effect = ": calls and texts to its number do not reach us." if holds else "."
        findings.append(
            Finding(
                code=f"subaccount_{status or 'missing'}",
                severity=severity,
                message=f"{clinic.name}'s Twilio subaccount {clinic.twilio_account_sid} {message}{effect}",
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
        f"from a shell: manage.py release_number --sid {row.sid} --yes).",
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


# --------------------------------------------------------------------------- repairs


def fix_webhooks(findings: list[Finding]) -> list[str]:
    """Reset the webhooks of every number with a webhook finding; lines saying what changed."""
    changes = []
    for sid in dict.fromkeys(f.sid for f in findings if f.fixable == FIX_WEBHOOKS):
        try:
            number = repairs.number_webhooks_update_run(phone_sid=sid)
        except provisioning.WORKFLOW_ERRORS as exc:
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
        changes.append(
            repairs.orphan_adopt_run(clinic_id=finding.clinic_id, phone_sid=finding.sid, phone_number=finding.phone_number)
        )
    return changes


# --------------------------------------------------------------------------- configuration


def _host_is_private(host: str) -> str:
    """Why Twilio could not reach this host, or '' if it looks public."""
    if not host:
        return "it has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost is this machine, not reachable from Twilio"
    if host.endswith(".local") or host.endswith(".internal") or "." not in host:
        return f"{host} is a local network name Twilio cannot resolve"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return ""
    if address.is_loopback:
        return f"{host} is a loopback address"
    if address.is_link_local:
        return f"{host} is a link-local address"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return f"{host} is a private address"
    return ""


def config_check(*, check_credentials: bool = True) -> list[Finding]:
    """Our own configuration: API_BASE_URL, credentials, webhook paths, the AI agent URL."""
    findings = []

    def add(code: str, severity: str, message: str, fix: str) -> None:
        findings.append(Finding(code=code, severity=severity, message=message, fix=fix))

    base = settings.API_BASE_URL
    parts = urlsplit(base)
    if not base:
        add(
            "api_base_url_missing",
            ERROR,
            "API_BASE_URL is not set: webhooks cannot be built.",
            "Set API_BASE_URL to the public https origin of this app.",
        )
    else:
        if parts.scheme != "https":
            add(
                "api_base_url_not_https",
                ERROR,
                f"API_BASE_URL is {base!r}, not https: Twilio's requests and their signatures would travel in clear.",
                "Serve the app over https and set API_BASE_URL to that origin.",
            )
        why = _host_is_private(parts.hostname or "")
        if why:
            add(
                "api_base_url_not_public",
                ERROR,
                f"API_BASE_URL is {base!r}: {why}, so Twilio's webhooks never arrive.",
                "Set API_BASE_URL to a public origin (your domain, or a running tunnel's https URL).",
            )
        if parts.path not in ("", "/") or parts.query:
            add(
                "api_base_url_has_path",
                WARNING,
                f"API_BASE_URL {base!r} has a path or query; webhook URLs are built by appending /inbound/voice etc. to it.",
                "Use the bare origin, e.g. https://api.example.com.",
            )
    routes = (
        (VOICE_PATH, "inbound_voice"),
        (SMS_PATH, "inbound_sms"),
        (STATUS_PATH, "status_callback"),
        (STREAM_STATUS_PATH, "stream_status"),
        (A2P_STATUS_PATH, "a2p_status"),
        (VOICE_FALLBACK_PATH, "voice_fallback"),
        (SMS_FALLBACK_PATH, "sms_fallback"),
    )
    for path, name in routes:
        try:
            match = resolve(path)
        except Resolver404:
            match = None
        if match is None or match.func.__name__ != name:
            add(
                "webhook_path_missing",
                ERROR,
                f"{path} is not served by the {name} webhook view.",
                "Restore the route in dentsignal/urls.py: the paths are fixed by the numbers' configuration.",
            )
    if not settings.TWILIO_WEBHOOK_SIGNATURE_CHECK:
        add(
            "signature_check_off",
            WARNING,
            "Twilio signature checks are off: anyone can post to the webhooks.",
            "Unset TWILIO_WEBHOOK_SIGNATURE_CHECK (only allowed with DEBUG anyway).",
        )
    agent = settings.AI_AGENT_STREAM_URL
    if not agent:
        add(
            "ai_agent_missing",
            WARNING,
            "AI_AGENT_STREAM_URL is empty: calls go to the clinics' office lines, not the AI agent.",
            "Set AI_AGENT_STREAM_URL to the agent's wss:// endpoint.",
        )
    elif urlsplit(agent).scheme != "wss":
        add(
            "ai_agent_not_wss",
            ERROR,
            f"AI_AGENT_STREAM_URL is {agent!r}; Twilio streams only to wss:// URLs.",
            "Use the agent's wss:// endpoint.",
        )
    if sandbox_in_production():
        add("sandbox_twilio", ERROR, SANDBOX_IN_PRODUCTION, SANDBOX_IN_PRODUCTION_FIX)
    elif settings.TWILIO_SANDBOX:
        add(
            "sandbox_twilio",
            WARNING,
            "TWILIO_SANDBOX=true: the sandbox Twilio is used, no real numbers (fine for development).",
            "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and remove TWILIO_SANDBOX for production.",
        )
    if check_credentials:
        try:
            account = twilio.account_fetch()
        except twilio.TwilioError as exc:
            if exc.code is None:
                add(
                    "twilio_unreachable",
                    ERROR,
                    f"Twilio could not be reached: {exc}",
                    f"Check the network and TWILIO_API_BASE_URL ({settings.TWILIO_API_BASE_URL}).",
                )
            else:
                add(
                    "credentials",
                    ERROR,
                    f"Twilio credentials check failed: {exc}",
                    "Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Console → Account → API keys & tokens).",
                )
        else:
            if account.status != "active":
                add(
                    "account_not_active",
                    ERROR,
                    f"The Twilio account is {account.status}.",
                    "Reactivate it in the Twilio console.",
                )
    findings.extend(_fallback_config_findings())
    return findings


def _fallback_config_findings() -> list[Finding]:
    """The fallbacks' own configuration: their origin, and texts waiting to be replayed."""
    findings = []
    base = settings.API_FALLBACK_BASE_URL
    if base:
        parts = urlsplit(base)
        why = "it is not https" if parts.scheme != "https" else _host_is_private(parts.hostname or "")
        if why:
            findings.append(
                Finding(
                    code="api_fallback_base_url_not_public",
                    severity=ERROR,
                    message=f"API_FALLBACK_BASE_URL is {base!r}: {why}, so Twilio's fallback requests fail too.",
                    fix="Set API_FALLBACK_BASE_URL to a public https origin, or leave it empty to use API_BASE_URL.",
                )
            )
    try:
        waiting = fallback_store.sms_spool_count()
    except fallback_store.REDIS_ERRORS as exc:
        findings.append(
            Finding(
                code="fallback_store_unreachable",
                severity=ERROR,
                message=f"The fallbacks' store (FALLBACK_REDIS_URL) cannot be read: {exc}.",
                fix="Check that Redis at FALLBACK_REDIS_URL is up; until then texts are spooled to FALLBACK_SPOOL_DIR.",
            )
        )
        return findings
    if waiting:
        findings.append(
            Finding(
                code="fallback_sms_waiting",
                severity=WARNING,
                message=f"{waiting} text(s) taken by the SMS fallback wait to be processed.",
                fix="Run `manage.py telephony_fallback_replay`, and check that Celery beat is running (it replays every minute).",
            )
        )
    return findings


def audit_run_request(*, requested_by: Any) -> AuditRun:
    """Create a queued AuditRun and send the audit task after commit; the run."""
    run = AuditRun.objects.create(requested_by=requested_by, progress="Queued…")
    task_send_on_commit(task_names.RUN_NUMBER_AUDIT, run.id)
    return run


def audit_run_execute(*, audit_run_id: int) -> None:
    """Run config and number checks for an AuditRun row, recording progress and findings."""
    AuditRun.objects.filter(pk=audit_run_id).update(progress="Checking configuration and credentials…")
    config = config_check()
    AuditRun.objects.filter(pk=audit_run_id).update(progress="Listing the account's numbers and comparing with clinics…")
    numbers = number_audit()
    result = numbers.as_dict()
    result["findings"] = [f.as_dict() for f in config] + result["findings"]
    AuditRun.objects.filter(pk=audit_run_id).update(
        status=AuditRun.Status.DONE if numbers.success else AuditRun.Status.FAILED,
        progress=numbers.error or f"Checked {numbers.numbers_checked} numbers and {numbers.clinics_checked} clinics.",
        finished_at=timezone.now(),
        result=result,
    )


# --------------------------------------------------------------------------- the page after actions


# What was done about a finding since its audit, by kind of finding: the history events
# that resolve it (issue 16: the audit page re-renders from the new state after each action).
_RESOLVED_BY = {
    FIX_WEBHOOKS: (NumberEvent.Kind.WEBHOOKS_UPDATED, "Fixed"),
    FIX_ADOPT: (NumberEvent.Kind.ADOPTED, "Adopted"),
    "orphan": (NumberEvent.Kind.RELEASED, "Released"),
}


def audit_findings_now(*, run: AuditRun) -> list[dict[str, Any]]:
    """The run's findings, each with `resolved`: "" while still open, else a sentence
    ("Fixed at 2 Dec 2026, 11:05 CST by ana.") from the number history written since the
    run finished, and `queued`: what was asked for the number and waits for the task
    queue, which did not take it ("" if nothing); two queries whatever the number of findings."""
    findings = [dict(f) for f in (run.result or {}).get("findings", [])]
    since = run.finished_at or run.started_at
    sids = {f["sid"] for f in findings if f.get("sid")}
    latest: dict[tuple[str, str], NumberEvent] = {}
    queued = set(
        Operation.objects.filter(phone_sid__in=sids, status=Operation.Status.PENDING, send_failed_at__isnull=False).values_list(
            "phone_sid", flat=True
        )
    )
    for finding in findings:
        finding["queued"] = f"Asked, but {QUEUED_FOR_RESEND}." if finding.get("sid") in queued else ""
    if sids:
        kinds = [kind for kind, _ in _RESOLVED_BY.values()] + [NumberEvent.Kind.RELEASE_REQUESTED]
        events = NumberEvent.objects.filter(phone_sid__in=sids, kind__in=kinds, created_at__gte=since)
        for row in events.select_related("actor").order_by("created_at", "id"):
            latest[(row.phone_sid, row.kind)] = row
    for finding in findings:
        finding["resolved"] = ""
        rule = _RESOLVED_BY.get(finding.get("fixable") or finding["code"])
        if rule is None or not finding.get("sid"):
            continue
        kind, verb = rule
        event: NumberEvent | None = latest.get((finding["sid"], kind))
        # A release is done by the worker; who asked for it is on the request's event.
        asked = latest.get((finding["sid"], NumberEvent.Kind.RELEASE_REQUESTED)) if kind == NumberEvent.Kind.RELEASED else None
        if event is None and asked is not None:
            event, verb = asked, "Release requested"
        if event is None:
            continue
        actor = event.actor or (asked.actor if asked else None)
        by = f" by {actor.get_username()}" if actor else ""
        finding["resolved"] = f"{verb} at {datetime_for_people(event.created_at)}{by}."
    return findings
