# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Fixtures of the parity suite: a :class:`Stage` per test that stands up the hostile servers a
scenario asks for (and tears them down), a proxy-free environment, and fast retry waits."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing import GammaEmulator
from tests.parity.servers import (
    Authority,
    BackgroundLoop,
    ForwardProxy,
    Handler,
    ScriptedServer,
    TlsRelay,
    make_authority,
)

CONN_ID = "gamma_parity"
API_KEY = "sk-gamma-parity"
#: A host no resolver knows: reachable only through a proxy that routes it.
PROXY_ONLY_HOST = "gamma-api.test"
#: Waits after a 5xx / network failure, and after a 429 without Retry-After, in both paths: Gamma's
#: 1 s and 30 s would make the suite slow without changing what it shows. ``max_backoff`` is left
#: alone, so a ``Retry-After`` is still honoured in full.
FAST_BACKOFF = 0.05
FAST_RATE_LIMIT_BACKOFF = 0.2
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def fast_policy(attempts: int) -> RetryPolicy:
    """The worker path's policy: ``attempts`` attempts with the fast waits."""
    return RetryPolicy(
        max_attempts=attempts, backoff=FAST_BACKOFF, rate_limit_backoff=FAST_RATE_LIMIT_BACKOFF
    )


@pytest.fixture(scope="session")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Authority]:
    """``trusted``: the CA a connection's ``ca_bundle`` names, whose server certificate covers the
    proxy-only host and localhost; ``stranger``: a CA no client is told about."""
    root = tmp_path_factory.mktemp("parity-certs")
    return {
        "trusted": make_authority(root / "trusted", (PROXY_ONLY_HOST, "localhost")),
        "stranger": make_authority(root / "stranger", ("localhost",)),
    }


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scenario starts without the machine's proxy variables (rows set their own)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@dataclasses.dataclass(frozen=True)
class _FastRetryPolicy(RetryPolicy):
    """:class:`RetryPolicy` with the fast waits as its defaults."""

    backoff: float = FAST_BACKOFF
    rate_limit_backoff: float = FAST_RATE_LIMIT_BACKOFF


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the policies the provider builds for itself (the trigger builds its own) the fast waits.

    The triggerer path takes no retry policy, so every provider module's ``RetryPolicy`` name, and
    every module-level policy instance, is swapped for one with the fast waits.
    """
    for name, module in list(sys.modules.items()):
        if not name.startswith("airflow_provider_gamma") or name.startswith("airflow_provider_gamma.testing"):
            continue
        for attribute, value in list(vars(module).items()):
            if value is RetryPolicy:
                monkeypatch.setattr(module, attribute, _FastRetryPolicy)
            elif isinstance(value, RetryPolicy):
                monkeypatch.setattr(
                    module,
                    attribute,
                    dataclasses.replace(
                        value, backoff=FAST_BACKOFF, rate_limit_backoff=FAST_RATE_LIMIT_BACKOFF
                    ),
                )


class Stage:
    """What one scenario stands up: servers on a background loop, the emulator, the connection
    ``gamma_parity`` and environment variables; all undone after the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, authorities: dict[str, Authority]) -> None:
        self.monkeypatch = monkeypatch
        self.authorities = authorities
        self.loop = BackgroundLoop()
        self._emulator: GammaEmulator | None = None
        self._listeners: list[Any] = []

    # --- servers ------------------------------------------------------------------------------

    def emulator(self) -> GammaEmulator:
        """The Gamma emulator (started on first use), with the suite's API key."""
        if self._emulator is None:
            self._emulator = GammaEmulator(api_key=API_KEY, generation_seconds=0.05).start()
        return self._emulator

    def completed_generation(self) -> dict[str, Any]:
        """A generation started and finished on the emulator (without the provider's code), as the
        emulator answers its poll."""
        emulator = self.emulator()
        headers = {"X-API-KEY": API_KEY}
        created = requests.post(
            f"{emulator.base_url}/v1.0/generations",
            json={"inputText": "Parity deck", "textMode": "generate"},
            headers=headers,
            timeout=10,
        )
        created.raise_for_status()
        generation_id = created.json()["generationId"]
        emulator.complete_generation(generation_id)
        polled = requests.get(
            f"{emulator.base_url}/v1.0/generations/{generation_id}", headers=headers, timeout=10
        )
        polled.raise_for_status()
        return dict(polled.json())

    def serve(self, handler: Handler | None, *, tls: Authority | None = None) -> ScriptedServer:
        """A :class:`ScriptedServer` answering with ``handler`` (over TLS with ``tls``'s certificate)."""
        server = ScriptedServer(handler)
        self.loop.run(server.start(tls.server_context() if tls else None))
        self._listeners.append(server)
        return server

    def tls_emulator(self) -> int:
        """The emulator behind a TLS relay whose certificate the ``trusted`` CA signed; its port."""
        relay = TlsRelay(int(self.emulator().base_url.rsplit(":", 1)[1]))
        self.loop.run(relay.listen(self.authorities["trusted"].server_context()))
        self._listeners.append(relay)
        return relay.port

    def proxy(self, routes: dict[str, tuple[str, int]]) -> ForwardProxy:
        """A :class:`ForwardProxy` for ``routes``."""
        proxy = ForwardProxy(routes)
        self.loop.run(proxy.start())
        self._listeners.append(proxy)
        return proxy

    # --- settings -----------------------------------------------------------------------------

    def connect(self, base_url: str, **extra: Any) -> None:
        """Point the connection ``gamma_parity`` at ``base_url`` with the suite's key and ``extra``."""
        conn = {"conn_type": "gamma", "host": base_url, "password": API_KEY, "extra": extra}
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        GammaHook.clear_connection_cache()

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def close(self) -> None:
        async def close_listeners() -> None:
            for listener in self._listeners:
                await listener.aclose()

        try:
            self.loop.run(close_listeners())
        finally:
            self.loop.close()
            if self._emulator is not None:
                self._emulator.stop()
            GammaHook.clear_connection_cache()


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch, authorities: dict[str, Authority]) -> Iterator[Stage]:
    made = Stage(monkeypatch, authorities)
    try:
        yield made
    finally:
        made.close()
