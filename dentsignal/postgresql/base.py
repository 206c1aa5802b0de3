"""Django's PostgreSQL backend, with the per-request health check skipped on a hot connection.

CONN_HEALTH_CHECKS costs every request a `SELECT 1` round trip before its first query
(~10% of a webhook's time, bench/profile_webhooks.py). A connection that answered a
query less than HEALTH_CHECK_BYPASS_SECONDS ago is used as is, the way HikariCP's
`aliveBypassWindowMs` does: under load no request pays for the check, while a
connection that sat idle (where firewalls and database restarts break them) is still
checked and replaced before use. A connection that fails anyway is marked by Django and
closed at the end of that request, as without health checks.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_BYPASS_SECONDS = 0.5


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = 0.0

    def create_cursor(self, name=None):
        self.last_used = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and not self.health_check_done
            and not self.connection.closed
            and time.monotonic() - self.last_used < HEALTH_CHECK_BYPASS_SECONDS
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
