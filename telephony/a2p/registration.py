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

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

from clinics import services_a2p
from clinics.models import Clinic
from clinics.models_a2p import REJECTED, A2PRegistration, A2PStep, BusinessProfile
from clinics.sealed import secret_open
from telephony.a2p import texts
from telephony.models import MessageLog
from telephony.queue import task_claim, task_send_coalesced_on_commit, task_send_on_commit
from telephony.tenants import account_check
from telephony.twilio import client as twilio
from telephony.webhook_urls import a2p_status_url, webhook_urls

TASK_ADVANCE = "telephony.tasks.a2p_registration_advance"
POLL_BATCH = 50  # clinics per beat tick; the rest wait for the next tick
IN_REVIEW = {"pending-review", "in-review", "PENDING", "IN_REVIEW", "IN_PROGRESS"}

# Sentences for Twilio's registration errors, each with the step Twilio documents the code
# for (https://www.twilio.com/docs/api/errors/<code>): what is wrong, what staff fix and
# where, then Edit and resubmit. A code without one, or met at another step, gets the
# generic sentence and the link. The campaign's texts come from the business profile
# (campaign_texts), and Edit and resubmit registers a rejected campaign anew from it.
_PROFILE = "the clinic's business profile (Admin → Clinics → Business profiles)"
REJECTION_SENTENCES: dict[int, tuple[A2PStep, str]] = {
    21717: (
        A2PStep.CAMPAIGN,
        "Twilio refused the campaign because its brand is not registered or not approved yet. Wait until this "
        "page shows the brand APPROVED (if the brand failed, fix what its sentence says first), then Edit and resubmit.",
    ),
    30994: (
        A2PStep.CAMPAIGN,
        "The campaign failed because its brand was still pending at Twilio, which may need more information "
        "about the business. Wait until this page shows the brand APPROVED, then Edit and resubmit; if the brand "
        "stays pending for more than a week, ask Twilio Support what it needs. (Twilio's 2FA e-mail for brands is "
        "for public companies only; DentSignal registers clinics as private companies.)",
    ),
    30991: (
        A2PStep.CAMPAIGN,
        "The campaign failed because The Campaign Registry has not verified the clinic's brand, and campaigns "
        "under an unverified brand are refused. Look up the brand (its BN… SID is on this page) in Twilio's "
        "Console → Messaging → Regulatory Compliance → Brands for what it needs; once it is verified, Edit and resubmit.",
    ),
    30909: (
        A2PStep.CAMPAIGN,
        "Carriers could not verify how patients agree to receive texts (the campaign's message flow). In "
        f'{_PROFILE}, rewrite "How patients opt in": name every way patients give their number and agree to '
        "texts (front-desk form, website form, by phone); for a website form, give the page's public address and "
        'make sure it states how often texts come, "Msg & data rates may apply" and links to the privacy policy '
        "and terms. Then Edit and resubmit.",
    ),
    30893: (
        A2PStep.CAMPAIGN,
        f"Carriers found the sample texts do not match the campaign's use case. In {_PROFILE}, make both sample "
        "messages real texts the clinic sends for that use case: name the clinic in at least one, put the parts "
        'that change in [brackets] and end one with "Reply STOP to opt out"; or choose the use case the samples '
        "fit. Then Edit and resubmit.",
    ),
    30886: (
        A2PStep.CAMPAIGN,
        "Carriers found the campaign description unclear or not matching its use case. DentSignal writes it from "
        'the clinic\'s name ("<clinic> texts its own patients appointment reminders … and answers their texts"): '
        f"check that the clinic's name is the one patients see on its website, and in {_PROFILE} choose the use "
        "case that fits reminders and replies (Low volume mixed). Then Edit and resubmit.",
    ),
    21712: (
        A2PStep.NUMBER,
        "The clinic's number is already in another Messaging Service: remove it there "
        "(Console → Messaging → Services), then Edit and resubmit.",
    ),
}


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
            "A2P registration is disabled: set TWILIO_PRIMARY_CUSTOMER_PROFILE_SID to our approved Primary Customer "
            "Profile (Trust Hub → Customer profiles in Twilio's Console, BU…) and restart."
        )
    return ""


def _registration_required() -> None:
    """Raise RegistrationDisabled (saying what to set) when registration cannot run here."""
    reason = registration_disabled_reason()
    if reason:
        raise RegistrationDisabled(reason)


def friendly_name(clinic: Clinic, what: str) -> str:
    """The name every registration object carries; it names the clinic, so a retry finds it."""
    return f"DentSignal clinic #{clinic.pk} {what}"


def rejection_sentence(code: int | None, fallback: str = "", *, step: str = "") -> str:
    """A sentence staff can act on for a registration error code (met at `step`, when known)."""
    documented = _documented_sentence(code, step)
    if documented:
        return documented
    link = f" See https://www.twilio.com/docs/api/errors/{code}" if code else ""
    reason = fallback or "Twilio rejected this step."
    return f"{reason} Fix the business profile, then Edit and resubmit.{link}"


def _documented_sentence(code: int | None, step: str) -> str:
    """REJECTION_SENTENCES' sentence for `code` met at `step` ("" when it has none for that step)."""
    known = REJECTION_SENTENCES.get(code) if code is not None else None
    if known is None or (step and known[0] != step):
        return ""
    return f"{known[1]} (Twilio error {code})"


# --------------------------------------------------------------------------- surfaces call these


def registration_start(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Start a clinic's registration (after its business profile) and run it after commit."""
    return _then_advance(clinic_id, lambda: services_a2p.a2p_registration_start(clinic_id=clinic_id, actor=actor))


def registration_resubmit(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Staff edited the profile after a rejection: resubmit from the rejected step."""
    return _then_advance(clinic_id, lambda: services_a2p.a2p_resubmit_request(clinic_id=clinic_id, actor=actor))


def _then_advance(clinic_id: int, change: Callable[[], A2PRegistration]) -> A2PRegistration:
    """Refuse when registration is disabled; else make the change and send the advance task after commit."""
    _registration_required()
    registration = change()
    task_send_on_commit(TASK_ADVANCE, clinic_id, clinic_id=clinic_id)
    return registration


def registration_poll_now(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Staff asked to check Twilio's reviews now instead of at the next beat tick."""
    _registration_required()
    if not A2PRegistration.objects.filter(clinic_id=clinic_id).exists():
        raise services_a2p.A2PError(f"Clinic {clinic_id} has not started its A2P registration.")
    return registration_poll(clinic_id=clinic_id)


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
            return f"Wait for Twilio's review of the {A2PStep(step).label.lower()} (checked every 10 minutes)."
        if not registration.step_approved(step):
            return f"Next: {A2PStep(step).label.lower()} (runs by itself)."
    return ""


# --------------------------------------------------------------------------- the steps


class _Context:
    """What every step needs: the clinic, its profile and registration, the account."""

    def __init__(self, clinic_id: int) -> None:
        self.registration = A2PRegistration.objects.select_related("clinic").get(clinic_id=clinic_id)
        self.clinic = self.registration.clinic
        self.profile = BusinessProfile.objects.get(clinic_id=clinic_id)
        self.account, self.token = registration_account(self.clinic)

    def reload(self) -> None:
        self.registration.refresh_from_db()


def registration_advance(*, clinic_id: int) -> A2PRegistration:
    """Run every step that is due, in order; stop at a review, a refusal or a rejection.

    Idempotent: safe to call any number of times, from the task, the poller or a retry.
    A non-retryable Twilio refusal is recorded on the registration and stops; a
    retryable one is raised (TwilioError) for the task to retry.
    """
    _registration_required()
    ctx = _Context(clinic_id)
    steps: list[tuple[str, Callable[[_Context], bool]]] = [
        (A2PStep.CUSTOMER_PROFILE, _customer_profile),
        (A2PStep.TRUST_PRODUCT, _trust_product),
        (A2PStep.BRAND, _brand),
        (A2PStep.MESSAGING_SERVICE, _messaging_service),
        (A2PStep.CAMPAIGN, _campaign),
        (A2PStep.NUMBER, _number),
    ]
    for step, run in steps:
        if ctx.registration.error:
            break  # staff must Edit and resubmit first
        try:
            done = run(ctx)
        except twilio.TwilioError as exc:
            if exc.retryable:
                raise
            services_a2p.a2p_step_fail(clinic_id=clinic_id, step=step, error=_refusal_sentence(exc, step), code=exc.code)
            done = False
        ctx.reload()
        if not done:
            break
    return ctx.registration


def _refusal_sentence(exc: twilio.TwilioError, step: str) -> str:
    return _documented_sentence(exc.code, step) or str(exc)


def _created(ctx: _Context, step: str, find: Callable[[], list[Any]], create: Callable[[], Any]) -> Any:
    """The step's object: the saved one, else (intent committed) the one found by name, else a new one."""
    registration = services_a2p.a2p_step_intent(clinic_id=ctx.clinic.pk, step=step)
    if registration.step_sid(step):
        return None
    found = find()
    return found[0] if found else create()


def _record(ctx: _Context, step: str, sid: str, status: str, *, detail: str = "", code: int | None = None) -> None:
    services_a2p.a2p_step_record(clinic_id=ctx.clinic.pk, step=step, sid=sid, status=status, detail=detail, code=code)
    ctx.reload()


def _end_user(ctx: _Context, name: str, object_type: str, attributes: dict[str, Any]) -> str:
    """An EndUser for this clinic with today's profile: found by name (and brought up to date) or created."""
    full_name = friendly_name(ctx.clinic, name)
    found = twilio.end_users_find(account_sid=ctx.account, auth_token=ctx.token, friendly_name=full_name)
    if found:
        twilio.end_user_update(account_sid=ctx.account, auth_token=ctx.token, sid=found[0].sid, attributes=attributes)
        return found[0].sid
    return twilio.end_user_create(
        account_sid=ctx.account, auth_token=ctx.token, friendly_name=full_name, object_type=object_type, attributes=attributes
    ).sid


def _assign_and_submit(ctx: _Context, step: str, kind: twilio.BundleKind, policy: str, objects: list[str]) -> bool:
    """Assign what is missing, evaluate, submit; record pending-review. False when not compliant."""
    sid = ctx.registration.step_sid(step)
    assigned = twilio.trust_bundle_assigned(account_sid=ctx.account, auth_token=ctx.token, kind=kind, sid=sid)
    for object_sid in objects:
        if object_sid not in assigned:
            twilio.trust_bundle_assign(account_sid=ctx.account, auth_token=ctx.token, kind=kind, sid=sid, object_sid=object_sid)
    evaluation = twilio.trust_bundle_evaluate(
        account_sid=ctx.account, auth_token=ctx.token, kind=kind, sid=sid, policy_sid=policy
    )
    if evaluation.status != "compliant":
        services_a2p.a2p_step_fail(
            clinic_id=ctx.clinic.pk,
            step=step,
            error=f"Twilio's evaluation of the {A2PStep(step).label.lower()} found it incomplete "
            f"(evaluation {evaluation.sid}): check every field of the business profile, then Edit and resubmit.",
            code=None,
        )
        return False
    bundle = twilio.trust_bundle_submit(
        account_sid=ctx.account, auth_token=ctx.token, kind=kind, sid=sid, status_callback=a2p_status_url()
    )
    _record(ctx, step, sid, bundle.status, detail="Submitted for Twilio's review.")
    return True


def _bundle_step(
    ctx: _Context, step: str, kind: twilio.BundleKind, policy: str, what: str, objects: Callable[[], list[str]]
) -> bool:
    """Create (once), fill, evaluate and submit a Trust Hub bundle; True once Twilio approved it."""
    status = ctx.registration.step_status(step)
    if ctx.registration.step_approved(step):
        return True
    if status in IN_REVIEW:
        return False
    name = friendly_name(ctx.clinic, what)
    bundle = _created(
        ctx,
        step,
        lambda: twilio.trust_bundles_find(account_sid=ctx.account, auth_token=ctx.token, kind=kind, friendly_name=name),
        lambda: twilio.trust_bundle_create(
            account_sid=ctx.account,
            auth_token=ctx.token,
            kind=kind,
            friendly_name=name,
            email=settings.A2P_NOTIFICATION_EMAIL,
            policy_sid=policy,
            status_callback=a2p_status_url(),
        ),
    )
    if bundle is not None:
        _record(ctx, step, bundle.sid, bundle.status, detail=f"{bundle.sid} created.")
        if bundle.status in IN_REVIEW or bundle.status == "twilio-approved":
            return bundle.status == "twilio-approved"
    _assign_and_submit(ctx, step, kind, policy, objects())
    return False


def _business_attributes(profile: BusinessProfile) -> dict[str, Any]:
    return {
        "business_name": profile.legal_name,
        "business_identity": "direct_customer",
        "business_type": profile.business_type,
        "business_industry": profile.registered_industry,
        "business_registration_identifier": "EIN",
        "business_registration_number": profile.ein_digits,
        "business_regions_of_operation": "USA_AND_CANADA",
        "website_url": profile.website,
        "social_media_profile_urls": "",
    }


def _representative_attributes(profile: BusinessProfile) -> dict[str, Any]:
    return {
        "first_name": profile.rep_first_name,
        "last_name": profile.rep_last_name,
        "email": profile.rep_email,
        "phone_number": profile.rep_phone,
        "business_title": profile.rep_title,
        "job_position": profile.rep_position,
    }


def _address(ctx: _Context) -> str:
    """The clinic's Address with today's profile: found by name (and brought up to date) or created."""
    profile, name = ctx.profile, friendly_name(ctx.clinic, "address")
    fields = {
        "customer_name": profile.legal_name,
        "street": profile.street,
        "city": profile.city,
        "region": profile.region,
        "postal_code": profile.postal_code,
    }
    found = twilio.addresses_find(account_sid=ctx.account, auth_token=ctx.token, friendly_name=name)
    if found:
        twilio.address_update(account_sid=ctx.account, auth_token=ctx.token, sid=found[0].sid, **fields)
        return found[0].sid
    return twilio.address_create(account_sid=ctx.account, auth_token=ctx.token, friendly_name=name, **fields).sid


def _customer_profile_objects(ctx: _Context) -> list[str]:
    profile, account = ctx.profile, ctx.account
    business = _end_user(ctx, "business information", "customer_profile_business_information", _business_attributes(profile))
    representative = _end_user(
        ctx, "authorized representative", "authorized_representative_1", _representative_attributes(profile)
    )
    address = _address(ctx)
    doc_name = friendly_name(ctx.clinic, "address document")
    docs = twilio.supporting_documents_find(account_sid=account, auth_token=ctx.token, friendly_name=doc_name)
    document = (
        docs[0]
        if docs
        else twilio.supporting_document_create(
            account_sid=account,
            auth_token=ctx.token,
            friendly_name=doc_name,
            object_type="customer_profile_address",
            attributes={"address_sids": address},
        )
    )
    return [business, representative, document.sid, settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID]


def _customer_profile(ctx: _Context) -> bool:
    return _bundle_step(
        ctx,
        A2PStep.CUSTOMER_PROFILE,
        "customer_profiles",
        twilio.POLICY_SECONDARY_CUSTOMER_PROFILE,
        "secondary customer profile",
        lambda: _customer_profile_objects(ctx),
    )


def _trust_product_objects(ctx: _Context) -> list[str]:
    # Never a public company: Authentication+ (a 2FA e-mail to a brand contact, re-sent with
    # POST /v1/a2p/BrandRegistrations/{BN}/2fa) is asked of public for-profit brands only, so a
    # clinic's brand never waits on it; a listed company would need it first (README, A2P).
    profile_info = _end_user(
        ctx,
        "A2P messaging profile",
        "us_a2p_messaging_profile_information",
        {"company_type": ctx.profile.company_type, "stock_exchange": "NONE", "stock_ticker": ""},
    )
    return [profile_info, ctx.registration.customer_profile_sid]


def _trust_product(ctx: _Context) -> bool:
    return _bundle_step(
        ctx,
        A2PStep.TRUST_PRODUCT,
        "trust_products",
        twilio.POLICY_A2P_MESSAGING_PROFILE,
        "A2P trust product",
        lambda: _trust_product_objects(ctx),
    ) and ctx.registration.step_approved(A2PStep.CUSTOMER_PROFILE)


def _brand(ctx: _Context) -> bool:
    registration = ctx.registration
    if registration.step_approved(A2PStep.BRAND):
        return True
    if not (registration.step_approved(A2PStep.CUSTOMER_PROFILE) and registration.step_approved(A2PStep.TRUST_PRODUCT)):
        return False
    if registration.brand_status in IN_REVIEW:
        return False
    if registration.brand_status in REJECTED and registration.brand_sid:
        # Staff corrected the profile and chose Edit and resubmit. Twilio vets the brand on its
        # bundles' data, so that data is brought up to date first (error 60723: "correct the
        # underlying business data in the associated Customer Profile or Trust Bundle before
        # you resubmit the brand"); then the same brand is reviewed again.
        _customer_profile_objects(ctx)
        _trust_product_objects(ctx)
        brand = twilio.brand_registration_resubmit(account_sid=ctx.account, auth_token=ctx.token, sid=registration.brand_sid)
        _record(ctx, A2PStep.BRAND, brand.sid, brand.status, detail="Brand resubmitted for review.")
        return ctx.registration.step_approved(A2PStep.BRAND)
    brand = _created(
        ctx,
        A2PStep.BRAND,
        lambda: twilio.brand_registrations_find(
            account_sid=ctx.account, auth_token=ctx.token, a2p_profile_sid=registration.trust_product_sid
        ),
        lambda: twilio.brand_registration_create(
            account_sid=ctx.account,
            auth_token=ctx.token,
            customer_profile_sid=registration.customer_profile_sid,
            a2p_profile_sid=registration.trust_product_sid,
        ),
    )
    if brand is not None:
        _record(ctx, A2PStep.BRAND, brand.sid, brand.status, detail=f"Brand {brand.sid} registered (low-volume standard).")
    return ctx.registration.step_approved(A2PStep.BRAND)


def _messaging_service(ctx: _Context) -> bool:
    if ctx.registration.step_approved(A2PStep.MESSAGING_SERVICE):
        return True
    name = friendly_name(ctx.clinic, "messaging")
    service = _created(
        ctx,
        A2PStep.MESSAGING_SERVICE,
        lambda: twilio.messaging_services_find(account_sid=ctx.account, auth_token=ctx.token, friendly_name=name),
        lambda: twilio.messaging_service_create(
            account_sid=ctx.account, auth_token=ctx.token, friendly_name=name, status_callback=webhook_urls()["status_callback"]
        ),
    )
    sid = service.sid if service is not None else ctx.registration.messaging_service_sid
    _record(ctx, A2PStep.MESSAGING_SERVICE, sid, "created", detail=f"Messaging Service {sid} (inbound stays on the number).")
    return True


def campaign_texts(clinic: Clinic, profile: BusinessProfile) -> dict[str, Any]:
    """The campaign's texts: the opt-in/opt-out/help answers our SMS webhook really gives."""
    return {
        "usecase": profile.use_case,
        "description": (
            f"{clinic.name} texts its own patients appointment reminders (reply C to confirm, R to reschedule) "
            "and answers their texts."
        ),
        "message_flow": profile.opt_in_description,
        "samples": [profile.sample_message_1, profile.sample_message_2],
        "help_message": texts.help_text(clinic.name, clinic.office_phone or clinic.twilio_number or ""),
        "opt_out_message": texts.TWILIO_OPT_OUT_TEXT,
        "opt_in_message": texts.TWILIO_OPT_IN_TEXT,
        "help_keywords": sorted(texts.HELP),
        "opt_out_keywords": sorted(texts.OPT_OUT),
        "opt_in_keywords": sorted(texts.OPT_IN),
    }


def _campaign(ctx: _Context) -> bool:
    registration = ctx.registration
    if registration.step_approved(A2PStep.CAMPAIGN):
        return True
    if registration.campaign_status in IN_REVIEW:
        return True  # the number can join the service while the campaign is reviewed
    if (registration.campaign_status in REJECTED or registration.campaign_status == services_a2p.RECREATING) and (
        registration.campaign_sid
    ):
        # Staff chose Edit and resubmit (the error is cleared, else advance stops earlier).
        # Twilio does not review a failed campaign again: delete it, then register it anew.
        _campaign_delete(ctx, registration.campaign_sid)
        registration = ctx.registration
    service_sid = registration.messaging_service_sid
    campaign = _created(
        ctx,
        A2PStep.CAMPAIGN,
        lambda: twilio.campaigns_list(account_sid=ctx.account, auth_token=ctx.token, service_sid=service_sid),
        lambda: twilio.campaign_create(
            account_sid=ctx.account,
            auth_token=ctx.token,
            service_sid=service_sid,
            brand_sid=registration.brand_sid,
            **campaign_texts(ctx.clinic, ctx.profile),
        ),
    )
    if campaign is not None:
        _record(ctx, A2PStep.CAMPAIGN, campaign.sid, campaign.status, detail=f"Campaign {campaign.sid} submitted.")
    return True


def _campaign_delete(ctx: _Context, sid: str) -> None:
    """Delete the rejected campaign `sid` (intent committed first; a 404 means a lost answer already did)."""
    services_a2p.a2p_campaign_recreate_intent(clinic_id=ctx.clinic.pk, sid=sid)
    try:
        twilio.campaign_delete(
            account_sid=ctx.account, auth_token=ctx.token, service_sid=ctx.registration.messaging_service_sid, sid=sid
        )
    except twilio.TwilioError as exc:
        if exc.status != 404:
            raise
    services_a2p.a2p_campaign_forget(clinic_id=ctx.clinic.pk, sid=sid)
    ctx.reload()


def _number(ctx: _Context) -> bool:
    registration, clinic = ctx.registration, ctx.clinic
    if registration.step_approved(A2PStep.NUMBER) and registration.number_sid == clinic.twilio_number_sid:
        return True
    if not clinic.twilio_number_sid:
        return False  # provisioning puts a number on the clinic; the poller comes back
    services_a2p.a2p_step_intent(clinic_id=clinic.pk, step=A2PStep.NUMBER)
    pool = twilio.messaging_service_numbers(
        account_sid=ctx.account, auth_token=ctx.token, service_sid=registration.messaging_service_sid
    )
    if clinic.twilio_number_sid not in pool:
        twilio.messaging_service_number_add(
            account_sid=ctx.account,
            auth_token=ctx.token,
            service_sid=registration.messaging_service_sid,
            phone_sid=clinic.twilio_number_sid,
        )
    _record(ctx, A2PStep.NUMBER, clinic.twilio_number_sid, "added", detail=f"{clinic.twilio_number} is in the Messaging Service.")
    return True


# --------------------------------------------------------------------------- polling


class _Pacer:
    """At most one request per `interval` seconds (Trust Hub's limit is about 1/s per account)."""

    def __init__(self, interval: float) -> None:
        self.interval, self.last = interval, 0.0

    def wait(self) -> None:
        pause = self.last + self.interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.last = time.monotonic()


def registration_poll(*, clinic_id: int, pacer: _Pacer | None = None) -> A2PRegistration:
    """Fetch every step Twilio is reviewing, record transitions (rejections as sentences), advance."""
    pacer = pacer or _Pacer(settings.A2P_TRUST_HUB_PACE_SECONDS)
    ctx = _Context(clinic_id)
    registration, account = ctx.registration, ctx.account
    for step, kind in ((A2PStep.CUSTOMER_PROFILE, "customer_profiles"), (A2PStep.TRUST_PRODUCT, "trust_products")):
        if registration.step_status(step) in IN_REVIEW:
            pacer.wait()
            bundle = twilio.trust_bundle_fetch(
                account_sid=account,
                auth_token=ctx.token,
                kind=kind,  # type: ignore[arg-type]
                sid=registration.step_sid(step),
            )
            _record_review(ctx, step, bundle.sid, bundle.status, bundle.errors)
    if registration.brand_status in IN_REVIEW:
        brand = twilio.brand_registration_fetch(account_sid=account, auth_token=ctx.token, sid=registration.brand_sid)
        _record_review(ctx, A2PStep.BRAND, brand.sid, brand.status, brand.errors or (brand.failure_reason,))
    if registration.campaign_status in IN_REVIEW:
        campaign = twilio.campaign_fetch(
            account_sid=account,
            auth_token=ctx.token,
            service_sid=registration.messaging_service_sid,
            sid=registration.campaign_sid,
        )
        _record_review(ctx, A2PStep.CAMPAIGN, campaign.sid, campaign.status, campaign.errors)
    services_a2p.a2p_polled(clinic_id=clinic_id)
    return registration_advance(clinic_id=clinic_id)


def _record_review(ctx: _Context, step: str, sid: str, status: str, errors: tuple[str, ...]) -> None:
    code = _first_code(errors)
    reason = "; ".join(e for e in errors if e)
    detail = rejection_sentence(code, reason, step=step) if status in REJECTED else f"Twilio: {status}."
    _record(ctx, step, sid, status, detail=detail, code=code if status in REJECTED else None)


def _first_code(errors: tuple[str, ...]) -> int | None:
    for error in errors:
        head = error.split(" ", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def registrations_poll() -> int:
    """Periodic (Celery beat): poll up to POLL_BATCH pending registrations, oldest poll first.

    A clinic whose poll a callback asked for within A2P_POLL_COOLDOWN_SECONDS is skipped
    (that poll covers it; the next tick takes it first); the others are claimed the same
    way, so a callback right after waits for the cooldown instead of asking Twilio again.
    """
    if registration_disabled_reason():
        return 0
    pacer = _Pacer(settings.A2P_TRUST_HUB_PACE_SECONDS)
    polled = 0
    for clinic_id in services_a2p.a2p_registrations_pending()[:POLL_BATCH]:
        if not task_claim(_poll_claim(clinic_id), settings.A2P_POLL_COOLDOWN_SECONDS):
            continue
        try:
            registration_poll(clinic_id=clinic_id, pacer=pacer)
        except twilio.TwilioError:
            continue  # transient: the next tick tries again; refusals are already recorded
        polled += 1
    return polled


# --------------------------------------------------------------------------- status callbacks

TASK_POLL = "telephony.tasks.a2p_registration_poll"


def registration_status_callback(*, signer: str, bundle_sid: str) -> int | None:
    """Twilio called a bundle's StatusCallback: poll its clinic's registration after commit.

    Only the bundle's SID is used: Twilio documents the StatusCallback parameter of
    CustomerProfiles and TrustProducts but not the request it makes, so the poll fetches
    the status from Twilio itself (its task is rate-limited to Trust Hub's pace). Brands
    and campaigns take no status callback (twilio_messaging_v1.json): the beat's poll
    alone follows them.

    Returns the clinic polled, or None when there is nothing to do: a SID that no clinic's
    registration has in review (unknown, or already recorded, e.g. a repeated callback).
    ForeignAccountError when the bundle is in another account than the one whose token
    signed the request (`signer`, telephony.tenants).
    """
    if registration_disabled_reason():
        return None
    registration = (
        A2PRegistration.objects.select_related("clinic")
        .filter(Q(customer_profile_sid=bundle_sid) | Q(trust_product_sid=bundle_sid))
        .first()
    )
    if registration is None:
        return None
    owner = registration_account_sid(registration.clinic)
    account_check(signer=signer, owner="" if owner == settings.TWILIO_ACCOUNT_SID else owner, what=f"Bundle {bundle_sid}")
    step = A2PStep.CUSTOMER_PROFILE if registration.customer_profile_sid == bundle_sid else A2PStep.TRUST_PRODUCT
    if registration.step_status(step) not in IN_REVIEW:
        return None
    registration_poll_request(clinic_id=registration.clinic_id)
    return registration.clinic_id


def registration_poll_request(*, clinic_id: int) -> None:
    """Have the clinic's registration polled by a task after commit, coalesced per clinic.

    The first request within A2P_POLL_COOLDOWN_SECONDS is polled at once, all the others
    in that window by one more poll after it (telephony.queue.task_send_coalesced_on_commit):
    replayed callbacks queue at most two polls per clinic and cooldown, and a callback
    that brought news during the cooldown is acted on when it ends. The task runs on the
    slow queue (settings.CELERY_TASK_ROUTES), never in front of other work.
    """
    task_send_coalesced_on_commit(
        TASK_POLL, clinic_id, key=_poll_claim(clinic_id), seconds=settings.A2P_POLL_COOLDOWN_SECONDS, clinic_id=clinic_id
    )


def _poll_claim(clinic_id: int) -> str:
    """The claim that a poll of the clinic is queued or was made within the cooldown."""
    return f"a2p-poll:{clinic_id}"


# --------------------------------------------------------------------------- outbound texts

# Message status error codes that mean carriers (or Twilio) refuse the clinic's texts until
# its registration is fixed (https://www.twilio.com/docs/api/errors/<code>).
CARRIER_BLOCK_SENTENCES = {
    30034: "US carriers blocked a text because the number is not in an approved A2P 10DLC campaign (Twilio 30034).",
    30032: "Carriers blocked a text from an unverified toll-free number (Twilio 30032).",
    30035: "Carriers blocked a text for a registration reason (Twilio 30035, https://www.twilio.com/docs/api/errors/30035).",
    21712: "The number is in another Messaging Service than the clinic's registered one (Twilio 21712).",
}


@dataclass(frozen=True)
class TextingRoute:
    """How a clinic's outbound SMS go: through its Messaging Service, from its number, or not at all (`skipped`)."""

    service_sid: str = ""
    account_sid: str = ""
    skipped: str = ""


def texting_route(clinic: Clinic) -> TextingRoute:
    """The route for the clinic's next outbound SMS.

    With registration enabled, texts go only through the clinic's Messaging Service once
    its campaign is approved and the number is in it; before that (or while carriers
    block the clinic) they are skipped with the reason, never sent to fail. With it
    disabled (no TWILIO_PRIMARY_CUSTOMER_PROFILE_SID), from the number as before.
    """
    if registration_disabled_reason():
        return TextingRoute()
    registration = A2PRegistration.objects.filter(clinic=clinic).first()
    if registration is not None and registration.messaging_blocked_reason:
        return TextingRoute(skipped=f"Texting is blocked for {clinic.name}: {registration.messaging_blocked_reason}")
    if registration is None or not registration.campaign_ready:
        return TextingRoute(
            skipped=f"{clinic.name}'s A2P 10DLC campaign is not approved yet: US carriers block texts from unregistered "
            "numbers (Twilio 30034), so nothing was sent."
        )
    return TextingRoute(service_sid=registration.messaging_service_sid, account_sid=registration_account_sid(clinic))


def texting_block_on_failure(*, message_sid: str, error_code: int | None) -> bool:
    """A message failed with a registration error: mark its clinic's texting blocked with the reason."""
    if error_code not in CARRIER_BLOCK_SENTENCES:
        return False
    clinic_id = MessageLog.objects.filter(message_sid=message_sid).values_list("clinic_id", flat=True).first()
    if clinic_id is None:
        return False
    reason = f"{CARRIER_BLOCK_SENTENCES[error_code]} Check the registration pipeline, fix, then Edit and resubmit."
    return services_a2p.a2p_messaging_block(clinic_id=clinic_id, code=error_code, reason=reason)
