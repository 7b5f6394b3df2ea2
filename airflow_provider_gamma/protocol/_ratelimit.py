# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma's rate limits: the ``x-ratelimit-*`` and ``Retry-After`` headers, poll pacing, and the
:class:`RateBudget` that every request of one API key spends.

Rule 1: everything that affects the budget lives here. Its drivers only carry its answers out:
``ticket, wait = budget.acquire(now)`` before each attempt (ticket -1: sleep ``wait``, ask again),
``budget.observe(ticket, rate_limit)`` with every answer, ``budget.release(ticket)`` for an attempt
that ended without one (a network failure, a cancellation), ``budget.pause(seconds, now)`` on a 429.

Rule 2: the budget knows nothing of HTTP libraries, event loops, threads or the process it runs in;
the caller passes the clock in, so every rule below is tested without I/O (``tests/test_ratelimit.py``).

Rule 3: every header is read defensively: a value that is not a plain whole number in a sane range
(absent, garbage, negative, 400 digits) is absent. Nothing here raises on what a server sends.

What the budget knows, and what it does not
===========================================

It knows what each answer says (for each window, burst, hourly and daily: the advertised limit and
what is left) and its own requests (how many it sent, how many are still in flight, which answer is
the newest). It does not know how long a window lasts or when it turns (Gamma does not say), how many
other processes use the key, or what they send, except as Gamma's count falling faster than its own
requests explain. Windows are taken to be fixed: when the count rises, the window has turned and
started again at its limit.

The rules of the budget
=======================

B1. Tickets. Each attempt takes a numbered ticket and gives it back, with its answer or without one.
    Answers may arrive out of order: only the newest (highest ticket) is believed; an older one only
    frees its slot.
B2. Start-up. Until the first answer arrives, one request at a time: the others wait for its headers
    (a triggerer restart or a mapped task starts hundreds of polls in the same second). A request
    waits so for half a second at most, then goes alone in its turn, so one first request that hangs
    does not hold every other one until its timeout.
B3. Allowance. After each newest answer: what the tightest window has left beyond its reserve
    (``reserve`` of its advertised limit, at least 1, kept for the key's other clients), times this
    process's share, halved, less its requests still in flight. Halved because the count is a round
    trip old and misses what the other processes have in flight: each round trip takes half of what
    is left, so all of them together close in on the reserve instead of overshooting it. An answer
    without any count sets no limit.
B4. Shares. Between two newest answers Gamma's count falls by what every client sent; what it falls
    beyond this process's own requests is the others'. A tally of both, fading by requests counted
    (about one window's limit), gives this process its share (never below a tenth). At the first
    answer and whenever the window turns, the count is taken to have started at the window's limit,
    so what the others spent before this process's first answer of the window is counted too.
B5. Probes. With nothing left to spend, probes find out whether the window has turned. They come one
    ``probe_interval`` apart for all processes together (each process at its share of that rate), the
    first one a full gap after the budget ran dry, until the probes of every process have spent 30 %
    of the reserve (the count says so, to all of them alike); after that each probe waits twice as
    long as the one before. So the probes a window can pay for scale with its advertised limit, as
    the reserve does, and the rest of the reserve stays with the key's other clients. An answer that
    leaves something to spend, or shows the window turned, ends the spell.
B6. 429. A 429 pauses every request for as long as the caller says (Gamma's ``Retry-After``, capped).
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

#: Below this many requests left in the burst window Gamma's docs slow polling to 15 s.
LOW_BURST_REMAINING = 100
SLOW_POLL_INTERVAL = 15.0
#: Largest count believed from a rate-limit header; anything larger is a broken or hostile answer.
MAX_HEADER_COUNT = 10**9


def _int_header(lowered: Mapping[str, str], name: str) -> int | None:
    value = lowered.get(name)
    if value is None:
        return None
    value = value.strip()
    # Checked before int(): a 5,000-digit value would raise in int() and overflow float() later.
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number <= MAX_HEADER_COUNT else None


@dataclass(frozen=True)
class RateLimit:
    """Gamma's ``x-ratelimit-*`` headers of one answer; ``None`` where a header was absent."""

    limit_burst: int | None = None
    remaining_burst: int | None = None
    limit_hourly: int | None = None
    remaining_hourly: int | None = None
    limit_daily: int | None = None
    remaining_daily: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        lowered = {key.lower(): value for key, value in headers.items()}
        return cls(
            limit_burst=_int_header(lowered, "x-ratelimit-limit-burst"),
            remaining_burst=_int_header(lowered, "x-ratelimit-remaining-burst"),
            limit_hourly=_int_header(lowered, "x-ratelimit-limit"),
            remaining_hourly=_int_header(lowered, "x-ratelimit-remaining"),
            limit_daily=_int_header(lowered, "x-ratelimit-limit-daily"),
            remaining_daily=_int_header(lowered, "x-ratelimit-remaining-daily"),
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def poll_delay(interval: float, rate_limit: RateLimit | None) -> float:
    """Seconds until the next status poll: ``interval``, or Gamma's 15 s when the burst budget runs low."""
    remaining = rate_limit.remaining_burst if rate_limit is not None else None
    if remaining is not None and remaining < LOW_BURST_REMAINING:
        return max(interval, SLOW_POLL_INTERVAL)
    return interval


#: B2: while the first answer is awaited, the other requests ask again after this many seconds ...
FIRST_ANSWER_WAIT = 0.1
#: ... and one more goes alone once the last one has been out this long without an answer.
FIRST_ANSWER_PATIENCE = 0.5
#: B3: the part of what this process may spend that it may have in flight at once.
IN_FLIGHT_PART = 0.5
#: B4: a process's share is never taken below this (so it still probes, and spends a little).
MIN_SHARE = 0.1
#: B4: the tally remembers about this many windows' worth of requests (older ones fade out).
TALLY_MEMORY_WINDOWS = 1.0
#: B5: the part of a window's reserve the probes may spend at the full probe rate.
PROBE_PART_OF_RESERVE = 0.3


def _windows(rate_limit: RateLimit) -> tuple[tuple[int | None, int | None], ...]:
    """``(remaining, limit)`` of the burst, hourly and daily windows."""
    return (
        (rate_limit.remaining_burst, rate_limit.limit_burst),
        (rate_limit.remaining_hourly, rate_limit.limit_hourly),
        (rate_limit.remaining_daily, rate_limit.limit_daily),
    )


class RateBudget:
    """One process's share of Gamma's rate limits for one API key, spent by every request of that key
    in the process (all the triggers of a triggerer, all the calls of a worker's hook).

    Gamma reports on every answer what is left of each window; that count is the one signal every
    process using the key shares. The budget spends what is left, less a reserve for the key's other
    clients, in proportion to the part of the key's recent spending this process accounts for, so
    several triggerers on one key stay inside its windows without talking to each other. Its rules
    (B1 to B6) are written at the top of this module.

    :param reserve: fraction of each window's advertised limit left unspent for the key's other
        clients (at least one request); probes may spend 30 % of it at the full probe rate.
    :param probe_interval: seconds between probes while nothing is left to spend (for all processes
        together: each probes at its share of that rate) until a spell's probes back off.
    """

    def __init__(self, *, reserve: float = 0.05, probe_interval: float = 1.0) -> None:
        self.reserve = reserve
        self.probe_interval = probe_interval
        self._issued = 0  # B1
        self._in_flight = 0
        self._newest_seen = -1
        self._lone_since = -math.inf  # B2: when the last request sent before the first answer went
        self._allowance = math.inf  # B3
        self._left = math.inf  # what the tightest window had left beyond its reserve (B5 reads it too)
        self._floor = 1.0  # that reserve
        self._last_count: tuple[int, int] | None = None  # B4: (limit, remaining) of the newest answer
        self._own_tally = 0.0
        self._others_tally = 0.0
        self._next_probe: float | None = None  # B5: None until the spell's first probe is due
        self._probe_gap = probe_interval
        self._paused_until = -math.inf  # B6

    def acquire(self, now: float) -> tuple[int, float]:
        """``(ticket, 0.0)`` when a request may go now, else ``(-1, seconds to wait before asking again)``."""
        if now < self._paused_until:  # B6
            return -1, self._paused_until - now
        if self._newest_seen < 0:  # B2
            if self._in_flight and now < self._lone_since + FIRST_ANSWER_PATIENCE:
                return -1, min(FIRST_ANSWER_WAIT, self._lone_since + FIRST_ANSWER_PATIENCE - now)
            self._lone_since = now
        if self._allowance < 1:  # B5
            if self._next_probe is None:
                self._next_probe = now + self._probe_gap
            if now < self._next_probe:
                return -1, self._next_probe - now
            self._next_probe = now + self._next_probe_gap()
        self._allowance -= 1
        self._in_flight += 1
        self._issued += 1
        return self._issued - 1, 0.0

    def release(self, ticket: int) -> None:
        """The attempt of ``ticket`` ended without an answer (network failure, cancellation)."""
        self._in_flight -= 1

    def observe(self, ticket: int, rate_limit: RateLimit) -> None:
        """Learn from the answer to ``ticket``; an answer older than one already seen only frees its slot."""
        self._in_flight -= 1
        if ticket <= self._newest_seen:  # B1
            return
        own_since, self._newest_seen = ticket - self._newest_seen, ticket
        turned = self._tally(own_since, rate_limit)  # B4
        was_spent = self._allowance < 1
        self._left, self._floor = self._left_beyond_reserve(rate_limit)  # B3
        self._allowance = self._left * self._share * IN_FLIGHT_PART - self._in_flight
        if turned or not (was_spent and self._allowance < 1):  # B5: a new spell, if any, starts afresh
            self._next_probe = None
            self._probe_gap = self.probe_interval / self._share

    def pause(self, seconds: float, now: float) -> None:
        """Send nothing for ``seconds`` (Gamma answered 429)."""
        self._paused_until = max(self._paused_until, now + seconds)

    @property
    def spent(self) -> bool:
        """Whether only probes may go: nothing is left to spend."""
        return self._allowance < 1

    @property
    def others_share(self) -> float:
        """The inferred fraction of the key's recent requests that other processes sent (0 to 1)."""
        total = self._own_tally + self._others_tally
        return self._others_tally / total if total > 0 else 0.0

    @property
    def _share(self) -> float:
        """B4: this process's share of the key, never below :data:`MIN_SHARE`."""
        return max(MIN_SHARE, 1.0 - self.others_share)

    def _left_beyond_reserve(self, rate_limit: RateLimit) -> tuple[float, float]:
        """B3: what the tightest window has left beyond its reserve, and that reserve."""
        left, floor = math.inf, 1.0
        for remaining, limit in _windows(rate_limit):
            if remaining is not None:
                reserve = max(1.0, self.reserve * limit) if limit else 1.0
                if remaining - reserve < left:
                    left, floor = remaining - reserve, reserve
        return left, floor

    def _tally(self, own_since: int, rate_limit: RateLimit) -> bool:
        """B4: split how far Gamma's count fell since the previous newest answer into ours and the
        others'; whether the window turned (or this is the first answer)."""
        for remaining, limit in _windows(rate_limit)[:2]:
            if remaining is None:
                continue
            previous, self._last_count = self._last_count, (limit or 0, remaining)
            turned = previous is None or (previous[0] == (limit or 0) and remaining > previous[1])
            if turned and limit:
                start = limit  # the window (re)started at its limit: the others may have spent since
            elif not turned and previous is not None and previous[0] == (limit or 0):
                start = previous[1]  # the same window, further down
            else:
                return turned  # no advertised limit, or another window: no evidence
            if remaining == 0:
                return turned  # an empty window falls no further: refused requests are not counted
            fell = start - remaining
            # Fade by requests counted, not by answers: a burst of our own answers must not wash out
            # what the others spent just before it.
            keep = math.exp(-fell / (TALLY_MEMORY_WINDOWS * max(1, limit or 0, start)))
            self._own_tally = self._own_tally * keep + own_since
            self._others_tally = self._others_tally * keep + max(0, fell - own_since)
            return turned
        return False

    def _next_probe_gap(self) -> float:
        """B5: seconds from this probe to the next: the spell's gap, doubled each time once the
        probes have spent their part of the reserve."""
        if self._left <= -PROBE_PART_OF_RESERVE * self._floor:
            self._probe_gap *= 2
        return self._probe_gap
