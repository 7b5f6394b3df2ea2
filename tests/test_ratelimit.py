# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Gamma's rate-limit headers, poll pacing and the rules of :class:`RateBudget` (B1-B6, written at the
top of :mod:`airflow_provider_gamma.protocol._ratelimit`), driven without any I/O: the clock is a
number passed in, Gamma's answers are :class:`RateLimit` values, and several processes sharing a key
are several budgets in one simulated key."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from airflow_provider_gamma import protocol
from airflow_provider_gamma.protocol import RateBudget, RateLimit
from airflow_provider_gamma.protocol._ratelimit import FIRST_ANSWER_PATIENCE, FIRST_ANSWER_WAIT


def burst(remaining: int, limit: int) -> RateLimit:
    return RateLimit(remaining_burst=remaining, limit_burst=limit)


def started(budget: RateBudget, remaining: int, limit: int, now: float = 0.0) -> RateBudget:
    """``budget`` after its first answer said ``remaining`` of ``limit`` were left."""
    ticket, _ = budget.acquire(now)
    budget.observe(ticket, burst(remaining, limit))
    return budget


def alone(limit: int, **kwargs: float) -> RateBudget:
    """A budget that spent a fresh window of ``limit`` by itself, down to where it ran dry at t=0."""
    budget = RateBudget(**kwargs)
    remaining = limit
    while (ticket := budget.acquire(0.0)[0]) >= 0:
        remaining -= 1
        budget.observe(ticket, burst(remaining, limit))
    assert budget.spent
    assert budget.others_share == 0.0
    return budget


def tickets_now(budget: RateBudget, now: float) -> list[int]:
    """Every ticket ``budget`` grants at ``now`` until it says wait."""
    granted = []
    while (ticket := budget.acquire(now)[0]) >= 0:
        granted.append(ticket)
    return granted


# --- headers and poll pacing ---------------------------------------------------------------------


def test_rate_limit_headers_are_read_case_insensitively():
    limit = RateLimit.from_headers(
        {
            "X-RateLimit-Limit-Burst": "10000",
            "x-ratelimit-remaining-burst": "42",
            "x-ratelimit-limit": "40000",
            "x-ratelimit-remaining": "39000",
            "x-ratelimit-limit-daily": "200000",
            "x-ratelimit-remaining-daily": "bogus",
        }
    )
    assert limit.limit_burst == 10000
    assert limit.remaining_burst == 42
    assert limit.remaining_hourly == 39000
    assert limit.remaining_daily is None


def test_poll_delay_slows_down_when_burst_budget_runs_low():
    assert protocol.poll_delay(5.0, None) == 5.0
    assert protocol.poll_delay(5.0, RateLimit(remaining_burst=5000)) == 5.0
    assert protocol.poll_delay(5.0, RateLimit(remaining_burst=99)) == 15.0
    assert protocol.poll_delay(30.0, RateLimit(remaining_burst=1)) == 30.0


# --- B1 tickets ----------------------------------------------------------------------------------


def test_b1_only_the_newest_answer_is_believed_an_older_one_frees_its_slot():
    budget = started(RateBudget(reserve=0.0), 999, 1000)
    old, new = budget.acquire(1.0)[0], budget.acquire(1.0)[0]
    budget.observe(new, RateLimit(remaining_burst=997, limit_burst=1000, remaining_hourly=5))
    budget.observe(old, burst(999, 1000))  # older, arriving late: the hourly 5 still holds
    assert budget._in_flight == 0
    assert len(tickets_now(budget, 1.0)) == 1  # hourly: (5 left - 1 reserve) halved, less 1 then in flight
    assert budget.spent


def test_b1_a_released_ticket_frees_its_slot():
    budget = started(RateBudget(reserve=0.0), 11, 12)  # 10 left beyond the reserve: 5 in flight
    granted = tickets_now(budget, 0.0)
    assert len(granted) == 5
    budget.release(granted[0])
    budget.observe(granted[1], burst(10, 12))
    assert len(tickets_now(budget, 0.1)) == 1  # (9 left) halved, less the 3 still in flight


# --- B2 start-up ---------------------------------------------------------------------------------


def test_b2_until_the_first_answer_one_request_at_a_time():
    budget = RateBudget()
    first, wait = budget.acquire(0.0)
    assert (first, wait) == (0, 0.0)
    assert [budget.acquire(0.0) for _ in range(3)] == [(-1, FIRST_ANSWER_WAIT)] * 3
    budget.observe(first, burst(9_999, 10_000))
    assert len(tickets_now(budget, 0.01)) > 100  # the answer came: the others go


def test_b2_a_first_request_that_hangs_lets_one_more_go_alone_each_half_second():
    budget = RateBudget()
    assert budget.acquire(0.0)[0] == 0
    assert budget.acquire(FIRST_ANSWER_PATIENCE - 0.05) == (-1, pytest.approx(0.05))
    assert budget.acquire(FIRST_ANSWER_PATIENCE)[0] == 1
    assert budget.acquire(FIRST_ANSWER_PATIENCE + 0.1) == (-1, FIRST_ANSWER_WAIT)
    assert budget.acquire(2 * FIRST_ANSWER_PATIENCE)[0] == 2


def test_b2_a_first_request_that_failed_lets_the_next_one_go_alone():
    budget = RateBudget()
    first, _ = budget.acquire(0.0)
    budget.release(first)
    second, wait = budget.acquire(0.5)
    assert (second, wait) == (1, 0.0)
    assert budget.acquire(0.5) == (-1, FIRST_ANSWER_WAIT)


# --- B3 allowance --------------------------------------------------------------------------------


def test_b3_half_of_what_is_left_beyond_the_reserve_may_be_in_flight():
    budget = started(RateBudget(reserve=0.1), 99, 100)  # alone: 99 left, reserve 10 -> 89, halved
    assert len(tickets_now(budget, 0.0)) == 44
    assert budget.spent


def test_b3_the_tightest_window_decides():
    budget = RateBudget(reserve=0.0)
    ticket, _ = budget.acquire(0.0)
    budget.observe(
        ticket, RateLimit(remaining_burst=9_999, limit_burst=10_000, remaining_hourly=21, limit_hourly=40)
    )
    assert len(tickets_now(budget, 0.0)) == 10  # hourly: 21 left - 1 (reserve at least 1), halved


@pytest.mark.parametrize(("limit", "floor"), [(150, 7.5), (300, 15.0), (3_000, 150.0), (10, 1.0)])
def test_b3_the_reserve_scales_with_the_advertised_limit(limit, floor):
    budget = started(RateBudget(), limit - 1, limit)
    assert budget._floor == floor
    assert len(tickets_now(budget, 0.0)) == math.floor((limit - 1 - floor) / 2)


def test_b3_an_answer_without_any_count_sets_no_limit():
    budget = RateBudget()
    ticket, _ = budget.acquire(0.0)
    budget.observe(ticket, RateLimit())
    assert all(budget.acquire(0.0)[0] >= 0 for _ in range(1_000))


# --- B4 shares -----------------------------------------------------------------------------------


def test_b4_the_count_falling_beyond_our_requests_is_the_others_spending():
    budget = started(RateBudget(reserve=0.0), 999, 1_000)
    assert budget.others_share == 0.0
    ticket, _ = budget.acquire(1.0)
    budget.observe(ticket, burst(989, 1_000))  # fell by 10, of which 1 was ours
    assert budget.others_share == pytest.approx(9 / 11, abs=0.01)


def test_b4_what_the_others_spent_before_our_first_answer_counts():
    budget = started(RateBudget(reserve=0.0), 200, 300)  # 100 gone, 1 of them ours
    assert budget.others_share == pytest.approx(0.99)
    # ... so this process spends its share of what is left (a tenth at least), not all of it
    assert len(tickets_now(budget, 0.0)) == int((200 - 1) * 0.1 / 2)


def test_b4_what_the_others_spent_between_a_refill_and_our_first_answer_of_the_window_counts():
    budget = alone(300, reserve=0.0)  # this process alone spent the first window
    ticket, _ = budget.acquire(11.0)
    budget.observe(ticket, burst(250, 300))  # the window turned; 49 of the new one are the others'
    assert budget._others_tally == 49  # (before: a refill was no evidence; others_share stayed 0)
    assert budget.others_share > 0.15


def test_b4_an_empty_window_is_no_evidence():
    budget = started(RateBudget(reserve=0.0), 299, 300)
    ticket, _ = budget.acquire(1.0)
    budget.observe(ticket, burst(0, 300))  # refused requests are not counted: how far it fell is unknown
    assert budget.others_share == 0.0


# --- B5 probes -----------------------------------------------------------------------------------


def probe_times(budget: RateBudget, until: float, *, answer: bool = False) -> list[float]:
    """When a spent budget lets a probe go, asking every 50 ms; with ``answer``, each probe is answered
    at once by a window that fell by that probe alone."""
    times = []
    for tick in range(int(until / 0.05)):
        now = round(tick * 0.05, 2)
        ticket = budget.acquire(now)[0]
        if ticket >= 0:
            times.append(now)
            if answer:
                assert budget._last_count is not None
                limit, remaining = budget._last_count
                budget.observe(ticket, burst(remaining - 1, limit))
    return times


def test_b5_a_spent_budget_probes_a_full_gap_after_it_ran_dry_then_once_per_interval():
    budget = started(RateBudget(reserve=0.0, probe_interval=2.0), 1, 2)  # 1 left, the reserve: spent
    assert budget.spent
    assert budget.acquire(0.5) == (-1, 2.0)  # the answer is fresh news: no probe at once
    assert budget.acquire(1.5) == (-1, 1.0)
    probe, wait = budget.acquire(2.5)
    assert (probe, wait) == (1, 0.0)
    assert budget.acquire(3.0) == (-1, pytest.approx(1.5))


def test_b5_the_probe_rate_scales_with_the_advertised_limit():
    """Probes spend 30 % of the reserve at the full rate: a 3,000-per-window key (reserve 150) is probed
    every second for a whole 10 s spell, a 150-per-window key (reserve 7.5) until 5 are left, then
    ever more rarely (before: every second whatever the key, and the probes ate a small key's reserve)."""
    large, small = alone(3_000), alone(150)
    assert probe_times(large, 10.0, answer=True) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert probe_times(small, 10.0, answer=True) == [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]  # 9 -> 4 left


def test_b5_each_process_probes_at_its_share_of_the_rate():
    budget = started(RateBudget(reserve=0.0), 3, 30)  # the others took 26 of the window
    assert budget.spent
    assert budget.others_share == pytest.approx(26 / 27)
    assert probe_times(budget, 31.0) == [10.0, 20.0, 30.0]  # share 0.1 at least: one probe per 10 s


def test_b5_an_answer_that_shows_the_window_turned_ends_the_spell():
    budget = alone(20, reserve=0.0)  # ran dry with 2 left
    first, second = budget.acquire(1.0)[0], budget.acquire(2.0)[0]
    budget.observe(first, burst(1, 20))  # a probe's answer, the same window: the spell goes on
    assert budget.acquire(2.5) == (-1, pytest.approx(0.5))
    budget.observe(second, burst(3, 20))  # the window turned, but the others already took most of it
    assert budget.spent
    assert budget.others_share > 0.5
    assert budget.acquire(2.5) == (-1, pytest.approx(1.0 / budget._share))  # a fresh spell, a gap away


# --- B6 429 --------------------------------------------------------------------------------------


def test_b6_a_pause_holds_everyone():
    budget = RateBudget()
    budget.pause(5.0, now=10.0)
    assert budget.acquire(12.0) == (-1, 3.0)
    assert budget.acquire(15.0)[1] == 0.0


# --- several processes on one key, simulated -----------------------------------------------------


class _Key:
    """A Gamma key allowing ``limit`` requests per fixed ``window`` seconds; refused ones are not counted."""

    def __init__(self, limit: int, window: float, phase: float) -> None:
        self.limit, self.window, self.phase = limit, window, phase
        self.counted: dict[int, int] = {}
        self.refused = 0

    def hit(self, now: float) -> tuple[int, float]:
        """What is left after this request, and ``Retry-After`` if it was refused (else 0)."""
        index = math.floor((now + self.phase) / self.window)
        used = self.counted.get(index, 0)
        if used >= self.limit:
            self.refused += 1
            return 0, (index + 1) * self.window - self.phase - now
        self.counted[index] = used + 1
        return self.limit - used - 1, 0.0


def _herd(processes: int, pollers: int, limit: int, *, seconds: float = 60.0, seed: int = 0) -> _Key:
    """``pollers`` triggers split between ``processes`` processes, all starting at the same moment
    (a triggerer restart), each polling again 5 s after its answer, on one key of ``limit`` requests
    per 10 s. Answers take 10-50 ms; a waiting poll asks again after ``wait`` plus up to 1 s (the
    drivers' spread)."""
    rng = random.Random(seed)
    key = _Key(limit, 10.0, rng.uniform(0, 10.0))
    budgets = [RateBudget() for _ in range(processes)]
    # (when, poller, ticket of the answer or -1 for "ask", what was left, Retry-After)
    events = [(0.0, poller, -1, 0, 0.0) for poller in range(pollers)]
    while events:
        now, poller, ticket, remaining, retry_after = heapq.heappop(events)
        if now > seconds:
            break
        budget = budgets[poller % processes]
        if ticket >= 0:  # an answer
            budget.observe(ticket, burst(remaining, limit))
            budget.pause(retry_after, now)
            heapq.heappush(events, (now + retry_after + 5.0 * rng.uniform(1.0, 1.2), poller, -1, 0, 0.0))
            continue
        ticket, wait = budget.acquire(now)
        if ticket < 0:
            heapq.heappush(events, (now + wait + rng.random(), poller, -1, 0, 0.0))
            continue
        latency = rng.uniform(0.01, 0.05)
        heapq.heappush(events, (now + latency, poller, ticket, *key.hit(now + latency / 2)))
    return key


@pytest.mark.parametrize("processes", [1, 2, 3])
@pytest.mark.parametrize("limit", [300, 150])
def test_600_polls_starting_together_on_one_key_are_never_refused(processes, limit):
    """Before: the first allowance was unlimited, and half the first polls got 429."""
    for seed in range(3):
        key = _herd(processes, 600, limit, seed=seed)
        assert key.refused == 0, (seed, key.refused)
        whole_windows = [key.counted[index] for index in sorted(key.counted)[1:-1]]
        assert min(whole_windows) >= 0.7 * limit  # the key is still used, not starved


def _share_one_key(processes: int, seconds: float = 60.0) -> tuple[list[int], int, list[float]]:
    """Greedy pollers in ``processes`` processes, each with its own RateBudget, on one key whose
    burst window allows 100 requests per 10 s; every answer takes 0.2 s. Returns (requests Gamma
    counted of each process in the last 10 s, requests refused with 429, each budget's inferred
    ``others_share``)."""
    limit, window, latency, step = 100, 10.0, 0.2, 0.01
    budgets = [RateBudget(reserve=0.0, probe_interval=1.0) for _ in range(processes)]
    remaining, counted, refused = limit, [0] * processes, 0
    answers: list[tuple[float, int, int, int]] = []  # (due, process, ticket, remaining then)
    for tick in range(int(seconds / step)):
        now = tick * step
        if tick % int(window / step) == 0:
            remaining = limit
        for due, process, ticket, left in [a for a in answers if a[0] <= now]:
            answers.remove((due, process, ticket, left))
            budgets[process].observe(ticket, burst(left, limit))
        for process, budget in enumerate(budgets):  # each process wants 100 requests a second
            ticket, wait = budget.acquire(now)
            if not wait:
                if remaining == 0:
                    refused += 1
                else:
                    remaining -= 1
                    counted[process] += now >= seconds - window
                answers.append((now + latency, process, ticket, remaining))
    return counted, refused, [budget.others_share for budget in budgets]


def test_budgets_of_several_processes_infer_each_others_spending_and_stay_inside_the_window():
    [alone_counted], alone_refused, [alone_share] = _share_one_key(1)
    assert alone_refused <= 20  # with no reserve, a spent budget's probes are refused until the refill
    assert alone_share == 0.0
    for processes in (2, 3):
        counted, refused, shares = _share_one_key(processes)
        # Without the inference: 225 refused with 2 processes, 401 with 3.
        assert refused <= 20, (processes, refused)
        assert sum(counted) >= 0.9 * alone_counted  # the window is still used, not starved
        for own, share in zip(counted, shares, strict=True):
            # each infers the others' part of the key's last window (they do not take equal parts:
            # whoever sees the window turn first takes more of it)
            assert share == pytest.approx(1 - own / sum(counted), abs=0.15), (processes, counted, shares)
