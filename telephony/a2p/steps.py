"""The steps of a clinic's A2P 10DLC registration, one function each (the order and what
each waits for: telephony/a2p/registration.py). A step returns True when done, False when
it waits (for Twilio's review, or a refusal recorded on the registration); it raises
TwilioError for the caller to handle. Every create is preceded by a committed intent and,
when no SID is saved yet, a lookup by the object's friendly name, so a retry never
creates (or pays for) a second object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.models_a2p import REJECTED, A2PRegistration, A2PStep, BusinessProfile
from telephony import twilio
from telephony.a2p import texts
from telephony.a2p.rules import IN_REVIEW, documented_sentence, friendly_name, registration_account
from telephony.webhook_urls import a2p_status_url, webhook_urls


class Context:
    """What every step needs: the clinic, its profile and registration, the account."""

    def __init__(self, clinic_id: int) -> None:
        self.registration = A2PRegistration.objects.select_related("clinic").get(clinic_id=clinic_id)
        self.clinic = self.registration.clinic
        self.profile = BusinessProfile.objects.get(clinic_id=clinic_id)
        self.account, self.token = registration_account(self.clinic)

    def reload(self) -> None:
        self.registration.refresh_from_db()


def refusal_sentence(exc: twilio.TwilioError, step: str) -> str:
    return documented_sentence(exc.code, step) or str(exc)


def _created(ctx: Context, step: str, find: Callable[[], list[Any]], create: Callable[[], Any]) -> Any:
    """The step's object: the saved one, else (intent committed) the one found by name, else a new one."""
    registration = clinic_services.a2p_step_intent(clinic_id=ctx.clinic.pk, step=step)
    if registration.step_sid(step):
        return None
    found = find()
    return found[0] if found else create()


def record(ctx: Context, step: str, sid: str, status: str, *, detail: str = "", code: int | None = None) -> None:
    phone_number = (ctx.clinic.twilio_number or "") if step == A2PStep.NUMBER else ""
    clinic_services.a2p_step_record(
        clinic_id=ctx.clinic.pk, step=step, sid=sid, status=status, detail=detail, code=code, phone_number=phone_number
    )
    ctx.reload()


def _end_user(ctx: Context, name: str, object_type: str, attributes: dict[str, Any]) -> str:
    """An EndUser for this clinic with today's profile: found by name (and brought up to date) or created."""
    full_name = friendly_name(ctx.clinic, name)
    found = twilio.end_users_find(account_sid=ctx.account, auth_token=ctx.token, friendly_name=full_name)
    if found:
        twilio.end_user_update(account_sid=ctx.account, auth_token=ctx.token, sid=found[0].sid, attributes=attributes)
        return found[0].sid
    return twilio.end_user_create(
        account_sid=ctx.account, auth_token=ctx.token, friendly_name=full_name, object_type=object_type, attributes=attributes
    ).sid


def _assign_and_submit(ctx: Context, step: str, kind: twilio.BundleKind, policy: str, objects: list[str]) -> bool:
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
        clinic_services.a2p_step_fail(
            clinic_id=ctx.clinic.pk,
            step=step,
            error=f"Twilio's evaluation of the {A2PStep(step).label.lower()} found it incomplete: "
            "check every field of the business profile, then Edit and resubmit.",
            code=None,
        )
        return False
    bundle = twilio.trust_bundle_submit(
        account_sid=ctx.account, auth_token=ctx.token, kind=kind, sid=sid, status_callback=a2p_status_url()
    )
    record(ctx, step, sid, bundle.status, detail="Submitted for Twilio's review.")
    return True


def _bundle_step(
    ctx: Context, step: str, kind: twilio.BundleKind, policy: str, what: str, objects: Callable[[], list[str]]
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
        record(ctx, step, bundle.sid, bundle.status, detail=f"{bundle.sid} created.")
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


def _address(ctx: Context) -> str:
    return clinic_address_sid(clinic=ctx.clinic, profile=ctx.profile, account_sid=ctx.account, auth_token=ctx.token)


def clinic_address_sid(*, clinic: Clinic, profile: BusinessProfile, account_sid: str, auth_token: str) -> str:
    """The clinic's Address (AD...) in `account_sid` with today's business profile: found by
    name (and brought up to date) or created. The A2P profile and the hosted SMS order use it."""
    name = friendly_name(clinic, "address")
    fields = {
        "customer_name": profile.legal_name,
        "street": profile.street,
        "city": profile.city,
        "region": profile.region,
        "postal_code": profile.postal_code,
    }
    found = twilio.addresses_find(account_sid=account_sid, auth_token=auth_token, friendly_name=name)
    if found:
        twilio.address_update(account_sid=account_sid, auth_token=auth_token, sid=found[0].sid, **fields)
        return found[0].sid
    return twilio.address_create(account_sid=account_sid, auth_token=auth_token, friendly_name=name, **fields).sid


def _customer_profile_objects(ctx: Context) -> list[str]:
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


def customer_profile(ctx: Context) -> bool:
    return _bundle_step(
        ctx,
        A2PStep.CUSTOMER_PROFILE,
        "customer_profiles",
        twilio.POLICY_SECONDARY_CUSTOMER_PROFILE,
        "secondary customer profile",
        lambda: _customer_profile_objects(ctx),
    )


def _trust_product_objects(ctx: Context) -> list[str]:
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


def trust_product(ctx: Context) -> bool:
    return _bundle_step(
        ctx,
        A2PStep.TRUST_PRODUCT,
        "trust_products",
        twilio.POLICY_A2P_MESSAGING_PROFILE,
        "A2P trust product",
        lambda: _trust_product_objects(ctx),
    ) and ctx.registration.step_approved(A2PStep.CUSTOMER_PROFILE)


def brand(ctx: Context) -> bool:
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
        record(ctx, A2PStep.BRAND, brand.sid, brand.status, detail="Brand resubmitted for review.")
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
        record(ctx, A2PStep.BRAND, brand.sid, brand.status, detail=f"Brand {brand.sid} registered (low-volume standard).")
    return ctx.registration.step_approved(A2PStep.BRAND)


def messaging_service(ctx: Context) -> bool:
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
    record(ctx, A2PStep.MESSAGING_SERVICE, sid, "created", detail=f"Messaging Service {sid} (inbound stays on the number).")
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


def campaign(ctx: Context) -> bool:
    registration = ctx.registration
    if registration.step_approved(A2PStep.CAMPAIGN):
        return True
    if registration.campaign_status in IN_REVIEW:
        return True  # the number can join the service while the campaign is reviewed
    if (registration.campaign_status in REJECTED or registration.campaign_status == clinic_services.RECREATING) and (
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
        record(ctx, A2PStep.CAMPAIGN, campaign.sid, campaign.status, detail=f"Campaign {campaign.sid} submitted.")
    return True


def _campaign_delete(ctx: Context, sid: str) -> None:
    """Delete the rejected campaign `sid` (intent committed first; a 404 means a lost answer already did)."""
    clinic_services.a2p_campaign_recreate_intent(clinic_id=ctx.clinic.pk, sid=sid)
    try:
        twilio.campaign_delete(
            account_sid=ctx.account, auth_token=ctx.token, service_sid=ctx.registration.messaging_service_sid, sid=sid
        )
    except twilio.TwilioError as exc:
        if exc.status != 404:
            raise
    clinic_services.a2p_campaign_forget(clinic_id=ctx.clinic.pk, sid=sid)
    ctx.reload()


def number(ctx: Context) -> bool:
    """The clinic's current number in the service's sender pool, and the number it replaced out of it.

    Runs again whenever the clinic's number changed (registration.registration_number_changed):
    adds the current number unless the pool already has it, and takes out the number
    recorded before (if it is still in the pool and no longer the clinic's), so a retry or
    a second change adds the number once and the pool keeps one sender.
    """
    registration, clinic = ctx.registration, ctx.clinic
    if registration.step_approved(A2PStep.NUMBER) and registration.number_sid == clinic.twilio_number_sid:
        return True
    if not clinic.twilio_number_sid:
        return False  # provisioning puts a number on the clinic and asks for this step again
    clinic_services.a2p_step_intent(clinic_id=clinic.pk, step=A2PStep.NUMBER)
    account, token, service_sid = ctx.account, ctx.token, registration.messaging_service_sid
    pool = twilio.messaging_service_numbers(account_sid=account, auth_token=token, service_sid=service_sid)
    if clinic.twilio_number_sid not in pool:
        twilio.messaging_service_number_add(
            account_sid=account, auth_token=token, service_sid=service_sid, phone_sid=clinic.twilio_number_sid
        )
    replaced = registration.number_sid
    if replaced and replaced != clinic.twilio_number_sid and replaced in pool:
        try:
            twilio.messaging_service_number_remove(
                account_sid=account, auth_token=token, service_sid=service_sid, phone_sid=replaced
            )
        except twilio.TwilioError as exc:
            if exc.status != 404:  # already out (a lost answer, or Twilio released it)
                raise
    record(
        ctx,
        A2PStep.NUMBER,
        clinic.twilio_number_sid,
        "added",
        detail=f"{clinic.twilio_number} is in the Messaging Service.",
    )
    return True
