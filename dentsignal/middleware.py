"""Answer clearly, not with a stack trace, when the database is unreachable."""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from telephony.webhook_paths import WEBHOOK_PATHS

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
MESSAGE = "The database is unavailable right now; nothing was changed. Please try again in a minute."


class DatabaseUnavailableMiddleware:
    """Turn a lost database connection into a 503 (JSON for the API, a page for people).

    Every write runs in a transaction, so a failure part-way leaves nothing half-written.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error("Database unavailable during %s %s: %s", request.method, request.path, exception)
        if request.path in WEBHOOK_PATHS:
            # Twilio reads only the status: a 5xx makes it request the number's fallback
            # URL (SMS, voice) or retry, so answer at once and briefly.
            response: HttpResponse = HttpResponse(MESSAGE, status=503, content_type="text/plain")
        elif request.path.startswith("/api/admin/"):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
