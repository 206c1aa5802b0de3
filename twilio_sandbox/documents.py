"""The Documents API (numbers-upload.twilio.com, in no OpenAPI description): the utility bill a
US port-in request needs (https://www.twilio.com/docs/phone-numbers/document-apis).

  POST /v1/Documents (multipart: document_type=utility_bill, friendly_name, File; an image
       or PDF of at most 10 MB)   201 with sid (RD...), document_type, status, mime_type (empty
       when the file had no content), ...
"""

from __future__ import annotations

import email.parser
import email.policy

from .accounts import Sandbox
from .responses import ApiError, public
from .routing import Answer, Request, Route
from .store import new_sid, now_iso8601

UPLOAD_ORIGIN = "https://numbers-upload.twilio.com"


def _multipart(request: Request) -> dict[str, tuple[str, bytes, str]]:
    """The parts of a multipart/form-data body: name -> (filename, content, content type)."""
    content_type = request.environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, 20001, "The document must be sent as multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    parts: dict[str, tuple[str, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            parts[str(name)] = (part.get_filename() or "", content, part.get_content_type())
    return parts


def _document_upload(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    parts = _multipart(request)
    for name in ("document_type", "File"):
        if name not in parts:
            raise ApiError(400, 20001, f"Missing required parameter {name}")
    document_type = parts["document_type"][1].decode("utf-8", "replace")
    if document_type != "utility_bill":
        raise ApiError(400, 20001, f"Unsupported document_type {document_type}")
    filename, content, content_type = parts["File"]
    if len(content) > 10 * 1024 * 1024:
        raise ApiError(400, 20001, "The document is larger than 10 MB")
    sid, now = new_sid("RD"), now_iso8601()
    document = {
        "sid": sid,
        "account_sid": account,
        "friendly_name": parts.get("friendly_name", ("", b"", ""))[1].decode("utf-8", "replace") or filename,
        "document_type": document_type,
        "version": 1,
        "status": "uploaded",
        "mime_type": content_type if content else "",
        "size": len(content),
        "date_created": now,
        "date_updated": now,
        "url": f"{UPLOAD_ORIGIN}/v1/Documents/{sid}",
        "_sandbox": {"kind": "document"},
    }
    sandbox.store.a2p_put(document)
    return 201, public(document)


# The Documents API's host is numbers-upload.twilio.com; the sandbox serves it on its one origin.
ROUTES = (Route("POST", r"/v1/Documents", _document_upload),)
