"""Following Twilio's reviews of a clinic's A2P registration: one clinic's poll (paced to
Trust Hub's limit per account), beat's sweep of the pending ones, and the Trust Hub status
callbacks that ask for a poll at once. A callback can be replayed by anyone holding a copy,
so the polls it asks for are coalesced per clinic (`registration_poll_request`), and beat's
poll skips a clinic polled within that cooldown.

Beat's sweep (`registrations_poll`) takes the pending registrations least recently looked at
first, polls them A2P_POLL_CONCURRENCY at a time and starts no poll after
A2P_POLL_TICK_BUDGET_SECONDS. Trust Hub allows about one request per second per account
(each clinic has its own subaccount), so the pace is kept per account (`AccountPacers`), not
for the whole fleet. Hence the bound `poll_bound_seconds` states: a pending registration is
looked at again within ceil(pending / per tick) beat intervals of its last look, where a tick
polls at least concurrency x floor(budget / seconds per poll) registrations (docs/a2p.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q

from clinics import services as clinic_services
from clinics.models_a2p import REJECTED, A2PRegistration, A2PStep
from telephony import task_names, twilio
from telephony.a2p import steps
from telephony.a2p.registration import registration_advance
from telephony.a2p.rules import (
    IN_REVIEW,
    registration_account_sid,
    registration_disabled_reason,
    registration_required,
    rejection_sentence,
)
from telephony.fleet import accounts_fan_out
from telephony.queue import task_claim, task_send_coalesced_on_commit
from telephony.tenants import account_check

# The most Twilio requests one clinic's poll makes: its two Trust Hub bundles (paced), its
# brand and its campaign.
REQUESTS_PER_POLL = 4
TRUST_HUB_REQUESTS_PER_POLL = 2


class Pacer:
    """At most one request per `interval` seconds (Trust Hub's limit is about 1/s per account);
    thread-safe: requests of one account from several threads queue up behind each other."""

    def __init__(
        self, interval: float, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.interval, self.last = interval, -math.inf
        self._clock, self._sleep, self._lock = clock, sleep, threading.Lock()

    def wait(self) -> None:
        with self._lock:
            pause = self.last + self.interval - self._clock()
            if pause > 0:
                self._sleep(pause)
            self.last = self._clock()


class AccountPacers:
    """One Pacer per Twilio account: Trust Hub's limit is per account, so two clinics in their
    own subaccounts never wait for each other, and clinics sharing an account share its pace."""

    def __init__(
        self, interval: float, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.interval, self._clock, self._sleep = interval, clock, sleep
        self._pacers: dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def of(self, account_sid: str) -> Pacer:
        with self._lock:
            if account_sid not in self._pacers:
                self._pacers[account_sid] = Pacer(self.interval, clock=self._clock, sleep=self._sleep)
            return self._pacers[account_sid]


def registration_poll(*, clinic_id: int, pacer: Pacer | None = None, pacers: AccountPacers | None = None) -> A2PRegistration:
    """Fetch every step Twilio is reviewing, record transitions (rejections as sentences), advance.

    Its Trust Hub requests keep `pacer`'s pace, or that of the clinic's account in `pacers`."""
    ctx = steps.Context(clinic_id)
    registration, account = ctx.registration, ctx.account
    if pacer is None:
        pacer = pacers.of(account) if pacers else Pacer(settings.A2P_TRUST_HUB_PACE_SECONDS)
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
    clinic_services.a2p_polled(clinic_id=clinic_id)
    return registration_advance(clinic_id=clinic_id)


def _record_review(ctx: steps.Context, step: str, sid: str, status: str, errors: tuple[str, ...]) -> None:
    code = _first_code(errors)
    reason = "; ".join(e for e in errors if e)
    detail = rejection_sentence(code, reason, step=step) if status in REJECTED else f"Twilio: {status}."
    steps.record(ctx, step, sid, status, detail=detail, code=code if status in REJECTED else None)


def _first_code(errors: tuple[str, ...]) -> int | None:
    for error in errors:
        head = error.split(" ", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def registrations_poll(*, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Periodic (Celery beat): poll pending registrations, least recently looked at first,
    A2P_POLL_CONCURRENCY at a time, Trust Hub paced per account; no poll starts once
    A2P_POLL_TICK_BUDGET_SECONDS have passed (the rest are the next tick's, first).

    A clinic whose poll a callback asked for within A2P_POLL_COOLDOWN_SECONDS is skipped
    (that poll covers it; the next tick takes it first); the others are claimed the same
    way, so a callback right after waits for the cooldown instead of asking Twilio again.
    Returns how many registrations were polled.
    """
    if registration_disabled_reason():
        return 0
    deadline = clock() + settings.A2P_POLL_TICK_BUDGET_SECONDS
    pacers = AccountPacers(settings.A2P_TRUST_HUB_PACE_SECONDS, clock=clock, sleep=sleep)

    def poll(clinic_id: int) -> Callable[[], bool]:
        def job() -> bool:
            if not task_claim(_poll_claim(clinic_id), settings.A2P_POLL_COOLDOWN_SECONDS):
                return False  # a callback's poll covers it
            registration_poll(clinic_id=clinic_id, pacers=pacers)
            return True

        return job

    # Transient Twilio errors are tried again by the fan-out; what still fails waits for the
    # next tick (refusals are already recorded), as do the polls the budget left unstarted.
    swept = accounts_fan_out(
        {clinic_id: poll(clinic_id) for clinic_id in clinic_services.a2p_registrations_pending()},
        concurrency=settings.A2P_POLL_CONCURRENCY,
        sleep=sleep,
        keep_starting=lambda: clock() < deadline,
        uses_database=True,
    )
    return sum(1 for polled in swept.results.values() if polled)


def polls_per_tick(*, seconds_per_poll: float) -> int:
    """The fewest registrations one beat tick polls when each poll takes `seconds_per_poll`:
    every worker starts polls until the budget is spent."""
    budget, workers = settings.A2P_POLL_TICK_BUDGET_SECONDS, max(1, settings.A2P_POLL_CONCURRENCY)
    return workers * max(1, math.ceil(budget / seconds_per_poll))


def poll_bound_seconds(*, pending: int, seconds_per_poll: float) -> float:
    """How long a pending registration waits at most between two looks, with `pending` of them
    and polls taking `seconds_per_poll`: ceil(pending / polls per tick) beat intervals, since
    each tick takes those looked at longest ago first."""
    ticks = max(1, math.ceil(pending / polls_per_tick(seconds_per_poll=seconds_per_poll)))
    return ticks * settings.A2P_POLL_INTERVAL_SECONDS


def seconds_per_poll_worst(*, request_seconds: float) -> float:
    """The longest one clinic's poll takes when each Twilio request takes `request_seconds`:
    all its requests, and the Trust Hub pace between its two bundle fetches."""
    pace = settings.A2P_TRUST_HUB_PACE_SECONDS
    return REQUESTS_PER_POLL * request_seconds + (TRUST_HUB_REQUESTS_PER_POLL - 1) * pace


task_names.A2P_REGISTRATION_POLL = "telephony.tasks.a2p_registration_poll"


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
        task_names.A2P_REGISTRATION_POLL,
        clinic_id,
        key=_poll_claim(clinic_id),
        seconds=settings.A2P_POLL_COOLDOWN_SECONDS,
        clinic_id=clinic_id,
    )


def _poll_claim(clinic_id: int) -> str:
    """The claim that a poll of the clinic is queued or was made within the cooldown."""
    return f"a2p-poll:{clinic_id}"


def registration_poll_now(*, clinic_id: int, actor: Any = None) -> A2PRegistration:
    """Staff asked to check Twilio's reviews now instead of at the next beat tick."""
    registration_required()
    if not A2PRegistration.objects.filter(clinic_id=clinic_id).exists():
        raise clinic_services.A2PError(f"Clinic {clinic_id} has not started its A2P registration.")
    return registration_poll(clinic_id=clinic_id)
