"""Fleet operations at N clinics, each in its own subaccount, against a Twilio at 150 ms.

Run with `bench/run-fleet` (starts PostgreSQL and the sandbox Twilio in a process of its
own). Seeds N clinics (default 10,000) in the database and in the sandbox at once (POST
/__sandbox__/seed: subaccounts, numbers with our webhooks, a Messaging Service per clinic
in its subaccount, A2P registrations at every stage), drifts a few on purpose, then sets
the sandbox to answer every request after --latency-ms with a per-account concurrency
limit (429 / 20429 with Retry-After beyond it) and measures, each on its own:

- the full audit (`number_audit()`): wall time, Twilio calls, peak concurrency, 429s met,
  database queries, peak memory; and whether it found exactly the drift seeded;
- one beat tick of the A2P poll (`registrations_poll()`): wall time, registrations
  polled, the most Trust Hub requests one account received in any second, and the longest
  a pending registration waits to be looked at (ticks needed x the beat interval), beside
  the bound the code states (`poll_bound_seconds`);
- the usage refresh (`usage_refresh_all()`) and the re-drive scan (`stuck_work_resend()`).

Celery runs eagerly in this process (no broker): a task a sweep sends runs inside it, so
its cost is in the figure. Exits non-zero when the audit's findings are not exactly the
seeded drift or an account received more than one Trust Hub request in a second.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import smoke  # noqa: E402

PRIMARY_PROFILE = "BU" + "0b" * 16
DRIFTED_VOICE_URL = "https://old-receptionist.example.com/voice"
DRIFTED_SMS_URL = "https://old-receptionist.example.com/sms"
# Registration stages, by clinic number modulo their count: (step statuses, pending?).
STAGES: list[dict[str, str]] = [
    {"customer_profile": "twilio-approved", "trust_product": "twilio-approved", "brand": "APPROVED", "campaign": "VERIFIED"},
    {"customer_profile": "pending-review"},
    {"customer_profile": "twilio-approved", "trust_product": "in-review"},
    {"customer_profile": "twilio-approved", "trust_product": "twilio-approved", "brand": "PENDING"},
    {"customer_profile": "twilio-approved", "trust_product": "twilio-approved", "brand": "APPROVED", "campaign": "IN_PROGRESS"},
    {"customer_profile": "twilio-approved", "trust_product": "twilio-approved", "brand": "FAILED"},
]
TRUST_HUB_PATHS = ("/v1/CustomerProfiles/", "/v1/TrustProducts/")
# Requests to one account closer than this count as two in one second: a second, less the
# jitter between the client's pacer and the sandbox's clock of arrival.
PACE_WINDOW = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=150, help="the sandbox's answer time per request")
    parser.add_argument("--account-concurrency", type=int, default=10, help="requests in flight per account before 429")
    parser.add_argument("--drift-every", type=int, default=100, help="every Nth clinic's number and service drift")
    parser.add_argument("--poll-budget", type=int, help="A2P_POLL_TICK_BUDGET_SECONDS (default: the setting's)")
    parser.add_argument("--poll-concurrency", type=int, help="A2P_POLL_CONCURRENCY (default: the setting's)")
    args = smoke.parse_args(parser, {"clinics": 24, "latency_ms": 0, "drift_every": 5, "poll_budget": 2})
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database, or run bench/run-fleet.", file=sys.stderr)
        return 2

    with sandbox_process() as sandbox_url:
        _environ(sandbox_url, args)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        control = Control(sandbox_url)
        started = time.monotonic()
        expected = seed(control, clinics=args.clinics, drift_every=args.drift_every)
        print(f"clinics:               {args.clinics:,} in their own subaccounts (seeded in {time.monotonic() - started:.1f} s)")
        control.call("POST", "throttle", {"latency_ms": args.latency_ms, "account_concurrency": args.account_concurrency})
        print(f"sandbox:               {args.latency_ms:g} ms per request, {args.account_concurrency} per account at once")
        ok = measure_audit(control, expected)
        ok = measure_clinic_audit(control, clinics=args.clinics) and ok
        ok = measure_a2p_poll(control, args) and ok
        measure("usage refresh", control, _usage_refresh_all)
        measure("re-drive scan", control, _stuck_work_resend)
    return 0 if ok else 1


# --------------------------------------------------------------------------- environment


def _environ(sandbox_url: str, args: argparse.Namespace) -> None:
    from bench.environment import production_like_environ

    extra = {"TWILIO_API_BASE_URL": sandbox_url, "TWILIO_PRIMARY_CUSTOMER_PROFILE_SID": PRIMARY_PROFILE}
    if args.poll_budget is not None:
        extra["A2P_POLL_TICK_BUDGET_SECONDS"] = str(args.poll_budget)
    if args.poll_concurrency is not None:
        extra["A2P_POLL_CONCURRENCY"] = str(args.poll_concurrency)
    production_like_environ(API_BASE_URL="https://bench.dentsignal.example.com", **extra)
    os.environ.pop("CELERY_BROKER_URL", None)  # eager: what a sweep sends runs in the figure


@contextmanager
def sandbox_process() -> Iterator[str]:
    """The sandbox Twilio in a process of its own (its own interpreter lock), on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = Path(tempfile.mkdtemp()) / "sandbox.sqlite3"
    code = f"from twilio_sandbox.server import serve_forever; serve_forever('127.0.0.1', {port}, {str(state)!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)  # noqa: S603 - fixed arguments
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(100):
            try:
                requests.get(f"{url}/__sandbox__/throttle", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Control:
    """The sandbox's control API."""

    def __init__(self, url: str) -> None:
        import requests

        self.url, self.http = f"{url}/__sandbox__", requests.Session()

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/{path}", json=payload, timeout=600)
        response.raise_for_status()
        return response.json()


# --------------------------------------------------------------------------- seeding


def seed(control: Control, *, clinics: int, drift_every: int) -> dict[str, set[str]]:
    """N clinics in the database and the sandbox; the drift seeded, as the SIDs the audit must name."""
    from clinics.models import Clinic, NumberState
    from clinics.models_a2p import A2PRegistration, BusinessProfile
    from clinics.sealed import secret_seal
    from telephony.webhook_urls import webhook_params

    control.call("POST", "reset")
    control.call("POST", "a2p-review", {"mode": "manual"})  # reviews stay as seeded
    Clinic.objects.update(twilio_number=None, twilio_number_sid=None, pending_number="", number_state=NumberState.NONE)
    Clinic.objects.all().delete()
    webhooks = webhook_params()
    expected: dict[str, set[str]] = {"webhook_drift": set(), "messaging_service_override": set()}
    chunk = 2000
    for start in range(0, clinics, chunk):
        ids = range(start, min(start + chunk, clinics))
        accounts = control.call("POST", "seed", {"accounts": [f"Fleet Dental {i} (clinic #{i})" for i in ids]})["accounts"]
        numbers, services = [], []
        for i, account in zip(ids, accounts, strict=True):
            phone = f"+1{201 + i // 10_000}555{i % 10_000:04d}"
            number = {"phone_number": phone, "account_sid": account["sid"], **webhooks}
            if i % drift_every == 1:
                number["voice_url"] = DRIFTED_VOICE_URL
            numbers.append(number)
            service = {"account_sid": account["sid"], "friendly_name": f"Fleet Dental {i}", "phone_numbers": [phone]}
            service["use_inbound_webhook_on_number"] = i % drift_every != 2
            if i % drift_every == 2:
                service["inbound_request_url"] = DRIFTED_SMS_URL
            services.append(service)
        made = control.call("POST", "seed", {"numbers": numbers, "services": services})
        a2p_specs, owners = [], []
        for i, account, service_sid in zip(ids, accounts, made["services"], strict=True):
            for kind, status in STAGES[i % len(STAGES)].items():
                spec = {"kind": kind, "account_sid": account["sid"], "status": status, "service": service_sid}
                a2p_specs.append(spec)
                owners.append((i, kind))
        a2p_sids = control.call("POST", "seed", {"a2p": a2p_specs})["a2p"]
        sids: dict[int, dict[str, str]] = defaultdict(dict)
        for (i, kind), sid in zip(owners, a2p_sids, strict=True):
            sids[i][kind] = sid
        rows = Clinic.objects.bulk_create(
            [
                Clinic(
                    name=f"Fleet Dental {i}",
                    twilio_number=numbers[k]["phone_number"],
                    twilio_number_sid=made["numbers"][k],
                    number_state=NumberState.ACTIVE,
                    twilio_account_sid=accounts[k]["sid"],
                    twilio_account_token_sealed=secret_seal(accounts[k]["auth_token"]),
                    twilio_account_status="active",
                )
                for k, i in enumerate(ids)
            ]
        )
        for k, i in enumerate(ids):
            if i % drift_every == 1:
                expected["webhook_drift"].add(made["numbers"][k])
            if i % drift_every == 2:
                expected["messaging_service_override"].add(made["numbers"][k])
        BusinessProfile.objects.bulk_create([BusinessProfile(clinic=clinic, **_profile()) for clinic in rows])
        A2PRegistration.objects.bulk_create(
            [
                _registration(clinic, i, sids[i], made["services"][k], made["numbers"][k])
                for k, (i, clinic) in enumerate(zip(ids, rows, strict=True))
            ]
        )
    return expected


def _registration(clinic: Any, i: int, sids: dict[str, str], service_sid: str, number_sid: str) -> Any:
    from clinics.models_a2p import A2PRegistration

    stage = STAGES[i % len(STAGES)]
    done = stage.get("campaign") == "VERIFIED"
    return A2PRegistration(
        clinic=clinic,
        customer_profile_sid=sids.get("customer_profile", ""),
        customer_profile_status=stage.get("customer_profile", ""),
        trust_product_sid=sids.get("trust_product", ""),
        trust_product_status=stage.get("trust_product", ""),
        brand_sid=sids.get("brand", ""),
        brand_status=stage.get("brand", ""),
        messaging_service_sid=service_sid,
        messaging_service_status="created",
        campaign_sid=sids.get("campaign", ""),
        campaign_status=stage.get("campaign", ""),
        number_sid=number_sid if done else "",
        number_status="added" if done else "",
    )


def _profile() -> dict[str, str]:
    return {
        "legal_name": "Fleet Dental PLLC",
        "ein": "12-3456789",
        "business_type": "Limited Liability Corporation",
        "street": "100 Congress Ave",
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "website": "https://fleet.example.com",
        "rep_first_name": "Dana",
        "rep_last_name": "Lopez",
        "rep_title": "Office manager",
        "rep_position": "GM",
        "rep_email": "dana@fleet.example.com",
        "rep_phone": "+15125550188",
        "use_case": "LOW_VOLUME",
        "sample_message_1": "Fleet Dental: reminder of your appointment on Tue at 9:00 AM. Reply C to confirm.",
        "sample_message_2": "Thanks, Fleet Dental got your message and will get back to you.",
        "opt_in_description": "Patients give their number on the new-patient form and tick a box agreeing to texts.",
    }


# --------------------------------------------------------------------------- measuring


class Measured:
    """What one operation cost: wall time, Twilio calls, 429s, peak concurrency, queries, memory."""

    def __init__(self, control: Control) -> None:
        self.control, self.queries = control, 0

    def run(self, work: Callable[[], Any]) -> Any:
        from django.db import connections
        from django.db.backends.signals import connection_created

        counting = threading.Lock()

        def count(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
            with counting:  # pool threads query at once
                self.queries += 1
            return execute(sql, params, many, context)

        def wrap(sender: Any, connection: Any, **kwargs: Any) -> None:
            # A pool thread closes its connection after each job and the next one reconnects
            # the same wrapper: count each query once, however often it reconnected.
            if count not in connection.execute_wrappers:
                connection.execute_wrappers.append(count)

        self.control.call("DELETE", "throttle/counters")
        self.control.call("DELETE", "requests")
        for conn in connections.all():  # this thread's; the threads' own are wrapped when made
            conn.execute_wrappers.append(count)
        connection_created.connect(wrap)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        try:
            result = work()
        finally:
            self.seconds = time.monotonic() - started
            connection_created.disconnect(wrap)
            for conn in connections.all():
                if count in conn.execute_wrappers:
                    conn.execute_wrappers.remove(count)
        self.rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.rss_growth_mib = self.rss_mib - rss_before / 1024
        self.twilio = self.control.call("GET", "throttle")
        return result

    def line(self) -> str:
        t = self.twilio
        return (
            f"{self.seconds:8.1f} s, {t['requests']:,} Twilio calls ({t['refused']:,} answered 429), "
            f"peak {t['peak_concurrency']} at once ({t['peak_account_concurrency']} in one account), "
            f"{self.queries:,} DB queries, peak RSS {self.rss_mib:.0f} MiB (+{self.rss_growth_mib:.0f})"
        )


def measure(name: str, control: Control, work: Callable[[], Any]) -> Measured:
    measured = Measured(control)
    result = measured.run(work)
    print(f"{name + ':':<22} {measured.line()}; result {result!r}")
    return measured


def measure_audit(control: Control, expected: dict[str, set[str]]) -> bool:
    from telephony.numbers.audit import number_audit

    measured = Measured(control)
    result = measured.run(number_audit)
    print(f"full audit:            {measured.line()}")
    found: dict[str, set[str]] = defaultdict(set)
    for finding in result.findings:
        found[finding.code].add(finding.sid)
    wrong = [f for f in result.findings if f.sid not in expected.get(f.code, set())]
    missed_drift = expected["webhook_drift"] - found["webhook_drift"]
    missed_services = expected["messaging_service_override"] - found["messaging_service_override"]
    print(
        f"  findings:            {len(result.findings):,} ({dict(Counter(f.code for f in result.findings))}); "
        f"{len(wrong)} wrong; numbers checked {result.numbers_checked:,}"
    )
    print(
        f"  drift found:         webhooks {len(found['webhook_drift'] & expected['webhook_drift'])} of "
        f"{len(expected['webhook_drift'])}, subaccounts' Messaging Services "
        f"{len(found['messaging_service_override'] & expected['messaging_service_override'])} of "
        f"{len(expected['messaging_service_override'])}"
    )
    for finding in wrong[:5]:
        print(f"  wrong: {finding.code} {finding.sid}: {finding.message}")
    return result.success and not wrong and not missed_drift and not missed_services


def measure_clinic_audit(control: Control, *, clinics: int) -> bool:
    """A clinic's own audit, as sent after a change of its number (telephony/numbers/clinic_audit.py),
    for 20 clinics spread over the fleet, one after the other: each must take 2 s at most."""
    from clinics.models import Clinic
    from telephony.numbers.clinic_audit import clinic_audit_run

    ids = list(Clinic.objects.order_by("id").values_list("id", flat=True))[:: max(1, clinics // 20)][:20]
    seconds: list[float] = []

    def audit_each() -> None:
        for clinic_id in ids:
            started = time.monotonic()
            clinic_audit_run(clinic_id=clinic_id)
            seconds.append(time.monotonic() - started)

    measured = Measured(control)
    measured.run(audit_each)
    print(f"a clinic's own audit:  {measured.line()}")
    print(
        f"  per clinic:          {len(ids)} clinics one after another: median {statistics.median(seconds):.2f} s, "
        f"slowest {max(seconds):.2f} s (at most 2 s)"
    )
    return max(seconds) <= 2.0


def measure_a2p_poll(control: Control, args: argparse.Namespace) -> bool:
    from django.conf import settings

    from clinics.services import a2p_registrations_pending
    from telephony.a2p import polling

    pending = len(a2p_registrations_pending())
    measured = Measured(control)
    polled = measured.run(polling.registrations_poll)
    log = control.call("GET", "requests")["requests"]
    fastest = _most_in_one_second(r for r in log if r["path"].startswith(TRUST_HUB_PATHS))
    ticks = math.ceil(pending / polled) if polled else math.inf
    worst = ticks * settings.A2P_POLL_INTERVAL_SECONDS
    per_poll = polling.seconds_per_poll_worst(request_seconds=args.latency_ms / 1000)
    bound = polling.poll_bound_seconds(pending=pending, seconds_per_poll=per_poll)
    print(f"A2P poll, one tick:    {measured.line()}")
    print(
        f"  polled:              {polled:,} of {pending:,} pending (budget {settings.A2P_POLL_TICK_BUDGET_SECONDS} s, "
        f"{settings.A2P_POLL_CONCURRENCY} at once); Trust Hub: at most {fastest} request(s) in one second to one account"
    )
    print(
        f"  longest wait:        {worst / 60:.0f} min measured ({ticks} tick(s) of {settings.A2P_POLL_INTERVAL_SECONDS} s); "
        f"stated bound {bound / 60:.0f} min at {per_poll:.2f} s per poll"
    )
    return polled > 0 and fastest <= 1 and worst <= bound


def _most_in_one_second(requests: Iterator[dict]) -> int:
    """The most requests any one account received within one second."""
    by_account: dict[str, list[float]] = defaultdict(list)
    for r in requests:
        by_account[r["auth"]].append(r["at"])
    most = 0
    for times in by_account.values():
        window: deque[float] = deque()
        for at in sorted(times):
            window.append(at)
            while window[0] <= at - PACE_WINDOW:
                window.popleft()
            most = max(most, len(window))
    return most


def _usage_refresh_all() -> int:
    from telephony.numbers.usage import usage_refresh_all

    return usage_refresh_all()


def _stuck_work_resend() -> int:
    from telephony.numbers.redrive import stuck_work_resend

    return stuck_work_resend()


if __name__ == "__main__":
    sys.exit(main())
