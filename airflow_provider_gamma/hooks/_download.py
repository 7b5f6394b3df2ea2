# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The export download: a streaming GET of a signed export URL, on someone else's host.

It carries no credentials of any kind (no API key, nothing from ``~/.netrc``), follows only http(s)
redirects, goes through the connection's proxy and CA settings like every API call, and is bounded
by a whole-download deadline as well as per read. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_gamma import protocol
from airflow_provider_gamma.connection import GammaSettings
from airflow_provider_gamma.exceptions import GammaError, GammaExportError, GammaTransportError
from airflow_provider_gamma.hooks._base import GammaClient
from airflow_provider_gamma.hooks._transport import attempt_deadline, drive, new_sync_session
from airflow_provider_gamma.protocol import ApiRequest, ApiResponse

if TYPE_CHECKING:
    import requests

#: Bytes per read of an export body: few Python calls per GiB, yet small enough to stay in the CPU
#: cache between the read, the write and the hash (1 MiB chunks cost ~1.5x the CPU time in
#: ``benchmarks/bench_export.py``; 64 KiB to 256 KiB measured alike, within this machine's noise).
EXPORT_CHUNK_SIZE = 256 * 1024
#: Chunk buffers in rotation between the reading thread and the hashing thread.
EXPORT_BUFFERS = 4
#: Seconds a whole export download may take (a 1 GiB file at 300 KiB/s).
EXPORT_DOWNLOAD_TIMEOUT = 3600.0
_EXPORT_REQUEST = ApiRequest("GET", "export")


@dataclass(frozen=True)
class ExportDownload:
    """What a finished export download delivered."""

    size: int
    sha256: str
    content_type: str | None
    url: str = field(repr=False)


@contextmanager
def open_export(
    settings: GammaSettings, url: str, *, timeout: float | None = None
) -> Iterator[requests.Response]:
    """Open a streaming GET of an export URL, with no credentials of any kind.

    ``exportUrl`` is a signed URL on someone else's host: the API key is never sent there (this
    session carries no key and ignores ``.netrc``), and only http(s) URLs are followed.
    """
    if not url.lower().startswith(("https://", "http://")):
        raise GammaExportError(
            f"refusing to download a non-http(s) export URL: {url.split('?', maxsplit=1)[0]!r}"
        )
    from airflow_provider_gamma._export_session import NoCredentialsSession, no_auth

    session = new_sync_session(settings, api_key=None, url=url, session_class=NoCredentialsSession)
    session.headers["User-Agent"] = settings.user_agent
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
    settings: GammaSettings,
    url: str,
    write: Callable[[bytes], object],
    *,
    chunk_size: int = EXPORT_CHUNK_SIZE,
    on_headers: Callable[[Mapping[str, str]], object] | None = None,
    views: bool = False,
    deadline: float = EXPORT_DOWNLOAD_TIMEOUT,
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
    :param deadline: seconds the whole download may take, however slowly the host sends it.
    :raises GammaError: the export host's HTTP error (403 = expired or bad signature, 5xx =
        :class:`GammaServerError`), or :class:`GammaTransportError` when the connection failed or
        the body was cut short.
    """
    import requests

    request = ApiRequest("GET", "export")
    try:
        with attempt_deadline(deadline), open_export(settings, url) as response:
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
                size, sha256 = _copy_export(request, body.readinto, write, chunk_size, views)  # type: ignore[union-attr]
    except (requests.RequestException, OSError) as error:
        raise protocol.transport_error(request, error, reached_server=True) from None
    if not encoded and expected is not None and expected.isdigit() and int(expected) != size:
        raise GammaTransportError(
            f"export download truncated: got {size} of {expected} bytes", reached_server=True
        )
    return ExportDownload(size=size, sha256=sha256, content_type=content_type, url=url)


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


def fetch(
    url: str,
    download: Callable[[str], ExportDownload],
    policy: protocol.RetryPolicy,
    log: Any,
    *,
    reset: Callable[[], object],
    refresh: Callable[[], str] | None,
    what: str,
) -> ExportDownload:
    """``download(url)`` run by the attempt flow (see :meth:`GammaHook.fetch_export`)."""
    refreshed = False
    attempts = 0
    while True:

        def attempt(_: protocol.Send, current: str = url) -> protocol.Outcome:
            nonlocal attempts
            attempts += 1
            try:
                return protocol.Delivered(download(current))
            except GammaError as error:
                reset()
                return error
            except BaseException:
                reset()
                raise

        flow = protocol.attempt_flow(_EXPORT_REQUEST, policy, timeout=EXPORT_DOWNLOAD_TIMEOUT)
        try:
            return cast(ExportDownload, drive(flow, attempt, log))
        except GammaError as error:
            if error.http_status == 403 and refresh is not None and not refreshed:
                refreshed = True
                log.warning("Export host refused the URL (%s); fetching a fresh one", error)
                url = refresh()
                continue
            raise GammaExportError(
                f"Downloading {what} failed after {attempts} attempt(s); nothing was landed. "
                f"Last error: {error}",
                http_status=error.http_status,
            ) from error


class ExportDownloads(GammaClient):
    """The export download methods of :class:`~airflow_provider_gamma.hooks.gamma.GammaHook`."""

    def download_export(
        self,
        url: str,
        write: Callable[[bytes], object],
        *,
        chunk_size: int = EXPORT_CHUNK_SIZE,
        on_headers: Callable[[Mapping[str, str]], object] | None = None,
        views: bool = False,
        deadline: float = EXPORT_DOWNLOAD_TIMEOUT,
    ) -> ExportDownload:
        """Stream an export into ``write`` chunk by chunk (memory stays flat) and check it arrived whole;
        with no credentials of any kind, through the connection's proxy and CA settings.

        :param url: the generation's or export's ``exportUrl``.
        :param write: called with each chunk of the body, in order.
        :param chunk_size: bytes per chunk.
        :param on_headers: called with the response headers of a 200 answer before any of the body is
            read (e.g. to pick a file name from ``Content-Type``); an exception it raises stops the
            download and propagates.
        :param views: pass ``write`` read-only ``memoryview`` objects over a reused buffer instead of
            ``bytes`` (one copy less per chunk); each is valid only during the call.
        :param deadline: seconds the whole download may take, however slowly the host sends it.
        :raises GammaError: the export host's HTTP error (403 = expired or bad signature, 5xx =
            :class:`GammaServerError`), or :class:`GammaTransportError` when the connection failed,
            the body was cut short or the deadline passed.
        """
        self._refuse_non_http(url)
        return download_export(
            self.settings,
            url,
            write,
            chunk_size=chunk_size,
            on_headers=on_headers,
            views=views,
            deadline=deadline,
        )

    def fetch_export(
        self,
        url: str,
        write: Callable[[bytes], object],
        *,
        reset: Callable[[], object],
        refresh: Callable[[], str] | None = None,
        on_headers: Callable[[Mapping[str, str]], object] | None = None,
        views: bool = False,
        what: str = "the export",
    ) -> ExportDownload:
        """:meth:`download_export`, retried by the attempt flow like every API call: a transient failure
        (5xx, a dropped, cut or drip-fed download) is retried on :attr:`retry_policy` after ``reset()``
        threw the attempt's bytes away; a 403 from the export host (an expired signature) asks
        ``refresh()`` for a fresh URL, once. Raises :class:`GammaExportError` naming ``what`` when it
        gives up, with nothing written."""

        def download(current: str) -> ExportDownload:
            return self.download_export(current, write, on_headers=on_headers, views=views)

        return fetch(url, download, self.retry_policy, self.log, reset=reset, refresh=refresh, what=what)

    @staticmethod
    def _refuse_non_http(url: str) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise GammaExportError(
                f"refusing to download a non-http(s) export URL: {url.split('?', maxsplit=1)[0]!r}"
            )
