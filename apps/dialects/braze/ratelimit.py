"""A per-key request rate limit held in the shared Django cache, so it holds across web processes (spec 3).

Fixed windows of one minute, each starting at the first request a bucket makes after the previous one ended.
Two cache keys per bucket: the window's reset time (added once per window), and a counter whose name includes
that reset time, so every process counting in one window increments the same counter. With the Redis cache
(the default when the broker is Redis) `add` and `incr` are atomic; the database and file caches implement
`incr` as read-then-write, so there the count is approximate under concurrent requests.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from typing import TypeVar

from django.core.cache import cache
from django.http import HttpResponse

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "tc:ratelimit"
Response = TypeVar("Response", bound=HttpResponse)


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset_epoch_s: int
    exceeded: bool

    def headers_set(self, response: Response) -> Response:
        response["X-RateLimit-Limit"] = str(self.limit)
        response["X-RateLimit-Remaining"] = str(self.remaining)
        # Epoch seconds, as Braze sends it (and as the braze-client library reads it to decide how long to wait).
        response["X-RateLimit-Reset"] = str(self.reset_epoch_s)
        if self.exceeded:
            response["Retry-After"] = str(max(1, self.reset_epoch_s - int(time.time())))
        return response

    def pushed_back(self, retry_after: int) -> RateLimit:
        """This limit, refusing for `retry_after` seconds (a backpressure 429, apps/activities/backpressure.py): the
        client waits for X-RateLimit-Reset (braze-client does) or Retry-After, whatever the key's own window."""
        return replace(self, reset_epoch_s=int(time.time()) + retry_after, exceeded=True)


def bucket_of(*parts: str) -> str:
    """A short cache-safe name for a bucket (a key's hash, a client address)."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def rate_limit_hit(*, scope: str, bucket: str, limit: int) -> RateLimit:
    """Counts one request of `bucket` in the current window and says whether it is over `limit`.

    A cache that cannot be reached lets the request through (the limit protects the service; refusing every
    request because the cache is down would be the outage it is meant to prevent).
    """
    now = time.time()
    window_key = f"{KEY_PREFIX}:{scope}:{bucket}:reset"
    try:
        reset = int(now) + WINDOW_SECONDS
        for _attempt in range(3):
            if cache.add(window_key, reset, WINDOW_SECONDS):
                break
            stored = cache.get(window_key)
            if stored is not None:
                reset = int(stored)
                break
            # The window expired between add and get: start the next one.
        count_key = f"{KEY_PREFIX}:{scope}:{bucket}:{reset}"
        # The counter outlives its window a little, so a late process still finds it rather than restarting at 1.
        cache.add(count_key, 0, WINDOW_SECONDS + 10)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.add(count_key, 1, WINDOW_SECONDS + 10)
            count = 1
    except Exception:
        logger.warning("rate-limit cache unreachable; request let through", exc_info=True)
        return RateLimit(limit=limit, remaining=limit, reset_epoch_s=int(now) + WINDOW_SECONDS, exceeded=False)
    return RateLimit(limit=limit, remaining=max(0, limit - count), reset_epoch_s=reset, exceeded=count > limit)


def rate_limit_clear(*, scope: str, bucket: str) -> None:
    """Forgets a bucket's window (tests, and an operator lifting a block)."""
    reset = cache.get(f"{KEY_PREFIX}:{scope}:{bucket}:reset")
    keys = [f"{KEY_PREFIX}:{scope}:{bucket}:reset"]
    if reset is not None:
        keys.append(f"{KEY_PREFIX}:{scope}:{bucket}:{reset}")
    cache.delete_many(keys)
