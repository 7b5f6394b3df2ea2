# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The export host: signed, expiring download URLs of export files, with ``Range`` support and S3's
error answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Final

from aiohttp import web

from airflow_provider_gamma.testing.answers import StreamedBody, s3_error
from airflow_provider_gamma.testing.exports import CONTENT_TYPES, FILE_EXTENSIONS
from airflow_provider_gamma.testing.state import EmulatorState

__all__ = ["ExportDownloads", "no_such_download"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# A file name's stem: the gamma's id, and ``-r<n>`` for its revision after ``n`` edits.
_STEM = re.compile(r"^(?P<gamma_id>.+?)(?:-r(?P<revision>[1-9]\d*))?$")
_CHUNK: Final = 1 << 20
_ZEROS: Final = bytes(_CHUNK)


def no_such_download(request: web.Request) -> web.Response:
    """S3's answer to a request no route serves: any method but ``GET``/``HEAD`` is not allowed."""
    if request.method not in ("GET", "HEAD"):
        return s3_error(405, "MethodNotAllowed", "The specified method is not allowed")
    return s3_error(404, "NoSuchKey", "The specified key does not exist.")


def _parse_range(value: str, total: int) -> tuple[int, int] | None:
    match = _RANGE.match(value.strip())
    if match is None or total == 0:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        size = int(last)
        if size == 0:
            return None
        return max(0, total - size), total - 1
    start = int(first)
    end = int(last) if last else total - 1
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)


def _pieces(data: bytes, start: int, end: int) -> Iterator[bytes | memoryview]:
    """Yield the bytes ``start..end`` of ``data`` followed by zero padding, in chunks."""
    view = memoryview(data)
    position = start
    while position <= end:
        if position < len(data):
            stop = min(len(data), end + 1, position + _CHUNK)
            yield view[position:stop]
        else:
            stop = min(end + 1, position + _CHUNK)
            yield _ZEROS if stop - position == _CHUNK else memoryview(_ZEROS)[: stop - position]
        position = stop


class ExportDownloads:
    """The handler of ``/export/{gamma_id}[-r{revision}].{ext}?expires=...&signature=...``.

    Args:
        state: The gammas, their export files and the URL signing key.
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        """The export host's one route (``GET`` and ``HEAD``)."""
        return [web.get(r"/export/{gamma_id:[A-Za-z0-9_\-]+}.{ext:[a-z]+}", self.download)]

    async def download(self, request: web.Request) -> web.StreamResponse:
        """An export file (followed by ``export_padding_bytes`` zeros), whole or the requested range."""
        stem, ext = request.match_info["gamma_id"], request.match_info["ext"]
        problem = self.state.check_signature(
            f"{stem}.{ext}", request.query.get("expires"), request.query.get("signature")
        )
        if problem is not None:
            return s3_error(403, "AccessDenied", problem)
        name = _STEM.match(stem)
        assert name is not None
        gamma_id, revision = name["gamma_id"], int(name["revision"] or 0)
        generation = self.state.gamma(gamma_id)
        export_as = next((fmt for fmt, known in FILE_EXTENSIONS.items() if known == ext), None)
        if generation is None or generation.deleted or export_as not in generation.exports:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        assert export_as is not None
        data = self.state.export_bytes(generation, export_as, revision)
        padding = self.state.config.export_padding_bytes
        total = len(data) + padding
        headers = {
            "Content-Type": CONTENT_TYPES[export_as],
            "Accept-Ranges": "bytes",
            "ETag": f'"{hashlib.sha256(data).hexdigest()[:32]}-{padding}"',
            "Content-Disposition": f'attachment; filename="{stem}.{ext}"',
            "Cache-Control": "private, max-age=0",
        }
        start, end, status = 0, total - 1, 200
        range_header = request.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, total)
            if parsed is None:
                return s3_error(
                    416,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    {"Content-Range": f"bytes */{total}"},
                )
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        length = end - start + 1
        if request.method == "HEAD":
            headers["Content-Length"] = str(length)
            return web.Response(status=status, headers=headers)
        return StreamedBody(status, headers, _pieces(data, start, end), length)
