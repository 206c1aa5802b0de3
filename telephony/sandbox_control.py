"""Development only (TWILIO_SANDBOX=true): one request to the sandbox Twilio's control API,
`POST /__sandbox__/<path>` at the sandbox's origin (TWILIO_API_BASE_URL), the way the
clinic page's sandbox buttons move a review, a port or a texting order on as Twilio (or
the losing carrier) would. Over HTTP like every other request to the sandbox: nothing here
imports it (an import-linter contract forbids that)."""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings

NOT_RUNNING = "The sandbox Twilio did not take the step: is it running? (scripts/dev starts it.)"


class SandboxOnly(Exception):
    """The sandbox Twilio is not in use: there is nobody to play Twilio's or the carrier's part."""


def sandbox_control_post(path: str, payload: dict[str, Any], *, error: type[Exception]) -> None:
    """POST `payload` to the sandbox's control endpoint `path`; raises SandboxOnly outside
    the sandbox and `error` (a staff sentence) when the sandbox does not take it."""
    if not settings.TWILIO_SANDBOX:
        raise SandboxOnly("This step exists only with the sandbox Twilio.")
    try:
        answer = requests.post(
            f"{settings.TWILIO_API_BASE_URL}/__sandbox__/{path}", json=payload, timeout=settings.TWILIO_HTTP_TIMEOUT
        )
        answer.raise_for_status()
    except requests.RequestException as exc:
        raise error(NOT_RUNNING) from exc
