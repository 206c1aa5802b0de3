"""Development only (TWILIO_SANDBOX=true): decide a step under review now, as the sandbox
Twilio's reviewer would, then check the reviews so the page shows the outcome.

The sandbox's loopback control (`POST /__sandbox__/a2p-decide`, twilio_sandbox/reviews.py)
is reached over HTTP at the sandbox's origin (telephony.sandbox_control), like every other
request to it; nothing here imports the sandbox. The clinic page's Approve and Reject
buttons, shown only in sandbox mode like Simulate test call / SMS, call this.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from clinics import services as clinic_services
from clinics.models_a2p import A2PRegistration, A2PStep
from telephony.a2p.polling import registration_poll_now
from telephony.a2p.rules import IN_REVIEW
from telephony.sandbox_control import SandboxOnly, sandbox_control_post

OUTCOMES = ("approve", "reject")
# Twilio's "campaign vetting rejected" family starts at 30909 (the sandbox's default too).
SANDBOX_REJECTION_CODE = 30909


__all__ = ["OUTCOMES", "SandboxOnly", "sandbox_review_decide", "sandbox_reviewable_steps"]


def sandbox_reviewable_steps(registration: A2PRegistration | None) -> list[str]:
    """The steps of `registration` that the sandbox's reviewer can decide now (in review, with a SID)."""
    if registration is None or not settings.TWILIO_SANDBOX:
        return []
    return [step for step in A2PStep.values if registration.step_status(step) in IN_REVIEW and registration.step_sid(step)]


def sandbox_review_decide(*, clinic_id: int, step: str, outcome: str, actor: Any = None) -> A2PRegistration:
    """Ask the sandbox to approve or reject the clinic's `step` now, then check the reviews."""
    if not settings.TWILIO_SANDBOX:
        raise SandboxOnly("Approving or rejecting a review by hand exists only with the sandbox Twilio.")
    if outcome not in OUTCOMES or step not in A2PStep.values:
        raise clinic_services.A2PError("Choose approve or reject for one step of the registration.")
    registration = A2PRegistration.objects.filter(clinic_id=clinic_id).first()
    if step not in sandbox_reviewable_steps(registration):
        raise clinic_services.A2PError(f"The {A2PStep(step).label.lower()} is not waiting for a review.")
    assert registration is not None  # sandbox_reviewable_steps is empty without one
    decision: dict[str, str | int] = {"sid": registration.step_sid(step), "outcome": outcome, "code": SANDBOX_REJECTION_CODE}
    sandbox_control_post("a2p-decide", decision, error=clinic_services.A2PError)
    return registration_poll_now(clinic_id=clinic_id, actor=actor)
