# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""``POST /v1.0/uploads`` in the emulator: files received as a stream, hashed as they arrive (never
held whole in memory), and attached at most once to an agent generation or edit.

Gamma documents: raw bytes as ``application/octet-stream`` with a ``Content-Length`` (chunked and
content-encoded bodies refused), at most 250 MiB, an answer with ``uploadId`` and ``filename``, one
attachment per upload, expiry two days after an upload that was never attached. Not documented, so
chosen here: the statuses of the refusals (411, 413, 415, 400), how the file's name is sent (the
``filename`` query parameter, ``X-File-Name`` or ``Content-Disposition`` are all read), a 200 answer.
Expiry is not simulated.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import threading
from collections.abc import Sequence
from typing import Any, Final

from aiohttp import web

from airflow_provider_gamma.testing.answers import gamma_error, json_response
from airflow_provider_gamma.testing.records import UploadRecord

__all__ = ["MAX_FILES", "MAX_UPLOAD_BYTES", "Uploads"]

MAX_UPLOAD_BYTES: Final = 250 * 1024 * 1024
#: Files one generation or edit may name, and their total size (Gamma's import guide).
MAX_FILES: Final = 50
_HEAD_BYTES: Final = 4096
_CHUNK: Final = 1 << 20
_DISPOSITION_NAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.I)
_ALPHABET = string.ascii_letters + string.digits


def _filename(request: web.Request) -> str:
    disposition = _DISPOSITION_NAME.search(request.headers.get("Content-Disposition", ""))
    name = (
        request.query.get("filename")
        or request.headers.get("X-File-Name")
        or (disposition and disposition[1])
    )
    return str(name).strip() if name and str(name).strip() else "upload.bin"


def _file_ids(files: Any) -> list[str]:
    """The upload ids of a body's ``files``: strings, or objects with ``uploadId`` (Gamma's guide
    says to pass "the returned ``uploadId`` and ``filename``"; which shape it takes is unpublished)."""
    return [
        str(item.get("uploadId")) if isinstance(item, dict) else str(item)
        for item in (files if isinstance(files, list) else [])
    ]


class Uploads:
    """The uploads one emulator received.

    Args:
        lock: The emulator state's lock (shared, so attaching and starting a job are one step).
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._uploads: dict[str, UploadRecord] = {}

    def get(self, upload_id: str) -> UploadRecord | None:
        with self._lock:
            return self._uploads.get(upload_id)

    def snapshot(self) -> dict[str, UploadRecord]:
        """The uploads received so far, keyed by id (copies)."""
        with self._lock:
            return {key: UploadRecord(**vars(record)) for key, record in self._uploads.items()}

    def reset(self) -> None:
        with self._lock:
            self._uploads.clear()

    async def receive(self, request: web.Request) -> web.Response:
        """``POST /v1.0/uploads``: the body streamed in 1 MiB pieces into a SHA-256."""
        length = request.headers.get("Content-Length")
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
            return gamma_error(411, "Content-Length is required: chunked uploads are not accepted")
        if request.headers.get("Content-Encoding", "identity").lower() != "identity":
            return gamma_error(415, "Content-Encoding is not accepted: send the file's raw bytes")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/octet-stream":
            return gamma_error(415, "Content-Type must be application/octet-stream")
        size = int(length)
        if size > MAX_UPLOAD_BYTES:
            return gamma_error(
                413, f"File too large: {size} bytes; the limit is {MAX_UPLOAD_BYTES} bytes (250 MiB)"
            )
        if size == 0:
            return gamma_error(400, "File is empty")
        digest, head, received = hashlib.sha256(), bytearray(), 0
        async for piece in request.content.iter_chunked(_CHUNK):
            digest.update(piece)
            if len(head) < _HEAD_BYTES:
                head += piece[: _HEAD_BYTES - len(head)]
            received += len(piece)
        record = UploadRecord(
            upload_id="upl_" + "".join(secrets.choice(_ALPHABET) for _ in range(20)),
            filename=_filename(request),
            size=received,
            sha256=digest.hexdigest(),
            content_type=content_type,
            head=bytes(head),
        )
        with self._lock:
            self._uploads[record.upload_id] = record
        return json_response(200, {"uploadId": record.upload_id, "filename": record.filename})

    def problems(self, files: Any) -> list[str]:
        """Why a body's ``files`` cannot be attached (unknown or already attached ids, too many, too
        large together); empty when they can. Call with the lock held, then :meth:`attach`."""
        if files is None:
            return []
        if not isinstance(files, list) or not all(
            isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("uploadId"), str))
            for item in files
        ):
            return ["each value in files must be an upload id (or an object with uploadId)"]
        ids, errors = _file_ids(files), []
        if len(ids) > MAX_FILES:
            errors.append(f"files must contain no more than {MAX_FILES} elements")
        known = [self._uploads.get(upload_id) for upload_id in ids]
        for upload_id, record in zip(ids, known, strict=True):
            if record is None:
                errors.append(f"Upload not found or expired: {upload_id}")
            elif record.attached_to is not None:
                errors.append(f"Upload {upload_id} is already attached to another generation or edit")
        if len(set(ids)) < len(ids):
            errors.append("files must not name the same upload twice")
        if sum(record.size for record in known if record is not None) > MAX_UPLOAD_BYTES:
            errors.append("files must not exceed 250 MiB in total")
        return errors

    def attach(self, files: Any, owner: str) -> list[str]:
        """Attach the (checked) ``files`` to the generation or edit ``owner``; their ids."""
        ids = _file_ids(files) if files is not None else []
        for upload_id in ids:
            self._uploads[upload_id].attached_to = owner
        return ids


def files_of(body: Any) -> Sequence[Any] | None:
    """A body's ``files``, or ``None`` without one."""
    return body.get("files") if isinstance(body, dict) else None
