# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Uploads over real HTTP: files from S3 (moto_server) and local disk reach the emulator byte-exact,
streamed with their Content-Length; size limits hold before any byte is sent; a dropped, stalled or slow
upload is retried, cut or let through as the transport promises (a raw loopback server stands in for
Gamma where the emulator has no such fault)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma import protocol
from airflow_provider_gamma.exceptions import GammaError, GammaParameterError, GammaTransportError
from airflow_provider_gamma.hooks._upload import (
    UPLOAD_DEADLINE,
    UploadSource,
    open_source,
    upload_request_for,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import RetryPolicy
from tests.object_stores import s3_connection

FAST = RetryPolicy(backoff=0.01, rate_limit_backoff=0.01, jitter=False)
ONCE = RetryPolicy(max_attempts=1)
UPLOADS = "/v1.0/uploads"
MIB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_posts(emu: Any) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path == UPLOADS]


@pytest.fixture
def hook(gamma_connection: Any) -> GammaHook:
    return GammaHook(retry_policy=FAST)


# --- byte-exact, streamed, with Content-Length --------------------------------------------------------


@contextlib.contextmanager
def serving(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    listener: socket.socket | None = None,
) -> Iterator[int]:
    """Serve ``handle`` on a loopback port from an event loop in a thread; yields the port. On exit
    every connection is aborted and every task ended before the loop closes."""
    loop = asyncio.new_event_loop()
    writers: set[asyncio.StreamWriter] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        await handle(reader, writer)

    async def start() -> asyncio.Server:
        if listener is None:
            return await asyncio.start_server(tracked, "127.0.0.1", 0)
        return await asyncio.start_server(tracked, sock=listener)

    async def stop() -> None:
        server.close()
        for writer in writers:
            writer.transport.abort()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        await asyncio.sleep(0.01)  # the aborted transports' connection_lost callbacks run

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextlib.contextmanager
def recording_proxy(port: int) -> Iterator[tuple[int, bytearray]]:
    """A TCP relay to ``127.0.0.1:port`` that keeps every byte its clients send; yields its port."""
    sent = bytearray()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if keep:
                    sent.extend(data)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.gather(pipe(client_reader, writer, True), pipe(reader, client_writer, False))
        finally:
            writer.transport.abort()

    with serving(relay) as relay_port:
        yield relay_port, sent


def test_a_file_on_s3_arrives_byte_exact_and_the_key_stays_off_the_store(
    gamma_connection: Any, s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    emu = gamma_connection
    data = os.urandom(3 * MIB + 17)
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").put_object(
        Bucket=s3_bucket, Key="weekly/figures.csv", Body=data
    )
    port = int(moto_endpoint.rsplit(":", 1)[1])
    with recording_proxy(port) as (proxy_port, sent_to_store):
        monkeypatch.setenv("AIRFLOW_CONN_S3_RECORDED", s3_connection(f"http://127.0.0.1:{proxy_port}"))
        upload = GammaHook(retry_policy=FAST).upload_file(
            f"s3://{s3_bucket}/weekly/figures.csv", conn_id="s3_recorded"
        )
    stored = emu.uploads[upload["uploadId"]]
    assert (stored.size, stored.sha256, stored.filename) == (len(data), sha256(data), "figures.csv")
    assert upload["filename"] == "figures.csv"
    (post,) = upload_posts(emu)
    assert post.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in post.headers
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.headers["x-api-key"] == emu.api_key
    assert b"GET /" in sent_to_store  # the file was read through the relay...
    assert emu.api_key.encode() not in sent_to_store  # ...which never saw Gamma's key
    assert b"x-api-key" not in sent_to_store.lower()


def test_local_files_arrive_byte_exact_as_uri_path_and_object_storage_path(
    hook: GammaHook, gamma_connection: Any, tmp_path: Path
) -> None:
    data = os.urandom(MIB + 5)
    source = tmp_path / "last quarter.pdf"
    source.write_bytes(data)
    uploads = hook.upload_files([f"file://{source}", source, ObjectStoragePath(f"file://{source}")])
    ids = [upload["uploadId"] for upload in uploads]
    assert len(set(ids)) == 3
    assert {upload["filename"] for upload in uploads} == {"last quarter.pdf"}
    for upload_id in ids:
        stored = gamma_connection.uploads[upload_id]
        assert (stored.size, stored.sha256, stored.filename) == (len(data), sha256(data), "last quarter.pdf")
    assert hook.upload_file(source, filename="q3.pdf")["filename"] == "q3.pdf"


def test_a_big_upload_is_never_held_whole_in_memory(
    hook: GammaHook, gamma_connection: Any, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as stream:
        for _ in range(64):
            stream.write(os.urandom(MIB))
    hook.get_conn()  # session, connection lookup: one-off, not the upload's
    tracemalloc.start()
    try:
        upload = hook.upload_file(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert gamma_connection.uploads[upload["uploadId"]].size == 64 * MIB
    # client and (in-process) emulator together: a small fraction of the file
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB for a 64 MiB upload"


# --- limits, before any byte is sent -----------------------------------------------------------------


def test_over_250_mib_is_refused_before_any_byte_is_sent(
    hook: GammaHook, gamma_connection: Any, tmp_path: Path
) -> None:
    sparse = tmp_path / "huge.pptx"
    with sparse.open("wb") as stream:
        stream.truncate(protocol.MAX_UPLOAD_BYTES + 1)  # sparse: no disk used, the real size stat'd
    with pytest.raises(GammaParameterError) as caught:
        hook.upload_file(sparse)
    message = str(caught.value)
    assert "huge.pptx" in message
    assert f"{protocol.MAX_UPLOAD_BYTES + 1:,}" in message
    assert "250 MiB" in message
    assert upload_posts(gamma_connection) == []


def described(size: int) -> UploadSource:
    """A file only described (its reader is never used): for checks made before sending."""
    return UploadSource(uri="/data/x.csv", filename="x.csv", size=size, open=io.BytesIO)


def test_the_size_limit_is_inclusive_and_an_empty_file_is_refused() -> None:
    assert (
        upload_request_for(described(protocol.MAX_UPLOAD_BYTES)).content_length == protocol.MAX_UPLOAD_BYTES
    )
    with pytest.raises(GammaParameterError, match=r"over Gamma's limit.*/data/x\.csv"):
        upload_request_for(described(protocol.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(GammaParameterError, match=r"empty.*/data/x\.csv"):
        upload_request_for(described(0))


def test_an_upload_attempt_may_outlast_the_connection_timeout() -> None:
    assert upload_request_for(described(MIB)).timeout_within(30.0) == UPLOAD_DEADLINE


def test_upload_files_looks_at_every_file_before_sending_one(
    hook: GammaHook, gamma_connection: Any, tmp_path: Path
) -> None:
    present = tmp_path / "a.csv"
    present.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(GammaParameterError, match=r"no such file"):
        hook.upload_files([present, tmp_path / "missing.csv"])
    with pytest.raises(GammaParameterError, match=r"not a file"):
        hook.upload_files([present, tmp_path])
    two = [tmp_path / "one.bin", tmp_path / "two.bin"]
    for path in two:
        with path.open("wb") as stream:
            stream.truncate(200 * MIB)
    with pytest.raises(GammaParameterError, match=r"419,430,400 bytes in all.*250 MiB"):
        hook.upload_files(two)
    with pytest.raises(GammaParameterError, match=r"a list of at most 50 files"):
        hook.upload_files(str(present))  # type: ignore[arg-type]
    assert upload_posts(gamma_connection) == []


def test_a_file_that_changes_while_uploading_is_not_sent_whole_nor_retried(
    hook: GammaHook, gamma_connection: Any, tmp_path: Path
) -> None:
    source = tmp_path / "growing.csv"
    opened: list[str] = []

    def attempt(size_now: int, expected: str) -> None:
        file = open_source(source)
        source.write_bytes(b"x" * size_now)

        def counted() -> Any:
            opened.append(file.uri)
            return file.open()

        with pytest.raises(GammaError, match=expected):
            hook._call(upload_request_for(file), body=counted)

    source.write_bytes(b"x" * 300_000)
    attempt(100_000, r"ended after 100,000 of 300,000 bytes")
    attempt(100_001, r"holds more than the 100,000 bytes")
    assert len(opened) == 2  # one attempt each: sending it again cannot help
    assert gamma_connection.uploads == {}


def test_uploads_go_from_workers_only(hook: GammaHook) -> None:
    request = protocol.upload_request(10, filename="x")
    with pytest.raises(ValueError, match="sync hook"):
        asyncio.run(hook._acall(request))
    with pytest.raises(ValueError, match="needs both"):
        hook._call(request)


# --- faults the emulator has no rule for: a raw loopback server -------------------------------------


class RawUploadServer:
    """``POST /v1.0/uploads`` on a bare asyncio server with a small receive buffer, so a client's
    writes wait on how this server reads: drop the connection after ``drop_after`` bytes (once), never
    read (``stall``), read slowly (``read_delay`` per 64 KiB), or answer a redirect."""

    def __init__(
        self,
        *,
        drop_after: int | None = None,
        stall: bool = False,
        read_delay: float = 0.0,
        redirect_to: str | None = None,
    ) -> None:
        self.drop_after, self.stall, self.read_delay, self.redirect_to = (
            drop_after,
            stall,
            read_delay,
            redirect_to,
        )
        self.connections = 0
        self.received: list[dict[str, Any]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        length = int(headers.get("content-length", "0"))
        if self.redirect_to is not None:
            self._answer(writer, b"307 Temporary Redirect", b"", f"Location: {self.redirect_to}\r\n")
            return
        if self.stall:
            await asyncio.Event().wait()  # until the server stops
        digest, got = hashlib.sha256(), 0
        while got < length:
            chunk = await reader.read(min(65536, length - got))
            if not chunk:
                return
            digest.update(chunk)
            got += len(chunk)
            if self.drop_after is not None and got >= self.drop_after:
                self.drop_after = None
                writer.transport.abort()
                return
            if self.read_delay:
                await asyncio.sleep(self.read_delay)
        self.received.append({"size": got, "sha256": digest.hexdigest(), "headers": headers})
        self._answer(writer, b"200 OK", json.dumps({"uploadId": f"upl_{len(self.received)}"}).encode())

    @staticmethod
    def _answer(writer: asyncio.StreamWriter, status: bytes, body: bytes, extra: str = "") -> None:
        head = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        writer.write(b"HTTP/1.1 " + status + b"\r\n" + head.encode() + body)
        writer.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        listener.bind(("127.0.0.1", 0))
        with serving(self.handle, listener) as port:
            yield f"http://127.0.0.1:{port}"


def raw_hook(url: str, monkeypatch: pytest.MonkeyPatch, *, timeout: float, policy: RetryPolicy) -> GammaHook:
    connection = {
        "conn_type": "gamma",
        "host": url,
        "password": "sk-gamma-raw",
        "extra": {"timeout": timeout},
    }
    monkeypatch.setenv("AIRFLOW_CONN_GAMMA_RAW", json.dumps(connection))
    return GammaHook("gamma_raw", retry_policy=policy)


def random_file(path: Path, mib: int) -> bytes:
    data = os.urandom(mib * MIB)
    path.write_bytes(data)
    return data


def test_a_connection_dropped_mid_upload_is_retried_from_the_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_file(tmp_path / "figures.csv", 8)
    server = RawUploadServer(drop_after=MIB)
    with server.running() as url:
        upload = raw_hook(url, monkeypatch, timeout=10, policy=FAST).upload_file(tmp_path / "figures.csv")
    assert server.connections == 2
    assert server.received == [
        {"size": len(data), "sha256": sha256(data), "headers": server.received[0]["headers"]}
    ]
    assert server.received[0]["headers"]["content-length"] == str(len(data))
    assert upload["uploadId"] == "upl_1"


def test_a_stalled_upload_is_cut_after_the_connection_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_file(tmp_path / "big.bin", 16)  # more than the kernel's socket buffers hold
    with RawUploadServer(stall=True).running() as url:
        hook = raw_hook(url, monkeypatch, timeout=1, policy=ONCE)
        started = time.monotonic()
        with pytest.raises(GammaTransportError) as caught:
            hook.upload_file(tmp_path / "big.bin")
    assert time.monotonic() - started < 10
    assert caught.value.reached_server


def test_a_slow_upload_outlasts_the_connection_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_file(tmp_path / "big.bin", 24)
    server = RawUploadServer(read_delay=0.008)  # about 8 MiB/s: ~3 s in all, writes never wait 2 s
    with server.running() as url:
        hook = raw_hook(url, monkeypatch, timeout=2, policy=ONCE)
        started = time.monotonic()
        hook.upload_file(tmp_path / "big.bin")
    assert time.monotonic() - started > 2
    assert server.received[0]["sha256"] == sha256(data)


def test_a_redirect_is_not_followed_so_the_key_and_file_go_to_the_api_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.csv").write_bytes(b"a,b\n")
    elsewhere = RawUploadServer()
    with elsewhere.running() as other:
        redirecting = RawUploadServer(redirect_to=f"{other}/v1.0/uploads")
        with redirecting.running() as url, pytest.raises(GammaError, match="307"):
            raw_hook(url, monkeypatch, timeout=5, policy=ONCE).upload_file(tmp_path / "a.csv")
    assert elsewhere.connections == 0
