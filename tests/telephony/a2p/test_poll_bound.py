"""Beat's A2P poll at fleet scale (telephony/a2p/polling.py), in fake time: a tick polls the
pending registrations least recently looked at first and starts none after its budget, so
every pending registration is looked at again within the bound `poll_bound_seconds` states;
Trust Hub's pace is kept per account, never across accounts."""

from __future__ import annotations

import itertools
import math

import pytest
import requests
from django.core.cache import cache

from clinics import services as services_a2p
from clinics.models import NumberState
from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony.a2p import polling, registration
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import business_profile_data, review
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db

PENDING = 7
BUDGET = 3
PACE = 1.0


class FakeTime:
    """A clock that moves only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _pending_registrations(sandbox, count: int) -> list[int]:
    """`count` clinics on the main account, each with its customer profile in Twilio's review:
    the first registers through the workflow, the others are recorded at the same point."""
    review(sandbox, mode="manual")
    numbers = [f"+1512555{1000 + i}" for i in range(count)]
    sids = sandbox.seed_numbers([{"phone_number": n} for n in numbers])
    ids = []
    for i, (number, sid) in enumerate(zip(numbers, sids, strict=True)):
        clinic = ClinicFactory(
            name=f"Pending Dental {i}", twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE
        )
        BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
        ids.append(clinic.id)
    services_a2p.a2p_registration_start(clinic_id=ids[0])
    first = registration.registration_advance(clinic_id=ids[0])
    assert first.customer_profile_status == "pending-review"
    fields = {f.attname: getattr(first, f.attname) for f in A2PRegistration._meta.concrete_fields if not f.primary_key}
    A2PRegistration.objects.bulk_create([A2PRegistration(**{**fields, "clinic_id": clinic_id}) for clinic_id in ids[1:]])
    return ids


def test_every_pending_registration_is_looked_at_within_the_stated_bound(sandbox, a2p_enabled, settings, monkeypatch):
    clinic_ids = _pending_registrations(sandbox, PENDING)
    settings.A2P_TRUST_HUB_PACE_SECONDS = PACE
    settings.A2P_POLL_TICK_BUDGET_SECONDS = BUDGET
    settings.A2P_POLL_CONCURRENCY = 1
    settings.A2P_POLL_COOLDOWN_SECONDS = 1
    fake = FakeTime()
    fetches: list[tuple[float, str]] = []  # (fake time, account) of every Trust Hub request
    send = requests.Session.send

    def recording_send(session, request, **kwargs):
        if request.path_url.startswith("/v1/CustomerProfiles/"):
            fetches.append((fake.now, SANDBOX_ACCOUNT_SID))
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    # Each poll makes one Trust Hub request in the one account they share: a poll takes the pace.
    per_tick = polling.polls_per_tick(seconds_per_poll=PACE)
    bound_ticks = math.ceil(PENDING / per_tick)
    assert polling.poll_bound_seconds(pending=PENDING, seconds_per_poll=PACE) == bound_ticks * 600

    looked_at: dict[int, list[int]] = {clinic_id: [] for clinic_id in clinic_ids}
    for tick in range(bound_ticks + 1):
        before = dict(A2PRegistration.objects.values_list("clinic_id", "polled_at"))
        fake.now += 600  # the next beat tick; the cooldown's claims are over
        cache.clear()
        started = fake.now
        polled = polling.registrations_poll(clock=fake, sleep=fake.sleep)
        after = dict(A2PRegistration.objects.values_list("clinic_id", "polled_at"))
        for clinic_id in clinic_ids:
            if after[clinic_id] != before[clinic_id]:
                looked_at[clinic_id].append(tick)
        assert per_tick <= polled < PENDING  # the budget stops the tick, never fewer than stated
        assert fake.now - started <= BUDGET + PACE  # the last poll started within the budget

    for clinic_id, ticks in looked_at.items():
        assert ticks, f"clinic {clinic_id} was never looked at"
        assert ticks[0] < bound_ticks  # the first look within the bound
        assert all(b - a <= bound_ticks for a, b in itertools.pairwise(ticks))  # and every next one
    times = [t for t, _ in fetches]
    assert all(b - a >= PACE for a, b in itertools.pairwise(times)), "one account: 1 request/s"


def test_never_looked_at_registrations_come_first(sandbox, a2p_enabled, settings):
    first, second, third = _pending_registrations(sandbox, 3)
    A2PRegistration.objects.filter(clinic_id__in=[first, third]).update(polled_at="2026-01-01T00:00:00Z")

    assert services_a2p.a2p_registrations_pending() == [second, first, third]


def test_pacing_is_per_account():
    fake = FakeTime()
    pacers = polling.AccountPacers(PACE, clock=fake, sleep=fake.sleep)

    pacers.of("AC1").wait()
    pacers.of("AC2").wait()  # another account: no wait
    assert fake.now == 1000.0
    pacers.of("AC1").wait()  # the same account: a second after its last request
    assert fake.now == 1001.0
