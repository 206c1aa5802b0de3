"""What every resource of the sandbox answers with, in Twilio's JSON shapes: its errors, its
list pages (API v2010 and the v1 APIs), and the public view of a stored resource."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

MAX_PAGE_SIZE = 1000


class ApiError(Exception):
    """A Twilio error: the HTTP status and the body Twilio sends with it (code, message, more_info)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def not_found(resource: str) -> ApiError:
    """Twilio's 404 (20404) for `resource` (a path or a SID)."""
    return ApiError(404, 20404, f"The requested resource {resource} was not found")


def method_not_allowed(method: str, path: str) -> ApiError:
    """Twilio's 405 (20004) for a method the resource at `path` does not serve."""
    return ApiError(405, 20004, f"Method {method} not allowed on {path}")


def public(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as Twilio returns it (without the sandbox's own bookkeeping)."""
    return {k: v for k, v in resource.items() if k != "_sandbox"}


def page_size(query: dict, *, default: int) -> int:
    """The PageSize of a list request (`default` without one); 20007 outside 1..MAX_PAGE_SIZE."""
    raw = query.get("PageSize", "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ApiError(400, 20007, f"PageSize must be between 1 and {MAX_PAGE_SIZE}")
    return int(raw)


def v2010_page(key: str, uri: str, size: int, items: list[dict[str, Any]], filters: dict[str, str]) -> dict[str, Any]:
    """A Twilio v2010 list page holding all of `items` that fit (short lists: no next page)."""
    first = f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': 0})}"
    return {
        key: items[:size],
        "end": max(min(len(items), size) - 1, 0),
        "first_page_uri": first,
        "next_page_uri": None,
        "page": 0,
        "page_size": size,
        "previous_page_uri": None,
        "start": 0,
        "uri": first,
    }


def v1_page(key: str, url: str, size: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A Twilio v1 list page of the collection at `url` holding all of `items` that fit
    (short lists: no next page)."""
    url = f"{url}?PageSize={size}&Page=0"
    return {
        key: items[:size],
        "meta": {
            "first_page_url": url,
            "key": key,
            "next_page_url": None,
            "page": 0,
            "page_size": size,
            "previous_page_url": None,
            "url": url,
        },
    }


def v1_public_page(key: str, url: str, items: list[dict[str, Any]], query: dict) -> dict[str, Any]:
    """A v1 page (the query's PageSize, 50 by default) of stored resources, as Twilio returns them."""
    return v1_page(key, url, page_size(query, default=50), [public(i) for i in items])
