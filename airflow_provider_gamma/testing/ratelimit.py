# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Fixed-window rate limiter producing Gamma's six ``x-ratelimit-*`` headers."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimitDecision", "RateLimiter"]


class _Window:
    __slots__ = ("count", "length", "limit", "started")

    def __init__(self, limit: int, length: float, now: float) -> None:
        self.limit = limit
        self.length = length
        self.started = now
        self.count = 0

    def roll(self, now: float) -> None:
        if now - self.started >= self.length:
            # Align to the window grid so windows keep a fixed cadence.
            self.started += math.floor((now - self.started) / self.length) * self.length
            self.count = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    def reset_in(self, now: float) -> float:
        return max(0.0, self.started + self.length - now)


@dataclass(frozen=True)
class RateLimitDecision:
    """Outcome of one rate-limit check.

    Attributes:
        allowed: ``False`` when a window is exhausted (the request should get a 429).
        headers: The six ``x-ratelimit-*`` headers to send.
        retry_after: Seconds until the exhausted window resets (only when not allowed).
    """

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0


class RateLimiter:
    """Burst, hourly and daily fixed windows, as advertised by Gamma's rate-limit headers.

    Args:
        burst_limit: Requests allowed per burst window.
        burst_window_seconds: Length of the burst window.
        hourly_limit: Requests allowed per hour.
        daily_limit: Requests allowed per day.
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        burst_limit: int,
        burst_window_seconds: float,
        hourly_limit: int,
        daily_limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._burst = _Window(burst_limit, burst_window_seconds, now)
        self._hourly = _Window(hourly_limit, 3600.0, now)
        self._daily = _Window(daily_limit, 86400.0, now)

    def _headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-burst": str(self._burst.limit),
            "x-ratelimit-remaining-burst": str(self._burst.remaining),
            "x-ratelimit-limit": str(self._hourly.limit),
            "x-ratelimit-remaining": str(self._hourly.remaining),
            "x-ratelimit-limit-daily": str(self._daily.limit),
            "x-ratelimit-remaining-daily": str(self._daily.remaining),
        }

    def peek(self) -> dict[str, str]:
        """Current headers without counting a request (used for 401s and injected faults)."""
        with self._lock:
            now = self._clock()
            for window in (self._burst, self._hourly, self._daily):
                window.roll(now)
            return self._headers()

    def hit(self) -> RateLimitDecision:
        """Count one request if every window has room; otherwise refuse it."""
        with self._lock:
            now = self._clock()
            windows = (self._burst, self._hourly, self._daily)
            for window in windows:
                window.roll(now)
            exhausted = [w for w in windows if w.remaining == 0]
            if exhausted:
                retry = max(w.reset_in(now) for w in exhausted)
                return RateLimitDecision(False, self._headers(), retry)
            for window in windows:
                window.count += 1
            return RateLimitDecision(True, self._headers())

    def reset(self) -> None:
        """Start all windows afresh."""
        with self._lock:
            now = self._clock()
            for window in (self._burst, self._hourly, self._daily):
                window.started = now
                window.count = 0
