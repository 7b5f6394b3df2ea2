"""The rate budget as it was before issue 22 (``git show 382df8a:airflow_provider_gamma/protocol/_ratelimit.py``),
kept verbatim so ``make bench`` can measure before and after in the same run.

:func:`install` makes every :class:`airflow_provider_gamma.protocol.RateBudget` behave as this one
(its methods replace the current ones on the class itself, so it holds wherever the class was
imported from); call it before the first budget is made.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_gamma.protocol import RateLimit


class RateBudget382df8a:
    """One process's share of Gamma's rate limits for one API key, spent by every poller of that key.

    Gamma reports what is left of each window (``x-ratelimit-remaining-burst``, ``-remaining``,
    ``-remaining-daily``) on every answer; that count is the one signal all processes using a key
    share. Each request takes a ticket and gives it back with its answer (:meth:`observe`) or without
    one (:meth:`release`). The budget is the smallest ``remaining`` of the newest answer, less a reserve
    of each window's limit and less every request still in flight (Gamma may or may not have counted
    those yet, so they are assumed spent). When it is spent, one probe per ``probe_interval`` goes out
    to learn whether the window has refilled, and the other pollers wait. A 429 pauses everybody for
    its ``Retry-After``.

    Other processes on the same key (a second triggerer, a worker) spend the same windows. Between two
    answers Gamma's count falls by what everybody sent; what it falls beyond this process's own
    requests in between is the others' spending. The budget keeps a decaying tally of both and spends
    only its own share of what is left (with two equally busy triggerers, half each), and probes a spent
    window at its share of the probe rate, so the processes together stay inside the window without
    ever talking to each other.

    :param reserve: fraction of each window's limit left unspent, for other clients of the same key.
    :param probe_interval: seconds between probes while the budget is spent (of all processes
        together: each probes at its share of that rate).
    """

    #: The tally remembers about this many windows' worth of requests (older ones fade out).
    TALLY_MEMORY_WINDOWS = 1.0

    def __init__(self, *, reserve: float = 0.05, probe_interval: float = 1.0) -> None:
        self.reserve = reserve
        self.probe_interval = probe_interval
        self._allowance: float = math.inf
        self._issued = 0
        self._in_flight = 0
        self._newest_seen = -1
        self._paused_until = -math.inf
        self._next_probe = -math.inf
        self._last_count: tuple[int, int] | None = None  # (window limit, remaining) of the newest answer
        self._own_tally = 0.0
        self._others_tally = 0.0

    def acquire(self, now: float) -> tuple[int, float]:
        """``(ticket, 0.0)`` when a request may go now, else ``(-1, seconds to wait before asking again)``."""
        if now < self._paused_until:
            return -1, self._paused_until - now
        if self._allowance < 1:
            if now < self._next_probe:
                return -1, self._next_probe - now
            # The others probe too: together, one probe per ``probe_interval``.
            self._next_probe = now + self.probe_interval / max(0.1, 1.0 - self.others_share)
        self._allowance -= 1
        self._in_flight += 1
        ticket = self._issued
        self._issued += 1
        return ticket, 0.0

    def release(self, ticket: int) -> None:
        """The request of ``ticket`` ended without an answer (network failure)."""
        self._in_flight -= 1

    def observe(self, ticket: int, rate_limit: RateLimit) -> None:
        """Learn from the answer to ``ticket``; an answer older than one already seen only frees its slot."""
        self._in_flight -= 1
        if ticket <= self._newest_seen:
            return
        own_since, self._newest_seen = ticket - self._newest_seen, ticket
        self._tally(own_since, rate_limit)
        windows = (
            (rate_limit.remaining_burst, rate_limit.limit_burst),
            (rate_limit.remaining_hourly, rate_limit.limit_hourly),
            (rate_limit.remaining_daily, rate_limit.limit_daily),
        )
        allowance = math.inf
        for remaining, limit in windows:
            if remaining is not None:
                floor = max(1.0, self.reserve * limit) if limit else 1.0
                allowance = min(allowance, remaining - floor)
        self._allowance = allowance * (1.0 - self.others_share) - self._in_flight

    @property
    def others_share(self) -> float:
        """The inferred fraction of the key's recent requests that other processes sent (0 to 1)."""
        total = self._own_tally + self._others_tally
        return self._others_tally / total if total > 0 else 0.0

    def _tally(self, own_since: int, rate_limit: RateLimit) -> None:
        """Split how far Gamma's count fell since the previous answer into ours and the others'."""
        for remaining, limit in (
            (rate_limit.remaining_burst, rate_limit.limit_burst),
            (rate_limit.remaining_hourly, rate_limit.limit_hourly),
        ):
            if remaining is None:
                continue
            previous, self._last_count = self._last_count, (limit or 0, remaining)
            if previous is None or previous[0] != (limit or 0) or not 0 < remaining <= previous[1]:
                return  # the first answer, another window, a refill, or an empty window: no evidence
            fell = previous[1] - remaining
            # Fade by requests counted, not by answers: a burst of our own answers must not wash out
            # what the others spent just before it.
            keep = math.exp(-fell / (self.TALLY_MEMORY_WINDOWS * max(1, limit or 0, previous[1])))
            self._own_tally = self._own_tally * keep + own_since
            self._others_tally = self._others_tally * keep + max(0, fell - own_since)
            return

    def pause(self, seconds: float, now: float) -> None:
        """Send nothing for ``seconds`` (Gamma answered 429)."""
        self._paused_until = max(self._paused_until, now + seconds)

    @property
    def spent(self) -> bool:
        return self._allowance < 1


def install() -> None:
    """Make the provider's ``RateBudget`` the one above, for this process."""
    from airflow_provider_gamma.protocol import RateBudget

    before: dict[str, Any] = dict(vars(RateBudget382df8a))
    for name in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
        before.pop(name, None)
    for name, value in before.items():
        setattr(RateBudget, name, value)
