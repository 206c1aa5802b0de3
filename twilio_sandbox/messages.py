"""Messages: /2010-04-01/Accounts/{AccountSid}/Messages.

  POST Messages.json        (From, or MessagingServiceSid to send from its first sender: 21211,
                             21602, 21606, 21610 for a recipient the control API unsubscribed)
  GET  Messages/{Sid}.json  (20404 for another account's message)
A sent message stays queued; its StatusCallback is kept, not called.
"""

from __future__ import annotations

from .accounts import Sandbox
from .messaging_services import service_sender
from .responses import ApiError, not_found, public
from .routing import E164, Answer, Request, Route
from .store import new_sid, now_rfc2822


def _send(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    store, form = sandbox.store, request.form
    to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
    service_sid = form.get("MessagingServiceSid") or None
    if service_sid and not sender:
        sender = service_sender(sandbox, service_sid)
    if not E164.match(to):
        raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not body and not form.get("MediaUrl"):
        raise ApiError(400, 21602, "Message body is required.")
    owned = {n["phone_number"]: n for n in store.owned() if n["account_sid"] == account}
    if sender not in owned or not owned[sender]["capabilities"].get("sms"):
        raise ApiError(
            400,
            21606,
            f"The From phone number {sender} is not a valid, SMS-capable inbound phone number or short code for your account.",
        )
    if to in store.flags("unsubscribed"):
        raise ApiError(400, 21610, "Attempt to send to unsubscribed recipient")
    sid, now = new_sid("SM"), now_rfc2822()
    message = {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": service_sid,
        "num_media": "0",
        "num_segments": str(max(1, (len(body) + 152) // 153)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{sandbox.base(account)}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"{sandbox.base(account)}/Messages/{sid}.json",
        "_sandbox": {"status_callback": form.get("StatusCallback")},
    }
    store.insert_message(message)
    return 201, public(message)


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    message = sandbox.store.get_message(sid)
    if message is None or message["account_sid"] != account:
        raise not_found(f"{sandbox.base(account)}/Messages/{sid}.json")
    return 200, public(message)


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (
    Route("POST", r"/Messages", _send),
    Route("GET", r"/Messages/(?P<sid>(SM|MM)[0-9a-fA-F]{32})", _fetch),
)
