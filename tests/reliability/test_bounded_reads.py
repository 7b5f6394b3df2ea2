# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Every answer the hook reads is bounded, cannot stall other pollers, and cannot carry the key back:
drip-fed and oversized answers, day-long or overflowing ``Retry-After``, odd ``error`` fields, polls
cancelled in flight, and servers that echo the request headers. Real HTTP on loopback: a hostile
server for what Gamma would never send, the emulator for the rest."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaGenerationFailedError,
    GammaProtocolError,
    GammaSubmissionUncertainError,
    GammaTransportError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import GammaGenerateOperator
from airflow_provider_gamma.protocol import MAX_ANSWER_BYTES, RetryPolicy, parse_retry_after
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger
from tests.reliability.conftest import connection

KEY = "sk-gamma-ECHOED-0123456789abcdef"
ONCE = RetryPolicy(max_attempts=1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostileServer:
    """An HTTP server on loopback whose every answer is ``handler(request)``."""

    def __init__(self) -> None:
        self.handler: Handler = self._not_set
        self.url = ""

    @staticmethod
    async def _not_set(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        return await self.handler(request)


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    server = HostileServer()
    loop = asyncio.new_event_loop()
    runner: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", server.dispatch)
        runner.append(web.AppRunner(app, access_log=None))
        await runner[0].setup()
        site = web.TCPSite(runner[0], "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server.url = f"http://127.0.0.1:{port}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    conn = {"conn_type": "gamma", "host": server.url, "password": KEY, "extra": {"timeout": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", json.dumps(conn))
    GammaHook.clear_connection_cache()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


async def drip(request: web.Request) -> web.StreamResponse:
    """Headers at once, then one byte every 0.25 s of a 1,000-byte JSON body: each read is quick."""
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
    await response.prepare(request)
    for _ in range(1000):
        await response.write(b" ")
        await asyncio.sleep(0.25)
    return response


async def huge(request: web.Request) -> web.StreamResponse:
    body = b'{"generationId": "g", "status": "pending", "pad": "' + b"x" * (MAX_ANSWER_BYTES + 1) + b'"}'
    return web.Response(body=body, content_type="application/json")


async def echo_headers_html(request: web.Request) -> web.StreamResponse:
    lines = "".join(f"<li>{k}: {v}</li>" for k, v in request.headers.items())
    return web.Response(status=502, text=f"<html><h1>Bad gateway</h1><ul>{lines}</ul></html>")


async def echo_headers_json(request: web.Request) -> web.StreamResponse:
    return web.json_response({"message": f"blocked: {dict(request.headers)}"}, status=403)


async def echo_headers_2xx(request: web.Request) -> web.StreamResponse:
    return web.json_response({"echo": dict(request.headers)})


async def echo_headers_text_2xx(request: web.Request) -> web.StreamResponse:
    return web.Response(text=f"ok {dict(request.headers)}")


# --- a total deadline per request ----------------------------------------------------------------


def test_a_drip_fed_poll_is_cut_at_the_timeout_not_held_open(hostile: HostileServer) -> None:
    """Before: the per-read timeout (1 s) never fired, and the poll was held for 250 s."""
    hostile.handler = drip
    began = time.monotonic()
    with pytest.raises(GammaTransportError, match="did not arrive whole within 1 s"):
        GammaHook(retry_policy=ONCE).get_generation("g")
    assert time.monotonic() - began < 3


def test_a_drip_fed_post_is_cut_and_uncertain(hostile: HostileServer) -> None:
    hostile.handler = drip
    began = time.monotonic()
    with pytest.raises(GammaSubmissionUncertainError):
        GammaHook(retry_policy=ONCE).create_generation("Weekly deck")
    assert time.monotonic() - began < 3


def test_a_drip_fed_poll_in_the_trigger_is_cut_too(hostile: HostileServer) -> None:
    hostile.handler = drip

    async def poll() -> None:
        async with GammaHook(retry_policy=ONCE).async_session():
            await GammaHook(retry_policy=ONCE).aget_generation("g")

    began = time.monotonic()
    with pytest.raises(GammaTransportError):
        asyncio.run(poll())
    assert time.monotonic() - began < 3


def test_a_drip_fed_export_download_is_cut_at_its_deadline(hostile: HostileServer) -> None:
    """Before: an export download had only a per-read timeout, so a host dripping bytes held it forever."""
    hostile.handler = drip
    received = bytearray()
    began = time.monotonic()
    with pytest.raises(GammaTransportError, match=r"timed out|deadline"):
        GammaHook(retry_policy=ONCE).download_export(
            f"{hostile.url}/export/deck.pdf", received.extend, deadline=1
        )
    assert time.monotonic() - began < 3
    assert len(received) < 1000


# --- a size cap ----------------------------------------------------------------------------------


def test_an_oversized_answer_is_refused_with_a_clear_error_sync_and_async(hostile: HostileServer) -> None:
    hostile.handler = huge
    with pytest.raises(GammaProtocolError, match="over 4,194,304 bytes"):
        GammaHook(retry_policy=ONCE).get_generation("g")

    async def poll() -> Any:
        return await GammaHook(retry_policy=ONCE).aget_generation("g")

    with pytest.raises(GammaProtocolError, match="over 4,194,304 bytes"):
        asyncio.run(poll())
    with pytest.raises(GammaSubmissionUncertainError, match="over 4,194,304 bytes"):
        GammaHook(retry_policy=ONCE).create_generation("Weekly deck")


# --- Retry-After: capped, overflow-proof, no trigger misses its deadline ------------------------


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[GammaEmulator]:
    with GammaEmulator(generation_seconds=30) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", connection(emulator, timeout=2))
        GammaHook.clear_connection_cache()
        yield emulator


def test_retry_after_is_capped_and_zero_means_now() -> None:
    policy = RetryPolicy()
    assert policy.rate_limit_pause(86400) == 60
    assert policy.rate_limit_pause(0) == 0
    assert policy.rate_limit_pause(None) == 30
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT") is not None  # no OverflowError


@pytest.mark.parametrize("retry_after", ["86400", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_day_long_retry_after_pauses_no_trigger_past_its_deadline(
    hostile: HostileServer, retry_after: str
) -> None:
    """Before: one 429 with ``Retry-After: 86400`` paused every trigger of the key for a day (with the
    HTTP date, the trigger died of a bare OverflowError)."""
    answered: list[int] = []

    async def one_429_then_pending(request: web.Request) -> web.StreamResponse:
        answered.append(1)
        if len(answered) == 1:
            return web.json_response(
                {"message": "Too many requests"}, status=429, headers={"Retry-After": retry_after}
            )
        return web.json_response({"generationId": request.path.rsplit("/", 1)[-1], "status": "pending"})

    hostile.handler = one_429_then_pending

    async def watch_all() -> list[dict[str, Any]]:
        async def one(generation_id: str) -> dict[str, Any]:
            trigger = GammaGenerationTrigger(generation_id, poll_interval=0.5, end_time=time.time() + 4)
            async for event in trigger.run():
                return dict(event.payload)
            raise AssertionError("no event")

        return await asyncio.wait_for(asyncio.gather(*(one(f"g{i}") for i in range(3))), 30)

    began = time.monotonic()
    events = asyncio.run(watch_all())

    assert [event["status"] for event in events] == ["timeout"] * 3
    assert time.monotonic() - began < 8


# --- Gamma's fields read defensively -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (None, "no reason given"),
        ("Image model overloaded", "Image model overloaded"),
        ({}, "no reason given"),
    ],
    ids=["null", "string", "empty-object"],
)
def test_a_failed_generation_with_an_odd_error_field_is_reported_as_failed(
    emu: GammaEmulator, error: Any, reason: str
) -> None:
    """Before: ``AttributeError`` in the trigger (and in the retry); the user never saw "failed"."""
    generation_id = GammaHook().create_generation("Deck")
    body = {"generationId": generation_id, "status": "failed", "error": error}
    emu.add_fault(method="GET", path_prefix="/v1.0/generations/", status=200, body=body, times=None)

    async def watch() -> dict[str, Any]:
        trigger = GammaGenerationTrigger(generation_id, poll_interval=0.2, end_time=time.time() + 10)
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(watch())
    assert event["status"] == "failed"
    assert event["message"] == f"Gamma generation {generation_id} failed: {reason}"
    with pytest.raises(GammaGenerationFailedError, match=reason):
        GammaGenerateOperator(task_id="t", input_text="Deck", poll_interval=0.2).execute(
            {"ti": _TaskInstance()}  # type: ignore[arg-type]
        )


class _TaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


# --- a cancelled poll returns its rate-budget ticket ---------------------------------------------


def test_polls_cancelled_in_flight_give_their_budget_tickets_back(emu: GammaEmulator) -> None:
    """Before: each cancelled poll kept its ticket; enough of them made the budget look spent forever."""
    generation_id = GammaHook().create_generation("Deck")

    async def cancel_fifty() -> tuple[int, bool, float]:
        keeper = GammaHook()
        async with keeper.async_session():
            shared = keeper._shared
            assert shared is not None
            # The key's first answer: until it arrives the budget lets one request out at a time (B2).
            await keeper.aget_generation(generation_id)
            emu.add_fault(method="GET", path_prefix="/v1.0/generations/", delay=1.0, times=50)
            polls = [asyncio.ensure_future(GammaHook().aget_generation(generation_id)) for _ in range(50)]
            await asyncio.sleep(0.3)
            for poll in polls:
                poll.cancel()
            await asyncio.gather(*polls, return_exceptions=True)
            in_flight = shared.budget._in_flight
            began = time.monotonic()
            await keeper.aget_generation(generation_id)  # the 50 faults are used up: answers at once
            return in_flight, shared.budget.spent, time.monotonic() - began

    in_flight, spent, took = asyncio.run(cancel_fifty())
    assert in_flight == 0
    assert not spent
    assert took < 1


# --- the key is never echoed back ----------------------------------------------------------------


@pytest.mark.parametrize(
    "handler",
    [echo_headers_html, echo_headers_json, echo_headers_2xx, echo_headers_text_2xx],
    ids=["html-502", "json-403", "json-2xx-missing-fields", "text-2xx"],
)
def test_a_server_echoing_the_key_never_gets_it_into_an_error_or_event(
    hostile: HostileServer, handler: Handler
) -> None:
    """Before: the key was in the exception text, and in deferrable mode in the trigger event stored
    in the metadata DB."""
    hostile.handler = handler
    calls: list[Callable[[], Any]] = [
        lambda: GammaHook(retry_policy=ONCE).get_generation("g"),
        lambda: GammaHook(retry_policy=ONCE).create_generation("x"),
    ]
    for call in calls:
        with pytest.raises(GammaError) as caught:
            call()
        assert KEY not in str(caught.value)
        assert KEY not in repr(caught.value)

    async def watch() -> dict[str, Any]:
        trigger = GammaGenerationTrigger(
            "g", poll_interval=0.2, end_time=time.time() + 3, max_consecutive_errors=0
        )
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(watch())
    assert event["status"] in ("error", "timeout")
    assert KEY not in json.dumps(event)
