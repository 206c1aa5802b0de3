"""Signed test traffic through our own webhooks, as Twilio would send it.

Two users: `manage.py twilio_sign_request` (a curl command for any webhook, with fresh
SIDs) and, with the sandbox Twilio only, the clinic page's **Simulate test call / SMS**
button, which drives the whole path through the real webhook views: the signed voice
request, then what Twilio would do with our answer (for an agent answer, the stream's
status callback, stream-started only if the agent's WebSocket endpoint really accepts
a connection, stream-error otherwise), then a signed inbound SMS; and, on the paths that
forward the published line, **Simulate a forwarded call**: the same call with Twilio's
ForwardedFrom set to the published number. Nothing here pretends an agent answered or a
line was forwarded: the checklist ticks only through the same requests Twilio sends.

Twilio's request parameters: the voice and SMS webhook requests (docs "TwiML Voice:
Twilio's request to your application", "TwiML Messaging: Twilio's request"), the
<Stream> statusCallback (docs "<Stream>": StreamEvent, StreamSid, StreamError) and the
<ConversationRelay> <Connect action> (SessionStatus, SessionId).
"""

from __future__ import annotations

import base64
import http.client
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from twilio.request_validator import RequestValidator

from telephony.webhook_paths import SMS_PATH, STATUS_PATH, STREAM_STATUS_PATH, VOICE_PATH
from telephony.webhook_urls import public_base_url_for

# A caller for test traffic (Twilio's docs use 555 numbers in examples too).
TEST_CALLER = "+15125550111"
# How long the agent's endpoint may take to accept the WebSocket handshake.
AGENT_PROBE_TIMEOUT = 3.0


def fresh_sid(prefix: str) -> str:
    """A new, random SID with this two-letter prefix (CA, SM, MZ...), shaped as Twilio's."""
    return prefix + secrets.token_hex(16)


def webhook_example(webhook: str, *, to: str = "") -> tuple[str, dict[str, str]]:
    """The path and a typical form Twilio posts to one of our webhooks ("voice", "sms",
    "status", "stream"), with fresh SIDs, from TEST_CALLER to `to`."""
    account = {"AccountSid": settings.TWILIO_ACCOUNT_SID}
    if webhook == "voice":
        form = {"CallSid": fresh_sid("CA"), "From": TEST_CALLER, "To": to, "CallStatus": "ringing", "Direction": "inbound"}
        return VOICE_PATH, {**account, **form}
    if webhook == "sms":
        message_sid = fresh_sid("SM")
        form = {"MessageSid": message_sid, "SmsSid": message_sid, "From": TEST_CALLER, "To": to, "Body": "HELP"}
        return SMS_PATH, {**account, **form, "NumSegments": "1"}
    if webhook == "status":
        return STATUS_PATH, {**account, "CallSid": fresh_sid("CA"), "CallStatus": "completed", "CallDuration": "42"}
    if webhook == "stream":
        form = {"CallSid": fresh_sid("CA"), "StreamSid": fresh_sid("MZ"), "StreamEvent": "stream-started"}
        return STREAM_STATUS_PATH, {**account, **form}
    raise ValueError(f"unknown webhook {webhook!r}")


WEBHOOKS = ("voice", "sms", "status", "stream")


def twilio_signature(path: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature for a POST of `form` to our public URL of `path`, as Twilio computes it."""
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(public_base_url_for(path) + path, form)


def _post(path: str, form: dict[str, str]) -> HttpResponse:
    """POST `form`, signed, to the view that serves `path` (no HTTP: the view itself)."""
    # Imported here: the admin imports this module, and production needs no test tools.
    from django.test import RequestFactory

    request: HttpRequest = RequestFactory().post(path, form, HTTP_X_TWILIO_SIGNATURE=twilio_signature(path, form))
    view: Callable[[HttpRequest], HttpResponse] = resolve(path).func
    return view(request)


def agent_accepts_stream(url: str) -> tuple[bool, str]:
    """Whether the agent's endpoint `url` (ws:// or wss://) completes a WebSocket opening
    handshake (HTTP 101), as Twilio's connection would; with the reason when not."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return False, f"{url!r} is not a ws:// or wss:// URL"
    connection_class = http.client.HTTPSConnection if parts.scheme == "wss" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=AGENT_PROBE_TIMEOUT)
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f"could not connect to {parts.hostname}: {exc}"
    finally:
        connection.close()
    if status != 101:
        return False, f"{parts.hostname} answered HTTP {status} to the WebSocket handshake, not 101"
    return True, ""


@dataclass
class Simulation:
    """What a simulated test call and SMS did: per step, whether it worked and a sentence
    for staff (the SIDs are the operators' details, in the call and message logs)."""

    call_sid: str = ""
    message_sid: str = ""
    steps: list[tuple[bool, str]] = field(default_factory=list)


def _agent_callback(root: ET.Element) -> tuple[str, str] | None:
    """From our voice TwiML: (mode, callback URL) when it hands the call to the agent."""
    stream = root.find("Connect/Stream")
    if stream is not None and stream.get("statusCallback"):
        return "stream", stream.get("statusCallback", "")
    connect = root.find("Connect")
    if connect is not None and connect.find("ConversationRelay") is not None and connect.get("action"):
        return "conversation_relay", connect.get("action", "")
    return None


def _agent_events(mode: str, form: dict[str, str], *, accepted: bool, why: str) -> list[dict[str, str]]:
    """The callbacks Twilio would send about the agent for this call."""
    base = {"AccountSid": form["AccountSid"], "CallSid": form["CallSid"]}
    if mode == "stream":
        stream = {**base, "StreamSid": fresh_sid("MZ")}
        if accepted:
            return [{**stream, "StreamEvent": "stream-started"}]
        return [{**stream, "StreamEvent": "stream-error", "StreamError": why}]
    session = {**base, "SessionId": fresh_sid("VX"), "CallStatus": "in-progress"}
    if accepted:
        return [{**session, "SessionStatus": "ended", "SessionDuration": "1"}]
    return [{**session, "SessionStatus": "failed", "ErrorMessage": why}]


def _call_simulate(result: Simulation, *, twilio_number: str, forwarded_from: str = "") -> None:
    """A signed test call to `twilio_number` (forwarded from `forwarded_from` when given, as
    Twilio's ForwardedFrom says) and what Twilio would report about the agent, into `result`."""
    path, form = webhook_example("voice", to=twilio_number)
    if forwarded_from:
        form["ForwardedFrom"] = forwarded_from
    result.call_sid = form["CallSid"]
    answer = _post(path, form)
    root = ET.fromstring(answer.content)  # noqa: S314 - our own webhook's TwiML, not outside data
    agent = _agent_callback(root)
    if agent is None:
        heard = "the office line" if root.find("Dial") is not None else "a spoken message"
        # Imported here like RequestFactory: the log row our voice webhook just wrote says why.
        from telephony.models import CallLog

        why = CallLog.objects.filter(call_sid=result.call_sid).values_list("fallback_reason", flat=True).first()
        result.steps.append(
            (False, f"Not yet: the AI agent did not answer the test call, because it went to {heard}: {why or 'unknown'}.")
        )
        return
    mode, callback = agent
    accepted, why = agent_accepts_stream(settings.AI_AGENT_STREAM_URL)
    for event in _agent_events(mode, form, accepted=accepted, why=why):
        _post(urlsplit(callback).path, event)
    if accepted:
        result.steps.append((True, "The AI agent answered the test call: it accepted the stream."))
    else:
        result.steps.append((False, f"Not yet: the AI agent did not answer the test call: {why}."))


def _sandbox_only() -> None:
    if not settings.TWILIO_SANDBOX:
        raise RuntimeError("Simulated test traffic exists only with the sandbox Twilio.")


def traffic_simulate(*, twilio_number: str) -> Simulation:
    """Sandbox only: a signed test call to `twilio_number`, what Twilio would report about
    the agent, and a signed inbound SMS ("HELP"), all through our webhook views.

    Raises RuntimeError outside the sandbox Twilio (its published token signs these).
    """
    _sandbox_only()
    result = Simulation()
    _call_simulate(result, twilio_number=twilio_number)
    path, form = webhook_example("sms", to=twilio_number)
    result.message_sid = form["MessageSid"]
    reply = ET.fromstring(_post(path, form).content).findtext("Message") or "(no reply)"  # noqa: S314 - ours
    result.steps.append((True, f"The test SMS (HELP) reached DentSignal and was answered: {reply}"))
    return result


def forwarded_call_simulate(*, twilio_number: str, published_number: str) -> Simulation:
    """Sandbox only: a patient's call to the published line, forwarded by its carrier to
    `twilio_number`: the signed voice webhook with ForwardedFrom set to `published_number`
    (Twilio adds it when the carrier passes it on: "TwiML Voice: Twilio's request to your
    application"), and what Twilio would report about the agent. The forward step of the
    checklist ticks through the voice webhook itself, on that evidence.

    Raises RuntimeError outside the sandbox Twilio.
    """
    _sandbox_only()
    result = Simulation()
    _call_simulate(result, twilio_number=twilio_number, forwarded_from=published_number)
    return result
