# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A whole-attempt deadline for ``requests``, and the record of whether a request was sent.

``requests`` (urllib3) bounds each socket read, not an attempt: a server or proxy that sends the
status line and headers one byte at a time holds a call for as long as it likes. Here every socket
of the session is wrapped once it is connected; before each read or write it shortens its own
timeout to what is left of the attempt under way in this thread
(:data:`~airflow_provider_gamma.hooks._transport.CURRENT_ATTEMPT`), and it notes when request bytes
go out, which is what "the request may have reached Gamma" means.
"""

from __future__ import annotations

import io
import socket
import time
from typing import Any

import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection


class _DeadlineSocket:
    """A connected socket whose reads and writes end at the current attempt's deadline."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def _arm(self, sending: bool = False) -> None:
        from airflow_provider_gamma.hooks._transport import CURRENT_ATTEMPT

        attempt = CURRENT_ATTEMPT.get()
        if attempt is None:
            self._sock.settimeout(self._timeout)
            return
        if sending:
            attempt.sent = True
        left = attempt.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt's deadline passed")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._arm()
        return self._sock.recv(size, flags)  # type: ignore[no-any-return]

    def recv_into(self, buffer: Any, size: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, size, flags)  # type: ignore[no-any-return]

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm(sending=True)
        self._sock.sendall(data, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._arm(sending=True)
        return self._sock.send(data, flags)  # type: ignore[no-any-return]

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> Any:
        """A binary reader whose reads come through :meth:`recv_into` (so through the deadline)."""
        raw = socket.SocketIO(self, "rb" if "r" in mode else "wb")  # type: ignore[arg-type]
        # SocketIO.close() gives it back through _decref_socketios; through an https:// proxy the
        # connection is urllib3's SSLTransport, which counts on the socket it wraps.
        getattr(self._sock, "socket", self._sock)._io_refs += 1
        if "r" in mode:
            return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)
        return io.BufferedWriter(raw, buffering or io.DEFAULT_BUFFER_SIZE)


class _DeadlineHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class _DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class _DeadlineHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections (direct or through an HTTP proxy) honour attempt deadlines."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
