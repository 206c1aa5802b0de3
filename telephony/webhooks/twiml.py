"""The TwiML the webhooks answer with on their hot path, written as strings.

The SDK's builders (twilio.twiml) build an ElementTree and serialise it: over a third of
what a voice webhook spends beyond a bare Django view besides its database statement
(bench/profile_webhooks.py; figures in bench/README.md). The two shapes answered on every call and every SMS, the
AI agent's <Connect> and an SMS <Message>, are written here directly, escaped exactly
as ElementTree escapes; tests/telephony/webhooks/test_twiml.py compares them byte for byte with the SDK's
output for awkward values. Everything else (the fallbacks, the error messages) uses the
SDK.

Every text from data (a clinic's name, a reply, a number) goes through xml_safe() first,
here and in the webhooks' SDK-built TwiML: neither escaping nor the SDK removes the
characters XML 1.0 forbids, and one of them in a clinic's name made the whole answer
ill-formed, so Twilio dropped the call.
"""

import re
from collections.abc import Mapping

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
# The agent's two ways in (AI_AGENT_MODE, checked in settings): a bidirectional Media
# Stream, or Twilio's ConversationRelay.
AGENT_NOUNS = {"stream": "Stream", "conversation_relay": "ConversationRelay"}
# What XML 1.0 does not allow anywhere in a document (W3C XML 1.0, section 2.2 "Characters":
# Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]): the C0
# controls but tab, LF and CR; lone surrogates (a str can hold them; UTF-8 cannot); U+FFFE/FFFF.
XML_FORBIDDEN_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """`value` without the characters XML 1.0 forbids; any other text is returned unchanged."""
    return XML_FORBIDDEN_RE.sub("", value)


def xml_text(value: str) -> str:
    """Character data escaped as ElementTree escapes it, forbidden characters dropped."""
    value = xml_safe(value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def xml_attribute(value: str) -> str:
    """An attribute value escaped as ElementTree escapes it (quotes and line breaks too),
    forbidden characters dropped."""
    value = xml_text(value)
    for raw, entity in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        if raw in value:
            value = value.replace(raw, entity)
    return value


def connect_agent(*, mode: str, url: str, parameters: Mapping[str, str], status_callback: str = "") -> str:
    """<Response><Connect><Stream|ConversationRelay url=…> with a <Parameter> for each
    item, as VoiceResponse + Connect.stream()/.conversation_relay() + .parameter() give.

    With `status_callback`, Twilio reports whether the agent really answered: a <Stream>
    carries statusCallback + statusCallbackMethod="POST" (stream-started, stream-stopped,
    stream-error: TwiML docs, "<Stream>" attributes); <ConversationRelay> has no such
    attribute, so <Connect> carries action + method="POST", which Twilio requests with
    SessionStatus when the session ends (TwiML docs, "<ConversationRelay>"). Attributes
    are in the SDK's (sorted) order.
    """
    noun = AGENT_NOUNS[mode]
    connect, attributes = "<Connect>", f'url="{xml_attribute(url)}"'
    if status_callback and mode == "stream":
        callback = xml_attribute(status_callback)
        attributes = f'statusCallback="{callback}" statusCallbackMethod="POST" {attributes}'
    elif status_callback:
        connect = f'<Connect action="{xml_attribute(status_callback)}" method="POST">'
    items = "".join(f'<Parameter name="{xml_attribute(n)}" value="{xml_attribute(v)}" />' for n, v in parameters.items())
    body = f"<{noun} {attributes}>{items}</{noun}>" if items else f"<{noun} {attributes} />"
    return f"{XML_DECLARATION}<Response>{connect}{body}</Connect></Response>"


def message_reply(text: str) -> str:
    """<Response><Message>text</Message></Response>, or an empty <Response /> for no
    reply, as MessagingResponse + .message(text) give."""
    if not text:
        return f"{XML_DECLARATION}<Response />"
    return f"{XML_DECLARATION}<Response><Message>{xml_text(text)}</Message></Response>"
