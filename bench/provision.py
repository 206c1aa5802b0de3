"""Provision many clinics through the real Celery pipeline against the sandbox Twilio.

Run with `bench/run-provision` (starts PostgreSQL, Redis, the sandbox and the workers).
Each clinic gets its own subaccount (TWILIO_SUBACCOUNT_PER_CLINIC, on by default) and its
number in it. Twilio trouble is injected: a share of subaccount creations and of purchases
answer 429 (20429, with Retry-After) or a 5xx, so the retry path with backoff runs for real.
Prints clinics provisioned, subaccounts and numbers made, duplicate numbers, orphans (numbers
or subaccounts no clinic holds), second subaccounts of a clinic and numbers outside their
clinic's subaccount (all must be 0), and the elapsed time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import smoke  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="task slots per worker process")
    parser.add_argument("--fault-rate", type=float, default=0.15, help="share of purchases that first fail")
    parser.add_argument(
        "--fixed-faults",
        action="store_true",
        help="instead of --fault-rate, the same few faults every run: a 500 on the first subaccount creation, a 429 "
        "and a 503 on the first purchases",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every clinic to leave provisioning")
    # The smoke run meets fixed faults: with a random share, its 10 clinics sometimes met no 5xx
    # and sometimes one clinic met several, each 5xx on a creation waiting out its lease and each
    # retry backing off longer (10 s to over 60 s).
    args = smoke.parse_args(parser, {"clinics": 10, "workers": 1, "concurrency": 2, "timeout": 60, "fixed_faults": True})
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("CELERY_BROKER_URL"):
        print("Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis), or run bench/run-provision.", file=sys.stderr)
        return 2

    import requests

    from bench.environment import production_like_environ
    from twilio_sandbox.server import start_in_thread

    sandbox = start_in_thread(str(Path(tempfile.mkdtemp()) / "sandbox.sqlite3"))
    # The sandbox answers at once: a short HTTP timeout keeps the wait after a subaccount
    # creation's 5xx (which may have created it: provisioning.subaccount_create_lease) short.
    production_like_environ(
        TWILIO_API_BASE_URL=sandbox.url, API_BASE_URL="https://bench.dentsignal.example.com", TWILIO_HTTP_TIMEOUT="3"
    )
    import django

    django.setup()
    from django.core.management import call_command

    from clinics.models import Clinic, NumberState
    from telephony.numbers import provisioning

    call_command("migrate", verbosity=0)
    # The benchmark's own database, its numbers invented or bought from the sandbox: forget
    # them, since a clinic holding a number cannot be deleted (clinics.signals).
    Clinic.objects.update(twilio_number=None, twilio_number_sid=None, pending_number="", number_state=NumberState.NONE)
    Clinic.objects.all().delete()

    control = f"{sandbox.url}/__sandbox__"
    requests.post(f"{control}/reset", timeout=10)
    too_many = {"status": 429, "code": 20429, "message": "Too Many Requests", "retry_after": 1}
    server_error = {"status": 500, "code": 20500, "message": "Internal Server Error"}
    unavailable = {"status": 503, "code": 20503, "message": "Service Unavailable"}
    purchases, creations = "IncomingPhoneNumbers.json", "/2010-04-01/Accounts.json"
    if args.fixed_faults:
        # One fault per request, in this order: no clinic meets two on one path.
        faults = [(creations, server_error), (purchases, too_many), (purchases, unavailable)]
        spread: dict[str, object] = {"times": 1}
    else:
        faults = [(path, fault) for path in (purchases, creations) for fault in (too_many, server_error, unavailable)]
        spread = {"times": 10**6, "probability": args.fault_rate / 3}
    for path, fault in faults:
        requests.post(f"{control}/faults", json={"method": "POST", "path": path, "mode": "error", **spread, **fault}, timeout=10)

    area_codes = [f"{a}{b}{c}" for a in "2345678" for b in "0123456789" for c in "12"][: (args.clinics + 9) // 10]
    clinics = Clinic.objects.bulk_create([Clinic(name=f"Bench Dental {i}") for i in range(args.clinics)])
    env = {**os.environ, "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"]}
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dentsignal", "purge", "-f"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "bench-workers.log", "w")  # closed when the process exits
    workers = [
        subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dentsignal",
                "worker",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                f"--concurrency={args.concurrency}",
                f"--hostname=bench{i}@%h",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for i in range(args.workers)
    ]
    try:
        started = time.monotonic()
        for i, clinic in enumerate(clinics):
            provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code=area_codes[i // 10])
        while time.monotonic() - started < args.timeout:
            if not Clinic.objects.filter(number_state=NumberState.PROVISIONING).exists():
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)

    state = requests.get(f"{control}/state", timeout=30).json()
    owned, subaccounts = state["incoming_phone_numbers"], state["accounts"]
    api_log = requests.get(f"{control}/requests", timeout=60).json()["requests"]
    sandbox.stop()
    purchases = [r for r in api_log if r["method"] == "POST" and r["path"].endswith("/IncomingPhoneNumbers.json")]
    creations = [r for r in api_log if r["method"] == "POST" and r["path"] == "/2010-04-01/Accounts.json"]
    injected = sum(1 for r in purchases if r["fault"] == "error")
    injected_creations = sum(1 for r in creations if r["fault"] == "error")
    held = dict(Clinic.objects.exclude(twilio_number_sid=None).values_list("twilio_number_sid", "twilio_account_sid"))
    held_accounts = set(Clinic.objects.exclude(twilio_account_sid="").values_list("twilio_account_sid", flat=True))
    duplicates = _extra_per_clinic(n["friendly_name"] for n in owned)
    second_subaccounts = _extra_per_clinic(a["friendly_name"] for a in subaccounts)
    orphans = sum(1 for n in owned if n["sid"] not in held) + sum(1 for a in subaccounts if a["sid"] not in held_accounts)
    misplaced = sum(1 for n in owned if n["sid"] in held and n["account_sid"] != held[n["sid"]])
    states = {state: Clinic.objects.filter(number_state=state).count() for state in NumberState.values}
    print(f"clinics:              {args.clinics} ({args.workers} workers x {args.concurrency} slots)")
    print(f"clinics provisioned:  {states['active']}")
    print(f"clinics failed:       {states['failed']}  still provisioning: {states['provisioning']}")
    print(f"subaccounts created:  {len(subaccounts)}")
    print(f"numbers bought:       {len(owned)}")
    print(f"duplicates:           {duplicates}")
    print(f"second subaccounts:   {second_subaccounts}")
    print(f"orphans:              {orphans} (numbers or subaccounts no clinic holds)")
    print(f"outside its account:  {misplaced} (numbers not in their clinic's subaccount)")
    print(f"subaccount requests:  {len(creations)} ({injected_creations} answered with an injected 429/500/503)")
    print(f"purchase requests:    {len(purchases)} ({injected} answered with an injected 429/500/503)")
    print(f"elapsed:              {elapsed:.1f} s ({args.clinics / elapsed:.1f} clinics/s)")
    for error, count in Counter(Clinic.objects.filter(number_state="failed").values_list("number_error", flat=True)).items():
        print(f"  failed x{count}: {error}")
    ok = duplicates == second_subaccounts == orphans == misplaced == 0 and states["active"] == args.clinics
    return 0 if ok else 1


def _extra_per_clinic(friendly_names: Iterable[str]) -> int:
    """How many more than one per clinic: names end in "(clinic #<id>)" (numbers and subaccounts alike)."""
    per_clinic = Counter(name.rsplit("#", 1)[-1].rstrip(")") for name in friendly_names)
    return sum(count - 1 for count in per_clinic.values() if count > 1)


if __name__ == "__main__":
    sys.exit(main())
