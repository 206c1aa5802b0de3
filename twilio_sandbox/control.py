"""The control API, for tests and demos: /__sandbox__/{path}, JSON in and out, no auth.

The app answers it for loopback clients only (403 otherwise), whatever interface the
server binds.
  POST reset (the throttle too, back to the environment's limits);
  POST/DELETE faults {"method", "path", "mode", "status", "code", "message", "delay",
  "times", "probability", "retry_after"}: the next `times` matching requests (each with `probability`)
  fail (the app applies them: app.py);
  POST area-codes {"area_code", "empty"};
  POST voice-only {"numbers"}; POST taken {"numbers"}; POST numbers {"numbers": [...]};
  POST messaging-services {"friendly_name", "inbound_request_url", "use_inbound_webhook_on_number", "number_sids",
  "account_sid" (default: the main account)};
  DELETE numbers/{sid}; POST unsubscribed {"numbers"}; GET/DELETE requests;
  POST calls {"account_sid", "count", "in_progress"} (calls counted in that account's usage this
  month; answers their "sids"); POST message-status {"sid", "status"} (a sent message moves on);
  GET state (numbers, messages, and subaccounts with their auth tokens, so tests can sign as one);
  POST a2p-review, POST a2p-decide, GET a2p-state, GET callbacks: A2P reviews and the
  callbacks they send (see reviews.py);
  POST port-in-status {"sid": "KW...", "status"}: move a port-in request and its numbers on
  (completed: the numbers join the target account's IncomingPhoneNumbers; porting.py);
  POST port-in-number-status {"sid": "PU...", "status", "rejection_reason", "rejection_reason_code"}:
  one number (rejected puts its request in action_required);
  POST hosted-order-status {"sid": "HR...", "status", "failure_reason"}: a hosted number order
  (hosted_numbers.py); GET numbers-state: every port-in request, number, document and order;
  POST throttle {"latency_ms", "account_concurrency", "account_rate", "retry_after"} (any of
  them; 0 = none): every REST request's delay and each account's limits beyond which it is
  429 / 20429 with Retry-After; GET throttle: those and the counters (throttle.py);
  DELETE throttle/counters: the counters back to zero;
  POST seed {"accounts", "numbers", "services", "a2p"}: a whole fleet at once (seeding.py).
"""

from __future__ import annotations

import json

from .accounts import Sandbox
from .hosted_numbers import hosted_order_status_set
from .incoming_numbers import seeded_number
from .messaging_services import new_service
from .porting import port_in_number_status_set, port_in_status_set
from .reviews import decide
from .routing import Answer
from .seeding import seed
from .throttle import Throttle

# The control paths that mark numbers (POST {"numbers": [...]}), and the store's table of each.
FLAG_TABLES = {"taken": "taken", "voice-only": "voice_only", "unsubscribed": "unsubscribed"}


def control(sandbox: Sandbox, method: str, path: str, body: bytes, throttle: Throttle) -> Answer:
    """Answer the control request `method` /__sandbox__/`path` with the JSON `body`."""
    try:
        payload = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return 400, {"error": "body is not JSON"}
    store = sandbox.store
    if (method, path) == ("POST", "reset"):
        store.reset()
        throttle.reset()
        return 200, {"ok": True}
    if (method, path) == ("POST", "seed"):
        try:
            return 200, seed(sandbox, payload)
        except (KeyError, ValueError) as exc:
            return 400, {"error": f"cannot seed that: {exc}"}
    if (method, path) == ("DELETE", "throttle/counters"):
        throttle.reset_counters()
        return 200, throttle.state()
    if (method, path) == ("GET", "throttle"):
        return 200, throttle.state()
    if (method, path) == ("POST", "throttle"):
        try:
            throttle.set(payload if isinstance(payload, dict) else {})
        except ValueError as exc:
            return 400, {"error": str(exc)}
        return 200, throttle.state()
    if path == "faults" and method == "POST":
        store.add_fault(payload.get("method", "*"), payload.get("path", ""), payload, int(payload.get("times", 1)))
        return 200, {"ok": True}
    if path == "faults" and method == "DELETE":
        store.clear_faults()
        return 200, {"ok": True}
    if (method, path) == ("POST", "area-codes"):
        store.set_flag("empty_area_codes", str(payload["area_code"]), bool(payload.get("empty", True)))
        return 200, {"ok": True}
    if method == "POST" and path in FLAG_TABLES:
        for number in payload.get("numbers", []):
            store.set_flag(FLAG_TABLES[path], number, True)
        return 200, {"ok": True}
    if (method, path) == ("POST", "messaging-services"):
        service = new_service(sandbox, payload)
        store.insert_service(service)
        return 200, {"sid": service["sid"]}
    if (method, path) == ("POST", "numbers"):
        numbers = [seeded_number(sandbox, spec) for spec in payload.get("numbers", [])]
        store.insert_many(numbers)
        return 200, {"sids": [n["sid"] for n in numbers]}
    if method == "DELETE" and path.startswith("numbers/"):
        return (200, {"ok": True}) if store.delete_number(path.split("/", 1)[1]) else (404, {"error": "no such number"})
    if path == "requests" and method == "GET":
        return 200, {"requests": store.requests()}
    if path == "requests" and method == "DELETE":
        store.clear_requests()
        return 200, {"ok": True}
    if (method, path) == ("POST", "a2p-review"):
        if payload.get("mode") not in ("approve", "reject", "manual"):
            return 400, {"error": "mode must be approve, reject or manual"}
        store.a2p_review_set(payload)
        return 200, {"ok": True}
    if (method, path) == ("POST", "a2p-decide"):
        if payload.get("outcome") not in ("approve", "reject"):
            return 400, {"error": "outcome must be approve or reject"}
        try:
            decided = decide(sandbox, str(payload.get("sid", "")), payload["outcome"], int(payload.get("code") or 30909))
        except KeyError:
            decided = None
        if decided is None:
            return 404, {"error": "no submitted bundle, brand or campaign with that sid"}
        return 200, {"sid": decided["sid"]}
    if (method, path) == ("GET", "a2p-state"):
        return 200, {"objects": store.a2p_all(), "services": store.services()}
    if (method, path) == ("GET", "callbacks"):
        return 200, {"callbacks": store.callbacks()}
    if (method, path) == ("POST", "calls"):
        sids = store.insert_calls(
            str(payload["account_sid"]), int(payload.get("count", 1)), in_progress=bool(payload.get("in_progress"))
        )
        return 200, {"ok": True, "sids": sids}
    if (method, path) == ("POST", "message-status"):
        if store.get_message(str(payload.get("sid", ""))) is None:
            return 404, {"error": "no such message"}
        store.update_message(str(payload["sid"]), {"status": str(payload.get("status", ""))})
        return 200, {"ok": True}
    if method == "POST" and path in NUMBERS_MOVES:
        return _move(sandbox, path, payload)
    if (method, path) == ("GET", "numbers-state"):
        kinds = ("port_in", "port_in_number", "document", "porting_webhooks", "hosted_order")
        return 200, {"objects": [o for o in store.a2p_all() if o["_sandbox"]["kind"] in kinds]}
    if (method, path) == ("GET", "state"):
        return 200, {"incoming_phone_numbers": store.owned(), "messages": store.messages(), "accounts": store.accounts()}
    return 404, {"error": f"no control endpoint {method} /__sandbox__/{path}"}


# The control paths that move a Numbers API object on, and what each calls.
NUMBERS_MOVES = {
    "port-in-status": lambda sandbox, sid, p: port_in_status_set(sandbox, sid, str(p.get("status", ""))),
    "port-in-number-status": lambda sandbox, sid, p: port_in_number_status_set(
        sandbox,
        sid,
        str(p.get("status", "")),
        rejection_reason=str(p.get("rejection_reason") or ""),
        rejection_reason_code=int(p["rejection_reason_code"]) if p.get("rejection_reason_code") is not None else None,
    ),
    "hosted-order-status": lambda sandbox, sid, p: hosted_order_status_set(
        sandbox, sid, str(p.get("status", "")), failure_reason=str(p.get("failure_reason") or "")
    ),
}


def _move(sandbox: Sandbox, path: str, payload: dict) -> Answer:
    """Move the port-in request, port-in number or hosted order `payload["sid"]` to `payload["status"]`."""
    try:
        moved = NUMBERS_MOVES[path](sandbox, str(payload.get("sid", "")), payload)
    except KeyError:
        return 404, {"error": f"no object with sid {payload.get('sid')!r} for {path}"}
    except ValueError:
        return 400, {"error": f"unknown status {payload.get('status')!r} for {path}"}
    return 200, {"sid": payload.get("sid"), "object": {k: v for k, v in moved.items() if k != "_sandbox"}}
