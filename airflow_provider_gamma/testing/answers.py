# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The answers the emulator's hosts send: Gamma's JSON envelope, S3's XML errors, and a streamed body
that a fault can cut short."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.typedefs import LooseHeaders

__all__ = ["Json", "StreamedBody", "gamma_error", "json_response", "parse_json", "s3_error"]

Json = dict[str, Any]


def parse_json(raw: bytes) -> Any:
    """A request body as JSON, or ``None`` when it is empty or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """``payload`` as an ``application/json; charset=utf-8`` answer."""
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def gamma_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """Gamma's error envelope: ``{"message": ..., "statusCode": status}``."""
    return json_response(status, {"message": message, "statusCode": status}, headers)


def s3_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """An S3-style XML error, as the storage behind Gamma's export URLs answers."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml", headers=headers)


class StreamedBody(web.StreamResponse):
    """An answer of ``length`` body bytes written piece by piece after the headers.

    Args:
        status: The HTTP status.
        headers: The answer's headers (``Content-Length`` is set from ``length``).
        pieces: The body, in pieces of any size (read lazily, so a large body is never in memory).
        length: The body's size in bytes; ``pieces`` must hold at least that many.
        cut_at: Close the connection after this many body bytes, though ``Content-Length`` promised
            more (an injected ``truncate_at`` fault); ``None`` sends the whole body.
    """

    def __init__(
        self,
        status: int,
        headers: LooseHeaders,
        pieces: Iterable[bytes | memoryview],
        length: int,
        cut_at: int | None = None,
    ) -> None:
        super().__init__(status=status, headers=headers)
        self.content_length = length
        self.cut_at = cut_at
        self._pieces = pieces
        self._length = length
        self._request: web.BaseRequest | None = None

    @classmethod
    def cut(cls, response: web.StreamResponse, cut_at: int) -> StreamedBody:
        """``response`` (not yet sent) with its body cut after ``cut_at`` bytes."""
        if isinstance(response, StreamedBody):
            response.cut_at = cut_at
            return response
        body = (
            response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
        )
        return cls(response.status, response.headers, [body], len(body), cut_at)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        self._request = request
        return await super().prepare(request)

    async def write_eof(self, data: bytes = b"") -> None:
        """Write the body (aiohttp calls this once the handler has returned), then end it, or close
        the connection where the body is cut."""
        budget = self._length if self.cut_at is None else min(self._length, self.cut_at)
        try:
            for piece in self._pieces:
                if budget <= 0:
                    break
                chunk = piece[:budget] if len(piece) > budget else piece
                await self.write(chunk)
                budget -= len(chunk)
        except ConnectionError:  # The client went away mid-body: nothing left to do.
            return
        if self.cut_at is not None and self.cut_at < self._length:
            if self._request is not None and self._request.transport is not None:
                self._request.transport.close()
            return
        await super().write_eof(data)
