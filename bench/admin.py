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
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import Model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import smoke  # noqa: E402

STATES = ("active", "active", "active", "none", "released", "failed", "provisioning")


def pages(clinics: int, per_page: int) -> list[tuple[str, dict[str, str]]]:
    """The pages timed at `clinics` seeded clinics, `per_page` rows a page. The searches
    name an active clinic part-way down the table (54,321 of 100,000 as in the recorded
    figures); the deep page is page 999, or the last page when there are fewer."""
    probe = clinics * 54_321 // 100_000
    while STATES[probe % len(STATES)] != "active":  # the seed's state of clinic i
        probe -= 1
    deep = min(999, math.ceil(clinics / per_page))
    return [
        ("list", {}),
        ("filter state=active", {"number_state__exact": "active"}),
        ("filter state=failed", {"number_state__exact": "failed"}),
        ("filter checklist complete", {"checklist": "complete"}),
        ("filter checklist incomplete", {"checklist": "incomplete"}),
        ("state + checklist", {"number_state__exact": "active", "checklist": "incomplete"}),
        ("search name", {"q": f"Clinic {probe:06d}"}),
        ("search number", {"q": f"+1512{probe:07d}"}),
        ("search no match", {"q": "zzz"}),
        ("sort by checklist", {"o": "5"}),
        (f"page {deep}" + (" (the last)" if deep * per_page >= clinics else ""), {"p": str(deep)}),
    ]


def seed(clinics: int, events: int) -> None:
    """Clinics with numbers in every state and checklist progress, and their history."""
    from django.db import connection

    from clinics.models import ChecklistItem, Clinic, NumberEvent

    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in (NumberEvent, ChecklistItem, Clinic))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        sql, params = insert_select(
            Clinic,
            {
                "name": "'Clinic ' || lpad(i::text, 6, '0')",
                "twilio_number": "CASE WHEN s IN ('active', 'failed') THEN '+1512' || lpad(i::text, 7, '0') END",
                "twilio_number_sid": "CASE WHEN s IN ('active', 'failed') THEN 'PN' || md5(i::text) END",
                "number_state": "s",
                "number_state_changed_at": "now() - (i || ' minutes')::interval",
                "number_error": "CASE WHEN s = 'failed' THEN 'No numbers are for sale in area code 512 right now.' ELSE '' END",
                "requested_area_code": "'512'",
                "time_zone": "'America/Chicago'",
                "checklist_run": "1 + i %% 3",
                "checklist_done": "CASE WHEN s = 'active' THEN 3 + i %% 4 ELSE 0 END",
            },
            "(SELECT i, (%s::text[])[1 + i %% %s] AS s FROM generate_series(1, %s) AS i) AS g",
        )
        cursor.execute(sql, [*params, list(STATES), len(STATES), clinics])
        sql, params = insert_select(
            NumberEvent,
            {
                "clinic_id": "c",
                "clinic_name": "'Clinic ' || lpad(c::text, 6, '0')",
                "kind": "(ARRAY['provision_requested', 'purchased', 'checklist_ticked', 'checklist_unticked', 'released'])"
                "[1 + i %% 5]",
                "phone_number": "'+1512' || lpad(c::text, 7, '0')",
                "phone_sid": "'PN' || md5(c::text)",
                "created_at": "now() - (i || ' seconds')::interval",
            },
            "(SELECT i, 1 + i %% %s AS c FROM generate_series(1, %s) AS i) AS g",
        )
        cursor.execute(sql, [*params, clinics, events])
        cursor.execute("ANALYZE")


def insert_select(model: type[Model], expressions: dict[str, str], source: str) -> tuple[str, list[object]]:
    """`INSERT INTO <model's table> SELECT ... FROM source` and the parameters of its defaults.

    The columns in `expressions` get those SQL expressions (over `source`); every other
    column gets what Django itself inserts for a new row (the field's default, the time
    for auto_now), or is left to its database default. So a column the model gains is
    seeded as the ORM would fill it, and one that the ORM cannot fill either (NOT NULL, no
    default) stops the seed with its name. The expressions take no parameters; the caller
    appends those of `source` to the defaults' parameters returned here.
    """
    from django.db import connection
    from django.db.models.expressions import DatabaseDefault

    unknown = set(expressions) - {field.column for field in model._meta.concrete_fields}
    if unknown:
        raise SystemExit(f"bench/admin.py seeds {model.__name__} columns it does not have: {', '.join(sorted(unknown))}")
    new_row = model()
    columns, values, defaults = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in expressions:
            value_sql = expressions[field.column]
        else:
            value = field.pre_save(new_row, add=True)
            if isinstance(value, DatabaseDefault):
                continue
            if value is None and not field.null:
                raise SystemExit(
                    f"bench/admin.py cannot seed {model.__name__}.{field.name}: NOT NULL without a default. "
                    "Give it a value in seed()."
                )
            value_sql = "%s"
            defaults.append(field.get_db_prep_save(value, connection))
        columns.append(connection.ops.quote_name(field.column))
        values.append(value_sql)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}", defaults  # noqa: S608


def measure(clinics: int, repeat: int) -> list[tuple[str, int, float, float, int, float]]:
    """(page, status, median ms, max ms, queries, ms in the database) for each of pages()."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    # Production settings ask staff for a second factor: the session holds a verified
    # authenticator, as after a real login (dentsignal/staff_login.py).
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    url = reverse("admin:clinics_clinic_changelist")
    from clinics.models import Clinic

    rows = []
    for name, params in pages(clinics, admin.site.get_model_admin(Clinic).list_per_page):
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
    parser.add_argument(
        "--budget-ms",
        type=float,
        default=300.0,
        help="a median over this fails the run (--smoke allows more: one request on a busy test machine says nothing)",
    )
    args = smoke.parse_args(parser, {"clinics": 100, "events": 1000, "repeat": 1, "budget_ms": 3000})
    if args.clinics < 10 or args.repeat < 1:
        parser.error("--clinics must be at least 10 and --repeat at least 1")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL database, or run bench/run-admin.", file=sys.stderr)
        return 2
    from bench.webhooks import setup_django

    setup_django("http://127.0.0.1")
    started = time.perf_counter()
    seed(args.clinics, args.events)
    print(f"seeded {args.clinics:,} clinics and {args.events:,} number events in {time.perf_counter() - started:.1f} s")
    rows = measure(args.clinics, args.repeat)
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
