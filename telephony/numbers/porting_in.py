"""Porting a clinic's published number in (docs/onboarding-paths.md, "Port the number in"):
the portability check, the request (utility bill, customer service record, target date),
following it to completion, cancel, and the completed port made the clinic's number.

Idempotent like buying: the intent is committed on a NumberPortIn row before Twilio is
asked (clinics.services.port_in_intend); a double click is refused while the first is in
flight, and a request whose answer was lost is looked up at Twilio (port_ins_find) before a
second is made. The losing carrier's PIN and account number go to Twilio and nowhere else:
not stored, not logged, never shown back.

Status is followed by polling (ports_in_poll, Celery beat; port_in_refresh on the clinic's
page), never by trusting a callback: Twilio's porting webhooks page documents no way to
authenticate its calls (no X-Twilio-Signature, no shared secret), so an unauthenticated
request could mark a port completed. See docs/onboarding-paths.md.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, replace

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.models_porting import NumberPortIn, PortInState
from clinics.phone import phone_format_national
from telephony import twilio
from telephony.a2p.polling import Pacer
from telephony.numbers.changes import clinic_number_changed
from telephony.numbers.provisioning import clinic_friendly_name, clinic_subaccount_ensure
from telephony.numbers.release import orphan_release_request
from telephony.numbers.repairs import number_webhooks_update_run
from telephony.queue import task_claim

# How long a create may still be answered: a second submit within it is refused, not resumed.
REQUEST_LEASE = datetime.timedelta(minutes=2)
# Seconds between two Twilio requests of the periodic poll, and how long a polled port rests.
POLL_PACE_SECONDS = 1.0
POLL_COOLDOWN_SECONDS = 300
POLL_BATCH = 50
# Twilio's request statuses in which a cancel is accepted (the port-in guide: until completed).
CANCELLABLE = (
    PortInState.IN_REVIEW,
    PortInState.WAITING_FOR_SIGNATURE,
    PortInState.IN_PROGRESS,
    PortInState.ACTION_REQUIRED,
)


class PortInRefused(Exception):
    """The port cannot be asked as entered; the message is a sentence staff can act on. Nothing was sent."""


@dataclass(frozen=True)
class PortInForm:
    """What staff enter: the losing carrier's customer service record (with the account
    number), the PIN, the utility bill and the target date."""

    carrier: twilio.LosingCarrierInfo
    target_date: datetime.date
    bill_name: str
    bill_content: bytes
    bill_content_type: str
    pin: str = ""

    def record(self) -> dict[str, str]:
        """What is kept to prefill a correction: the record without the account number (nor the PIN)."""
        kept = asdict(self.carrier)
        kept.pop("account_number")
        return kept


def earliest_target_date() -> datetime.date:
    """Twilio: the target date must be at least 7 days ahead for US ports."""
    return timezone.localdate() + datetime.timedelta(days=twilio.PORT_IN_MIN_LEAD_DAYS)


def port_in_portability(*, clinic_id: int) -> twilio.Portability:
    """Can the clinic's published number be ported into its subaccount (created if it has none)?
    Raises TwilioError; ClinicInputError when the clinic is not on the port-in path."""
    clinic = Clinic.objects.get(pk=clinic_id)
    if not clinic.published_number:
        raise clinic_services.ClinicInputError(f"{clinic.name} has no published number to port: choose the path first.")
    account_sid = clinic_subaccount_ensure(clinic=clinic)
    return twilio.portability_check(phone_number=clinic.published_number, target_account_sid=account_sid)


def port_in_submit(*, clinic_id: int, form: PortInForm, actor: User | None) -> NumberPortIn:
    """Ask Twilio to port the clinic's published number into its subaccount; the row as saved.

    Checks the date and the portability first (PortInRefused with a sentence, nothing sent);
    a rejected request (action required) is cancelled at Twilio and replaced by this
    corrected one. Raises ClinicInputError (a port already under way, a double click),
    TwilioError (the row then says why: refused, or still requesting when the answer was lost).
    """
    if form.target_date < earliest_target_date():
        raise PortInRefused(
            f"The target date must be at least {twilio.PORT_IN_MIN_LEAD_DAYS} days ahead (Twilio's rule for US ports): "
            f"choose {earliest_target_date():%B %-d, %Y} or later."
        )
    check = port_in_portability(clinic_id=clinic_id)
    if not check.portable:
        raise PortInRefused(
            twilio.not_portable_sentence(check.not_portable_reason_code, check.not_portable_reason, account_sid=check.account_sid)
        )
    if check.pin_and_account_number_required and not (form.pin and form.carrier.account_number):
        raise PortInRefused(
            "The current carrier needs the account number and the PIN to release this number: enter both, exactly as "
            "the carrier has them (the PIN is the port-out or transfer PIN, not a voicemail code)."
        )
    clinic = Clinic.objects.get(pk=clinic_id)
    _replace_rejected(clinic)
    port_in, resumed = clinic_services.port_in_intend(
        clinic_id=clinic_id, target_date=form.target_date, losing_carrier=form.record(), actor=actor, lease=REQUEST_LEASE
    )
    account_sid = clinic.twilio_account_sid or clinic_subaccount_ensure(clinic=clinic)
    if resumed:
        found = twilio.port_ins_find(
            phone_number=port_in.phone_number, account_sid=account_sid, created_after=port_in.requested_at.date()
        )
        if found:
            return _record(port_in, found[0])
    try:
        bill = twilio.utility_bill_upload(
            friendly_name=clinic_friendly_name(clinic_id=clinic.id, name=f"{clinic.name} bill"),
            filename=form.bill_name,
            content=form.bill_content,
            content_type=form.bill_content_type,
        )
        created = twilio.port_in_create(
            account_sid=account_sid,
            phone_number=port_in.phone_number,
            losing_carrier=replace(
                form.carrier, account_telephone_number=port_in.phone_number if form.carrier.account_number else ""
            ),
            document_sids=(bill.sid,),
            target_port_in_date=form.target_date,
            pin=form.pin,
            notification_emails=(form.carrier.authorized_representative_email,),
        )
    except twilio.TwilioError as exc:
        if exc.status is not None and exc.status < 500 and not exc.retryable:
            clinic_services.port_in_refused(port_in_id=port_in.id, error=str(exc))
        raise
    return _record(port_in, created, document_sid=bill.sid)


def _replace_rejected(clinic: Clinic) -> None:
    """Before a corrected resubmission: cancel the rejected request at Twilio (a request in
    action required is still open there)."""
    rejected = NumberPortIn.objects.filter(clinic=clinic, state=PortInState.ACTION_REQUIRED).exclude(request_sid="").first()
    if rejected is None:
        return
    try:
        twilio.port_in_cancel(sid=rejected.request_sid)
    except twilio.TwilioError as exc:
        if not exc.not_found:
            raise


def _record(port_in: NumberPortIn, request: twilio.PortInRequest, *, document_sid: str = "") -> NumberPortIn:
    number = next((n for n in request.numbers if n.phone_number == port_in.phone_number), None)
    return clinic_services.port_in_recorded(
        port_in_id=port_in.id,
        request_sid=request.sid,
        status=request.status,
        number_sid=number.sid if number else "",
        number_status=number.status if number else "",
        signature_request_url=request.signature_request_url,
        rejection_reason=number.rejection_reason if number else "",
        rejection_reason_code=number.rejection_reason_code if number else None,
        document_sid=document_sid,
    )


def port_in_refresh(*, port_in_id: int) -> NumberPortIn:
    """Fetch the request from Twilio and save its statuses; a completed port makes the number
    the clinic's (port_in_complete_run). Raises TwilioError."""
    port_in = NumberPortIn.objects.get(pk=port_in_id)
    if port_in.request_sid and port_in.is_open:
        request = twilio.port_in_fetch(sid=port_in.request_sid)
        port_in = _record(port_in, request)
        if request.status == PortInState.COMPLETED:
            port_in_complete_run(port_in_id=port_in.id)
    elif port_in.state == PortInState.COMPLETED:
        port_in_complete_run(port_in_id=port_in.id)  # finishes the webhooks if a first run could not
    return NumberPortIn.objects.get(pk=port_in_id)


def port_in_complete_run(*, port_in_id: int) -> Clinic:
    """The port is completed at Twilio: the number, now in the clinic's subaccount, becomes the
    clinic's number (clinics.services.port_in_complete), its texting registration's number step
    re-runs, and its webhooks and fallbacks are set as on every number (repairs'
    number_webhooks_update_run). Safe to repeat. Raises TwilioError, ClinicNumberError."""
    port_in = NumberPortIn.objects.select_related("clinic").get(pk=port_in_id)
    clinic = port_in.clinic
    account_sid = clinic.twilio_account_sid
    held = twilio.incoming_numbers_find(phone_number=port_in.phone_number, account_sid=account_sid)
    if not held:
        raise clinic_services.ClinicNumberError(
            f"Twilio reports the port of {phone_format_national(port_in.phone_number)} completed, but the number is not in "
            "the clinic's account yet: the next check tries again."
        )
    with transaction.atomic():
        clinic = clinic_services.port_in_complete(port_in_id=port_in.id, phone_sid=held[0].sid)
        clinic_number_changed(clinic_id=clinic.id)
    if not clinic.twilio_webhooks:
        number_webhooks_update_run(phone_sid=held[0].sid)
    return Clinic.objects.get(pk=clinic.id)


def port_in_cancel(*, port_in_id: int, actor: User | None) -> NumberPortIn:
    """Cancel the port at Twilio (allowed until it completes) and save the request as cancelled.
    Raises ClinicInputError when it cannot be cancelled any more, TwilioError."""
    port_in = NumberPortIn.objects.get(pk=port_in_id)
    if port_in.state not in CANCELLABLE or not port_in.request_sid:
        raise clinic_services.ClinicInputError(
            f"The port of {phone_format_national(port_in.phone_number)} is {port_in.get_state_display().lower()}: "
            "it can no longer be cancelled."
        )
    twilio.port_in_cancel(sid=port_in.request_sid)
    return _record(port_in, twilio.port_in_fetch(sid=port_in.request_sid))


def port_in_temporary_release(*, port_in_id: int, actor: User | None) -> str:
    """Staff release the temporary number kept after the port completed; a line saying so."""
    port_in = NumberPortIn.objects.get(pk=port_in_id)
    if not port_in.temporary_number:
        raise clinic_services.ClinicInputError("There is no temporary number to release.")
    orphan_release_request(phone_sid=port_in.temporary_number_sid, phone_number=port_in.temporary_number, actor=actor)
    clinic_services.port_in_temporary_forget(port_in_id=port_in.id)
    return f"The temporary number {phone_format_national(port_in.temporary_number)} is being released."


def ports_in_poll() -> int:
    """Periodic (Celery beat): fetch up to POLL_BATCH open port-ins, least recently polled first,
    paced; each is claimed for POLL_COOLDOWN_SECONDS. A Twilio failure leaves it for the next tick."""
    pacer, polled = Pacer(POLL_PACE_SECONDS), 0
    for port_in_id in clinic_services.ports_in_open()[:POLL_BATCH]:
        if not task_claim(f"port-in-poll:{port_in_id}", POLL_COOLDOWN_SECONDS):
            continue
        pacer.wait()
        try:
            port_in_refresh(port_in_id=port_in_id)
        except (twilio.TwilioError, clinic_services.ClinicNumberError):
            continue
        polled += 1
    return polled
