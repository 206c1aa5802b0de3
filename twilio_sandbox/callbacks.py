"""The sandbox's outgoing callbacks: signed POSTs to a resource's StatusCallback, as Twilio makes them.

Twilio signs every request it makes to a callback URL with the auth token of the account
the resource belongs to (X-Twilio-Signature: HMAC-SHA1 of the URL followed by each POST
parameter's name and value, sorted by name; "Webhooks security",
https://www.twilio.com/docs/usage/webhooks/webhooks-security); the SDK's RequestValidator
computes it. Twilio calls back asynchronously, so each callback is sent from a background
thread after the change that caused it; each delivery (the app's HTTP status, or why it
was not made) is kept in the store's callback log (GET /__sandbox__/callbacks).

The sandbox calls loopback hosts only (127.0.0.0/8, ::1, localhost): it is a development
tool, and nobody who can create a bundle on it may make it POST, signed, to another host.
A callback to any other host is logged as not sent.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

from .store import Store

DELIVERY_TIMEOUT_SECONDS = 10.0


def callback_send(store: Store, *, url: str, form: dict[str, str], auth_token: str) -> threading.Thread:
    """POST `form` to `url`, signed with `auth_token`, from a background thread (started and returned)."""
    thread = threading.Thread(target=_deliver, args=(store, url, form, auth_token), name="twilio-sandbox-callback", daemon=True)
    thread.start()
    return thread


def loopback_host(host: str) -> bool:
    """True for a loopback IP literal or localhost (and its *.localhost names, RFC 6761); no DNS lookup."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _deliver(store: Store, url: str, form: dict[str, str], auth_token: str) -> None:
    parts = urlsplit(url)
    entry: dict[str, object] = {"url": url, "form": form, "status": None, "error": ""}
    if parts.scheme not in ("http", "https") or not loopback_host(parts.hostname or ""):
        entry["error"] = f"not sent: the sandbox calls back loopback hosts only, not {parts.hostname!r}"
        store.log_callback(entry)
        return
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=DELIVERY_TIMEOUT_SECONDS)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, form),
        "User-Agent": "TwilioProxy/1.1 (dentsignal sandbox)",
    }
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), urlencode(form), headers)
        entry["status"] = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        entry["error"] = f"not delivered: {exc}"
    finally:
        connection.close()
    store.log_callback(entry)
