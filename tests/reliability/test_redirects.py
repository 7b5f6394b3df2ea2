# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Redirects never carry credentials: an export host redirecting elsewhere gets no key, no
``Authorization`` (not even from ``~/.netrc``), only http(s) redirects are followed, and the API host's
redirects are not followed at all (the key goes only to the base URL)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from airflow_provider_gamma.exceptions import GammaError
from airflow_provider_gamma.hooks.gamma import GammaHook

KEY = "sk-gamma-SECRET-redirects"
DECK = b"%PDF-1.4 a tiny deck\n%%EOF\n"
CREDENTIAL_HEADERS = ("x-api-key", "authorization", "cookie", "proxy-authorization")


@dataclass
class LoopbackServer:
    """Two loopback ports: ``origin`` redirects as told, ``elsewhere`` records headers and serves a file."""

    origin: str = ""
    elsewhere: str = ""
    location: str = ""
    status: int = 302
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()
    loop = asyncio.new_event_loop()
    runners: list[web.AppRunner] = []

    async def redirect(request: web.Request) -> web.StreamResponse:
        state.seen.append({**{k.lower(): v for k, v in request.headers.items()}, "_server": "origin"})
        return web.Response(status=state.status, headers={"Location": state.location})

    async def serve_file(request: web.Request) -> web.StreamResponse:
        state.seen.append({**{k.lower(): v for k, v in request.headers.items()}, "_server": "elsewhere"})
        return web.Response(body=DECK, content_type="application/pdf")

    async def start() -> None:
        for name, handler in (("origin", redirect), ("elsewhere", serve_file)):
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            port = runner.addresses[0][1]
            setattr(state, name, f"http://127.0.0.1:{port}")

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield state
    finally:

        async def stop() -> None:
            for runner in runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def netrc_with_loopback_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``.netrc`` (through ``$NETRC`` and ``$HOME``) holding credentials for 127.0.0.1."""
    secret = "netrc-SECRET-password"
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login someone password {secret}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    return secret


@pytest.fixture
def api_connection(monkeypatch: pytest.MonkeyPatch, server: LoopbackServer) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GAMMA_DEFAULT",
        json.dumps({"conn_type": "gamma", "host": server.origin, "password": KEY}),
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.usefixtures("api_connection")
def test_export_redirect_to_another_host_carries_no_credentials(
    server: LoopbackServer, netrc_with_loopback_credentials: str, status: int
) -> None:
    server.status = status
    server.location = f"{server.elsewhere}/signed/deck.pdf?signature=abc"
    received = bytearray()

    download = GammaHook().download_export(f"{server.origin}/export/deck.pdf?signature=xyz", received.extend)

    assert bytes(received) == DECK
    assert download.size == len(DECK)
    assert [seen["_server"] for seen in server.seen] == ["origin", "elsewhere"]
    for seen in server.seen:
        for header in CREDENTIAL_HEADERS:
            assert header not in seen, f"{header} sent to the {seen['_server']} host after a {status}"
        assert KEY not in json.dumps(seen)
        assert netrc_with_loopback_credentials not in json.dumps(seen)


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/deck.pdf", "gopher://127.0.0.1/deck", "data:,hello"]
)
@pytest.mark.usefixtures("api_connection")
def test_export_redirect_to_a_non_http_scheme_is_refused(server: LoopbackServer, location: str) -> None:
    server.location = location
    received = bytearray()

    with pytest.raises(GammaError) as caught:
        GammaHook().download_export(f"{server.origin}/export/deck.pdf?signature=xyz", received.extend)

    assert received == bytearray()
    assert [seen["_server"] for seen in server.seen] == ["origin"]
    assert "signature=xyz" not in str(caught.value)  # the signed URL's query stays out of the error


def test_non_http_export_url_is_refused_before_any_request(server: LoopbackServer) -> None:
    with pytest.raises(GammaError, match="refusing to download a non-http"):
        GammaHook().download_export("file:///etc/passwd", lambda chunk: None)
    assert server.seen == []


@pytest.mark.usefixtures("api_connection")
def test_api_host_redirect_is_not_followed_so_the_key_stays_with_the_api(server: LoopbackServer) -> None:
    server.status = 307
    server.location = f"{server.elsewhere}/v1.0/generations/gen_1"

    with pytest.raises(GammaError) as caught:
        GammaHook().get_generation("gen_1")

    assert [seen["_server"] for seen in server.seen] == ["origin"]
    assert server.seen[0]["x-api-key"] == KEY  # sent to the API's own base URL, and only there
    assert KEY not in str(caught.value)


@pytest.mark.usefixtures("api_connection")
async def test_async_api_redirect_is_not_followed_either(server: LoopbackServer) -> None:
    server.status = 307
    server.location = f"{server.elsewhere}/v1.0/generations/gen_1"
    hook: Any = GammaHook()

    with pytest.raises(GammaError):
        await hook.aget_generation("gen_1")

    assert [seen["_server"] for seen in server.seen] == ["origin"]
