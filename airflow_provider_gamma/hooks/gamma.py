# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaHook: every endpoint of the Gamma API, sync (``requests``) for workers, async (``aiohttp``) for triggers."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseHook

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma.connection import (
    DEFAULT_CONN_ID,
    MAX_TIMEOUT,
    USER_AGENT,
    GammaSettings,
    settings_from,
)
from airflow_provider_gamma.exceptions import (
    GammaExportError,
    GammaGenerationTimeoutError,
    GammaTransportError,
)
from airflow_provider_gamma.get_provider_info import CONN_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_gamma.protocol import (
    ApiRequest,
    ApiResponse,
    ArchiveResult,
    DeleteResult,
    Export,
    Folder,
    Gamma,
    GammaHit,
    Generation,
    GenerationCreated,
    RateBudget,
    RateLimit,
    RetryPolicy,
    Theme,
)

if TYPE_CHECKING:
    import aiohttp
    import requests

#: Bytes per read of an export body: few Python calls per GiB, yet small enough to stay in the CPU
#: cache between the read, the write and the hash (1 MiB chunks cost ~1.5x the CPU time in
#: ``benchmarks/bench_export.py``; 64 KiB to 256 KiB measured alike, within this machine's noise).
EXPORT_CHUNK_SIZE = 256 * 1024
#: Chunk buffers in rotation between the reading thread and the hashing thread.
EXPORT_BUFFERS = 4
#: Seconds an event loop reuses a connection it has read (see :meth:`GammaHook.aget_settings`).
ASYNC_SETTINGS_TTL = 60.0


@dataclass(frozen=True)
class ExportDownload:
    """What a finished export download delivered."""

    size: int
    sha256: str
    content_type: str | None
    url: str = field(repr=False)


class GammaHook(BaseHook):
    """Talks to the Gamma API with the key of a ``gamma`` connection.

    Reads are retried on 429 (honouring ``Retry-After``), 5xx and network failures. The two calls that
    start a paid generation are retried only when Gamma certainly did not act on them; when an answer
    is lost after the request may have arrived, :class:`GammaSubmissionUncertainError` is raised so no
    deck is paid for twice.

    :param gamma_conn_id: the ``gamma`` connection: API key in the password field, base URL in the host
        field (default ``https://public-api.gamma.app``), optional ``timeout`` (seconds) in the extra.
    :param timeout: seconds to wait for each answer; overrides the connection's ``timeout``.
    :param retry_policy: how many attempts and how long to back off between them.
    """

    conn_name_attr = "gamma_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Gamma"

    _async_pools: ClassVar[
        weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _SharedSession]]
    ] = weakref.WeakKeyDictionary()
    _async_settings: ClassVar[
        weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, float | None], _SettingsRead]]
    ] = weakref.WeakKeyDictionary()

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
        self._shared: _SharedSession | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gamma_conn_id={self.gamma_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form for Airflow 3.1; from 3.2 on Airflow reads the same dict from provider info."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    # --- connection ---------------------------------------------------------------------------------

    @property
    def settings(self) -> GammaSettings:
        """Base URL, API key and timeout of the connection (looked up once per hook)."""
        if self._settings is None:
            conn = self.get_connection(self.gamma_conn_id)
            self._settings = settings_from(
                self.gamma_conn_id, conn.host, conn.port, conn.password, conn.extra_dejson, self.timeout
            )
        return self._settings

    async def aget_settings(self, *, refresh: bool = False) -> GammaSettings:
        """:attr:`settings`, looked up without blocking the event loop (safe in the triggerer).

        A triggerer starting a thousand triggers of one connection would otherwise make a thousand
        connection lookups (each a round trip to the API server on Airflow 3), so every hook of an
        event loop shares one read of a connection for ``ASYNC_SETTINGS_TTL`` seconds, and hooks
        asking while it is under way wait for it. A changed connection (key, host or timeout) thus
        reaches new triggers within a minute; :class:`GammaGenerationTrigger` reads it again at once
        when Gamma refuses the key.

        :param refresh: read the connection again, unless another hook of this loop started a read
            after this hook's own one (then that read is used).
        """
        if self._settings is not None and not refresh:
            return self._settings
        cache = self._async_settings.setdefault(asyncio.get_running_loop(), {})
        key = (self.gamma_conn_id, self.timeout)
        read = cache.get(key)
        now = time.monotonic()
        if read is None or (
            read.started <= self._settings_read_at if refresh else now - read.started >= ASYNC_SETTINGS_TTL
        ):
            lookup = asyncio.ensure_future(self._read_connection())
            read = cache[key] = _SettingsRead(now, lookup)
            lookup.add_done_callback(functools.partial(read.finished, cache=cache, key=key))
        if read.settings is not None:
            self._settings = read.settings
        else:
            assert read.lookup is not None  # a read without settings is under way
            self._settings = await asyncio.shield(read.lookup)
        self._settings_read_at = read.started
        return self._settings

    async def _read_connection(self) -> GammaSettings:
        from airflow.providers.common.compat.connection import (
            get_async_connection,
            get_async_extra_dejson,
        )

        conn = await get_async_connection(self.gamma_conn_id, hook=self)
        extra = await get_async_extra_dejson(conn)
        return settings_from(self.gamma_conn_id, conn.host, conn.port, conn.password, extra, self.timeout)

    @classmethod
    def clear_connection_cache(cls) -> None:
        """Forget every connection read by the async side (e.g. between tests sharing an event loop)."""
        cls._async_settings.clear()

    # --- sync transport -----------------------------------------------------------------------------

    @cached_property
    def _session(self) -> requests.Session:
        import requests  # imported where used: DAG files that import the operators never pay for it

        session = requests.Session()
        settings = self.settings
        session.headers.update(protocol.request_headers(settings.api_key, settings.user_agent))
        return session

    def get_conn(self) -> requests.Session:
        """The kept-alive ``requests`` session that carries the API key (to the API host only)."""
        return self._session

    def _send(self, request: ApiRequest) -> ApiResponse | GammaTransportError:
        import requests
        import urllib3

        settings = self.settings
        seconds = request.timeout_within(settings.timeout)
        deadline = time.monotonic() + seconds
        try:
            with self._session.request(
                request.method,
                request.url(settings.base_url),
                json=request.json,
                timeout=seconds,
                allow_redirects=False,
                stream=True,
            ) as response:
                body, oversize = _read_answer(response, deadline)
        except requests.RequestException as error:
            return protocol.transport_error(request, error, reached_server=_reached_server(error))
        except (urllib3.exceptions.HTTPError, OSError) as error:  # reading the body, past requests
            return protocol.transport_error(request, error, reached_server=True)
        except _TooSlow:
            # The timeout bounds each read; a server dripping bytes must not hold the call longer.
            return GammaTransportError(
                f"{request.describe()}: the answer did not arrive whole within {seconds:g} s",
                reached_server=True,
            )
        return ApiResponse.received(
            response.status_code, response.headers, body, secret=settings.api_key, oversize=oversize
        )

    def _call(self, request: ApiRequest) -> Any:
        attempt = 0
        while True:
            attempt += 1
            outcome = self._send(request)
            if isinstance(outcome, ApiResponse):
                self.rate_limit = outcome.rate_limit
            step = protocol.settle(request, outcome, attempt, self.retry_policy)
            if not isinstance(step, protocol.Retry):
                return step
            self.log.warning("%s; attempt %d, retrying in %.1f s", step.error, attempt, step.delay)
            time.sleep(step.delay)

    # --- async transport (one pooled aiohttp session per event loop and connection) -----------------

    @asynccontextmanager
    async def async_session(self) -> AsyncIterator[None]:
        """Hold the event loop's shared client for this connection while the block runs.

        Every trigger of one connection in a triggerer shares one connection pool (and one view of the
        rate budget), so a thousand watched generations cost a handful of TCP connections.
        """
        settings = await self.aget_settings()
        pool = self._async_pools.setdefault(asyncio.get_running_loop(), {})
        key = hashlib.sha256(
            f"{settings.base_url}\0{settings.api_key}\0{settings.timeout}".encode()
        ).hexdigest()
        shared = pool.get(key)
        if shared is None:
            shared = pool[key] = _SharedSession(_new_client_session(settings))
        shared.users += 1
        self._shared = shared
        try:
            yield
        finally:
            self._shared = None
            shared.users -= 1
            if shared.users == 0:
                del pool[key]
                await shared.session.close()

    async def _asend(
        self, session: aiohttp.ClientSession, request: ApiRequest
    ) -> ApiResponse | GammaTransportError:
        import aiohttp  # imported here: DAG files that import the operators never pay for it

        settings = await self.aget_settings()
        try:
            async with session.request(
                request.method, request.url(settings.base_url), json=request.json, allow_redirects=False
            ) as response:
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > protocol.MAX_ANSWER_BYTES:
                        break
                return ApiResponse.received(
                    response.status,
                    response.headers,
                    bytes(body),
                    secret=settings.api_key,
                    oversize=len(body) > protocol.MAX_ANSWER_BYTES,
                )
        except (aiohttp.ClientError, TimeoutError) as error:
            reached = not isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
            return protocol.transport_error(request, error, reached_server=reached)

    async def _acall(self, request: ApiRequest) -> Any:
        shared = self._shared
        if shared is None:
            async with self.async_session():
                return await self._acall(request)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            attempt += 1
            ticket, wait = shared.budget.acquire(loop.time())
            while wait > 0:
                # Spread the waiters over a second past the slot, so they do not all wake at once.
                await asyncio.sleep(wait + random.random())
                ticket, wait = shared.budget.acquire(loop.time())
            outcome: ApiResponse | GammaTransportError | None = None
            try:
                outcome = await self._asend(shared.session, request)
            finally:  # a cancelled poll (cleared task, killed trigger) gives its ticket back too
                if not isinstance(outcome, ApiResponse):
                    shared.budget.release(ticket)
            assert outcome is not None
            if isinstance(outcome, ApiResponse):
                self.rate_limit = shared.rate_limit = outcome.rate_limit
                shared.budget.observe(ticket, self.rate_limit)
                if outcome.status == 429:
                    retry_after = protocol.parse_retry_after(outcome.headers.get("Retry-After"))
                    shared.budget.pause(self.retry_policy.rate_limit_pause(retry_after), loop.time())
            step = protocol.settle(request, outcome, attempt, self.retry_policy)
            if not isinstance(step, protocol.Retry):
                return step
            self.log.warning("%s; attempt %d, retrying in %.1f s", step.error, attempt, step.delay)
            await asyncio.sleep(step.delay)

    @property
    def shared_rate_limit(self) -> RateLimit | None:
        """The newest rate-limit headers seen by any trigger sharing this hook's async session."""
        return self._shared.rate_limit if self._shared is not None else self.rate_limit

    # --- generations --------------------------------------------------------------------------------

    def submit_generation(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/generations`` with a ready body (see :func:`parameters.generation_body`).

        :param timeout: seconds the POST may take at most, if less than the connection's timeout.
        :raises GammaSubmissionUncertainError: the POST may have started a generation whose id never
            arrived (5xx, timeout, dropped connection, unreadable 2xx answer); never retried here.
        """
        return self._submit(protocol.create_generation_request(body, timeout=timeout))

    def submit_generation_from_template(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/generations/from-template`` with a ready body (see :func:`parameters.template_body`);
        ``timeout`` and errors as for :meth:`submit_generation`."""
        return self._submit(protocol.create_generation_from_template_request(body, timeout=timeout))

    def submit_agent_generation(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/agent/generations`` (Gamma 5) with a ready body (see
        :func:`parameters.agent_body`); ``timeout`` and errors as for :meth:`submit_generation`."""
        return self._submit(protocol.create_agent_generation_request(body, timeout=timeout))

    def _submit(self, request: ApiRequest) -> GenerationCreated:
        created = protocol.read_generation_created(request, self._call(request))
        self.log.info("Gamma accepted the generation: %s", created["generationId"])
        if created.get("warnings"):
            self.log.warning(
                "Gamma warnings for generation %s: %s", created["generationId"], created["warnings"]
            )
        for warning in protocol.page_warnings(created):
            self.log.warning("Gamma warning for generation %s: %s", created["generationId"], warning)
        return created

    def create_generation(
        self,
        input_text: str | None = None,
        *,
        pages: Sequence[Mapping[str, Any]] | None = None,
        publish: bool | None = None,
        text_mode: str = "generate",
        title: str | None = None,
        format: str | None = None,
        num_cards: int | None = None,
        card_split: str | None = None,
        theme_id: str | None = None,
        additional_instructions: str | None = None,
        export_as: str | None = None,
        folder_id: str | None = None,
        folder_ids: list[str] | None = None,
        text_options: Mapping[str, Any] | None = None,
        image_options: Mapping[str, Any] | None = None,
        card_options: Mapping[str, Any] | None = None,
        sharing_options: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a generation from text and return its id. Each call is billed by Gamma.

        Option dicts use Gamma's own camelCase keys, as in Gamma's docs, e.g.
        ``text_options={"amount": "brief", "language": "en"}``; fields newer than this provider go in
        ``extra_body``. A multi-page file takes ``pages`` instead of ``input_text``: 1 to 50 dicts,
        each with its own ``inputText`` and any per-page ``title``, ``format``, ``textMode``,
        ``cardSplit``, ``numCards``, ``additionalInstructions``, ``path``, ``textOptions`` or
        ``imageOptions``; ``publish=True`` publishes it as a Gamma site.
        """
        body = parameters.generation_body(
            input_text=input_text,
            pages=pages,
            publish=publish,
            text_mode=text_mode,
            title=title,
            format=format,
            num_cards=num_cards,
            card_split=card_split,
            theme_id=theme_id,
            additional_instructions=additional_instructions,
            export_as=export_as,
            folder_id=folder_id,
            folder_ids=folder_ids,
            text_options=text_options,
            image_options=image_options,
            card_options=card_options,
            sharing_options=sharing_options,
            extra_body=extra_body,
        )
        return self.submit_generation(body)["generationId"]

    def create_generation_from_template(
        self,
        gamma_id: str,
        prompt: str,
        *,
        title: str | None = None,
        theme_id: str | None = None,
        folder_id: str | None = None,
        folder_ids: list[str] | None = None,
        export_as: str | None = None,
        image_options: Mapping[str, Any] | None = None,
        sharing_options: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a generation from a one-page template gamma (``gamma_id``) and return its id."""
        body = parameters.template_body(
            gamma_id=gamma_id,
            prompt=prompt,
            title=title,
            theme_id=theme_id,
            folder_id=folder_id,
            folder_ids=folder_ids,
            export_as=export_as,
            image_options=image_options,
            sharing_options=sharing_options,
            extra_body=extra_body,
        )
        return self.submit_generation_from_template(body)["generationId"]

    def create_agent_generation(
        self,
        prompt: str,
        *,
        title: str | None = None,
        format: str | None = None,
        additional_instructions: str | None = None,
        num_cards: int | None = None,
        quality: str | None = None,
        source_urls: list[str] | None = None,
        template_id: str | None = None,
        disable_connectors: bool | None = None,
        folder_id: str | None = None,
        export_as: str | None = None,
        sharing_options: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a Gamma 5 agent generation from a brief and return its id (``gen_...``). Billed."""
        body = parameters.agent_body(
            prompt=prompt,
            title=title,
            format=format,
            additional_instructions=additional_instructions,
            num_cards=num_cards,
            quality=quality,
            source_urls=source_urls,
            template_id=template_id,
            disable_connectors=disable_connectors,
            folder_id=folder_id,
            export_as=export_as,
            sharing_options=sharing_options,
            extra_body=extra_body,
        )
        return self.submit_agent_generation(body)["generationId"]

    def get_generation(self, generation_id: str) -> Generation:
        """The generation's current status (``pending``, ``completed`` or ``failed``) and results.

        Classic and agent (``gen_...``) generations alike: the id says which endpoint to poll.
        """
        request = protocol.get_generation_request(generation_id)
        return protocol.read_generation(request, self._call(request))

    async def aget_generation(self, generation_id: str) -> Generation:
        """:meth:`get_generation` for the event loop (uses the shared async session)."""
        request = protocol.get_generation_request(generation_id)
        return protocol.read_generation(request, await self._acall(request))

    def wait_for_generation(
        self,
        generation_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        deadline: float | None = None,
    ) -> Generation:
        """Poll until the generation is ``completed`` or ``failed`` and return it (a failure is returned,
        not raised). Raises :class:`GammaGenerationTimeoutError` when still pending at the deadline.

        :param poll_interval: seconds between polls; stretched to 15 s when the rate budget runs low.
        :param timeout: seconds to wait, counted from now.
        :param deadline: absolute wall-clock end (epoch seconds); wins over ``timeout`` when given.
        """
        end = deadline if deadline is not None else time.time() + timeout
        while True:
            generation = self.get_generation(generation_id)
            if generation["status"] in protocol.TERMINAL_STATUSES:
                return generation
            remaining = end - time.time()
            if remaining <= 0:
                raise GammaGenerationTimeoutError(
                    f"generation {generation_id} was still pending at the deadline",
                    generation_id=generation_id,
                )
            time.sleep(min(protocol.poll_delay(poll_interval, self.rate_limit), remaining))

    # --- themes, folders, gammas ---------------------------------------------------------------------

    def search_gammas(
        self,
        query: str,
        *,
        updated_after: datetime | None = None,
        include_archived: bool = False,
        limit: int = protocol.MAX_SEARCH_LIMIT,
    ) -> list[GammaHit]:
        """Gammas matching ``query`` (newest first), every page up to ``limit`` hits in all.

        Needs search on the workspace's plan; a 403 raises :class:`GammaPermissionError`.

        :param updated_after: only gammas updated at or after this moment.
        :param include_archived: include archived gammas.
        :param limit: most hits to return.
        """
        hits: list[GammaHit] = []
        cursor: str | None = None
        while len(hits) < limit:
            request = protocol.search_gammas_request(
                query,
                updated_after=updated_after,
                include_archived=include_archived,
                limit=min(limit - len(hits), protocol.MAX_SEARCH_LIMIT),
                after=cursor,
            )
            page, cursor = protocol.read_search(request, self._call(request))
            hits.extend(page)
            if cursor is None or not page:
                break
        return hits[:limit]

    def get_gamma(self, gamma_id: str) -> Gamma:
        """A gamma's metadata (title, URL, type, times) by its file id."""
        request = protocol.get_gamma_request(gamma_id)
        return protocol.read_gamma(request, self._call(request))

    def export_gamma(self, gamma_id: str, export_as: str) -> str:
        """Start an export of an existing gamma as ``pdf``, ``pptx`` or ``png``; returns the export id."""
        request = protocol.export_gamma_request(gamma_id, export_as)
        return protocol.read_export_created(request, self._call(request))

    def get_export(self, export_id: str) -> Export:
        """An export's status (``pending``, ``completed`` or ``failed``) and, once done, ``exportUrl``."""
        request = protocol.get_export_request(export_id)
        return protocol.read_export(request, self._call(request))

    async def aget_export(self, export_id: str) -> Export:
        """:meth:`get_export` for the event loop (uses the shared async session)."""
        request = protocol.get_export_request(export_id)
        return protocol.read_export(request, await self._acall(request))

    def wait_for_export(
        self, export_id: str, *, poll_interval: float = 2.0, timeout: float = 600.0
    ) -> Export:
        """Poll an export until it ends and return it; raises :class:`GammaExportError` on failure or
        when it is still pending after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while True:
            export = self.get_export(export_id)
            if export["status"] == "completed" and export.get("exportUrl"):
                return export
            if export["status"] == "failed":
                raise GammaExportError(
                    f"Gamma export {export_id} failed: {protocol.export_failure_reason(export)}"
                )
            if time.monotonic() >= end:
                raise GammaExportError(f"Gamma export {export_id} was still pending after {timeout:.0f} s")
            time.sleep(min(poll_interval, max(0.0, end - time.monotonic())))

    def _list_all(self, collection: str, query: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            request = protocol.list_request(collection, query, cursor)  # type: ignore[arg-type]
            page = protocol.read_page(request, self._call(request))
            items.extend(page["data"])
            cursor = protocol.next_page_cursor(page)
            if cursor is None:
                return items

    def list_themes(self, query: str | None = None) -> list[Theme]:
        """Every theme of the workspace (all pages), optionally filtered by name."""
        return cast(list[Theme], self._list_all("themes", query))

    def list_folders(self, query: str | None = None) -> list[Folder]:
        """Every folder the key's user is a member of (all pages), optionally filtered by name."""
        return cast(list[Folder], self._list_all("folders", query))

    def archive_gamma(self, gamma_id: str) -> ArchiveResult:
        """Archive a gamma by its file id (``gammaId`` of a completed generation). Idempotent, free."""
        request = protocol.archive_gamma_request(gamma_id)
        return cast(ArchiveResult, self._call(request))

    def delete_gamma(self, gamma_id: str) -> DeleteResult:
        """Delete a gamma by its file id; needs the workspace admin role."""
        request = protocol.delete_gamma_request(gamma_id)
        return cast(DeleteResult, self._call(request))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with one cheap read (``GET /v1.0/themes``); used by the UI's Test button."""
        try:
            request = protocol.list_request("themes", None, None)
            page = protocol.read_page(request, self._call(request))
        except Exception as error:
            return False, str(error)
        return True, f"Connected to Gamma at {self.settings.base_url} ({len(page['data'])} themes visible)"

    # --- exports ------------------------------------------------------------------------------------

    @contextmanager
    def open_export(self, url: str, *, timeout: float | None = None) -> Iterator[requests.Response]:
        """Open a streaming GET of an export URL, with no credentials of any kind.

        ``exportUrl`` is a signed URL on someone else's host: the API key is never sent there (this
        session carries no key and ignores ``.netrc``), and only http(s) URLs are followed.
        """
        if not url.lower().startswith(("https://", "http://")):
            raise GammaExportError(
                f"refusing to download a non-http(s) export URL: {url.split('?', maxsplit=1)[0]!r}"
            )
        from airflow_provider_gamma._export_session import NoCredentialsSession, no_auth

        session = NoCredentialsSession()
        session.headers["User-Agent"] = USER_AGENT
        # The bytes as stored: Content-Length then counts what we write, and the sha256 is the file's.
        session.headers["Accept-Encoding"] = "identity"
        session.auth = no_auth
        session.max_redirects = 5
        try:
            response = session.get(url, stream=True, timeout=timeout or 60.0)
            yield response
        finally:
            session.close()

    def download_export(
        self,
        url: str,
        write: Callable[[bytes], object],
        *,
        chunk_size: int = EXPORT_CHUNK_SIZE,
        on_headers: Callable[[Mapping[str, str]], object] | None = None,
        views: bool = False,
    ) -> ExportDownload:
        """Stream an export into ``write`` chunk by chunk (memory stays flat) and check it arrived whole.

        The body is read from the socket into a few reused buffers, and its sha256 is computed in a
        worker thread, overlapped with the reads and with ``write`` (hashlib releases the GIL).

        :param url: the generation's ``exportUrl``.
        :param write: called with each chunk of the body, in order.
        :param chunk_size: bytes per chunk.
        :param on_headers: called with the response headers of a 200 answer before any of the body is
            read (e.g. to pick a file name from ``Content-Type``); an exception it raises stops the
            download and propagates.
        :param views: pass ``write`` read-only ``memoryview`` objects over a reused buffer instead of
            ``bytes`` (one copy less per chunk); each is valid only during the call, so ``write``
            must copy what it keeps.
        :raises GammaError: the export host's HTTP error (403 = expired or bad signature, 5xx =
            :class:`GammaServerError`), or :class:`GammaTransportError` when the connection failed or
            the body was cut short.
        """
        import requests

        request = ApiRequest("GET", "export")
        try:
            with self.open_export(url) as response:
                if response.status_code != 200:
                    raise protocol.error_for(
                        request, ApiResponse(response.status_code, response.headers, response.raw.read(300))
                    )
                if on_headers is not None:
                    on_headers(response.headers)
                expected = response.headers.get("Content-Length")
                encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
                content_type = response.headers.get("Content-Type")
                # urllib3 reads from the http.client response it keeps in ``_fp``; reading that straight
                # into our buffers saves urllib3's allocations and copies. Only for the bytes as stored:
                # a body the host encoded anyway goes through requests, which decodes it.
                body = getattr(response.raw, "_fp", None)
                if encoded or not callable(getattr(body, "readinto", None)):
                    digest = hashlib.sha256()
                    size = 0
                    for chunk in response.iter_content(chunk_size=chunk_size):
                        digest.update(chunk)
                        size += len(chunk)
                        write(chunk)
                    sha256 = digest.hexdigest()
                else:
                    size, sha256 = self._copy_export(request, body.readinto, write, chunk_size, views)  # type: ignore[union-attr]
        except requests.RequestException as error:
            raise protocol.transport_error(request, error, reached_server=True) from None
        if not encoded and expected is not None and expected.isdigit() and int(expected) != size:
            raise GammaTransportError(
                f"export download truncated: got {size} of {expected} bytes", reached_server=True
            )
        return ExportDownload(size=size, sha256=sha256, content_type=content_type, url=url)

    @staticmethod
    def _copy_export(
        request: ApiRequest,
        readinto: Callable[[memoryview], int | None],
        write: Callable[[bytes], object],
        chunk_size: int,
        views: bool,
    ) -> tuple[int, str]:
        """Copy a body from ``readinto`` to ``write``; returns its size and sha256.

        Reads and writes happen in this thread, one buffer at a time; each buffer then goes to a
        hashing thread and comes back once hashed, so ``EXPORT_BUFFERS`` buffers bound the memory. A
        view passed to ``write`` is released when the call returns: one kept by mistake fails loudly.
        """
        import http.client
        import queue
        import threading

        free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        hashing: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        for _ in range(EXPORT_BUFFERS):
            free.put(bytearray(chunk_size))
        digest = hashlib.sha256()

        def hash_buffers() -> None:
            while (item := hashing.get()) is not None:
                buffer, length = item
                with memoryview(buffer) as view:
                    digest.update(view[:length])
                free.put(buffer)

        hasher = threading.Thread(target=hash_buffers, name="gamma-export-sha256", daemon=True)
        hasher.start()
        size = 0
        try:
            while True:
                buffer = free.get()
                with memoryview(buffer) as view:
                    try:
                        length = readinto(view) or 0
                    except (OSError, http.client.HTTPException) as error:  # requests does not wrap these
                        raise protocol.transport_error(request, error, reached_server=True) from None
                    if not length:
                        break
                    with view[:length] as chunk:
                        if views:
                            with chunk.toreadonly() as readonly:
                                write(readonly)  # type: ignore[arg-type]  # documented: views=True
                        else:
                            write(chunk.tobytes())
                size += length
                hashing.put((buffer, length))
        finally:
            hashing.put(None)
            hasher.join()
        return size, digest.hexdigest()


@dataclass
class _SettingsRead:
    """One read of a connection, shared by every hook of an event loop that asks while it is fresh."""

    started: float
    lookup: asyncio.Future[GammaSettings] | None
    settings: GammaSettings | None = None

    def finished(
        self, lookup: asyncio.Future[GammaSettings], cache: dict[Any, _SettingsRead], key: Any
    ) -> None:
        """Keep the result, not the future (it holds the event loop, the cache's weak key); a failed
        read is not kept at all, so the next hook tries again."""
        self.lookup = None
        if not lookup.cancelled() and lookup.exception() is None:
            self.settings = lookup.result()
        elif cache.get(key) is self:
            del cache[key]


@dataclass
class _SharedSession:
    """One event loop's client for one connection, with the rate budget all its users spend."""

    session: aiohttp.ClientSession
    users: int = 0
    rate_limit: RateLimit | None = None
    budget: RateBudget = field(default_factory=RateBudget)


def _new_client_session(settings: GammaSettings) -> aiohttp.ClientSession:
    import aiohttp

    return aiohttp.ClientSession(
        headers=protocol.request_headers(settings.api_key, settings.user_agent),
        timeout=aiohttp.ClientTimeout(total=settings.timeout),
        connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=60),
        trust_env=False,
    )


class _TooSlow(Exception):
    """The answer's body was still arriving at the request's deadline."""


def _read_answer(response: requests.Response, deadline: float) -> tuple[bytes, bool]:
    """The body of an API answer, read a socket read at a time until the deadline; ``(start, True)``
    when it is longer than :data:`protocol.MAX_ANSWER_BYTES`."""
    body = bytearray()
    while chunk := response.raw.read1(64 * 1024, decode_content=True):
        body += chunk
        if len(body) > protocol.MAX_ANSWER_BYTES:
            return bytes(body), True
        if time.monotonic() > deadline:
            raise _TooSlow
    return bytes(body), False


def _reached_server(error: requests.RequestException) -> bool:
    """False only when the connection itself could not be opened, so nothing was sent."""
    import requests
    import urllib3

    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True
