"""Messages: /2010-04-01/Accounts/{AccountSid}/Messages.

  POST Messages.json        (From, or MessagingServiceSid to send from its first sender: 21211,
                             21602, 21606, 21610 for a recipient the control API unsubscribed)
  GET  Messages/{Sid}.json  (20404 for another account's message)
  POST Messages/{Sid}.json  Body="" redacts the text, Status=canceled cancels a scheduled message
                            (30400 for neither, both, or a non-empty Body; 30409 to cancel one
                            not scheduled)
  DELETE Messages/{Sid}.json  (204)
A sent message stays queued (the control API's message-status moves it on); its
StatusCallback is kept, not called. Redacting or deleting a message that is not final yet
(queued, sending, ...) is 20009, "Cannot delete this resource before it is complete"
(https://www.twilio.com/docs/api/errors/20009): Twilio's page names no HTTP status for it,
so it comes with 400, as Twilio's other refusals of a request do.
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


# Statuses after which Twilio may still change a message: it cannot be redacted or deleted yet.
NOT_FINAL = frozenset({"queued", "sending", "accepted", "scheduled", "receiving"})


def _owned(sandbox: Sandbox, account: str, sid: str) -> dict:
    """Message `sid` if `account` holds it; another account's message is 20404, as at Twilio."""
    message = sandbox.store.get_message(sid)
    if message is None or message["account_sid"] != account:
        raise not_found(f"{sandbox.base(account)}/Messages/{sid}.json")
    return message


def _final(message: dict) -> None:
    if message["status"] in NOT_FINAL:
        raise ApiError(400, 20009, "Cannot delete this resource before it is complete")


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    return 200, public(_owned(sandbox, account, sid))


def _update(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    """Redact the body (Body="") or cancel a scheduled message (Status=canceled), one of the two
    (https://www.twilio.com/docs/api/errors/30400, /30409)."""
    message = _owned(sandbox, account, sid)
    form = request.form
    if ("Body" in form) == ("Status" in form) or form.get("Body"):
        raise ApiError(400, 30400, "Parameters are not valid: send either an empty Body (redaction) or Status=canceled.")
    if "Status" in form:
        if form["Status"] != "canceled" or message["status"] != "scheduled":
            raise ApiError(400, 30409, "This message cannot be canceled")
        changes = {"status": "canceled"}
    else:
        _final(message)
        changes = {"body": ""}
    return 200, public(sandbox.store.update_message(sid, changes))


def _delete(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    _final(_owned(sandbox, account, sid))
    sandbox.store.delete_message(sid)
    return 204, None


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (
    Route("POST", r"/Messages", _send),
    Route("GET", r"/Messages/(?P<sid>(SM|MM)[0-9a-fA-F]{32})", _fetch),
    Route("POST", r"/Messages/(?P<sid>(SM|MM)[0-9a-fA-F]{32})", _update),
    Route("DELETE", r"/Messages/(?P<sid>(SM|MM)[0-9a-fA-F]{32})", _delete),
)
