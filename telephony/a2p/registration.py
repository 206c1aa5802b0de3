"""A2P 10DLC registration workflows: each clinic as our secondary customer (Twilio's ISV flow).

Twilio's sequence ("A2P 10DLC - Standard and Low-Volume Standard Brand Onboarding Guide
for ISVs"), one step at a time, each persisted on the clinic's A2PRegistration:

  1. customer_profile: secondary CustomerProfile (policy RNdfbf...), EndUsers (business
     information, authorized representative), Address + SupportingDocument, assignments
     (those and our Primary Customer Profile), Evaluation, submit (pending-review);
  2. trust_product: TrustProduct (A2P messaging profile policy RNb0d4...), its EndUser,
     assignments (that and the secondary profile), Evaluation, submit;
  3. brand: BrandRegistration (low-volume standard: SkipAutomaticSecVet), once both
     bundles are twilio-approved;
  4. messaging_service: a Service with UseInboundWebhookOnNumber=true (our number's SmsUrl
     stays in charge), once the brand is APPROVED;
  5. campaign: Usa2p on that service, texts matching what telephony/webhooks/replies.py answers (telephony/a2p/texts.py);
  6. number: the clinic's number in the service's sender pool.

`registration_advance` runs whatever is due and stops at a step Twilio is reviewing or
refused. Every create is preceded by a committed intent (status "creating") and, when no
SID is saved yet, a lookup by the object's friendly name (which names the clinic), so a
lost answer and a retried task never create (or pay for) a second object. Twilio's
refusals become sentences on the registration; retryable failures are raised for the
task to retry. `registrations_poll` (Celery beat) fetches pending reviews at most one
Trust Hub request per second and advances what they unblock. The two Trust Hub bundles
also carry our StatusCallback: Twilio's call to it has that one clinic polled at once
(`registration_status_callback`); brands and campaigns take none and wait for the beat.
A callback can be replayed by anyone holding a copy, so the polls it asks for are
coalesced per clinic (`registration_poll_request`), and beat's poll skips a clinic
polled within that cooldown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from clinics import services as clinic_services
from clinics.models_a2p import A2PRegistration, A2PStep
from telephony import task_names, twilio
from telephony.a2p import steps
from telephony.a2p.rules import IN_REVIEW, registration_disabled_reason, registration_required
from telephony.queue import task_send_on_commit

task_names.A2P_REGISTRATION_ADVANCE = "telephony.tasks.a2p_registration_advance"


def registration_start(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Start a clinic's registration (after its business profile) and run it after commit."""
    return _then_advance(clinic_id, lambda: clinic_services.a2p_registration_start(clinic_id=clinic_id, actor=actor))


def registration_resubmit(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Staff edited the profile after a rejection: resubmit from the rejected step."""
    return _then_advance(clinic_id, lambda: clinic_services.a2p_resubmit_request(clinic_id=clinic_id, actor=actor))


def registration_number_changed(*, clinic_id: int) -> bool:
    """The clinic's number changed: put its current number in its Messaging Service after commit.

    The one hook every change of a clinic's number calls (a purchase, an adoption, a move
    between accounts, a release, and a number ported in): the registration's number step
    is marked to run again (clinics.services.a2p_number_changed) and the advance task is
    sent once the change commits; the number step adds the new number once and takes the
    replaced one out of the pool (steps.number), so two changes or a retried task leave one
    sender. A send the broker refused is not lost: the marked registration is pending, and
    beat's poll advances it. False when there is nothing to do (registration disabled, or
    not as far as its Messaging Service yet: the number step runs in its turn).
    """
    if registration_disabled_reason():
        return False
    if not clinic_services.a2p_number_changed(clinic_id=clinic_id):
        return False
    task_send_on_commit(task_names.A2P_REGISTRATION_ADVANCE, clinic_id)
    return True


def _then_advance(clinic_id: int, change: Callable[[], A2PRegistration]) -> A2PRegistration:
    """Refuse when registration is disabled; else make the change and send the advance task after commit."""
    registration_required()
    registration = change()
    task_send_on_commit(task_names.A2P_REGISTRATION_ADVANCE, clinic_id, clinic_id=clinic_id)
    return registration


def review_checks_sentence() -> str:
    """How reviews are checked here, truly: by beat every 10 minutes where tasks go through a
    broker (production, and scripts/dev with CELERY_BROKER_URL), else only on Check now:
    eager Celery (scripts/dev's default) runs no beat."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "checked when you press Check now: nothing checks by itself in this setup"
    return "checked every 10 minutes, or press Check now"


def registration_next_action(registration: A2PRegistration | None, *, profile: bool) -> str:
    """What happens next, for the clinic page."""
    if registration is None:
        return "Start registration." if profile else "Fill in the business profile, then Start registration."
    if registration.error:
        return f"Fix what is wrong, then Edit and resubmit: {registration.error}"
    if registration.campaign_ready:
        return "Nothing: texts go out through the clinic's Messaging Service. Test an inbound SMS."
    for step in A2PStep.values:
        status = registration.step_status(step)
        if status in IN_REVIEW:
            return f"Wait for Twilio's review of the {A2PStep(step).label.lower()} ({review_checks_sentence()})."
        if not registration.step_approved(step):
            return f"Next: {A2PStep(step).label.lower()} (runs by itself)."
    return ""


def registration_advance(*, clinic_id: int) -> A2PRegistration:
    """Run every step that is due, in order; stop at a review, a refusal or a rejection.

    Idempotent: safe to call any number of times, from the task, the poller or a retry.
    A non-retryable Twilio refusal is recorded on the registration and stops; a
    retryable one is raised (TwilioError) for the task to retry.
    """
    registration_required()
    ctx = steps.Context(clinic_id)
    order: list[tuple[str, Callable[[steps.Context], bool]]] = [
        (A2PStep.CUSTOMER_PROFILE, steps.customer_profile),
        (A2PStep.TRUST_PRODUCT, steps.trust_product),
        (A2PStep.BRAND, steps.brand),
        (A2PStep.MESSAGING_SERVICE, steps.messaging_service),
        (A2PStep.CAMPAIGN, steps.campaign),
        (A2PStep.NUMBER, steps.number),
    ]
    for step, run in order:
        if ctx.registration.error:
            break  # staff must Edit and resubmit first
        try:
            done = run(ctx)
        except twilio.TwilioError as exc:
            if exc.retryable:
                raise
            clinic_services.a2p_step_fail(clinic_id=clinic_id, step=step, error=steps.refusal_sentence(exc, step), code=exc.code)
            done = False
        ctx.reload()
        if not done:
            break
    return ctx.registration
