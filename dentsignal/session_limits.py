"""Staff sessions end after STAFF_SESSION_IDLE_MINUTES without a request and, whatever
the activity, STAFF_SESSION_MAX_HOURS after the login. The login page then says why.

Django's own expiry (SESSION_COOKIE_AGE) only drops the cookie, so nobody could be told
why they were logged out; the times are kept in the session instead and checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout, user_logged_in
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

LOGIN_AT = "staff_login_at"
SEEN_AT = "staff_seen_at"
# Where the reason for an ended session waits for the login page (dentsignal/staff_login.py).
LOGOUT_REASON = "staff_logout_reason"
# The last-seen time is written at most this often: not one session write per request.
SEEN_WRITE_EVERY_SECONDS = 60


def idle_sentence() -> str:
    return (
        f"You were logged out after {settings.STAFF_SESSION_IDLE_MINUTES} minutes without activity, "
        "to protect patient data. Log in again."
    )


def max_age_sentence() -> str:
    return (
        f"You were logged out because a login lasts at most {settings.STAFF_SESSION_MAX_HOURS} hours, "
        "to protect patient data. Log in again."
    )


def session_times_start(*, request: HttpRequest | None, **_: Any) -> None:
    """On every login: the session's clock starts now."""
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[LOGIN_AT] = now
        request.session[SEEN_AT] = now


def connect() -> None:
    """Start the session's clock at every login (called once, from the admin app's ready())."""
    user_logged_in.connect(session_times_start, dispatch_uid="dentsignal.session_limits")


def session_end_reason(session: Any, now: float) -> str | None:
    """Why this logged-in session must end now (a sentence for the login page), or None."""
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if login_at is None or seen_at is None:
        return None
    if now - login_at > settings.STAFF_SESSION_MAX_HOURS * 3600:
        return max_age_sentence()
    if now - seen_at > settings.STAFF_SESSION_IDLE_MINUTES * 60:
        return idle_sentence()
    return None


class SessionLimitsMiddleware:
    """Log out a session past its idle or absolute limit; the request goes on anonymous
    (the admin then sends it to its login page, which shows the reason)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Twilio's webhooks carry no session cookie: they pay nothing here.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            try:
                self._limits_apply(request)
            except (OperationalError, InterfaceError):
                # The database is down: the view meets the same error and answers it with its
                # clear 503 (dentsignal.middleware); an error raised here would be a bare 500.
                pass
        return self.get_response(request)

    @staticmethod
    def _limits_apply(request: HttpRequest) -> None:
        if request.user.is_authenticated:
            now = time.time()
            reason = session_end_reason(request.session, now)
            if reason is not None:
                logout(request)
                request.session[LOGOUT_REASON] = reason
            elif request.session.get(LOGIN_AT) is None:
                # A session from before these limits: its clock starts now.
                session_times_start(request=request)
            elif now - request.session[SEEN_AT] >= SEEN_WRITE_EVERY_SECONDS:
                request.session[SEEN_AT] = now
