# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""All-or-nothing writes to any store (:class:`StagedObject`), and reading or removing what landed."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from typing import IO, Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaExportError
from airflow_provider_gamma.landing._parts import (
    MULTIPART_BLOCK_SIZE,
    _AzureBlocks,
    _PartedUpload,
    _S3Parts,
)
from airflow_provider_gamma.landing._paths import (
    AZURE_PROTOCOLS,
    LandedObject,
    fs_path,
    guess_content_type,
    protocol_of,
    uri_of,
)

log = logging.getLogger(__name__)

#: Bytes per read or write when streaming between a download, a temp file and storage.
COPY_CHUNK_SIZE = 1024 * 1024

#: Stores whose fsspec files can defer visibility to ``commit()`` (``open(..., autocommit=False)``),
#: with the keyword each takes for the content type: S3 (a multipart upload completed only then) and
#: GCS (a resumable upload finalized only then); verified for s3fs and gcsfs.
_DEFERRED_COMMIT_PROTOCOLS: Mapping[str, str] = {
    "s3": "ContentType",
    "s3a": "ContentType",
    "s3n": "ContentType",
    "gs": "content_type",
    "gcs": "content_type",
}
#: Stores where ``makedirs`` would create a bucket or container instead of a folder.
_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "s3n", "gs", "gcs"}) | AZURE_PROTOCOLS


class StagedObject:
    """A write to ``path`` that nobody can see until :meth:`commit`; :meth:`discard` leaves nothing.

    How each store keeps the bytes out of sight until then:

    * **S3** (s3fs): a multipart upload that only :meth:`commit` completes, with up to
      ``MULTIPART_CONCURRENCY`` parts uploading while the next one fills.
    * **Azure Blob** (adlfs): blocks staged on the destination blob and committed in one
      ``Put Block List`` (an object smaller than one block is one ``Put Blob``); the blob changes from
      the old content to the new at once. :meth:`discard` deletes the staged blocks when no blob was
      there before; where one was, it is kept as it was, and Azure drops the staged blocks at the
      next commit to that name or after 7 days (they are never readable).
    * **GCS** (gcsfs) and other S3 filesystems: the store's own deferred commit (a resumable upload
      finalized only by :meth:`commit`).
    * Everything else (local disks, ...): a hidden sibling (``.<name>.<random>.partial``) that
      :meth:`commit` moves over ``path`` (an atomic rename on a local disk).

    Memory stays at most ``MULTIPART_CONCURRENCY + 1`` upload parts, whatever the size.

    :param path: the final destination.
    :param content_type: stored as the object's content type where the store keeps one.
    """

    def __init__(self, path: ObjectStoragePath, *, content_type: str | None = None) -> None:
        self.path = path
        self.size = 0
        self._fs: Any = path.fs
        self._target = fs_path(path)
        self._done = False
        protocol = protocol_of(path)
        self._temp: str | None = None
        self._upload: _PartedUpload | None = None
        self._deferred = False
        if protocol in _DEFERRED_COMMIT_PROTOCOLS and callable(getattr(self._fs, "_call_s3", None)):
            self._upload = _PartedUpload(_S3Parts(self._fs, self._target, content_type))
            return
        if protocol in AZURE_PROTOCOLS and hasattr(self._fs, "service_client"):
            self._upload = _PartedUpload(_AzureBlocks(self._fs, self._target, content_type))
            return
        if protocol in _DEFERRED_COMMIT_PROTOCOLS:
            keyword = _DEFERRED_COMMIT_PROTOCOLS[protocol]
            options = {keyword: content_type} if content_type else {}
            self._deferred = True
            self._file: IO[bytes] = self._fs.open(
                self._target, "wb", autocommit=False, block_size=MULTIPART_BLOCK_SIZE, **options
            )
            return
        parent, name = posixpath.split(self._target)
        if protocol not in _BUCKET_PROTOCOLS:
            self._fs.makedirs(parent, exist_ok=True)
        self._temp = posixpath.join(parent, f".{name}.{uuid.uuid4().hex[:12]}.partial")
        self._file = self._fs.open(self._temp, "wb")

    def write(self, data: bytes) -> None:
        """Stage ``data`` (``bytes`` or any bytes-like object; it is not kept after the call)."""
        if self._upload is not None:
            self._upload.write(data)
        else:
            self._file.write(data)
        self.size += len(data)

    def commit(self) -> None:
        """Make the object visible at ``path`` (replacing what was there). On failure, cleans up."""
        if self._done:
            raise GammaExportError(f"{uri_of(self.path)}: this write was already committed or discarded")
        try:
            if self._upload is not None:
                self._upload.complete()
            else:
                self._file.close()
                if self._deferred:
                    self._file.commit()  # type: ignore[attr-defined]
                    self._forget()
                else:
                    self._fs.mv(self._temp, self._target)
        except BaseException:
            self.discard()
            raise
        self._done = True
        with contextlib.suppress(Exception):  # a listing cached before the write is stale now
            self._fs.invalidate_cache(posixpath.dirname(self._target))

    def discard(self) -> None:
        """Throw the staged bytes away. Idempotent; never raises (failures are logged)."""
        if self._done:
            return
        self._done = True
        if self._upload is not None:
            try:
                self._upload.abort()
            except Exception:
                log.warning("Could not abort the upload to %s", uri_of(self.path), exc_info=True)
            return
        try:
            if self._deferred:
                # Not close() first: that would send the buffered bytes only to delete them.
                self._file.discard()  # type: ignore[attr-defined]
                self._file.closed = True  # type: ignore[misc]  # a later close() would upload anew
                self._forget()
            else:
                with contextlib.suppress(Exception):
                    self._file.close()
                if self._temp is not None and self._fs.exists(self._temp):
                    self._fs.rm(self._temp)
        except Exception:
            log.warning("Could not clean up the partial write for %s", uri_of(self.path), exc_info=True)

    def _forget(self) -> None:
        # fsspec queues every autocommit=False file on the (process-wide, cached) filesystem's
        # transaction; a later `with fs.transaction:` elsewhere would commit ours a second time.
        with contextlib.suppress(Exception):
            self._fs.transaction.files.remove(self._file)


def describe(path: ObjectStoragePath) -> LandedObject:
    """Size, sha256 and content type of an existing object, read in chunks (never whole in memory)."""
    fs: Any = path.fs
    digest = hashlib.sha256()
    size = 0
    with fs.open(fs_path(path), "rb") as stream:
        while chunk := stream.read(COPY_CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    content_type: str | None = None
    with contextlib.suppress(Exception):
        content_type = _stored_content_type(fs.info(fs_path(path)))
    return LandedObject(
        uri=uri_of(path),
        size=size,
        sha256=digest.hexdigest(),
        content_type=content_type or guess_content_type(path.name),
    )


def _stored_content_type(info: Mapping[str, Any]) -> str | None:
    """The content type in an fsspec ``info()``: s3fs, gcsfs and adlfs each name it differently."""
    settings = info.get("content_settings") or {}
    found = info.get("ContentType") or info.get("contentType") or settings.get("content_type")
    return str(found) if found else None


def remove(paths: Iterable[ObjectStoragePath]) -> None:
    """Delete what a failed run already landed; failures are logged, not raised."""
    for path in paths:
        try:
            path.fs.rm(fs_path(path))
        except Exception:
            log.warning("Could not remove %s after a failed landing", uri_of(path), exc_info=True)
