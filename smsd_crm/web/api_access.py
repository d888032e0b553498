"""How often an API token may call: a token bucket per client (scopes are checked per route in
``api.py``). In memory: a restart gives every client a full bucket, which is harmless."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from aiohttp import web


class RateLimiter:
    """``burst`` calls at once per client, refilled at ``per_minute``; time from ``clock``."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], datetime]) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (calls left, when counted)

    def take(self, client: str) -> float:
        """0 when ``client`` may call now (the call is counted), else the seconds until it may."""
        now = self._clock().timestamp()
        left, at = self._buckets.get(client, (self._burst, now))
        left = min(self._burst, left + max(0.0, now - at) * self._rate)  # a clock set back refills nothing
        if left >= 1.0:
            self._buckets[client] = (left - 1.0, now)
            return 0.0
        self._buckets[client] = (left, now)
        return (1.0 - left) / self._rate


LIMITER = web.AppKey("api_limiter", RateLimiter)
