"""The porting webhook configuration (Numbers API v1): where Twilio reports the port-in events of
the account and all its subaccounts (https://www.twilio.com/docs/phone-numbers/port-in/porting-webhooks).

  POST /v1/Porting/Configuration/Webhook (JSON: port_in_target_url, port_out_target_url,
       notifications_of)                      201; a repeat overwrites
  GET  /v1/Porting/Configuration/Webhook      200 (empty URLs when none)
  DELETE /v1/Porting/Configuration/Webhook/{PORT_IN|PORT_OUT}   204; 20404 when none is set
The sandbox keeps the configuration and does not send the events (Twilio documents the
events, not their request): the state is read by fetching the port-in request.
"""

from __future__ import annotations

from typing import Any

from .accounts import Sandbox
from .porting import NUMBERS_ORIGIN
from .responses import not_found
from .routing import Answer, Request, Route
from .store import now_iso8601

WEBHOOKS_SID = "porting_webhooks"


def _webhook_set(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    payload = request.json()
    current = sandbox.store.a2p_get(WEBHOOKS_SID) or {"sid": WEBHOOKS_SID, "_sandbox": {"kind": "porting_webhooks"}}
    now = now_iso8601()
    config = {
        **current,
        "url": f"{NUMBERS_ORIGIN}/v1/Porting/Configuration/Webhook",
        "notifications_of": payload.get("notifications_of") or current.get("notifications_of") or [],
    }
    for kind in ("port_in", "port_out"):
        url = payload.get(f"{kind}_target_url")
        if url:
            config[f"{kind}_target_url"] = url
            config[f"{kind}_target_date_created"] = now
    if sandbox.store.a2p_get(WEBHOOKS_SID) is None:
        sandbox.store.a2p_put(config)
    else:
        sandbox.store.a2p_update(WEBHOOKS_SID, config)
    return 201, _webhook_view(config, created=True)


def _webhook_view(config: dict[str, Any], *, created: bool = False) -> dict[str, Any]:
    view = {
        "url": f"{NUMBERS_ORIGIN}/v1/Porting/Configuration/Webhook",
        "port_in_target_url": config.get("port_in_target_url"),
        "port_out_target_url": config.get("port_out_target_url"),
        "notifications_of": config.get("notifications_of") or [],
    }
    if not created:
        view["port_in_target_date_created"] = config.get("port_in_target_date_created")
        view["port_out_target_date_created"] = config.get("port_out_target_date_created")
    return view


def _webhook_fetch(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    return 200, _webhook_view(sandbox.store.a2p_get(WEBHOOKS_SID) or {})


def _webhook_delete(sandbox: Sandbox, request: Request, *, account: str, webhook_type: str) -> Answer:
    config = sandbox.store.a2p_get(WEBHOOKS_SID)
    kind = webhook_type.lower()
    if config is None or not config.get(f"{kind}_target_url"):
        raise not_found(webhook_type)
    sandbox.store.a2p_update(WEBHOOKS_SID, {f"{kind}_target_url": None, f"{kind}_target_date_created": None})
    return 204, None


# Whole paths; each acts as the account of the credentials.
ROUTES = (
    Route("POST", r"/v1/Porting/Configuration/Webhook", _webhook_set),
    Route("GET", r"/v1/Porting/Configuration/Webhook", _webhook_fetch),
    Route("DELETE", r"/v1/Porting/Configuration/Webhook/(?P<webhook_type>PORT_IN|PORT_OUT)", _webhook_delete),
)
