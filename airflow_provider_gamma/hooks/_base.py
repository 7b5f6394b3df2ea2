# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What every endpoint of :class:`~airflow_provider_gamma.hooks.gamma.GammaHook` stands on: the
connection's settings (read once per hook, or once per event loop in the triggerer) and the two
chokepoints, :meth:`GammaClient._call` (workers) and :meth:`GammaClient._acall` (triggers), which run
the protocol's attempt flow through the drivers of ``hooks/_transport.py``."""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma.connection import DEFAULT_CONN_ID, MAX_TIMEOUT, GammaSettings, settings_from
from airflow_provider_gamma.get_provider_info import UI_FIELD_BEHAVIOUR
from airflow_provider_gamma.hooks import _settings_cache
from airflow_provider_gamma.hooks._transport import AsyncTransport, OpenBody, SyncTransport
from airflow_provider_gamma.protocol import (
    ApiRequest,
    Edit,
    Export,
    Generation,
    RateBudget,
    RateLimit,
    RetryPolicy,
)

if TYPE_CHECKING:
    import requests

_Job = TypeVar("_Job", Generation, Export, Edit)


class GammaClient(BaseHook):
    """The settings and the two chokepoints of :class:`~airflow_provider_gamma.hooks.gamma.GammaHook`
    (its parameters are documented there)."""

    #: Each event loop's shared clients, by connection (see :meth:`async_session`).
    _async_pools: ClassVar[
        weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncTransport]]
    ] = AsyncTransport.pools

    def __init__(
        self,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.gamma_conn_id = gamma_conn_id
        if timeout is not None:
            parameters.seconds(timeout, "timeout", maximum=MAX_TIMEOUT)
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        #: Rate-limit headers of the latest answer, for callers that pace themselves (e.g. polling).
        self.rate_limit: RateLimit | None = None
        self._settings: GammaSettings | None = None
        self._settings_read_at = -math.inf
        self._transport: SyncTransport | None = None
        self._budget = RateBudget()
        self._shared: AsyncTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gamma_conn_id={self.gamma_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form for Airflow 3.1; from 3.2 on Airflow reads the same dict from provider info."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    # --- connection ---------------------------------------------------------------------------------

    @property
    def settings(self) -> GammaSettings:
        """Base URL, API key, timeout, proxy and CA settings of the connection (looked up once per hook)."""
        if self._settings is None:
            conn = self.get_connection(self.gamma_conn_id)
            self._settings = settings_from(
                self.gamma_conn_id, conn.host, conn.port, conn.password, conn.extra_dejson, self.timeout
            )
        return self._settings

    async def aget_settings(self, *, refresh: bool = False) -> GammaSettings:
        """:attr:`settings`, looked up without blocking the event loop (safe in the triggerer); every
        hook of an event loop shares one fresh read (see ``hooks/_settings_cache.py``).

        :param refresh: read the connection again, unless another hook of this loop started a read
            after this hook's own one (then that read is used).
        """
        if self._settings is not None and not refresh:
            return self._settings
        self._settings, self._settings_read_at = await _settings_cache.shared_read(
            (self.gamma_conn_id, self.timeout),
            self._read_connection,
            newer_than=self._settings_read_at if refresh else None,
        )
        return self._settings

    async def _read_connection(self) -> GammaSettings:
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.gamma_conn_id, hook=self)
        extra = await get_async_extra_dejson(conn)
        return settings_from(self.gamma_conn_id, conn.host, conn.port, conn.password, extra, self.timeout)

    @classmethod
    def clear_connection_cache(cls) -> None:
        """Forget every connection read by the async side (e.g. between tests sharing an event loop)."""
        _settings_cache.clear()

    # --- the two chokepoints ------------------------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """The kept-alive ``requests`` session that carries the API key (to the API host only)."""
        return self._sync_transport.session

    @property
    def _sync_transport(self) -> SyncTransport:
        if self._transport is None:
            self._transport = SyncTransport(self.settings)
        return self._transport

    def _call(self, request: ApiRequest, *, body: OpenBody | None = None) -> Any:
        """Send ``request`` through the attempt flow and return its payload (or raise its error).

        :param body: for a request that streams a raw body (an upload): opens a fresh reader of it,
            at its first byte, for each attempt.
        """
        if request.streams_body != (body is not None):
            raise ValueError(f"{request.describe()}: a raw body needs both content_length and a source")
        transport = self._sync_transport
        flow = protocol.attempt_flow(
            request,
            self.retry_policy,
            timeout=transport.settings.timeout,
            budget=self._budget,
            clock=time.monotonic,
        )
        try:
            return transport.run(flow, self.log, body=body)
        finally:
            self.rate_limit = transport.rate_limit or self.rate_limit

    def _all_pages(
        self,
        endpoint: str,
        request_for: Callable[[str | None], ApiRequest],
        read: Callable[[ApiRequest, Any], Any],
        *,
        most: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every item (``data``) of a cursor-paged listing, one request per page, at most ``most``;
        :class:`protocol.Pagination` stops a cursor that repeats or pages without end."""
        items: list[dict[str, Any]] = []
        pages, cursor = protocol.Pagination(endpoint), None
        while True:
            request = request_for(cursor)
            page = read(request, self._call(request))
            items.extend(page["data"])
            if most is not None and len(items) >= most:
                return items[:most]
            if (cursor := pages.follow(protocol.next_page_cursor(page))) is None:
                return items

    @asynccontextmanager
    async def async_session(self) -> AsyncIterator[None]:
        """Hold the event loop's shared client for this connection while the block runs: every trigger
        of one connection in a triggerer shares one connection pool and one rate budget."""
        async with AsyncTransport.shared(await self.aget_settings()) as transport:
            self._shared = transport
            try:
                yield
            finally:
                self._shared = None

    async def _acall(self, request: ApiRequest) -> Any:
        if request.streams_body:  # uploads go from workers only (the triggerer waits, it sends no files)
            raise ValueError(f"{request.describe()} streams a body: send it with the sync hook")
        shared = self._shared
        if shared is None:
            async with self.async_session():
                return await self._acall(request)
        transport = shared
        flow = protocol.attempt_flow(
            request,
            self.retry_policy,
            timeout=transport.settings.timeout,
            budget=shared.budget,
            clock=asyncio.get_running_loop().time,
        )
        try:
            return await transport.run(flow, self.log)
        finally:
            self.rate_limit = transport.rate_limit or self.rate_limit

    @property
    def shared_rate_limit(self) -> RateLimit | None:
        """The newest rate-limit headers seen by any trigger sharing this hook's async session."""
        return self._shared.rate_limit if self._shared is not None else self.rate_limit

    def _wait(self, poll: Callable[[], _Job], poll_interval: float, end: float) -> _Job | None:
        """Poll until the job ends and return it; ``None`` if it is still pending at ``end``."""
        while True:
            job = poll()
            if job["status"] in protocol.TERMINAL_STATUSES:
                return job
            remaining = end - time.time()
            if remaining <= 0:
                return None
            time.sleep(min(protocol.poll_delay(poll_interval, self.rate_limit), remaining))
