# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Hostile servers for the parity suite, on 127.0.0.1 with ephemeral ports, all served by one
background event loop per test:

- :class:`ScriptedServer`: a raw HTTP/1.1 server whose every answer is a handler's bytes, so it can
  do what no well-behaved framework would (drip the status line, drip the body, hang up, send
  absurd headers, answer 4 MiB);
- :class:`TlsRelay`: terminates TLS with a certificate of :func:`make_authority` and pipes the bytes
  to a plain server (the emulator), so a test can reach it over https;
- :class:`ForwardProxy`: CONNECT tunnels and absolute-URI requests, routed by ``host:port`` to
  loopback servers, so a base URL whose host does not resolve is reachable only through it.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")


@dataclass(frozen=True)
class RawRequest:
    """One request as a :class:`ScriptedServer` read it."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.target).query).items()}


#: Writes the answer to one request; returns whether the connection stays open for the next one.
Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


class BackgroundLoop:
    """An event loop in a daemon thread, for servers that must answer while the test thread blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="parity-servers", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class _Listener:
    """A TCP (or TLS) listener on an ephemeral loopback port, closed with its connections."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def listen(self, context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self.connection(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client hung up, or sent what this little server does not parse
        except asyncio.CancelledError:
            pass  # the test is over; ending quietly keeps asyncio from logging the cancelled task
        finally:
            self._writers.discard(writer)
            writer.close()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawRequest(method, target, headers, body)


class ScriptedServer(_Listener):
    """An HTTP/1.1 server whose answers are written by ``handler`` byte for byte.

    :param handler: writes each answer; ``None`` closes every connection as soon as it is accepted,
        before a byte is read.
    """

    def __init__(self, handler: Handler | None) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[RawRequest] = []
        self.url = ""

    async def start(self, context: ssl.SSLContext | None = None) -> ScriptedServer:
        await self.listen(context)
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{self.port}"
        return self

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.handler is None:
            return
        while (request := await _read_request(reader)) is not None:
            self.requests.append(request)
            if not await self.handler(request, writer) or request.headers.get("connection") == "close":
                return


def http_answer(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a whole HTTP/1.1 answer, with ``Content-Length``."""
    lines = [f"HTTP/1.1 {status} Parity", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answer(status: int = 200, payload: Any = None, headers: Mapping[str, str] | None = None) -> Handler:
    """A handler answering ``payload`` as JSON (``bytes`` as they are) with ``headers``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(http_answer(status, body, {"Content-Type": "application/json", **(headers or {})}))
        await writer.drain()
        return True

    return handler


def in_turn(*handlers: Handler) -> Handler:
    """The n-th request is answered by the n-th handler; the last one answers every request after."""
    served = 0

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        nonlocal served
        served += 1
        return await handlers[min(served, len(handlers)) - 1](request, writer)

    return handler


def drip_head(step: float, limit: float) -> Handler:
    """The status line and headers one byte per ``step`` seconds, never finished: after ``limit``
    seconds the server falls silent for as long again, then hangs up (so a client without a total
    deadline is held that long, and then sees its own read timeout)."""

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: " + b"a" * 100_000
        end = asyncio.get_running_loop().time() + limit
        for byte in head:
            if asyncio.get_running_loop().time() >= end:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(step)
        await asyncio.sleep(limit)
        return False

    return handler


def drip_body(step: float, limit: float) -> Handler:
    """Headers at once (``Content-Length: 1000``), then a byte of the body per ``step`` seconds; the
    connection is closed after ``limit`` seconds, the body unfinished."""

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        end = asyncio.get_running_loop().time() + limit
        while asyncio.get_running_loop().time() < end:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(step)
        return False

    return handler


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(64 * 1024):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def _splice(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int]
) -> None:
    """Connect to ``upstream`` and copy bytes both ways until either side ends."""
    up_reader, up_writer = await asyncio.open_connection(*upstream)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


class TlsRelay(_Listener):
    """Terminates TLS with ``context`` and pipes each connection to the plain server at ``port``."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.upstream = ("127.0.0.1", port)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _splice(reader, writer, self.upstream)


class ForwardProxy(_Listener):
    """A forward proxy for ``routes`` (``"host:port"`` to a loopback ``(host, port)``): CONNECT opens
    a tunnel, an absolute-URI request is forwarded in origin form (one per connection); any other
    target is answered 502, as a corporate proxy answers a host it cannot reach.

    ``seen`` lists each request line it was sent, e.g. ``"CONNECT gamma-api.test:443"``.
    """

    def __init__(self, routes: Mapping[str, tuple[str, int]]) -> None:
        super().__init__()
        self.routes = dict(routes)
        self.seen: list[str] = []
        self.url = ""

    async def start(self) -> ForwardProxy:
        await self.listen()
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_request(reader)
        if request is None:
            return
        self.seen.append(f"{request.method} {request.target}")
        if request.method == "CONNECT":
            upstream = self.routes.get(request.target)
            if upstream is not None:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await _splice(reader, writer, upstream)
                return
        else:
            url = urlsplit(request.target)
            upstream = self.routes.get(f"{url.hostname}:{url.port or 80}")
            if upstream is not None:
                origin = url.path + (f"?{url.query}" if url.query else "")
                lines = [f"{request.method} {origin} HTTP/1.1", "Connection: close"]
                lines += [
                    f"{name}: {value}"
                    for name, value in request.headers.items()
                    if not name.startswith("proxy-") and name not in ("connection", "keep-alive")
                ]
                up_reader, up_writer = await asyncio.open_connection(*upstream)
                up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
                await _pipe(up_reader, writer)  # until the server closes, as it was asked to
                up_writer.close()
                return
        writer.write(http_answer(502, b"proxy: no route to that host", {"Connection": "close"}))
        await writer.drain()


# --- certificates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """A throwaway CA (``ca_bundle`` is its PEM) and one server certificate it signed."""

    ca_bundle: Path
    cert: Path
    key: Path
    names: tuple[str, ...] = field(default=())

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_authority(directory: Path, names: tuple[str, ...]) -> Authority:
    """A CA and a server certificate for ``names`` (DNS names, plus 127.0.0.1), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"parity test CA for {names[0]}")])
    ca = (
        build(f"parity test CA for {names[0]}", ca_key, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternative_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        build(names[0], key, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Authority(directory / "ca.pem", directory / "server.pem", directory / "server.key", names)
    paths.ca_bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
