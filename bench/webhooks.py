"""Webhook benchmark: our three webhooks against a bare Django view, in the same run.

Run with `bench/run-webhooks` (starts PostgreSQL). Serves the app with gunicorn
(production settings, DEBUG off, the workers gunicorn.conf.py gives) on 127.0.0.1 with
1,000 live clinics, each with a patient and appointments; a separate load-generator
process (bench/loadgen.py) sends correctly signed requests with unique SIDs at 1, 16 and
64 connections, each cell in interleaved rounds with the baseline and with one-write, a
bare view that does one INSERT (the ceiling for any webhook that records each request;
bench/urls.py). Prints the medians of requests/s and p50/p99 latency, errors, and the
median of the rounds' ratios to the baseline's and to one-write's requests/s (with
--compare-with, the same for another checkout served side by side, every cell
alternating between the two: a before/after in one run); then the database queries
per request and the Twilio API calls per provisioning and per audit of 1,000 numbers.
Exits non-zero on any non-2xx answer, or if a request wrote no log row of its own
(which would mean it took the duplicate-SID shortcut).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import smoke  # noqa: E402

# The two references first: the baseline (constant TwiML) and one-write (one INSERT, then
# the same TwiML; the least a webhook that durably records each request can do).
KINDS = ("baseline", "one-write", "voice", "status", "sms")
WEBHOOKS = KINDS[2:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per webhook, concurrency and round")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's, as in production)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (more than 1: gthread workers)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per cell (medians are printed)")
    parser.add_argument(
        "--py-spy", metavar="DIR", help="profile a gunicorn worker with py-spy (pip install py-spy) in each webhook's first round"
    )
    parser.add_argument(
        "--compare-with",
        metavar="DIR",
        help="another checkout of the project with its own .venv (e.g. a git worktree of an older commit), served "
        "side by side on the same database (migrated by this checkout); every cell alternates between the two",
    )
    args = smoke.parse_args(parser, {"clinics": 20, "duration": 0.3, "concurrency": "4", "rounds": 1, "workers": 2})
    if args.workers is None:
        args.workers = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database, or run bench/run-webhooks.", file=sys.stderr)
        return 2
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    setup_django(base_url)
    from twilio_sandbox import SANDBOX_AUTH_TOKEN

    clinics = seed(args.clinics)
    clinics_file = Path(tempfile.mkdtemp()) / "clinics.json"
    clinics_file.write_text(json.dumps(clinics))

    servers = {"this": (base_url, start_server(ROOT, sys.executable, port, args.workers, args.threads))}
    if args.compare_with:
        other, other_port = Path(args.compare_with).resolve(), free_port()
        other_python = str(other / ".venv" / "bin" / "python")
        other_url = f"http://127.0.0.1:{other_port}"
        servers[f"other: {other}"] = (other_url, start_server(other, other_python, other_port, args.workers, args.threads))
    try:
        for url, _ in servers.values():
            wait_for(url)
        results: dict[tuple[str, str, int], list[dict]] = {}
        profiles: dict[tuple[str, int], str] = {}
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            # Rounds interleave the webhooks with the baseline (and the two checkouts), so
            # that drift in what the machine gives us (shared cores) hits all of them alike.
            for round_ in range(args.rounds):
                for kind in KINDS:
                    # Each checkout goes first in every other round: neither always runs
                    # right after the other's load.
                    for label, (url, server) in list(servers.items())[:: -1 if round_ % 2 else 1]:
                        rows_before = log_rows()
                        spy = None
                        if args.py_spy and round_ == 0 and kind in WEBHOOKS and label == "this":
                            spy = py_spy_start(server.pid, Path(args.py_spy) / f"{kind}-{concurrency}.txt")
                        result = run_loadgen(url, kind, concurrency, args.duration, clinics_file, SANDBOX_AUTH_TOKEN)
                        if spy:
                            profiles[(kind, concurrency)] = py_spy_summary(spy)
                        result["rows"] = log_rows() - rows_before
                        results.setdefault((label, kind, concurrency), []).append(result)
    finally:
        for _, server in servers.values():
            server.send_signal(signal.SIGTERM)
        for _, server in servers.values():
            server.wait(timeout=30)

    print(
        f"Webhook benchmark, {dt.date.today()}, {os.cpu_count()} cores, gunicorn {args.workers} workers "
        f"({'sync' if args.threads == 1 else f'gthread, {args.threads} threads each'}), "
        f"PostgreSQL, {args.clinics} clinics, {args.rounds} rounds of {args.duration:g} s per cell (medians)"
    )
    failed = False
    for label in servers:
        if len(servers) > 1:
            print(f"\n{label}")
        failed |= print_table({(k, c): rounds for (lab, k, c), rounds in results.items() if lab == label})
    for (kind, concurrency), summary in profiles.items():
        print(f"\npy-spy, one gunicorn worker, {kind} at {concurrency} connections: {summary}")
    print()
    print_queries(clinics[0], base_url)
    print_twilio_calls()
    if failed:
        print("Some requests were not answered with 2xx.", file=sys.stderr)
    return 1 if failed else 0


def start_server(root: Path, python: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    """gunicorn serving the checkout at `root` on 127.0.0.1:`port` (signatures over that URL)."""
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            python,
            *("-m", "gunicorn", "dentsignal.wsgi", "-w", str(workers), "--threads", str(threads)),
            *("-b", f"127.0.0.1:{port}", "--log-level", "warning"),
        ],
        cwd=root,
        env={**os.environ, "API_BASE_URL": f"http://127.0.0.1:{port}", **_settings_of(root)},
    )


def _settings_of(root: Path) -> dict[str, str]:
    """How a checkout mounts the reference views: its bench/settings.py, or (checkouts
    before 2026-12-02, for --compare-with) production settings with DJANGO_ROOT_URLCONF."""
    if (root / "bench" / "settings.py").exists():
        return {}
    return {"DJANGO_SETTINGS_MODULE": "dentsignal.settings", "DJANGO_ROOT_URLCONF": "bench.urls"}


def print_table(results: dict[tuple[str, int], list[dict]]) -> bool:
    """One checkout's medians per cell, the medians of the rounds' ratios to the baseline
    and to one-write, and the lowest and highest of the latter; True if any request
    failed or skipped its log row."""
    columns = f"{'webhook':<10}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(f"{columns}{'vs baseline':>13}{'vs one-write':>14}{'(rounds)':>13}")
    failed = False
    for (kind, concurrency), rounds in results.items():
        baseline, one_write = results[("baseline", concurrency)], results[("one-write", concurrency)]
        errors = sum(r["errors"] for r in rounds)
        failed |= errors > 0
        # Every webhook request carries a new SID, so each one writes its own log row
        # (one-write too): fewer rows would mean some took the duplicate shortcut.
        requests, rows = sum(r["requests"] for r in rounds), sum(r["rows"] for r in rounds)
        if kind != "baseline" and rows != requests:
            print(f"{kind} at {concurrency}: {requests} requests wrote {rows} log rows", file=sys.stderr)
            failed = True
        ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(rounds, baseline, strict=True))
        to_one_write = [r["rps"] / w["rps"] for r, w in zip(rounds, one_write, strict=True)]
        spread = f"{min(to_one_write):.2f}-{max(to_one_write):.2f}"
        note = " (request pool exhausted)" if any(r["exhausted"] for r in rounds) else ""
        print(
            f"{kind:<10}{concurrency:>6}{median(rounds, 'rps'):>9.0f}{median(rounds, 'p50_ms'):>9.1f}"
            f"{median(rounds, 'p99_ms'):>9.1f}{errors:>8}{ratio:>13.2f}{statistics.median(to_one_write):>14.2f}{spread:>13}{note}"
        )
    return failed


def setup_django(base_url: str) -> None:
    """Production settings (DEBUG off) with the baseline view's URLs (bench.settings); migrate the database."""
    from bench.environment import production_like_environ

    production_like_environ(
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        API_BASE_URL=base_url,
        AI_AGENT_STREAM_URL="wss://agent.example.com/stream",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run_loadgen(base_url: str, kind: str, concurrency: int, duration: float, clinics_file: Path, token: str) -> dict:
    """One cell: bench/loadgen.py in its own process; its JSON result."""
    from twilio_sandbox import SANDBOX_ACCOUNT_SID

    out = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            str(ROOT / "bench" / "loadgen.py"),
            *("--base-url", base_url, "--kind", kind, "--concurrency", str(concurrency)),
            *("--duration", str(duration), "--clinics", str(clinics_file), "--token", token),
            *("--account-sid", SANDBOX_ACCOUNT_SID),
            # Enough signed requests for 3,000 req/s (prepared before the clock starts).
            *("--max-requests", str(int(3000 * duration) + 1000)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


# Where a worker's samples fall, first match wins (py-spy's raw format: stack;stack count).
PROFILE_BUCKETS = [
    ("waiting for PostgreSQL", "wait (psycopg/"),
    ("form parsing", "_load_post_and_files"),
    ("signature", "twilio_signature_valid"),
    ("TwiML", "to_xml ("),
    ("our hot-path helpers", "telephony/webhooks/hot_path.py"),
    ("our webhook code", "telephony/"),
    ("Django's handler", "get_response ("),
    ("gunicorn: accept, read, write", "gunicorn/"),
]


def py_spy_start(master_pid: int, output: Path) -> tuple[subprocess.Popen, Path]:
    """py-spy recording one gunicorn worker (non-idle samples) until stopped."""
    import shutil

    workers = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    output.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", workers[0], "--rate", "200", "--format", "raw", "-o", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), output  # noqa: S603


def py_spy_summary(spy: tuple[subprocess.Popen, Path]) -> str:
    process, output = spy
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    counts: dict[str, int] = {}
    for line in output.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        name = next((name for name, key in PROFILE_BUCKETS if key in stack), "other")
        counts[name] = counts.get(name, 0) + int(n)
    total = sum(counts.values()) or 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return f"{total} samples: " + ", ".join(f"{name} {n / total:.0%}" for name, n in ranked)


def median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def seed(count: int) -> list[dict]:
    """`count` live clinics with numbers, each with a patient and three appointments."""
    from django.utils import timezone

    from clinics.models import Appointment, ChecklistItem, Clinic, NumberState, OnboardingStep, Patient

    # The benchmark's own database, its numbers invented or bought from the sandbox: forget
    # them, since a clinic holding a number cannot be deleted (clinics.signals).
    Clinic.objects.update(twilio_number=None, twilio_number_sid=None, pending_number="", number_state=NumberState.NONE)
    Clinic.objects.all().delete()
    clinics = Clinic.objects.bulk_create(
        [
            Clinic(
                name=f"Bench Dental {i}",
                office_phone="+15125557000",
                twilio_number=f"+1{200 + i // 10000}{i:07d}",
                twilio_number_sid=f"PN{i:032x}",
                number_state=NumberState.ACTIVE,
            )
            for i in range(count)
        ]
    )
    patients = Patient.objects.bulk_create([Patient(clinic=c, name="Pat", phone=f"+1737{i:07d}") for i, c in enumerate(clinics)])
    soon = timezone.now() + dt.timedelta(days=2)
    Appointment.objects.bulk_create(
        [Appointment(clinic=p.clinic, patient=p, starts_at=soon + dt.timedelta(days=k)) for p in patients for k in range(3)]
    )
    ChecklistItem.objects.bulk_create([ChecklistItem(clinic=c, step=step) for c in clinics for step in OnboardingStep.values])
    return [{"number": c.twilio_number, "patient": p.phone} for c, p in zip(clinics, patients, strict=True)]


def log_rows() -> int:
    """Call and message log rows: one per webhook request with a new SID."""
    from telephony.models import CallLog, MessageLog

    return CallLog.objects.count() + MessageLog.objects.count()


def wait_for(base_url: str) -> None:
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(base_url + "/admin/login/", timeout=1)  # noqa: S310 - loopback
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def print_queries(clinic: dict, base_url: str) -> None:
    """Database queries per request, measured with the test client and query capture."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from twilio.request_validator import RequestValidator

    from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    client, validator = Client(HTTP_HOST="127.0.0.1"), RequestValidator(SANDBOX_AUTH_TOKEN)
    account = {"AccountSid": SANDBOX_ACCOUNT_SID}
    cases = {
        "voice": ("/inbound/voice", {"CallSid": "CA" + "e" * 32, "From": clinic["patient"], "To": clinic["number"], **account}),
        "status": ("/twilio/status", {"CallSid": "CA" + "f" * 32, "CallStatus": "completed", "CallDuration": "3", **account}),
        "sms": (
            "/api/sms/inbound",
            {"MessageSid": "SM" + "e" * 32, "From": clinic["patient"], "To": clinic["number"], "Body": "C", **account},
        ),
    }
    counts = []
    for name, (path, params) in cases.items():
        signature = validator.compute_signature(base_url + path, params)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
        assert response.status_code in (200, 204), (name, response.status_code)
        counts.append(f"{name} {len(queries)}")
    print("Database queries per request: " + ", ".join(counts))


def print_twilio_calls() -> None:
    """Twilio API calls for one provisioning and for an audit of 1,000 numbers (sandbox;
    fewer when fewer clinics are seeded)."""
    import requests
    from django.conf import settings

    from clinics.models import Clinic
    from telephony import twilio_service
    from telephony.numbers import audit
    from twilio_sandbox.server import start_in_thread

    sandbox = start_in_thread(str(Path(tempfile.mkdtemp()) / "sandbox.sqlite3"))
    settings.TWILIO_API_BASE_URL = sandbox.url
    control = f"{sandbox.url}/__sandbox__"
    clinic = Clinic.objects.create(name="Provision probe")
    twilio_service.provision_clinic_number(clinic.id, "512")
    provisioning = len(requests.get(f"{control}/requests", timeout=10).json()["requests"])
    requests.delete(f"{control}/requests", timeout=10)
    numbers = list(Clinic.objects.exclude(pk=clinic.pk).values_list("twilio_number", flat=True)[:999])
    requests.post(f"{control}/numbers", json={"numbers": [{"phone_number": n} for n in numbers]}, timeout=60)
    requests.delete(f"{control}/requests", timeout=10)
    audit.number_audit()
    audit_calls = requests.get(f"{control}/requests", timeout=10).json()["requests"]
    sandbox.stop()
    lists = sum(1 for r in audit_calls if r["path"].endswith("IncomingPhoneNumbers.json"))
    print(
        f"Twilio API calls: provisioning {provisioning}; audit of {len(numbers) + 1:,} numbers {len(audit_calls)} "
        f"({lists} number list page(s) + {len(audit_calls) - lists} Messaging Service list)"
    )


if __name__ == "__main__":
    sys.exit(main())
