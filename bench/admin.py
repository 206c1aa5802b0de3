"""Admin benchmark: the clinic list, its filters and search at 100,000 clinics.

Run with `bench/run-admin` (starts a private PostgreSQL). Seeds the clinics and a number
history of 1,000,000 events with set-based SQL (generate_series), then times each page
server-side in-process through Django's test client (production settings, DEBUG off;
the full request: middleware, session, admin, template), the median of --repeat runs
after one warm-up, and counts its queries. Prints a table; exits non-zero when a page
answers other than 200 or is slower than --budget-ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATES = ("active", "active", "active", "none", "released", "failed", "provisioning")
PAGES = [
    ("list", {}),
    ("filter state=active", {"number_state__exact": "active"}),
    ("filter state=failed", {"number_state__exact": "failed"}),
    ("filter checklist complete", {"checklist": "complete"}),
    ("filter checklist incomplete", {"checklist": "incomplete"}),
    ("state + checklist", {"number_state__exact": "active", "checklist": "incomplete"}),
    ("search name", {"q": "Clinic 054321"}),
    ("search number", {"q": "+15120054321"}),
    ("search no match", {"q": "zzz"}),
    ("sort by checklist", {"o": "5"}),
    ("last page", {"p": "999"}),
]


def seed(clinics: int, events: int) -> None:
    """Clinics with numbers in every state and checklist progress, and their history."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE clinics_numberevent, clinics_checklistitem, clients RESTART IDENTITY CASCADE")
        cursor.execute(
            """
            INSERT INTO clients (name, office_phone, twilio_number, twilio_number_sid, number_state,
                number_state_changed_at, number_error, requested_area_code, requested_friendly_name,
                pending_number, twilio_webhooks, created_at, updated_at, time_zone, checklist_run,
                checklist_run_started_at, checklist_done)
            SELECT 'Clinic ' || lpad(i::text, 6, '0'), '',
                CASE WHEN s IN ('active', 'failed') THEN '+1512' || lpad(i::text, 7, '0') END,
                CASE WHEN s IN ('active', 'failed') THEN 'PN' || md5(i::text) END,
                s, now() - (i || ' minutes')::interval,
                CASE WHEN s = 'failed' THEN 'No numbers are for sale in area code 512 right now.' ELSE '' END,
                '512', '', '', '{}', now(), now(), 'America/Chicago', 1 + i %% 3, now(),
                CASE WHEN s = 'active' THEN 3 + i %% 4 ELSE 0 END
            FROM (SELECT i, (%s::text[])[1 + i %% %s] AS s FROM generate_series(1, %s) AS i) AS g
            """,
            [list(STATES), len(STATES), clinics],
        )
        cursor.execute(
            """
            INSERT INTO clinics_numberevent (clinic_id, clinic_name, kind, phone_number, phone_sid, detail, created_at)
            SELECT 1 + i %% %s, 'Clinic ' || lpad((1 + i %% %s)::text, 6, '0'),
                (ARRAY['provision_requested', 'purchased', 'checklist_ticked', 'checklist_unticked', 'released'])[1 + i %% 5],
                '+1512' || lpad((1 + i %% %s)::text, 7, '0'), 'PN' || md5((1 + i %% %s)::text), '',
                now() - (i || ' seconds')::interval
            FROM generate_series(1, %s) AS i
            """,
            [clinics, clinics, clinics, clinics, events],
        )
        cursor.execute("ANALYZE")


def measure(repeat: int) -> list[tuple[str, int, float, float, int, float]]:
    """(page, status, median ms, max ms, queries, ms in the database) for each page of PAGES."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = reverse("admin:clinics_clinic_changelist")
    rows = []
    for name, params in PAGES:
        client.get(url, params)  # warm-up: caches, prepared plans
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(url, params)
        database_ms = sum(float(query["time"]) for query in captured.captured_queries) * 1000
        rows.append((name, response.status_code, statistics.median(times), max(times), len(captured), database_ms))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (the median is printed)")
    parser.add_argument("--budget-ms", type=float, default=300.0)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database, or run bench/run-admin.", file=sys.stderr)
        return 2
    from bench.webhooks import setup_django

    setup_django("http://127.0.0.1")
    started = time.perf_counter()
    seed(args.clinics, args.events)
    print(f"seeded {args.clinics:,} clinics and {args.events:,} number events in {time.perf_counter() - started:.1f} s")
    rows = measure(args.repeat)
    print(f"\n{'page':<30} {'status':>6} {'median ms':>10} {'max ms':>8} {'queries':>8} {'db ms':>7}")
    for name, status, median, worst, queries, database_ms in rows:
        print(f"{name:<30} {status:>6} {median:>10.1f} {worst:>8.1f} {queries:>8} {database_ms:>7.1f}")
    bad = [row for row in rows if row[1] != 200 or row[2] > args.budget_ms]
    if bad:
        print(f"\nOver budget ({args.budget_ms:.0f} ms) or not 200: {', '.join(row[0] for row in bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
