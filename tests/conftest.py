"""Shared fixtures: the sandbox Twilio server, its control API, factories' users."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db import connection

from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from twilio_sandbox.server import start_in_thread

PUBLIC_BASE_URL = "https://dentsignal.example.com"

# pytest-xdist (scripts/test runs `-n 3 --dist loadgroup`) sends all the tests of one group
# to one process, one after another. Tests that start heavy processes (real Celery workers,
# a benchmark's servers and workers) or assert a wall-clock bound share a group, so that
# none of them runs while another of them slows the machine down; the browser tests (one
# Chromium per process, waits of up to 15 s, no time bound) have a group of their own, which
# runs beside it; the contract tests share one so that each Prism
# (tests/contract/conftest.py) starts in one process only.
XDIST_GROUPS = {"worker": "heavy", "bench": "heavy", "timing": "heavy", "browser": "browser", "contract": "prism"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    loadgroup = getattr(config.option, "loadgroup", False)  # set in xdist's processes by --dist loadgroup
    for item in items:
        group = next((group for marker, group in XDIST_GROUPS.items() if item.get_closest_marker(marker)), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if loadgroup and not item.nodeid.endswith(f"@{group}"):
                _xdist_group_in_nodeid(item, group)


def _xdist_group_in_nodeid(item: pytest.Item, group: str) -> None:
    """xdist's scheduler learns a test's group from an "@group" suffix of the node ID its process
    reports. pytest-xdist 3.8.0 writes that suffix to `_nodeid`, which pytest 9.2 no longer reads
    (node IDs are structured, in `_id`), so every test was scheduled alone and the groups were
    silently ignored (pytest-dev/pytest-xdist#1386, open). The suffix is written where pytest 9.2
    keeps the node ID, as the proposed fix (pytest-dev/pytest-xdist#1388) does; the endswith test
    above keeps a fixed xdist from adding a second one."""
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


class SandboxControl:
    """A test's handle on the sandbox Twilio: inject faults, seed state, read what it received."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/__sandbox__/{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self._call("POST", "reset")

    def fault(self, *, path: str, method: str = "POST", mode: str = "error", times: int = 1, **extra: Any) -> None:
        """Queue a fault for the next `times` matching requests (see the sandbox's docs)."""
        self._call("POST", "faults", {"method": method, "path": path, "mode": mode, "times": times, **extra})

    def empty_area_code(self, area_code: str) -> None:
        self._call("POST", "area-codes", {"area_code": area_code, "empty": True})

    def take(self, numbers: list[str]) -> None:
        """Mark numbers as bought by another account (still listed in searches)."""
        self._call("POST", "taken", {"numbers": numbers})

    def seed_numbers(self, numbers: list[dict[str, Any]]) -> list[str]:
        return self._call("POST", "numbers", {"numbers": numbers})["sids"]

    def remove_number(self, sid: str) -> None:
        self._call("DELETE", f"numbers/{sid}")

    def unsubscribe(self, numbers: list[str]) -> None:
        self._call("POST", "unsubscribed", {"numbers": numbers})

    def requests(self) -> list[dict[str, Any]]:
        """Every REST API request the sandbox received since the last reset."""
        return self._call("GET", "requests")["requests"]

    def api_requests(self, method: str | None = None, path_contains: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests() if (method is None or r["method"] == method) and path_contains in r["path"]]

    def owned_numbers(self) -> list[dict[str, Any]]:
        return self._call("GET", "state")["incoming_phone_numbers"]


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = start_in_thread(str(tmp_path_factory.mktemp("sandbox") / "twilio.sqlite3"))
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Any, settings: Any) -> SandboxControl:
    """Every test talks to a fresh sandbox Twilio through the real SDK."""
    settings.TWILIO_ACCOUNT_SID = SANDBOX_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = SANDBOX_AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = sandbox_server.url
    settings.TWILIO_HTTP_TIMEOUT = 5.0
    settings.API_BASE_URL = PUBLIC_BASE_URL
    control = SandboxControl(sandbox_server.url)
    control.reset()
    return control


@pytest.fixture(autouse=True)
def _twilio_is_the_sandbox(request: pytest.FixtureRequest, settings: Any) -> None:
    """Every test reaches a fresh sandbox Twilio through the real SDK (unless marked no_sandbox)."""
    from django.core.cache import cache

    settings.API_BASE_URL = PUBLIC_BASE_URL
    cache.clear()  # rate-limit counters must not leak between tests
    from telephony.webhooks.signatures import signing_tokens_forget

    signing_tokens_forget()  # subaccount tokens cached by an earlier test's clinics
    if request.node.get_closest_marker("no_sandbox") is None:
        request.getfixturevalue("sandbox")


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    """An operator as they are set up: staff, in the Onboarding staff group (its permissions)."""
    from tests.permissions import onboarding_staff_group

    user = django_user_model.objects.create_user(username="staff", password="pw-staff-1234", is_staff=True)
    user.groups.add(onboarding_staff_group())
    return user


@pytest.fixture
def expected_webhooks() -> dict[str, str]:
    return {
        "voice": f"{PUBLIC_BASE_URL}/inbound/voice",
        "sms": f"{PUBLIC_BASE_URL}/api/sms/inbound",
        "status_callback": f"{PUBLIC_BASE_URL}/twilio/status",
    }


@pytest.fixture(autouse=True)
def _empty_fallback_store() -> Iterator[None]:
    """Each test starts with no spooled texts, no office-line cache and no subaccount tokens'
    copy, in whichever store is configured (they outlive a test's rolled-back clinics otherwise)."""

    from django.conf import settings

    from telephony import fallback_store

    redis_url, spool_dir = settings.FALLBACK_REDIS_URL, settings.FALLBACK_SPOOL_DIR

    def clear():
        if redis_url:
            fallback_store._redis(redis_url).delete(
                fallback_store.SMS_SPOOL_KEY,
                fallback_store.SMS_SPOOL_ASIDE_KEY,
                fallback_store.OFFICE_LINES_KEY,
                fallback_store.ACCOUNT_TOKENS_KEY,
            )
        shutil.rmtree(spool_dir, ignore_errors=True)

    clear()
    yield
    clear()


# What the flush after a committing test keeps: the rows migrations and post_migrate make
# once, which no test changes (content types and permissions).
FLUSH_KEEPS = frozenset({"django_content_type", "auth_permission"})


@pytest.fixture(scope="session", autouse=True)
def _flush_deletes_on_postgresql() -> Iterator[None]:
    """A test with real commits (django_db(transaction=True)) ends with Django's flush of every
    table, then the post_migrate signal, which makes the content types and permissions again.
    On PostgreSQL the flush is one TRUNCATE of all ~40 tables, about 80 ms with the server's
    fsync off, whatever they hold (each table gets a new file), and post_migrate 32 ms more.
    Here the few rows a test leaves are deleted (about 10 ms), content types and permissions
    kept, so post_migrate would find nothing to make and is not sent. With over 400 such
    tests that is well over a minute of CI. The foreign keys Django makes on PostgreSQL are
    DEFERRABLE INITIALLY DEFERRED, so the deletes need no order. Tests only: `manage.py
    flush` outside the tests is Django's own."""
    from django.core.management.commands import flush
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate, post_migrate = DatabaseOperations.sql_flush, flush.emit_post_migrate_signal

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        kept = [table for table in tables if table not in FLUSH_KEEPS]
        deletes = [f"DELETE FROM {self.quote_name(table)};" for table in kept]  # noqa: S608 - Django's table names
        return ["SET CONSTRAINTS ALL DEFERRED;", *deletes]

    def post_migrate_unless_kept(verbosity, interactive, database, **kwargs):
        from django.db import connections

        if connections[database].vendor != "postgresql":
            post_migrate(verbosity, interactive, database, **kwargs)

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
    flush.emit_post_migrate_signal = post_migrate_unless_kept
    yield
    DatabaseOperations.sql_flush = truncate  # type: ignore[method-assign]
    flush.emit_post_migrate_signal = post_migrate


def eager_results_readable() -> None:
    """Clear Celery's process-wide "joining a result would block" flag.

    Eager mode sets it around each task and restores the value it found, process-wide, not
    per thread: two eager tasks overlapping in threads (two staff clicking at once, as
    several tests do) restore it in the wrong order and leave it set. Every later
    `.delay().get()` of that test process then raises "Never call result.get() within a
    task!", so a test failed or passed by which tests pytest-xdist had given its process
    before. Only a worker process should hold the flag set, and a test process is none.
    Production code never joins a result, so this concerns the tests alone."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _eager_results_can_be_read() -> None:
    eager_results_readable()


@pytest.fixture(autouse=True)
def _a_rolled_back_test_leaves_nothing_for_a_commit(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test of a module with real commits (django_db(transaction=True)) may opt out with a
    plain django_db mark: it rolls back instead, which is much cheaper. Work done on commit
    (tasks sent, caches refreshed: transaction.on_commit) never runs in it, so it must leave
    none: else it could pass only because that work was skipped. It then fails here, saying
    to give it its real commits back."""
    marks = list(request.node.iter_markers("django_db"))
    if not marks or marks[0].kwargs.get("transaction") or not any(m.kwargs.get("transaction") for m in marks[1:]):
        yield
        return
    request.getfixturevalue("db")  # this check runs before the test's rollback
    yield
    from django.db import connections

    left = [func for conn in connections.all(initialized_only=True) for _, func, _ in conn.run_on_commit]
    assert not left, (
        f"this test rolls back, yet left work for a commit that never came: {left}. "
        "Give it real commits: @pytest.mark.django_db(transaction=True)."
    )


@pytest.fixture
def database_down():
    """Make the real database connection fail (the server is unreachable) for the block."""

    class Outage:
        def __enter__(self):
            connection.close()
            self.saved = dict(connection.settings_dict)
            if connection.vendor == "sqlite":
                connection.settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
            else:
                connection.settings_dict["PORT"] = "1"
                connection.settings_dict["OPTIONS"] = {**self.saved.get("OPTIONS", {}), "connect_timeout": 2}
            return self

        def __exit__(self, *exc):
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(self.saved)

    return Outage()
