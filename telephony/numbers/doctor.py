"""The "telephony doctor": our own configuration checked against what Twilio needs (public
https origin, webhook routes, credentials, the AI agent, the sandbox in production, the
fallbacks, clinics whose HIPAA account nobody confirmed), each problem a Finding that says how to fix it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve

from clinics.models import TWILIO_HIPAA_URL
from clinics.selectors import clinics_hipaa_unconfirmed
from telephony import fallback_store, twilio
from telephony.checks import SANDBOX_IN_PRODUCTION, SANDBOX_IN_PRODUCTION_FIX, sandbox_in_production
from telephony.numbers.findings import ERROR, WARNING, Finding
from telephony.retention.redaction import retention_backlog
from telephony.webhook_paths import (
    A2P_STATUS_PATH,
    SMS_FALLBACK_PATH,
    SMS_PATH,
    STATUS_PATH,
    STREAM_STATUS_PATH,
    VOICE_FALLBACK_PATH,
    VOICE_PATH,
)


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
    findings.extend(retention_findings())
    findings.extend(_hipaa_findings())
    return findings


def retention_findings() -> list[Finding]:
    """The retention run's backlog (telephony.retention): what should have been redacted or
    purged by now and was not, and what Twilio refused to redact."""
    backlog = retention_backlog()
    problems = []
    if backlog.overdue_here:
        problems.append(f"{backlog.overdue_here} text(s) or call(s) are more than a day past the retention period")
    if backlog.purges_due:
        problems.append(f"{backlog.purges_due} departed clinic(s) are more than a day past their purge date")
    if backlog.twilio_refused:
        problems.append(f"Twilio refused to redact {backlog.twilio_refused} text(s) or call(s) on the last try")
    if not problems:
        return []
    return [
        Finding(
            code="retention_backlog",
            severity=WARNING,
            message="Patient data is kept longer than it should be: " + "; ".join(problems) + ".",
            fix="Check that Celery beat and the slow queue's worker run (redact-expired-records, hourly); "
            "each row's twilio_redaction_error says what Twilio answered.",
            details=backlog.as_dict(),
        )
    ]


def _hipaa_findings() -> list[Finding]:
    """In production: clinics with a number whose Twilio account nobody confirmed HIPAA-enabled.
    Twilio sets that eligibility in its Console only (a BAA, the HIPAA flag), so staff confirm it
    on each clinic's checklist."""
    if settings.DEBUG:
        return []
    unconfirmed = clinics_hipaa_unconfirmed()
    count = unconfirmed.count()
    if not count:
        return []
    names = ", ".join(unconfirmed.values_list("name", flat=True)[:10]) + (", ..." if count > 10 else "")
    return [
        Finding(
            code="hipaa_unconfirmed",
            severity=WARNING,
            message=f"{count} clinic(s) with a number have no one confirming their Twilio account is HIPAA-enabled: {names}.",
            fix=f"Check each in Twilio's Console (BAA signed, account flagged HIPAA: {TWILIO_HIPAA_URL}), then press "
            "HIPAA account confirmed on the clinic's page.",
        )
    ]


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
    aside = fallback_store.sms_spool_aside_count()
    if aside:
        findings.append(
            Finding(
                code="fallback_sms_set_aside",
                severity=ERROR,
                message=f"{aside} text(s) taken by the SMS fallback cannot be opened with FIELD_ENCRYPTION_KEYS: set aside.",
                fix=(
                    "Put the key they were sealed with back in FIELD_ENCRYPTION_KEYS (after the newest) and move them back "
                    f"(Redis hash {fallback_store.SMS_SPOOL_ASIDE_KEY} to {fallback_store.SMS_SPOOL_KEY}, or "
                    f"{fallback_store.SMS_SPOOL_ASIDE_DIR}/ to {fallback_store.SMS_SPOOL_DIR}/ in FALLBACK_SPOOL_DIR); "
                    "the replay then processes them."
                ),
            )
        )
    return findings
