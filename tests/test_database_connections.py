"""PostgreSQL connections as settings.py configures them: Django's own backend, persistent
connections (CONN_MAX_AGE) without the per-request health check (CONN_HEALTH_CHECKS off)."""

import time

import pytest
from django.db import DatabaseError, close_old_connections, connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL connections"),
]


def _cut_the_default_connection() -> None:
    """End the default connection from the server side, as a restart or a firewall would."""
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    time.sleep(0.1)


def _query() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        return cursor.fetchone()[0]


def test_djangos_backend_with_persistent_connections_and_no_per_request_check(settings):
    database = settings.DATABASES["default"]

    assert type(connections["default"]) is DatabaseWrapper  # no project backend swapped in
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is False


def test_a_connection_cut_while_idle_fails_one_request_and_the_next_gets_a_fresh_one():
    _query()
    _cut_the_default_connection()

    close_old_connections()  # a request starts (request_started): nothing is checked
    with pytest.raises(DatabaseError):
        _query()  # this one request fails
    close_old_connections()  # it ends (request_finished): Django closes the broken connection

    close_old_connections()  # the next request
    assert _query() == 42
