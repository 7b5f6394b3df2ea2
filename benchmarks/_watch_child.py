"""Child process of bench_triggers.py and bench_rate_limit.py: N generations watched in ONE event loop.

Run as ``python benchmarks/_watch_child.py '<json params>'``; prints one JSON line with the results.

Phases (only phase 3 is measured):

1. imports, ``AIRFLOW_CONN_GAMMA_DEFAULT`` already set by the parent, one un-measured warm-up watch of
   a 0.1 s generation (lazy imports, connection lookup, first-use caches are one-off costs in a
   long-running triggerer);
   With ``start_at`` (a ``time.time()`` value), the child then waits until that moment, so several
   children sharing one emulator (bench_shared_key.py) create and watch at the same time;
2. ``n`` generations are created with ``POST /v1.0/generations`` on a throwaway session (at most
   ``create_rate`` per second when given, retrying 429s after ``Retry-After``), then that session is
   closed and garbage collected;
3. ``n`` watchers start in one event loop, watcher ``i`` after a random offset in ``[0, start_spread)``
   (like triggers arriving at a triggerer), and run until each has its event or ``deadline_s`` passes.
   Measured: process CPU (``time.process_time``), event-loop lag (a task sleeping 10 ms records the
   overshoot), RSS (``/proc/self/statm``, sampled every 50 ms; growth = peak - value before the
   watchers were created), TCP connections opened (every ``loop.create_connection`` call of this
   process, counted by wrapping ``asyncio.BaseEventLoop.create_connection``; aiohttp opens every
   connection through it), polls sent (client side) and each generation's detection time
   (``time.monotonic``, the same system-wide clock as the emulator's ``ready_at``).

Every rate budget's inferred share of other processes' spending (``RateBudget.others_share``) is
recorded after each answer; with ``assume_alone`` it is forced to 0 (each process behaves as if it
were the key's only user: the baseline of bench_shared_key.py). With ``budget: "before"`` the rate
budget is the one of 382df8a (``_budget_before.py``), so bench_shared_key.py measures the budget
before and after issue 22 in the same run.

For bench_shared_key.py's start-up herd: with ``watch_at`` (a ``time.time()`` value) phase 3 starts
at that moment in every child (after the creations, and after the key's window had time to refill),
and with ``ready_in`` (``[lo, hi]`` seconds) each generation completes at a random moment that long
after ``watch_at`` (its duration is set per generation with the emulator's ``[[emulator:seconds=]]``).

Variants:

* ``ours``: ``GammaGenerationTrigger.run()`` as the triggerer drives it (``async for event in run()``);
* ``session-per-poll``: a trigger written here that opens a new ``aiohttp.ClientSession`` (so a new TCP
  connection) for every poll, otherwise the same loop;
* ``floor``: a bare loop of ``GET`` on one shared ``aiohttp.ClientSession`` (same connector settings as
  the hook: ``limit=64``, keep-alive 60 s), sleeping ``interval`` after every answer whatever it was
  (so also the "fixed interval, no pacing" poller of the rate-limit benchmark).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from _common import pct, rss_bytes, summary

LAG_SAMPLE_S = 0.010
RSS_SAMPLE_S = 0.050


def _settings() -> tuple[str, str]:
    conn = json.loads(os.environ["AIRFLOW_CONN_GAMMA_DEFAULT"])
    return str(conn["host"]).rstrip("/"), str(conn["password"])


async def _create(
    n: int, create_rate: float, text: str, deadline: float, ready_at: list[float] | None = None
) -> tuple[list[str], dict[str, int]]:
    """``ready_at``: per generation, the ``time.monotonic()`` moment it should complete."""
    import aiohttp

    base, key = _settings()
    ids: list[str | None] = [None] * n
    stats = {"posts": 0, "post_429": 0}
    semaphore = asyncio.Semaphore(32)
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(i: int) -> None:
            if create_rate > 0:
                await asyncio.sleep(i / create_rate)
            for _ in range(100):  # bounded retries of 429s
                if time.monotonic() > deadline:
                    raise TimeoutError("creating generations took too long")
                seconds = (
                    ""
                    if ready_at is None
                    else f" [[emulator:seconds={max(0.1, ready_at[i] - time.monotonic()):.2f}]]"
                )
                body = {"inputText": text + seconds, "textMode": "generate", "numCards": 3}
                async with semaphore, session.post(f"{base}/v1.0/generations", json=body) as response:
                    stats["posts"] += 1
                    if response.status == 429:
                        stats["post_429"] += 1
                        wait = float(response.headers.get("Retry-After", "1"))
                    else:
                        response.raise_for_status()
                        ids[i] = (await response.json())["generationId"]
                        return
                await asyncio.sleep(wait + random.uniform(0, 1))
            raise RuntimeError("POST kept answering 429")

        await asyncio.gather(*(one(i) for i in range(n)))
    return [i for i in ids if i is not None], stats


def _session_per_poll_trigger_class() -> type:
    import aiohttp
    from airflow.triggers.base import BaseTrigger, TriggerEvent

    from airflow_provider_gamma import protocol
    from airflow_provider_gamma.hooks.gamma import GammaHook

    class SessionPerPollTrigger(BaseTrigger):  # type: ignore[misc]
        """Baseline: the same watch loop, but a new ClientSession (and TCP connection) per poll."""

        def __init__(self, generation_id: str, poll_interval: float, end_time: float) -> None:
            super().__init__()
            self.generation_id = generation_id
            self.poll_interval = poll_interval
            self.end_time = end_time

        def serialize(self) -> tuple[str, dict[str, Any]]:
            return ("SessionPerPollTrigger", {"generation_id": self.generation_id})

        async def run(self) -> AsyncIterator[TriggerEvent]:
            settings = await GammaHook().aget_settings()
            url = f"{settings.base_url}/v1.0/generations/{self.generation_id}"
            headers = protocol.request_headers(settings.api_key, settings.user_agent)
            generation: Any = None
            while time.time() < self.end_time:
                try:
                    async with (
                        aiohttp.ClientSession(
                            headers=headers, timeout=aiohttp.ClientTimeout(total=settings.timeout)
                        ) as session,
                        session.get(url) as response,
                    ):
                        if response.status == 200:
                            generation = await response.json()
                except (aiohttp.ClientError, TimeoutError):
                    generation = None
                if generation and generation.get("status") in ("completed", "failed"):
                    yield TriggerEvent({"status": "success", "generation": generation})
                    return
                await asyncio.sleep(self.poll_interval)
            yield TriggerEvent({"status": "timeout", "generation": generation})

    return SessionPerPollTrigger


def _instrument_rate_budget(*, assume_alone: bool) -> list[float]:
    """Record the share of the key's spending each budget infers other processes took, after every
    answer; with ``assume_alone`` the budget never infers any (the baseline of bench_shared_key.py)."""
    from airflow_provider_gamma.protocol import RateBudget

    shares: list[float] = []
    observe = RateBudget.observe

    def recording(self: RateBudget, ticket: int, rate_limit: Any) -> None:
        observe(self, ticket, rate_limit)
        shares.append(self.others_share)

    RateBudget.observe = recording  # type: ignore[method-assign]
    if assume_alone:
        RateBudget.others_share = property(lambda self: 0.0)  # type: ignore[assignment,method-assign]
    return shares


def _share_summary(shares: list[float]) -> dict[str, float] | None:
    """The inferred share while every process is busy: the middle half of the answers (the first
    ones come before any evidence, the last ones while the other processes may have finished)."""
    settled = shares[len(shares) // 4 : len(shares) * 3 // 4]
    return {"mean": sum(settled) / len(settled), "last": settled[-1]} if settled else None


async def _main(params: dict[str, Any]) -> dict[str, Any]:
    import aiohttp
    from airflow.triggers.base import TriggerEvent

    from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger

    if params.get("budget") == "before":
        import _budget_before

        _budget_before.install()
    shares = _instrument_rate_budget(assume_alone=params.get("assume_alone", False))
    variant: str = params["variant"]
    n: int = params["n"]
    interval: float = params["interval"]
    spread: float = params["start_spread"]
    deadline_s: float = params["deadline_s"]
    base, key = _settings()
    session_per_poll = _session_per_poll_trigger_class()
    polls = [0]
    errors: dict[str, int] = {}

    shared: aiohttp.ClientSession | None = None

    def make_watch(generation_id: str, end_time: float) -> Any:
        if variant == "ours":
            trigger = GammaGenerationTrigger(generation_id, poll_interval=interval, end_time=end_time)
            return _drive(trigger.run())
        if variant == "session-per-poll":
            return _drive(session_per_poll(generation_id, interval, end_time).run())
        return _floor(generation_id, end_time)

    async def _drive(events: AsyncIterator[TriggerEvent]) -> str:
        async for event in events:
            payload = event.payload
            return str(payload.get("status"))
        return "no-event"

    async def _floor(generation_id: str, end_time: float) -> str:
        assert shared is not None
        url = f"{base}/v1.0/generations/{generation_id}"
        while time.time() < end_time:
            try:
                async with shared.get(url) as response:
                    polls[0] += 1
                    if response.status == 200:
                        data = await response.json()
                        if data.get("status") in ("completed", "failed"):
                            return "success" if data["status"] == "completed" else "failed"
                    else:
                        await response.read()
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            except (aiohttp.ClientError, TimeoutError) as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
            await asyncio.sleep(interval)
        return "timeout"

    # 1. warm-up (not measured): one short generation watched by this variant's code path
    [warm_id], _ = await _create(1, 0, "warm-up [[emulator:seconds=0.1]]", time.monotonic() + 60)
    if variant == "floor":
        shared = aiohttp.ClientSession(
            headers={"X-API-KEY": key, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=60),
        )
    await asyncio.sleep(0.2)
    await asyncio.wait_for(make_watch(warm_id, time.time() + 30), timeout=60)
    # several children sharing one emulator begin creating at the same moment
    late_s = time.time() - params.get("start_at", 0.0)
    if late_s < 0:
        await asyncio.sleep(-late_s)

    # 2. create the generations (not measured)
    created_at = time.monotonic()
    watch_at = params.get("watch_at")
    ready_at = None
    if watch_at is not None and "ready_in" in params:
        lo, hi = params["ready_in"]
        watch_at_monotonic = created_at + (watch_at - time.time())
        ready_at = [watch_at_monotonic + random.uniform(lo, hi) for _ in range(n)]
    ids, create_stats = await _create(
        n, params.get("create_rate", 0.0), params.get("text", "bench deck"), created_at + 600, ready_at
    )
    create_s = time.monotonic() - created_at
    gc.collect()
    await asyncio.sleep(0.5)
    watch_late_s = None
    if watch_at is not None:  # every child starts watching at the same moment
        watch_late_s = time.time() - watch_at
        if watch_late_s < 0:
            await asyncio.sleep(-watch_late_s)

    # 3. the measured phase
    connections = [0]
    original = asyncio.BaseEventLoop.create_connection

    async def counting(self: asyncio.BaseEventLoop, *args: Any, **kwargs: Any) -> Any:
        connections[0] += 1
        return await original(self, *args, **kwargs)

    asyncio.BaseEventLoop.create_connection = counting  # type: ignore[method-assign]
    lags: list[float] = []
    rss_peak = [0]
    done = asyncio.Event()
    detected: dict[str, float] = {}
    statuses: dict[str, int] = {}
    rng = random.Random(42)

    async def lag_sampler() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(int((deadline_s + 60) / LAG_SAMPLE_S)):
            if done.is_set():
                return
            t0 = loop.time()
            await asyncio.sleep(LAG_SAMPLE_S)
            lags.append(max(0.0, loop.time() - t0 - LAG_SAMPLE_S) * 1000.0)

    async def rss_sampler() -> None:
        for _ in range(int((deadline_s + 60) / RSS_SAMPLE_S)):
            if done.is_set():
                return
            rss_peak[0] = max(rss_peak[0], rss_bytes())
            await asyncio.sleep(RSS_SAMPLE_S)

    async def watcher(generation_id: str, offset: float, end_time: float) -> None:
        await asyncio.sleep(offset)
        status = await make_watch(generation_id, end_time)
        detected[generation_id] = time.monotonic()
        statuses[status] = statuses.get(status, 0) + 1

    rss0 = rss_bytes()
    rss_peak[0] = rss0
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    samplers = [asyncio.create_task(lag_sampler()), asyncio.create_task(rss_sampler())]
    end_time = time.time() + deadline_s
    tasks = [asyncio.create_task(watcher(g, rng.uniform(0, spread), end_time)) for g in ids]
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=deadline_s + 30)
    except TimeoutError:
        timed_out = True
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    done.set()
    for task in samplers:
        await task
    rss_peak[0] = max(rss_peak[0], rss_bytes())
    asyncio.BaseEventLoop.create_connection = original  # type: ignore[method-assign]
    if shared is not None:
        await shared.close()
    return {
        "variant": variant,
        "n": len(ids),
        "create_s": create_s,
        "create_stats": create_stats,
        "wall_s": wall,
        "cpu_s": cpu,
        "loop_lag_ms": summary(lags),
        "loop_lag_p999_ms": pct(lags, 99.9),
        "rss_growth_bytes": rss_peak[0] - rss0,
        "connections_opened": connections[0],
        "client_polls_floor": polls[0],
        "client_errors": errors,
        "statuses": statuses,
        "timed_out": timed_out,
        "detected": detected,
        "warm_id": warm_id,
        "late_s": max(0.0, late_s) if "start_at" in params else None,
        "watch_late_s": watch_late_s,
        "others_share": _share_summary(shares),
    }


def main() -> int:
    params = json.loads(sys.argv[1])
    result = asyncio.run(_main(params))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
