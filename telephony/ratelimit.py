"""A fixed-window rate limit on the shared cache (Redis in production)."""

import math
import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured


def rate_parse(rate: str) -> tuple[int, int]:
    """'10/60' -> (10 requests, 60 seconds)."""
    try:
        count, seconds = (int(part) for part in rate.split("/"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"A rate is 'requests/seconds', like '10/60', not {rate!r}.") from exc
    if count < 1 or seconds < 1:
        raise ImproperlyConfigured(f"A rate needs at least 1 request per 1 second, not {rate!r}.")
    return count, seconds


def rate_limit_hit(*, key: str, rate: str) -> int | None:
    """Count one request for `key`; the seconds to wait if it is over the rate, else None."""
    limit, window = rate_parse(rate)
    now = time.time()
    bucket = f"ratelimit:{key}:{int(now // window)}"
    count = 1 if cache.add(bucket, 1, timeout=window + 1) else cache.incr(bucket)
    if count <= limit:
        return None
    return max(1, math.ceil(window - now % window))
