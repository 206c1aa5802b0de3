"""Text-enabling a clinic's existing line (hosted SMS, the onboarding path "Text-enable the
existing line"): the eligibility check, the order placed once in the clinic's subaccount,
its statuses followed by beat's poll, and its completion.

Twilio documents its Hosted Phone Numbers API as "currently in development and not intended
for use by new customers" until its generally available release (Hosted Numbers FAQ,
https://www.twilio.com/docs/phone-numbers/hosted-numbers): the path is offered only with
TWILIO_HOSTED_SMS_ENABLED on, else refused with a sentence.

Idempotent like buying a number: the intent (clinics.models_hosted.HostedOrder) is committed
before the order is placed, and placing first looks for an order Twilio already holds for the
number whose friendly name names this clinic ("(clinic #<id>)"), so a retried task, a lost
answer or a double click makes one order per number.

    start (click) -> eligibility check -> intent -> task: place (find, else create)
    beat: poll -> status recorded -> completed: the number is the clinic's (SMS only)
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import PATH_NOT_YET, BusinessProfile, Clinic, HostedOrder, OnboardingPath
from clinics.phone import phone_format_national
from telephony import task_names, twilio
from telephony.a2p.polling import Pacer
from telephony.a2p.rules import registration_account
from telephony.a2p.steps import clinic_address_sid
from telephony.numbers.changes import clinic_number_changed
from telephony.numbers.provisioning import clinic_friendly_name, clinic_id_from_friendly_name, clinic_subaccount_ensure
from telephony.queue import task_send_on_commit
from telephony.webhook_urls import fallback_urls, webhook_urls

POLL_BATCH = 50  # orders per beat tick; the rest wait for the next tick
# An order whose intent is older than this and still has no SID lost its place task: beat places it.
UNPLACED_AFTER = timedelta(minutes=2)


def hosted_sms_disabled_reason() -> str:
    """Why the text-enable path is refused here, for staff ("" when it is offered). The
    setting's name is the operators' (docs/settings.md), never in this sentence."""
    if settings.TWILIO_HOSTED_SMS_ENABLED:
        return ""
    return f"{PATH_NOT_YET[OnboardingPath.TEXT_ENABLE]}: choose another path for now."


def hosted_order_start(*, clinic_id: int, actor: User | None) -> HostedOrder:
    """Staff start text-enabling the clinic's published number: Twilio's eligibility check,
    then the intent, then the place task after commit. An order already standing is returned
    as it is (a double click orders nothing). Raises ClinicInputError with a sentence,
    changing nothing: hosted SMS off, not on the path, no business profile (its
    representative signs the authorization), the number not eligible, or Twilio refusing."""
    refused = hosted_sms_disabled_reason()
    if refused:
        raise clinic_services.ClinicInputError(refused + " Nothing was changed.")
    clinic = Clinic.objects.get(pk=clinic_id)
    standing = HostedOrder.objects.filter(clinic=clinic).exclude(status=clinic_services.HOSTED_FAILED).first()
    if standing is not None:
        return standing
    if clinic.onboarding_path != OnboardingPath.TEXT_ENABLE or not clinic.published_number:
        raise clinic_services.ClinicInputError(
            f"{clinic.name} is not on the path Text-enable the existing line: choose it first, with the published number."
        )
    if not BusinessProfile.objects.filter(clinic=clinic).exists():
        raise clinic_services.ClinicInputError(
            f"Fill in {clinic.name}'s business profile first: Twilio sends the authorization to its representative "
            "to sign, and the order names the clinic's address."
        )
    try:
        eligibility = twilio.hosted_eligibility_check(
            phone_number=clinic.published_number,
            hosting_account_sid=clinic.twilio_account_sid or str(settings.TWILIO_ACCOUNT_SID),
        )
    except twilio.TwilioError as exc:
        raise clinic_services.ClinicInputError(f"{exc} Nothing was changed.") from exc
    if not eligibility.eligible:
        raise clinic_services.ClinicInputError(
            twilio.hosted_ineligible_sentence(eligibility.ineligibility_reason, eligibility.next_step)
        )
    with transaction.atomic():
        order = clinic_services.hosted_order_intend(
            clinic_id=clinic.pk, friendly_name=clinic_friendly_name(clinic_id=clinic.pk, name=clinic.name), actor=actor
        )
        task_send_on_commit(task_names.HOSTED_ORDER_PLACE, clinic.pk)
    return order


def hosted_order_place(*, clinic_id: int) -> HostedOrder:
    """Place the clinic's recorded order at Twilio, once: nothing when it has its SID; else
    the order Twilio holds for the number in this clinic's name, else a new one in the
    clinic's subaccount, its texts sent to our SMS webhook and, on our failure, to the SMS
    fallback. Raises TwilioError (the task retries what a retry can help)."""
    order = HostedOrder.objects.select_related("clinic").get(clinic_id=clinic_id)
    if order.sid or order.status == clinic_services.HOSTED_FAILED:
        return order
    clinic = order.clinic
    found = next(
        (
            o
            for o in twilio.hosted_orders_find(phone_number=order.phone_number)
            if clinic_id_from_friendly_name(o.friendly_name) == clinic.pk and o.status != clinic_services.HOSTED_FAILED
        ),
        None,
    )
    if found is None:
        clinic_subaccount_ensure(clinic=clinic)
        clinic.refresh_from_db()
        account, token = registration_account(clinic)
        profile = BusinessProfile.objects.get(clinic=clinic)
        try:
            found = _create(clinic, order, profile, account, token)
        except twilio.TwilioError as exc:
            if exc.retryable:
                raise
            # A refusal a retry cannot change: said on the clinic's page; staff may order again.
            return clinic_services.hosted_order_record(
                clinic_id=clinic_id, sid="", status=clinic_services.HOSTED_FAILED, failure_reason=str(exc)
            )[0]
    return _record(clinic_id, found)


def _create(clinic: Clinic, order: HostedOrder, profile: BusinessProfile, account: str, token: str) -> twilio.HostedNumberOrder:
    return twilio.hosted_order_create(
        account_sid=account,
        phone_number=order.phone_number,
        friendly_name=order.friendly_name,
        contact_phone_number=profile.rep_phone,
        contact_title=profile.rep_title,
        email=profile.rep_email,
        address_sid=clinic_address_sid(clinic=clinic, profile=profile, account_sid=account, auth_token=token),
        sms_url=webhook_urls()["sms"],
        sms_fallback_url=fallback_urls()["sms_fallback"],
    )


def hosted_order_poll(*, clinic_id: int) -> HostedOrder:
    """Fetch the clinic's order and record its status; once completed, the hosted number
    becomes the clinic's number (SMS only) and the texting registration's number step runs
    again and its audit runs (changes.clinic_number_changed). An order not placed yet is placed."""
    order = HostedOrder.objects.get(clinic_id=clinic_id)
    if not order.sid:
        return hosted_order_place(clinic_id=clinic_id)
    return _record(clinic_id, twilio.hosted_order_fetch(sid=order.sid))


def _record(clinic_id: int, fetched: twilio.HostedNumberOrder) -> HostedOrder:
    with transaction.atomic():
        order, _ = clinic_services.hosted_order_record(
            clinic_id=clinic_id,
            sid=fetched.sid,
            status=fetched.status,
            failure_reason=fetched.failure_reason,
            signing_document_sid=fetched.signing_document_sid,
        )
        if fetched.status == clinic_services.HOSTED_COMPLETED and fetched.incoming_phone_number_sid:
            clinic_services.hosted_order_complete(clinic_id=clinic_id, phone_sid=fetched.incoming_phone_number_sid)
            clinic_number_changed(clinic_id=clinic_id)
            order.refresh_from_db()
    return order


# The one status in which Twilio cancels an order: "Cancel the HostedNumberOrder (only
# available when the status is in `received`)" (numbers v2 spec, DELETE /v2/HostedNumber/Orders/{Sid}).
HOSTED_CANCELLABLE = "received"


def hosted_order_cancellable(order: HostedOrder | None) -> bool:
    """Whether Twilio would cancel this order now, as far as its last known status says."""
    return order is not None and bool(order.sid) and order.status == HOSTED_CANCELLABLE


def hosted_order_cancel(*, clinic_id: int, actor: User | None) -> str:
    """Staff cancel the clinic's texting order at Twilio while Twilio allows it (status
    `received`); the order is then gone here too (the history keeps who and when). Return
    what happened as a sentence. Raises ClinicInputError, changing nothing, when there is no
    order, Twilio no longer allows it (the status is fetched again and said), or Twilio fails."""
    order = HostedOrder.objects.filter(clinic_id=clinic_id).first()
    if order is None or not order.sid:
        raise clinic_services.ClinicInputError("There is no texting order at Twilio to cancel. Nothing was changed.")
    if order.status == HOSTED_CANCELLABLE:
        try:
            twilio.hosted_order_cancel(sid=order.sid)
        except twilio.TwilioError as exc:
            if not exc.not_found:  # gone at Twilio already (a second click): cancelled all the same
                order = _refreshed(clinic_id, order)
                if order.status == HOSTED_CANCELLABLE:
                    raise clinic_services.ClinicInputError(f"{exc} Nothing was changed.") from exc
                raise clinic_services.ClinicInputError(_not_cancellable(order)) from exc
        number = clinic_services.hosted_order_cancelled(clinic_id=clinic_id, actor=actor)
        return f"the texting order for {phone_format_national(number)} was cancelled at Twilio."
    raise clinic_services.ClinicInputError(_not_cancellable(order))


def _not_cancellable(order: HostedOrder) -> str:
    return (
        f"Twilio cancels a texting order only while it has just been received; this one is {order.status_words}, "
        "so it stands. Nothing was changed."
    )


def _refreshed(clinic_id: int, order: HostedOrder) -> HostedOrder:
    try:
        return hosted_order_poll(clinic_id=clinic_id)
    except twilio.TwilioError:
        return order


def hosted_orders_poll() -> int:
    """Periodic (Celery beat): poll up to POLL_BATCH orders not final yet, the longest
    unchanged first, paced like the A2P poll; place an order whose place task was lost."""
    if hosted_sms_disabled_reason():
        return 0
    pacer = Pacer(settings.A2P_TRUST_HUB_PACE_SECONDS)
    unplaced_before = timezone.now() - UNPLACED_AFTER
    polled = 0
    for order in HostedOrder.objects.filter(clinic_id__in=clinic_services.hosted_orders_following()[:POLL_BATCH]):
        if not order.sid and order.requested_at > unplaced_before:
            continue  # its place task is on its way
        pacer.wait()
        try:
            hosted_order_poll(clinic_id=order.clinic_id)
        except twilio.TwilioError:
            continue  # the next tick tries again
        polled += 1
    return polled


# The order's statuses in which it waits for a person (sign, answer, fix, order again).
NEEDS_PERSON = frozenset(
    {"pending-loa", "pending-verification", clinic_services.HOSTED_ACTION_REQUIRED, clinic_services.HOSTED_FAILED}
)


def hosted_order_needs_person(order: HostedOrder | None) -> bool:
    """Whether the text-enable path's next action is the order's: none placed yet, or one
    waiting for a person."""
    return order is None or order.status in NEEDS_PERSON


def hosted_next_action(clinic: Clinic, order: HostedOrder | None) -> str:
    """The next human action on the text-enable path, in one line (no SIDs, no raw status)."""
    published = phone_format_national(clinic.published_number)
    if order is None:
        return f"press Text-enable the line (button above): Twilio checks {published} and takes the order."
    status = order.status
    if status == clinic_services.HOSTED_ACTION_REQUIRED:
        return twilio.hosted_order_failure_sentence(order.failure_reason)
    if status == clinic_services.HOSTED_FAILED:
        reason = order.failure_reason.strip().rstrip(".") or "Twilio gave no reason"
        return f"The texting order failed ({reason}): press Text-enable the line to order again, or choose another path."
    if status == "pending-loa":
        signer = BusinessProfile.objects.filter(clinic=clinic).values_list("rep_email", flat=True).first() or "the representative"
        return f"Sign the authorization: Twilio e-mailed it to {signer}; the representative signs it on the page it links."
    if status == "pending-verification":
        return f"Twilio verifies that the clinic owns {published}: answer Twilio's verification call on that line."
    if status == clinic_services.HOSTED_COMPLETED:
        return f"Texts to {published} reach the clinic here; its calls still ring at its carrier."
    return f"Wait: the texting order is {order.status_words} (Twilio takes days; checked every 10 minutes)."
