"""The PostgreSQL backend skips the per-request health check only on a connection in use."""

import time

import pytest
from django.db import connection, connections

from dentsignal.postgresql.base import HEALTH_CHECK_BYPASS_SECONDS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backend"),
]


def _terminate_backend_of_default_connection() -> None:
    """Cut the default connection from the server side, as a restart or a firewall would."""
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    time.sleep(0.1)


def _new_request() -> None:
    # What Django does at the start of every request (request_started signal).
    connection.close_if_unusable_or_obsolete()


def test_an_idle_connection_is_still_checked_and_replaced_before_use():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _terminate_backend_of_default_connection()
    connection.last_used = time.monotonic() - HEALTH_CHECK_BYPASS_SECONDS - 1

    _new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        assert cursor.fetchone() == (42,)


def test_a_connection_used_just_now_skips_the_check():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    _terminate_backend_of_default_connection()
    connection.last_used = time.monotonic()
    broken = connection.connection

    _new_request()
    connection.close_if_health_check_failed()

    # No round trip was spent: the dead connection was not noticed (and not replaced).
    assert connection.connection is broken and connection.health_check_done
    connection.close()
