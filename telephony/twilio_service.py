"""The seed's Python API over Twilio: five functions (and a few helpers) returning dicts.

Thin functions over the workflows (telephony/numbers/) and the Twilio adapter
(telephony/twilio/); they keep the seed's names and result shapes. Each
returns a dict with `success`; a failure carries `error` (a sentence a person can act
on), `code` (Twilio's error code or None) and `retryable` (True for rate limits, Twilio
5xx and network errors, which the Celery tasks retry with backoff; never for other 4xx).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from clinics.selectors import clinics_by_numbers
from telephony import twilio
from telephony.numbers import inventory, provisioning, release, repairs
from telephony.numbers.provisioning import clinic_friendly_name, clinic_id_from_friendly_name
from telephony.twilio import ERR_UNSUBSCRIBED_RECIPIENT, get_client
from telephony.webhook_urls import webhook_urls


def failure(error: str, code: int | None = None, *, retryable: bool = False) -> dict[str, Any]:
    """The failure shape of every function here."""
    return {"success": False, "error": error, "code": code, "retryable": retryable}


def failure_from(exc: Exception) -> dict[str, Any]:
    """The failure dict for a workflow or adapter exception (one mapping for all callers)."""
    if isinstance(exc, twilio.TwilioError):
        return failure(str(exc), exc.code, retryable=exc.retryable)
    if isinstance(exc, provisioning.ProvisionFailed):
        return failure(exc.error, exc.code)
    if isinstance(exc, provisioning.RetryLater):
        return failure(str(exc), retryable=True)
    return failure(str(exc))


# Exceptions that a caller of this module gets as a failure dict rather than raised.
EXPECTED_FAILURES = provisioning.WORKFLOW_ERRORS


def list_available_numbers(area_code: str) -> dict[str, Any]:
    """Numbers for sale in `area_code` that can do both voice and SMS (one Twilio call)."""
    try:
        area_code = provisioning.area_code_clean(area_code)
        found = twilio.available_numbers_search(area_code=area_code, limit=provisioning.SEARCH_LIMIT)
    except EXPECTED_FAILURES as exc:
        return failure_from(exc)
    return {
        "success": True,
        "area_code": area_code,
        "numbers": [
            {
                "phone_number": n.phone_number,
                "friendly_name": n.friendly_name,
                "locality": n.locality,
                "region": n.region,
                "postal_code": n.postal_code,
                "capabilities": n.capabilities.as_dict(),
            }
            for n in found
        ],
    }


def provision_clinic_number(clinic_id: int, area_code: str, friendly_name: str | None = None) -> dict[str, Any]:
    """Buy one voice+SMS number in `area_code` for the clinic, webhooks set in the purchase.

    See provisioning.clinic_number_provision_run: two Twilio calls on the normal path, a
    rerun resumes with the reserved number (adopting it if it was bought unseen), a
    second number is never bought, and invalid input buys nothing and says why.
    """
    try:
        number = provisioning.clinic_number_provision_run(clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name)
    except EXPECTED_FAILURES as exc:
        return failure_from(exc)
    return provisioned_dict(number)


def provisioned_dict(number: twilio.IncomingNumber) -> dict[str, Any]:
    """The seed's success shape of provision_clinic_number."""
    return {"success": True, "phone_number": number.phone_number, "sid": number.sid, "webhooks": number.webhooks}


def update_number_webhooks(phone_sid: str) -> dict[str, Any]:
    """Point an existing number's three webhooks at today's API_BASE_URL (fixes drift)."""
    try:
        number = repairs.number_webhooks_update_run(phone_sid=phone_sid)
    except EXPECTED_FAILURES as exc:
        return failure_from(exc)
    return webhooks_updated_dict(number)


def webhooks_updated_dict(number: twilio.IncomingNumber) -> dict[str, Any]:
    """The seed's success shape of update_number_webhooks."""
    return {"success": True, "sid": number.sid, "phone_number": number.phone_number, "webhooks": number.webhooks}


def list_clinic_numbers() -> dict[str, Any]:
    """Every number on the main account and its active subaccounts (all pages of 1000 each)
    with its clinic and webhook health; `account_sid` says where each lives. "subaccounts"
    lists the main account's subaccounts (sid, status, friendly_name)."""
    try:
        fleet = inventory.fleet_numbers_list()
    except twilio.TwilioError as exc:
        return failure_from(exc)
    rows = [
        {
            "sid": row.sid,
            "account_sid": row.account_sid,
            "phone_number": row.phone_number,
            "friendly_name": row.friendly_name,
            "clinic_id": row.clinic.id if row.clinic else None,
            "clinic_name": row.clinic.name if row.clinic else None,
            "webhooks": row.number.webhooks,
            "webhook_fields": dict(row.number.webhook_fields),
            "webhooks_ok": row.webhooks_ok,
            "capabilities": row.number.capabilities.as_dict(),
        }
        for row in fleet.numbers
    ]
    return {
        "success": True,
        "expected_webhooks": webhook_urls(),
        "numbers": rows,
        # Every subaccount (closed ones too) for the audit's account findings; never its token.
        "subaccounts": [{"sid": a.sid, "status": a.status, "friendly_name": a.friendly_name} for a in fleet.subaccounts],
    }


def list_messaging_overrides() -> dict[str, Any]:
    """Numbers in a Messaging Service whose inbound settings replace the number's SMS URL.

    Returns {"success": True, "numbers": {phone_sid: {"service_sid", "service_name",
    "inbound_request_url"}}}: one list call for the services, one per overriding service.
    """
    try:
        overrides = inventory.messaging_overrides_list()
    except twilio.TwilioError as exc:
        return failure_from(exc)
    return {"success": True, "numbers": {sid: dataclasses.asdict(o) for sid, o in overrides.items()}}


def check_credentials() -> dict[str, Any]:
    """Fetch our own account: proves Twilio accepts the credentials (and the account is active)."""
    try:
        account = twilio.account_fetch()
    except twilio.TwilioError as exc:
        return failure_from(exc)
    return {"success": True, "sid": account.sid, "status": account.status, "friendly_name": account.friendly_name}


def release_number(phone_sid: str, *, clinic_id: int | None = None) -> dict[str, Any]:
    """Release the number at Twilio and clear it from its clinic, keeping the history.

    A number Twilio no longer has (20404) counts as released. Safe to repeat. With
    `clinic_id`, only that clinic's number is released (a stale or wrong request
    releases nothing).
    """
    try:
        released = release.number_release_run(phone_sid=phone_sid, clinic_id=clinic_id)
    except EXPECTED_FAILURES as exc:
        return failure_from(exc)
    return released_dict(released)


def released_dict(released: release.Released) -> dict[str, Any]:
    """The seed's success shape of release_number."""
    return {
        "success": True,
        "sid": released.sid,
        "phone_number": released.phone_number,
        "clinic_id": released.clinic_id,
        "already_released": released.already_released,
    }


def send_sms(*, from_number: str, to_number: str, body: str) -> dict[str, Any]:
    """Send an SMS from one of our numbers, with status callbacks to /twilio/status."""
    # A clinic's number in its own subaccount sends only as that subaccount.
    holders = clinics_by_numbers(phone_numbers=[from_number], phone_sids=[])
    account_sid = holders[0].twilio_account_sid if holders else ""
    try:
        message = twilio.message_send(
            from_number=from_number,
            to_number=to_number,
            body=body,
            status_callback=webhook_urls()["status_callback"],
            account_sid=account_sid,
        )
    except twilio.TwilioError as exc:
        return failure_from(exc)
    return {"success": True, "sid": message.sid, "status": message.status}


__all__ = [
    "ERR_UNSUBSCRIBED_RECIPIENT",
    "check_credentials",
    "clinic_friendly_name",
    "clinic_id_from_friendly_name",
    "get_client",
    "list_available_numbers",
    "list_clinic_numbers",
    "list_messaging_overrides",
    "provision_clinic_number",
    "release_number",
    "send_sms",
    "update_number_webhooks",
]
