"""Requests and routes: what a resource module is given (Request) and how it says what it
answers (Route); the app finds a request's handler in a Router made of those routes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .responses import ApiError

# A phone number parameter as Twilio accepts it (E.164).
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")

# A handler's answer: the HTTP status and the JSON body (None for no body).
Answer = tuple[int, Any]
# handler(sandbox, request, *, account, **the route's named groups) -> Answer
Handler = Callable[..., Answer]


@dataclass(frozen=True)
class Request:
    """One REST request, parsed: a repeated parameter counts its last value in `query` and
    `form`, and all its values in `lists` (MessageSamples, the keywords); `body` is the raw
    body, for the APIs that take JSON (porting) or multipart (the Documents API)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    lists: dict[str, list[str]]
    environ: dict[str, Any]
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        """The JSON object body; Twilio's 400 (20001) when it is not one."""
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ApiError(400, 20001, "The request body must be a JSON object")
        return payload

    def require(self, *names: str) -> None:
        """Twilio's 20001 for the first of `names` that the form lacks (or sends empty)."""
        missing = [n for n in names if not self.form.get(n)]
        if missing:
            raise ApiError(400, 20001, f"Missing required parameter {missing[0]} in the post body")


@dataclass(frozen=True)
class Route:
    """`handler` answers `method` on the paths `pattern` (a regular expression) matches whole."""

    method: str
    pattern: str
    handler: Handler


class Router:
    """Routes tried in the order given: the first whose method and pattern match answers."""

    def __init__(self, *tables: Iterable[Route]) -> None:
        self._routes = [(route, re.compile(route.pattern)) for table in tables for route in table]

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler for `method` on `path` and the pattern's named groups; None if no route has both."""
        for route, pattern in self._routes:
            match = pattern.fullmatch(path)
            if match is not None and route.method == method:
                return route.handler, match.groupdict()
        return None

    def knows(self, path: str) -> bool:
        """True if some route serves `path` (with any method): a 405 rather than a 404."""
        return any(pattern.fullmatch(path) for _, pattern in self._routes)
