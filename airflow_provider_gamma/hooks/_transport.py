# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The two drivers of the attempt flow, side by side so their differences show: ``requests`` for
workers, ``aiohttp`` for the triggerer.

Each driver only carries out what :func:`~airflow_provider_gamma.protocol.attempt_flow` yields (send
this, sleep that long) and hands each attempt's outcome back. What must be the same in both is
decided once, here or in the protocol, never per driver:

- **Where a request goes**: the connection's ``proxy`` extra, else ``HTTPS_PROXY``/``HTTP_PROXY``/
  ``ALL_PROXY`` unless ``NO_PROXY`` matches (resolved once, by :func:`proxy_for`, for both drivers).
- **Which CAs are trusted**: ``verify``/``ca_bundle`` extras, else ``REQUESTS_CA_BUNDLE`` or
  ``CURL_CA_BUNDLE``, else certifi's bundle (:func:`ca_for`).
- **How long an attempt may take**: ``Send.timeout`` bounds the whole attempt, connect, status line,
  headers and body, however slowly a server or proxy drips them.
- **Whether a failed request reached Gamma**: only once bytes of the request were handed to a
  connection with the server (or its proxy) may it have; a refused connection, a failed TLS handshake
  or a proxy that refused the tunnel sent nothing, so even a POST that starts a generation may be sent
  again (:func:`~airflow_provider_gamma.protocol.may_have_started_generation`).
- **How big an answer may be**: :data:`~airflow_provider_gamma.protocol.MAX_ANSWER_BYTES`.
- **How a raw body goes out** (an upload; workers only, the triggerer uploads nothing): read from a
  source opened afresh for each attempt (a retry sends it again from its first byte), in chunks of
  :data:`BODY_CHUNK_SIZE` as the socket takes them, with the exact ``Content-Length`` the request
  states. The attempt may take the request's longer deadline, but each socket operation still ends
  after the connection's timeout, so a stalled upload is cut.
- **What is counted**: each answer, once, as it arrives (:func:`~airflow_provider_gamma._metrics.count_answer`:
  polls and 429s).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import logging
import os
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_provider_gamma import _metrics, protocol
from airflow_provider_gamma.connection import GammaSettings
from airflow_provider_gamma.exceptions import GammaConfigurationError, GammaError, GammaTransportError
from airflow_provider_gamma.protocol import (
    ApiRequest,
    ApiResponse,
    AttemptFlow,
    Outcome,
    RateBudget,
    RateLimit,
    Send,
    Sleep,
)

if TYPE_CHECKING:
    import aiohttp
    import requests

#: Bytes per socket read of an API answer.
READ_SIZE = 64 * 1024
#: Bytes per read of a streamed request body from its source, and per socket write: small enough that
#: one write ends well within the connection's timeout on a slow link (a stall is cut per write).
BODY_CHUNK_SIZE = 64 * 1024

#: Opens one attempt's reader of a streamed request body, at its first byte; the transport closes it.
OpenBody = Callable[[], IO[bytes]]


# --- what both drivers share ----------------------------------------------------------------------


def proxy_for(url: str, settings: GammaSettings) -> str | None:
    """The proxy for ``url``: the connection's ``proxy`` extra, else the environment's, else none."""
    if settings.proxy:
        return settings.proxy
    from requests.utils import get_environ_proxies  # NO_PROXY with hosts, domains, ports and CIDRs

    proxies = get_environ_proxies(url)
    scheme = url.split("://", 1)[0].lower()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and not proxy.lower().startswith(("http://", "https://")):
        raise GammaConfigurationError(
            f"The environment's proxy for {scheme}:// URLs is not an http:// or https:// proxy; SOCKS is "
            "not supported (neither client could tell whether a request went out through it). Set the "
            "connection's 'proxy' extra to an HTTP proxy, or NO_PROXY for the Gamma API's host."
        )
    return proxy


def ca_for(settings: GammaSettings) -> str | bool:
    """What verifies the server's certificate: ``False`` (nothing), or the path of a CA bundle."""
    if settings.verify is False or isinstance(settings.verify, str):
        return settings.verify
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            return os.environ[name]
    import certifi

    return str(certifi.where())


@functools.lru_cache(maxsize=16)
def _ssl_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def _log_sleep(log: logging.Logger | Any, step: Sleep) -> None:
    if step.error is not None:
        log.warning("%s; attempt %d, retrying in %.1f s", step.error, step.attempt, step.seconds)


# --- the sync driver (requests) --------------------------------------------------------------------


class SyncTransport:
    """Carries attempt flows over one kept-alive ``requests`` session that holds the API key."""

    def __init__(self, settings: GammaSettings) -> None:
        self.settings = settings
        self.session = new_sync_session(settings, api_key=settings.api_key)
        #: Rate-limit headers of the newest answer.
        self.rate_limit: RateLimit | None = None

    def run(self, flow: AttemptFlow, log: logging.Logger | Any, *, body: OpenBody | None = None) -> Any:
        """Drive ``flow`` to its end over this session; returns its payload or raises its error.

        :param body: opens the raw body of a request that streams one (``request.streams_body``), once
            per attempt.
        """
        return drive(flow, self.send if body is None else functools.partial(self.send, body=body), log)

    def send(self, step: Send, body: OpenBody | None = None) -> Outcome:
        request, settings = step.request, self.settings
        with attempt_deadline(step.timeout) as progress, ExitStack() as sources:
            try:
                data = None if body is None else StreamedBody(request, sources.enter_context(body()))
                with self.session.request(
                    request.method,
                    request.url(settings.base_url),
                    json=request.json,
                    data=data,
                    headers=request.body_headers(),
                    # per socket operation; the whole attempt ends at step.timeout (attempt_deadline)
                    timeout=min(step.timeout, settings.timeout),
                    allow_redirects=False,
                    stream=True,
                ) as response:
                    answer, oversize = _read_capped(response)
            except GammaError as error:  # the body's source changed size: sending it again cannot help
                return error
            # requests', urllib3's and http.client's errors, socket errors, a source's read errors and
            # anything else a library raises mid-request: a failed attempt, classified by _failed alone.
            except Exception as error:
                return _failed(step, error, progress.sent, time.monotonic() >= progress.deadline)
        received = ApiResponse.received(
            response.status_code, response.headers, answer, secret=settings.api_key, oversize=oversize
        )
        _metrics.count_answer(request, received.status, conn_id=settings.conn_id)
        self.rate_limit = received.rate_limit
        return received


class StreamedBody:
    """One attempt's raw request body, read from ``source`` chunk by chunk as the socket takes it, so
    the whole body is never in memory. ``len()`` tells ``requests`` the exact ``Content-Length``
    (nothing is sent chunked); having no ``read`` makes urllib3 send the chunks as they are iterated.

    A source that ends early or holds more than ``request.content_length`` bytes (it changed after its
    size was taken) stops the body before its last byte, so Gamma never stores a wrong file.
    """

    def __init__(self, request: ApiRequest, source: IO[bytes]) -> None:
        self.request = request
        self.length = request.content_length or 0
        self.source = source

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        left = self.length
        while left:
            chunk = self.source.read(min(BODY_CHUNK_SIZE, left))
            if not chunk:
                raise self._changed(f"ended after {self.length - left:,} of {self.length:,} bytes")
            left -= len(chunk)
            if not left and self.source.read(1):
                raise self._changed(f"holds more than the {self.length:,} bytes it had")
            yield chunk

    def _changed(self, what: str) -> GammaError:
        return GammaError(
            f"{self.request.describe()}: the file being sent {what} when the upload began; it changed "
            "while being uploaded, so it was not sent whole (nothing usable reached Gamma)"
        )


def drive(flow: AttemptFlow, send: Callable[[Send], Outcome], log: logging.Logger | Any) -> Any:
    """The sync driver: carry out ``flow``'s steps with ``send`` and ``time.sleep``."""
    try:
        step = next(flow)
        while True:
            if isinstance(step, Sleep):
                _log_sleep(log, step)
                time.sleep(step.seconds)
                step = flow.send(None)
            else:
                step = flow.send(send(step))
    except StopIteration as done:
        return done.value
    finally:
        flow.close()


def _read_capped(response: requests.Response) -> tuple[bytes, bool]:
    body = bytearray()
    while chunk := response.raw.read1(READ_SIZE, decode_content=True):
        body += chunk
        if len(body) > protocol.MAX_ANSWER_BYTES:
            return bytes(body), True
    return bytes(body), False


def new_sync_session(
    settings: GammaSettings,
    *,
    api_key: str | None,
    url: str | None = None,
    session_class: type[requests.Session] | None = None,
) -> requests.Session:
    """A ``requests`` session with the connection's proxy, CA and deadline rules for ``url`` (default:
    the API); it carries the API key only when given one, and never credentials from ``~/.netrc``."""
    import requests

    from airflow_provider_gamma.hooks._deadline import DeadlineAdapter

    session = (session_class or requests.Session)()
    session.trust_env = False  # proxy and CA resolved by proxy_for/ca_for, as for aiohttp
    session.mount("https://", DeadlineAdapter())
    session.mount("http://", DeadlineAdapter())
    proxy = proxy_for(url or settings.base_url, settings)
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    session.verify = ca_for(settings)
    if api_key is not None:
        session.headers.update(protocol.request_headers(api_key, settings.user_agent))
    return session


class _Progress:
    """What one attempt got done: ``sent`` once request bytes were handed to the server's connection."""

    __slots__ = ("deadline", "sent")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sent = False


#: The attempt under way in this thread (read by the deadline sockets of hooks/_deadline.py).
CURRENT_ATTEMPT: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "gamma_current_attempt", default=None
)


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[_Progress]:
    """Bound every socket operation of this thread's requests to ``seconds`` from now, in total."""
    progress = _Progress(time.monotonic() + seconds)
    token = CURRENT_ATTEMPT.set(progress)
    try:
        yield progress
    finally:
        CURRENT_ATTEMPT.reset(token)


# --- the async driver (aiohttp) --------------------------------------------------------------------


class AsyncTransport:
    """Carries attempt flows over one ``aiohttp`` session, shared by every trigger of a connection in
    an event loop (:meth:`shared`), with the rate budget they all spend."""

    #: Each event loop's transports, by connection; a loop's entry goes with the loop.
    pools: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncTransport]]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    @asynccontextmanager
    async def shared(cls, settings: GammaSettings) -> AsyncIterator[AsyncTransport]:
        """This loop's transport for ``settings``, created for the first user and closed after the last."""
        pool = cls.pools.setdefault(asyncio.get_running_loop(), {})
        key = hashlib.sha256(repr((settings, settings.api_key, settings.proxy)).encode()).hexdigest()
        transport = pool.get(key)
        if transport is None:
            transport = pool[key] = cls(settings)
        transport.users += 1
        try:
            yield transport
        finally:
            transport.users -= 1
            if transport.users == 0:
                del pool[key]
                await transport.close()

    def __init__(self, settings: GammaSettings) -> None:
        import aiohttp

        self.settings = settings
        self.users = 0
        self.budget = RateBudget()
        #: Rate-limit headers of the newest answer to any user of this transport.
        self.rate_limit: RateLimit | None = None
        self.proxy = proxy_for(settings.base_url, settings)
        ca = ca_for(settings)
        tracing = aiohttp.TraceConfig()
        tracing.on_request_headers_sent.append(_headers_sent)
        self.session = aiohttp.ClientSession(
            headers=protocol.request_headers(settings.api_key, settings.user_agent),
            connector=aiohttp.TCPConnector(
                limit=64, keepalive_timeout=60, ssl=_ssl_context(ca) if ca else False
            ),
            trust_env=False,  # proxy and CA resolved by proxy_for/ca_for, as for requests
            trace_configs=[tracing],
        )

    async def run(self, flow: AttemptFlow, log: logging.Logger | Any) -> Any:
        """The async driver: carry out ``flow``'s steps with :meth:`send` and ``asyncio.sleep``. A
        cancelled call (a cleared task, a deadline) closes the flow, which gives its ticket back."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    _log_sleep(log, step)
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self.send(step))
        except StopIteration as done:
            return done.value
        finally:
            flow.close()

    async def send(self, step: Send) -> Outcome:
        import aiohttp

        request, settings = step.request, self.settings
        progress = _Progress(time.monotonic() + step.timeout)
        try:
            async with self.session.request(
                request.method,
                request.url(settings.base_url),
                json=request.json,
                allow_redirects=False,
                proxy=self.proxy,
                timeout=aiohttp.ClientTimeout(total=step.timeout),
                trace_request_ctx=progress,
            ) as response:
                body = bytearray()
                async for chunk in response.content.iter_chunked(READ_SIZE):
                    body += chunk
                    if len(body) > protocol.MAX_ANSWER_BYTES:
                        break
        # aiohttp's errors, TimeoutError and anything else a library raises mid-request: a failed
        # attempt, classified by _failed alone (as in the sync driver).
        except Exception as error:
            return _failed(step, error, progress.sent, time.monotonic() >= progress.deadline)
        answer = ApiResponse.received(
            response.status,
            response.headers,
            bytes(body),
            secret=settings.api_key,
            oversize=len(body) > protocol.MAX_ANSWER_BYTES,
        )
        _metrics.count_answer(request, answer.status, conn_id=settings.conn_id)
        self.rate_limit = answer.rate_limit
        return answer

    async def close(self) -> None:
        await self.session.close()


async def _headers_sent(session: aiohttp.ClientSession, context: Any, params: Any) -> None:
    progress = context.trace_request_ctx
    if isinstance(progress, _Progress):
        progress.sent = True


def _failed(step: Send, error: BaseException, sent: bool, out_of_time: bool) -> GammaTransportError:
    """The one map from a library's failure to an outcome, for both drivers."""
    if out_of_time or (isinstance(error, TimeoutError) and sent):
        return GammaTransportError(
            f"{step.request.describe()}: the answer did not arrive whole within {step.timeout:g} s ({type(error).__name__})",
            reached_server=sent,
        )
    return protocol.transport_error(step.request, error, reached_server=sent)


__all__ = [
    "BODY_CHUNK_SIZE",
    "CURRENT_ATTEMPT",
    "AsyncTransport",
    "OpenBody",
    "StreamedBody",
    "SyncTransport",
    "attempt_deadline",
    "ca_for",
    "drive",
    "new_sync_session",
    "proxy_for",
]
