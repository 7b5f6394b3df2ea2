"""Which async HTTP client should a triggerer use to poll thousands of remote jobs at once?

A deferrable operator hands its job id to a trigger; the triggerer then runs *every* trigger
of the deployment as a coroutine in ONE asyncio event loop, and each trigger polls
``GET /v1.0/generations/{id}`` every few seconds until the job finishes.  With thousands of
triggers the HTTP client's per-request CPU cost, the connections it opens and how much it
stalls the shared event loop decide how many triggers one triggerer can carry.

What is measured
----------------
A tiny aiohttp.web JSON server runs on 127.0.0.1 in a separate process (default asyncio
loop, no uvloop) and answers ``GET /v1.0/generations/{id}`` with
``{"generationId": id, "status": "pending"}`` plus ``x-request-id`` and
``x-ratelimit-remaining-burst: 9999`` headers.  It counts the TCP connections that served
requests (distinct transports and distinct peer ports).

Each client configuration then runs in a FRESH spawned process (so imports, caches and
memory do not bleed between rows): ``--pollers`` concurrent pollers in one event loop, each
starting at a random offset in ``[0, interval)`` and doing ``--polls`` GETs separated by a
sleep of ``interval * U(0.8, 1.2)`` -- like triggers in a triggerer.  Rows:

* ``aiohttp-shared``  -- one ``aiohttp.ClientSession`` with ``TCPConnector(limit=pollers)``;
* ``httpx-shared``    -- one ``httpx.AsyncClient`` with ``Limits(max_connections=pollers)``;
* ``aiohttp-per-poll`` -- the naive baseline: a new ``ClientSession`` for every poll.

Both shared clients use the same keep-alive expiry (``max(15 s, 3 * interval)``) and a 30 s
request timeout.  Each process makes one un-measured warm-up request first (lazy imports and
first-use caches are a one-off cost in a long-running triggerer).  Per row: process CPU time
(``time.process_time``, the client process only) per poll, event-loop lag p50/p99/max (a
sampler task sleeps 10 ms and records the overshoot), request latency p50/p99, peak RSS growth
(``ru_maxrss`` delta taken after the warm-up), wall time, TCP connections opened (counted by
the server, warm-up excluded) and errors.

How to run
----------
::

    python benchmarks/async_client_choice.py [--pollers 1000 --polls 5 --interval 1.0]
    python benchmarks/async_client_choice.py --tiny        # 20 pollers, 2 polls, 0.05 s: seconds

It prints a markdown table and writes JSON (results + machine info: nproc, python, library
versions, load average) to ``benchmarks/results/async_client_choice.json`` (``--tiny`` writes
``async_client_choice.tiny.json`` unless ``--output`` is given).  The exit status is 1 if any
poll failed.  Child processes are started with the ``spawn`` method, so tests should run the
file as a subprocess (``[sys.executable, path, "--tiny"]``) rather than import it.

Only loopback traffic is generated.  Every loop is bounded by a count, and every phase by a
deadline (per-request timeout, per-run ``asyncio.wait_for`` and a parent-side join timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import socket
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PATH_PREFIX = "/v1.0/generations/"
WARMUP_ID = "warmup"  # not counted by the server; lets each client import/JIT lazily-loaded code paths
CLIENTS = ("aiohttp-shared", "httpx-shared", "aiohttp-per-poll")
LAG_SAMPLE_S = 0.010
REQUEST_TIMEOUT_S = 30.0
STARTUP_TIMEOUT_S = 30.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"

PollFn = Callable[[str], Awaitable[None]]


# --------------------------------------------------------------------------- server process


def _server_main(port_q: Any, stop: MpEvent, backlog: int) -> None:
    """Entry point of the server process: serve until ``stop`` is set (or 1 h passes)."""
    asyncio.run(_serve(port_q, stop, backlog))


async def _serve(port_q: Any, stop: MpEvent, backlog: int) -> None:
    import uuid
    import weakref

    from aiohttp import web

    seen: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
    stats: dict[str, Any] = {"requests": 0, "connections": 0}
    peer_ports: set[int] = set()
    cpu0 = [time.process_time()]

    async def generation(request: web.Request) -> web.Response:
        stats["requests"] += 1
        tr = request.transport
        gen_id = request.match_info["gen_id"]
        if tr is not None and gen_id != WARMUP_ID and tr not in seen:
            seen.add(tr)
            stats["connections"] += 1
            peer = tr.get_extra_info("peername")
            if peer:
                peer_ports.add(peer[1])
        return web.json_response(
            {"generationId": gen_id, "status": "pending"},
            headers={
                "x-request-id": uuid.uuid4().hex,
                "x-ratelimit-remaining-burst": "9999",
                "x-ratelimit-remaining": "99999",
            },
        )

    async def get_stats(_: web.Request) -> web.Response:
        body = dict(stats, distinct_peer_ports=len(peer_ports), server_cpu_s=time.process_time() - cpu0[0])
        return web.json_response(body)

    async def reset(_: web.Request) -> web.Response:
        stats.update(requests=0, connections=0)
        peer_ports.clear()
        cpu0[0] = time.process_time()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get(PATH_PREFIX + "{gen_id}", generation)
    app.router.add_get("/_bench/stats", get_stats)
    app.router.add_post("/_bench/reset", reset)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=75.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    site = web.SockSite(runner, sock, backlog=backlog)
    await site.start()
    port_q.put(sock.getsockname()[1])
    try:
        for _ in range(36_000):  # bounded: at most 1 h
            if stop.is_set():
                break
            await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()


def _server_call(port: int, path: str, method: str = "GET") -> dict[str, Any]:
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 loopback only
        data: dict[str, Any] = json.loads(resp.read())
        return data


# --------------------------------------------------------------------------- client process


@dataclass
class RunResult:
    client: str
    pollers: int
    polls_per_poller: int
    interval_s: float
    polls_ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    cpu_ms_per_poll: float = 0.0
    loop_lag_ms: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    rss_growth_mib: float = 0.0
    rss_end_growth_mib: float | None = None
    client_connections: int | None = None
    server: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[idx]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": _pct(values, 50),
        "p99": _pct(values, 99),
        "max": max(values) if values else float("nan"),
        "n": float(len(values)),
    }


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _client_main(result: RunResult, port: int, out_q: Any) -> None:
    """Entry point of a client process; fills ``result`` and puts it (as dict) on ``out_q``."""
    try:
        asyncio.run(_client_run(result, port))
    except Exception as exc:  # report, never hang the parent
        result.errors[f"fatal:{type(exc).__name__}:{exc}"] = 1
    out_q.put(asdict(result))


async def _client_run(result: RunResult, port: int) -> None:
    # Import the library under test first so the RSS/CPU baselines exclude import cost.
    import aiohttp

    if result.client == "httpx-shared":
        import httpx

    pollers, polls, interval = result.pollers, result.polls_per_poller, result.interval_s
    base = f"http://{HOST}:{port}"
    keepalive = max(15.0, 3 * interval)
    conn_count = [0]

    async def on_conn(_s: Any, _c: Any, _p: Any) -> None:
        conn_count[0] += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_conn)

    errors: Counter[str] = Counter()
    latencies: list[float] = []
    lags: list[float] = []
    ok = [0]
    done = asyncio.Event()
    psutil_proc: Any = None
    with contextlib.suppress(ImportError):
        import psutil

        psutil_proc = psutil.Process()

    async def lag_sampler() -> None:
        loop = asyncio.get_running_loop()
        max_samples = int((interval * (polls + 2) + 600) / LAG_SAMPLE_S)
        for _ in range(max_samples):
            if done.is_set():
                return
            t0 = loop.time()
            await asyncio.sleep(LAG_SAMPLE_S)
            lags.append(max(0.0, loop.time() - t0 - LAG_SAMPLE_S) * 1000.0)

    async def poller(i: int, poll: PollFn) -> None:
        rnd = random.Random(i)
        await asyncio.sleep(rnd.uniform(0, interval))
        for n in range(polls):
            t0 = time.perf_counter()
            try:
                await poll(f"{base}{PATH_PREFIX}gen-{i:06d}")
                ok[0] += 1
                latencies.append((time.perf_counter() - t0) * 1000.0)
            except Exception as exc:
                errors[type(exc).__name__] += 1
            if n < polls - 1:
                await asyncio.sleep(interval * rnd.uniform(0.8, 1.2))

    def check(data: Any, burst: str | None) -> None:
        if not isinstance(data, dict) or data.get("status") != "pending" or burst is None:
            raise ValueError("unexpected response")
        int(burst)

    timeout_a = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    stack = contextlib.AsyncExitStack()
    poll: PollFn
    if result.client == "aiohttp-shared":
        connector = aiohttp.TCPConnector(limit=pollers, limit_per_host=pollers, keepalive_timeout=keepalive)
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=timeout_a, trace_configs=[trace])
        )

        async def poll(url: str) -> None:
            async with session.get(url) as resp:
                resp.raise_for_status()
                check(await resp.json(), resp.headers.get("x-ratelimit-remaining-burst"))

    elif result.client == "httpx-shared":
        limits = httpx.Limits(
            max_connections=pollers, max_keepalive_connections=pollers, keepalive_expiry=keepalive
        )
        hclient = await stack.enter_async_context(
            httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT_S))
        )

        async def poll(url: str) -> None:
            resp = await hclient.get(url)
            resp.raise_for_status()
            check(resp.json(), resp.headers.get("x-ratelimit-remaining-burst"))

    elif result.client == "aiohttp-per-poll":

        async def poll(url: str) -> None:
            async with (
                aiohttp.ClientSession(timeout=timeout_a, trace_configs=[trace]) as session,
                session.get(url) as resp,
            ):
                resp.raise_for_status()
                check(await resp.json(), resp.headers.get("x-ratelimit-remaining-burst"))

    else:
        raise ValueError(f"unknown client {result.client!r}")

    # One un-measured warm-up poll: lazy imports and first-use caches are a one-off cost in a
    # long-running triggerer.  The server does not count the warm-up request's connection.
    await poll(f"{base}{PATH_PREFIX}{WARMUP_ID}")

    conn_count[0] = 0
    rss0 = _maxrss_kib()
    rss_now0 = psutil_proc.memory_info().rss if psutil_proc else 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    sampler = asyncio.create_task(lag_sampler())
    deadline = interval * (polls + 1) * 1.5 + REQUEST_TIMEOUT_S * polls + 60
    try:
        async with stack:
            tasks = [asyncio.create_task(poller(i, poll)) for i in range(pollers)]
            try:
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=deadline)
            except TimeoutError:
                result.timed_out = True
            done.set()
            result.wall_s = time.perf_counter() - wall0
            result.cpu_s = time.process_time() - cpu0
            result.rss_growth_mib = (_maxrss_kib() - rss0) / 1024.0
            if psutil_proc:
                result.rss_end_growth_mib = (psutil_proc.memory_info().rss - rss_now0) / 2**20
    finally:
        done.set()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler

    result.polls_ok = ok[0]
    result.errors.update(errors)
    result.cpu_ms_per_poll = result.cpu_s * 1000.0 / max(1, ok[0] + sum(errors.values()))
    result.loop_lag_ms = _summary(lags)
    result.latency_ms = _summary(latencies)
    if result.client.startswith("aiohttp"):
        result.client_connections = conn_count[0]


# --------------------------------------------------------------------------- orchestration


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for pkg in ("aiohttp", "httpx", "httpcore", "anyio", "h11", "yarl", "multidict", "uvloop", "psutil"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _machine_info() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "event_loop": "asyncio default (uvloop not used)",
        "start_method": "spawn",
        "versions": _versions(),
    }


def _run_one(ctx: Any, client: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    _server_call(port, "/_bench/reset", "POST")
    out_q = ctx.Queue()
    proc = ctx.Process(
        target=_client_main,
        args=(RunResult(client, args.pollers, args.polls, args.interval), port, out_q),
        name=f"bench-{client}",
    )
    proc.start()
    budget = args.interval * (args.polls + 1) * 1.5 + REQUEST_TIMEOUT_S * args.polls + 120
    try:
        data: dict[str, Any] = out_q.get(timeout=budget)
    except Exception:
        data = asdict(RunResult(client, args.pollers, args.polls, args.interval, errors={"no-result": 1}))
    proc.join(timeout=30)
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=10)
    data["server"] = _server_call(port, "/_bench/stats")
    return data


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| client | polls ok | errors | wall s | CPU ms/poll | loop lag p50 / p99 / max ms "
        "| req latency p50 / p99 ms | peak RSS Δ MiB | TCP conns (server) |"
    )
    lines = [head, "|---" * 9 + "|"]
    for r in rows:
        lag, lat = r["loop_lag_ms"], r["latency_ms"]
        lines.append(
            f"| {r['client']} | {r['polls_ok']} | {sum(r['errors'].values())} | {_fmt(r['wall_s'], 2)} "
            f"| {_fmt(r['cpu_ms_per_poll'], 3)} "
            f"| {_fmt(lag.get('p50'), 2)} / {_fmt(lag.get('p99'), 1)} / {_fmt(lag.get('max'), 1)} "
            f"| {_fmt(lat.get('p50'), 2)} / {_fmt(lat.get('p99'), 1)} "
            f"| {_fmt(r['rss_growth_mib'], 1)} | {r['server'].get('connections', '-')} |"
        )
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--pollers", type=int, default=1000, help="concurrent pollers (triggers)")
    p.add_argument("--polls", type=int, default=5, help="GETs per poller")
    p.add_argument("--interval", type=float, default=1.0, help="mean seconds between polls (jittered ±20%%)")
    p.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated subset/order of {CLIENTS}")
    p.add_argument("--tiny", action="store_true", help="20 pollers, 2 polls, 0.05 s interval (for tests)")
    p.add_argument("--output", type=Path, default=None, help="JSON output path")
    args = p.parse_args(argv)
    if args.tiny:
        args.pollers, args.polls, args.interval = 20, 2, 0.05
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown or not clients:
        p.error(f"unknown clients {unknown}; choose from {CLIENTS}")
    if not (1 <= args.pollers <= 20_000 and 1 <= args.polls <= 1000 and 0 <= args.interval <= 60):
        p.error("pollers must be 1..20000, polls 1..1000, interval 0..60 s")
    args.clients = clients
    if args.output is None:
        args.output = RESULTS_DIR / (
            "async_client_choice.tiny.json" if args.tiny else "async_client_choice.json"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=_server_main, args=(port_q, stop, 4096), name="bench-server", daemon=True)
    server.start()
    rows: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    try:
        port: int = port_q.get(timeout=STARTUP_TIMEOUT_S)
        for client in args.clients:
            print(f"running {client}: {args.pollers} pollers x {args.polls} polls ...", file=sys.stderr)
            rows.append(_run_one(ctx, client, port, args))
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
            server.join(timeout=5)

    table = _table(rows)
    print(
        f"\n{args.pollers} pollers x {args.polls} polls, interval {args.interval} s "
        f"(nproc={os.cpu_count()}, python {sys.version.split()[0]})\n"
    )
    print(table)
    report = {
        "params": {
            "pollers": args.pollers,
            "polls": args.polls,
            "interval_s": args.interval,
            "clients": args.clients,
            "tiny": args.tiny,
        },
        "machine": dict(_machine_info(), loadavg_start=load_start, loadavg_end=os.getloadavg()),
        "total_wall_s": time.perf_counter() - t0,
        "results": rows,
        "markdown": table,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}", file=sys.stderr)
    failed = any(sum(r["errors"].values()) or r.get("timed_out") for r in rows)
    expected = args.pollers * args.polls
    failed = failed or any(r["polls_ok"] != expected for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
