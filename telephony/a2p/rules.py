"""What every part of A2P registration shares: where a clinic's registration lives and
with which credentials, whether registration can run in this deployment, the names its
objects carry, which statuses mean "Twilio is reviewing", and the sentence for a
rejection (Twilio's codes, telephony/twilio/errors.py)."""

from __future__ import annotations

from django.conf import settings

from clinics.models import Clinic
from clinics.models_a2p import APPROVED, CREATING, NUMBER_CHANGED, REJECTED
from clinics.sealed import secret_open
from telephony.twilio.errors import A2P_REJECTION_SENTENCES

IN_REVIEW = {"pending-review", "in-review", "PENDING", "IN_REVIEW", "IN_PROGRESS"}


def status_words(status: str) -> str:
    """A registration step's status as Twilio reports it, in staff words (the raw token is
    the operators' detail, in the registration's history)."""
    if not status:
        return "not started"
    if status in IN_REVIEW:
        return "in review at Twilio"
    if status in REJECTED:
        return "rejected" if status != "SUSPENDED" else "suspended by Twilio"
    if status in APPROVED.values():
        return {"created": "created", "added": "added"}.get(status, "approved")
    if status == CREATING:
        return "being created"
    if status == NUMBER_CHANGED:
        return "the clinic's new number is joining"
    return status.replace("-", " ").replace("_", " ").lower()


class RegistrationDisabled(Exception):
    """Registration cannot run in this deployment; the message says what to set."""


def registration_account(clinic: Clinic) -> tuple[str, str]:
    """The Twilio account a clinic's registration lives in, and the auth token to act in it.

    The ONE place that decides it: the clinic's own subaccount when it has one (its sealed
    token opened here), else the main account ("" token: the adapter uses the main
    credentials). Trust Hub and Messaging are scoped by the credentials, not the URL, so
    registering inside a subaccount means authenticating as it (Twilio, "Subaccounts":
    "use the subaccount's Account SID and Auth Token"; Trust Hub ISV guide for subaccounts:
    the secondary profile is created under the customer subaccount).
    """
    if clinic.twilio_account_sid and clinic.twilio_account_token_sealed:
        return clinic.twilio_account_sid, secret_open(clinic.twilio_account_token_sealed)
    return str(settings.TWILIO_ACCOUNT_SID), ""


def registration_account_sid(clinic: Clinic) -> str:
    """The SID of the account a clinic's registration (and its Messaging Service) lives in."""
    return registration_account(clinic)[0]


def registration_disabled_reason() -> str:
    """Why registration cannot run here ("" when it can)."""
    if not settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID:
        return (
            "A2P registration is not set up on this DentSignal yet: it needs our approved Primary Customer Profile "
            "from Twilio. Tell the DentSignal operator: the doctor check says what to set."
        )
    return ""


def registration_required() -> None:
    """Raise RegistrationDisabled (saying what to set) when registration cannot run here."""
    reason = registration_disabled_reason()
    if reason:
        raise RegistrationDisabled(reason)


def friendly_name(clinic: Clinic, what: str) -> str:
    """The name every registration object carries; it names the clinic, so a retry finds it."""
    return f"DentSignal clinic #{clinic.pk} {what}"


def rejection_sentence(code: int | None, fallback: str = "", *, step: str = "") -> str:
    """A sentence staff can act on for a registration error code (met at `step`, when known)."""
    documented = documented_sentence(code, step)
    if documented:
        return documented
    link = f" See https://www.twilio.com/docs/api/errors/{code}" if code else ""
    reason = fallback or "Twilio rejected this step."
    return f"{reason} Fix the business profile, then Edit and resubmit.{link}"


def documented_sentence(code: int | None, step: str) -> str:
    """A2P_REJECTION_SENTENCES' sentence for `code` met at `step` ("" when it has none for that step)."""
    known = A2P_REJECTION_SENTENCES.get(code) if code is not None else None
    if known is None or (step and known[0] != step):
        return ""
    return f"{known[1]} (Twilio error {code})"
