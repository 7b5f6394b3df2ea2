# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Uploads in parts for stores that show nothing until a final commit: one strategy per store.

:class:`_PartedUpload` runs the pipeline (fill a part, send it while the next one fills, commit in
order); a :class:`_PartStore` says how one store starts, sends, commits and aborts. Adding a store is
one class here.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import io
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import IO, Any, Protocol

#: Upload part size for multipart stores: bounds the memory a landing holds (S3's floor is 5 MiB).
MULTIPART_BLOCK_SIZE = 8 * 1024 * 1024
#: Parts uploading at once on S3: overlaps the round trips (and the store's work on each part) with
#: the download. Memory: about (this + 1) parts.
MULTIPART_CONCURRENCY = 4


class _PartStore(Protocol):
    """What :class:`_PartedUpload` needs of a store whose uploaded parts stay invisible until committed."""

    #: The event loop the store's asynchronous client runs on (fsspec's loop of the filesystem).
    loop: asyncio.AbstractEventLoop

    def put_whole(self, body: bytes) -> None:
        """Write an object smaller than one part in one request."""

    def start(self) -> None:
        """Begin a multipart upload (called before the first part)."""

    def send_part(self, number: int, body: IO[bytes], length: int) -> Coroutine[Any, Any, Any]:
        """Upload part ``number`` (from 1); the coroutine runs on :attr:`loop`."""

    def part_record(self, number: int, answer: Any) -> Any:
        """What :meth:`commit` needs to know of a sent part, from the store's answer to it."""

    def commit(self, parts: list[Any]) -> None:
        """Make the object, made of ``parts`` in order, visible at once."""

    def abort(self) -> None:
        """Drop the parts sent since :meth:`start`; what was at the destination stays."""


class _PartedUpload:
    """A write in parts with several in flight, for stores that show nothing until a final commit.

    Bytes are copied into a part buffer; each full part is sent on the store's event loop while
    the next one fills, at most ``concurrency`` at once (a full pipeline makes :meth:`write` wait for
    the oldest part). The upload itself starts with the first full part; an object smaller than one
    part is sent by :meth:`complete` in one request. :meth:`abort` first waits for the parts in
    flight (a store may keep a part that arrives after its upload was aborted), then aborts.
    """

    def __init__(
        self,
        store: _PartStore,
        part_size: int = MULTIPART_BLOCK_SIZE,
        concurrency: int = MULTIPART_CONCURRENCY,
    ) -> None:
        self._store = store
        self._part_size = part_size
        self._concurrency = max(1, concurrency)
        self._buffer = bytearray(part_size)
        self._filled = 0
        self._in_flight: deque[tuple[int, concurrent.futures.Future[Any]]] = deque()
        self._parts: list[Any] = []
        self._started = False

    def write(self, data: bytes) -> None:
        with memoryview(data) as view:
            offset, end = 0, view.nbytes
            while offset < end:
                take = min(end - offset, self._part_size - self._filled)
                self._buffer[self._filled : self._filled + take] = view[offset : offset + take]
                self._filled += take
                offset += take
                if self._filled == self._part_size:
                    self._send_part()

    def complete(self) -> None:
        if not self._started:
            self._store.put_whole(bytes(memoryview(self._buffer)[: self._filled]))
            return
        if self._filled:
            self._send_part()
        while self._in_flight:
            self._finish_oldest()
        self._store.commit(self._parts)
        self._started = False

    def abort(self) -> None:
        for _, future in self._in_flight:
            with contextlib.suppress(BaseException):
                future.result()
        self._in_flight.clear()
        if self._started:
            self._started = False
            self._store.abort()

    def _send_part(self) -> None:
        if not self._started:
            self._store.start()
            self._started = True
        while len(self._in_flight) >= self._concurrency:
            self._finish_oldest()
        number = len(self._parts) + len(self._in_flight) + 1
        # A BytesIO that owns a copy of the part: the client signs, checksums and sends it in slices
        # without another whole copy (a bytes or bytearray body gets copied again).
        length, self._filled = self._filled, 0
        body = io.BytesIO(memoryview(self._buffer)[:length])
        request = self._store.send_part(number, body, length)
        self._in_flight.append((number, asyncio.run_coroutine_threadsafe(request, self._store.loop)))

    def _finish_oldest(self) -> None:
        number, future = self._in_flight[0]
        answer = future.result()
        self._in_flight.popleft()
        self._parts.append(self._store.part_record(number, answer))


class _S3Parts:
    """An S3 multipart upload through s3fs's asynchronous client."""

    def __init__(self, fs: Any, target: str, content_type: str | None) -> None:
        self._fs = fs
        self.loop = fs.loop
        bucket, key, _ = fs.split_path(target)
        self._where = {"Bucket": bucket, "Key": key}
        self._options = {"ContentType": content_type} if content_type else {}
        self._upload_id: str | None = None
        self._checksum: dict[str, str] = {}

    def put_whole(self, body: bytes) -> None:
        self._fs.call_s3("put_object", **self._where, **self._options, Body=body)

    def start(self) -> None:
        self._checksum = _default_checksum(self._fs)
        created = self._fs.call_s3(
            "create_multipart_upload", **self._where, **self._options, **self._checksum
        )
        self._upload_id = created["UploadId"]

    def send_part(self, number: int, body: IO[bytes], length: int) -> Coroutine[Any, Any, Any]:
        return self._fs._call_s3(  # type: ignore[no-any-return]
            "upload_part",
            **self._where,
            **self._checksum,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )

    def part_record(self, number: int, answer: Any) -> dict[str, Any]:
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        names = {"ChecksumSHA256", *(f"Checksum{algorithm}" for algorithm in self._checksum.values())}
        part.update({name: answer[name] for name in names if name in answer})
        return part

    def commit(self, parts: list[Any]) -> None:
        self._fs.call_s3(
            "complete_multipart_upload",
            **self._where,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )

    def abort(self) -> None:
        self._fs.call_s3("abort_multipart_upload", **self._where, UploadId=self._upload_id)


class _AzureBlocks:
    """Blocks staged on an Azure block blob through adlfs's asynchronous client, committed in one list."""

    def __init__(self, fs: Any, target: str, content_type: str | None) -> None:
        from azure.storage.blob import ContentSettings

        self.loop = fs.loop
        container, blob, _ = fs.split_path(target)
        self._blob = fs.service_client.get_blob_client(container, blob)
        self._settings = ContentSettings(content_type=content_type) if content_type else None
        self._prefix = uuid.uuid4().hex  # block ids of one blob must all have the same length

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _block_id(self, number: int) -> str:
        return base64.b64encode(f"{self._prefix}{number:06d}".encode()).decode()

    def put_whole(self, body: bytes) -> None:
        self._run(self._blob.upload_blob(body, overwrite=True, content_settings=self._settings))

    def start(self) -> None:
        pass  # Azure has no upload to create: staging the first block starts one

    def send_part(self, number: int, body: IO[bytes], length: int) -> Coroutine[Any, Any, Any]:
        return self._blob.stage_block(self._block_id(number), body, length=length)  # type: ignore[no-any-return]

    def part_record(self, number: int, answer: Any) -> Any:
        from azure.storage.blob import BlobBlock

        return BlobBlock(block_id=self._block_id(number))

    def commit(self, parts: list[Any]) -> None:
        self._run(self._blob.commit_block_list(parts, content_settings=self._settings))

    def abort(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._run(self._blob.get_blob_properties())
            return  # a committed blob is there: deleting the name would delete it too
        except ResourceNotFoundError:
            pass
        with contextlib.suppress(ResourceNotFoundError):
            self._run(self._blob.delete_blob())  # a name with staged blocks only: drops them


def _default_checksum(fs: Any) -> dict[str, str]:
    """``ChecksumAlgorithm`` for a multipart upload, as boto3's transfer manager picks it.

    With botocore's default ``request_checksum_calculation="when_supported"`` every part is sent
    with a CRC32 anyway; declaring it on the upload lets S3 check each part and keep a whole-object
    checksum. A client configured ``"when_required"`` (for a store without checksums) gets none.
    """
    try:
        config = fs.s3.meta.config
    except Exception:
        return {}
    return {"ChecksumAlgorithm": "CRC32"} if config.request_checksum_calculation == "when_supported" else {}
