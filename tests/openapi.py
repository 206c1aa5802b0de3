"""Twilio's own OpenAPI description of API v2010 (npm @twilio/cli-core, pinned in package.json)."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "node_modules/@twilio/cli-core/src/services/twilio-api"
SPEC_PATH = SPECS / "twilio_api_v2010.json"
MESSAGING_SPEC_PATH = SPECS / "twilio_messaging_v1.json"
PRICING_SPEC_PATH = SPECS / "twilio_pricing_v1.json"
TRUSTHUB_SPEC_PATH = SPECS / "twilio_trusthub_v1.json"
NUMBERS_SPEC_PATH = SPECS / "twilio_numbers_v1.json"
NUMBERS_V2_SPEC_PATH = SPECS / "twilio_numbers_v2.json"
NUMBERS_PATHS = ("/v1/Porting", "/v1/HostedNumber")
TRUSTHUB_PATHS = ("/v1/CustomerProfiles", "/v1/TrustProducts", "/v1/EndUsers", "/v1/SupportingDocuments", "/v1/Policies")
PRISM = ROOT / "node_modules/.bin/prism"


def require_node_modules() -> None:
    """Fail the calling test (not skip it) with one sentence saying how to install the npm
    packages when Twilio's spec or Prism is missing; a traceback would only hide the fix."""
    if not SPEC_PATH.exists() or not PRISM.exists():
        pytest.fail(
            "This test needs the npm packages (Twilio's OpenAPI spec and Prism), which are not installed: "
            "run `npm ci` in the project folder (scripts/test does it for you).",
            pytrace=False,
        )


@functools.lru_cache(maxsize=7)
def spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    require_node_modules()
    return json.loads(path.read_text())


def _json_schema(node: Any, *, strict: bool, document: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: inline $refs, `nullable` -> null in the type.

    With `strict`, objects that list their properties allow no others, so a field
    Twilio does not have is caught.
    """
    if isinstance(node, list):
        return [_json_schema(item, strict=strict, document=document) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _json_schema(copy.deepcopy(document["components"]["schemas"][name]), strict=strict, document=document)
    out = {
        key: _json_schema(value, strict=strict, document=document)
        for key, value in node.items()
        if key not in ("nullable", "format")
    }
    override = (node.get("x-twilio") or {}).get("overrideType")
    if override == "string":
        # Twilio marks decimals sent as strings ("1.15", the spec's own examples) this way.
        out["type"] = "string"
    if node.get("nullable"):
        kind = out.get("type")
        if kind is not None:
            out["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if strict and out.get("type") in ("object", ["object", "null"]) and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def spec_path_for(path: str) -> Path:
    """Which of Twilio's descriptions covers a request path: Trust Hub, Pricing, Numbers v1 or v2,
    Messaging v1 or API v2010."""
    if path.startswith(NUMBERS_PATHS):
        return NUMBERS_SPEC_PATH
    if path.startswith("/v2/"):
        return NUMBERS_V2_SPEC_PATH
    if path.startswith(TRUSTHUB_PATHS):
        return TRUSTHUB_SPEC_PATH
    if path.startswith("/v1/PhoneNumbers"):
        return PRICING_SPEC_PATH
    return MESSAGING_SPEC_PATH if path.startswith("/v1/") else SPEC_PATH


def _operation(path: str, method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The spec document covering a concrete request path, and its operation for `method`."""
    document = spec(spec_path_for(path))
    # A literal path first, as routers do: /v1/Porting/PortIn/PortInRequests is not a PortIn SID.
    for template, operations in sorted(document["paths"].items(), key=lambda item: item[0].count("{")):
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return document, operations[method.lower()]
    raise KeyError(f"{method} {path} is not in Twilio's OpenAPI description")


def response_schema(path: str, method: str, status: int, *, strict: bool = True) -> dict[str, Any]:
    """The JSON Schema of the spec's response for a concrete request path."""
    document, operation = _operation(path, method)
    content = operation["responses"][str(status)].get("content", {})
    return _json_schema(content["application/json"]["schema"], strict=strict, document=document)


def request_schema(path: str, method: str) -> dict[str, Any]:
    """The JSON Schema of the spec's form-encoded request body for a concrete request path
    (strict: a parameter the spec does not list is refused)."""
    document, operation = _operation(path, method)
    body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    return _json_schema(body, strict=True, document=document)


def assert_matches_spec(path: str, method: str, status: int, body: Any) -> None:
    """Validate a response body against Twilio's schema for that operation and status."""
    jsonschema.validate(body, response_schema(path, method, status))


def assert_form_matches_spec(path: str, method: str, body: str) -> None:
    """Validate a form-encoded request body as sent on the wire against the operation's
    request schema: repeated keys are an array (OpenAPI's default for form bodies, style
    form, explode true), "true"/"false" a boolean and digits an integer where the schema
    says so; a parameter the spec does not list, a missing required one, or a second value
    for a non-array parameter fails."""
    schema = request_schema(path, method)
    typed: dict[str, Any] = {}
    for name, values in parse_qs(body, keep_blank_values=True, strict_parsing=True).items():
        kind = schema.get("properties", {}).get(name, {}).get("type")
        if kind == "array":
            typed[name] = values
            continue
        assert len(values) == 1, f"{name} is sent {len(values)} times but is not an array in the spec"
        (value,) = values
        if kind == "boolean" and value in ("true", "false"):
            typed[name] = value == "true"
        elif kind == "integer" and value.lstrip("-").isdigit():
            typed[name] = int(value)
        else:
            typed[name] = value
    jsonschema.validate(typed, schema)
