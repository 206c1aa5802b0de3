"""Call records: /2010-04-01/Accounts/{AccountSid}/Calls.

  DELETE Calls/{Sid}.json   (204; 20404 for another account's call or one already deleted;
                             20009 while the call is in progress)
The control API records calls (POST calls, optionally in progress); Twilio's page for 20009
("Cannot delete this resource before it is complete", https://www.twilio.com/docs/api/errors/20009)
names no HTTP status, so it comes with 400, as Twilio's other refusals of a request do.
"""

from __future__ import annotations

from .accounts import Sandbox
from .responses import ApiError, not_found
from .routing import Answer, Request, Route


def _delete(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    call = sandbox.store.get_call(sid)
    if call is None or call["account_sid"] != account:
        raise not_found(f"{sandbox.base(account)}/Calls/{sid}.json")
    if call["in_progress"]:
        raise ApiError(400, 20009, "Cannot delete this resource before it is complete")
    sandbox.store.delete_call(sid)
    return 204, None


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (Route("DELETE", r"/Calls/(?P<sid>CA[0-9a-fA-F]{32})", _delete),)
