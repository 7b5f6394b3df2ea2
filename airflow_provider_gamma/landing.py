# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Landing export files in object storage: all-or-nothing writes, safe unpacking of PNG zips.

Used by :class:`~airflow_provider_gamma.operators.export.GammaExportToObjectStorageOperator`; usable on
its own with any :class:`~airflow.sdk.ObjectStoragePath`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import io
import logging
import mimetypes
import posixpath
import re
import uuid
import zipfile
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol, TypedDict
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaExportError, GammaParameterError

log = logging.getLogger(__name__)

#: Bytes per read or write when streaming between a download, a temp file and storage.
COPY_CHUNK_SIZE = 1024 * 1024
#: Upload part size for multipart stores: bounds the memory a landing holds (S3's floor is 5 MiB).
MULTIPART_BLOCK_SIZE = 8 * 1024 * 1024
#: Parts uploading at once on S3: overlaps the round trips (and the store's work on each part) with
#: the download. Memory: about (this + 1) parts.
MULTIPART_CONCURRENCY = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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
#: Azure Blob Storage through adlfs, whose files commit on close: blocks are staged and committed here.
_AZURE_PROTOCOLS = frozenset({"abfs", "abfss", "az", "adl", "wasb"})
#: Stores where ``makedirs`` would create a bucket or container instead of a folder.
_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "az", "adl", "wasb"})
_LOCAL_PROTOCOLS = frozenset({"", "file", "local"})

CONTENT_TYPES_BY_SUFFIX: Mapping[str, str] = {
    ".pdf": "application/pdf",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".zip": "application/zip",
    ".png": "image/png",
}
SUFFIXES_BY_CONTENT_TYPE: Mapping[str, str] = {v: k for k, v in CONTENT_TYPES_BY_SUFFIX.items()}


class LandedObject(TypedDict):
    """One object written (or found, with ``if_exists="skip"``) at the destination."""

    uri: str
    size: int
    sha256: str
    content_type: str | None


# --- paths ----------------------------------------------------------------------------------------


def is_templated(value: object) -> bool:
    """Whether ``value`` is a string Airflow will still render (so it cannot be checked yet)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def validate_dest(value: object, field: str = "dest") -> None:
    """Check a literal destination when the DAG is parsed.

    Accepts an :class:`ObjectStoragePath`, a URL whose scheme has an Airflow filesystem registered
    (``file``, ``s3``, ``gs``, ...: whatever ``ObjectStoragePath`` can open), or an absolute local path.
    Templated strings and other lazily resolved values pass unchecked.

    :raises GammaParameterError: naming ``field``.
    """
    if isinstance(value, ObjectStoragePath) or is_templated(value) or hasattr(value, "resolve"):
        return
    if not isinstance(value, str) or not value.strip():
        raise GammaParameterError(
            f"Invalid Gamma parameter {field}={value!r}: must be a URL such as 's3://bucket/key' or "
            "'file:///path', an absolute path, or an ObjectStoragePath"
        )
    scheme = urlsplit(value).scheme
    if not scheme:
        if not value.startswith("/"):
            raise GammaParameterError(
                f"Invalid Gamma parameter {field}={value!r}: a local path must be absolute "
                "(or use a URL such as 'file:///path' or 's3://bucket/key')"
            )
        return
    known = registered_schemes()
    if known is not None and scheme.lower() not in known:
        raise GammaParameterError(
            f"Invalid Gamma parameter {field}={value!r}: no Airflow filesystem handles {scheme}:// "
            f"(available: {', '.join(sorted(known))}); install the provider that adds it: "
            "airflow-provider-gamma[s3] for s3://, [gcs] for gs://, [azure] for abfs://"
        )


def registered_schemes() -> frozenset[str] | None:
    """Schemes ``ObjectStoragePath`` can open here, or ``None`` when the registry could not be read."""
    try:
        from airflow.sdk.io.fs import _register_filesystems

        return frozenset(_register_filesystems())
    except Exception:  # a broken provider must not fail DAG parsing; the task reports it instead
        log.debug("Could not list Airflow filesystems", exc_info=True)
        return None


def to_path(dest: str | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """``dest`` as an :class:`ObjectStoragePath`; ``conn_id`` (when given) wins over one in the URL."""
    if conn_id:
        return ObjectStoragePath(str(dest), conn_id=conn_id)
    return dest if isinstance(dest, ObjectStoragePath) else ObjectStoragePath(dest)


def protocol_of(path: ObjectStoragePath) -> str:
    return (path.protocol or "file").lower()


def uri_of(path: ObjectStoragePath) -> str:
    """The path's URI without any connection id: ``s3://bucket/key``, ``file:///abs/path``."""
    protocol = protocol_of(path)
    if protocol in _LOCAL_PROTOCOLS:
        return f"file://{path.path}"
    return f"{protocol}://{path.path}"


def openlineage_name(path: ObjectStoragePath) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a path, as OpenLineage's naming spec has it:
    ``("s3://bucket", "key")``, ``("gs://bucket", "key")``, ``("file", "/abs")``, and for Azure
    ``("abfss://container@account.dfs.core.windows.net", "key")`` (the account read from the
    filesystem; ``("abfs://container", "key")`` when it has none)."""
    protocol = protocol_of(path)
    if protocol in _LOCAL_PROTOCOLS:
        return "file", path.path
    bucket = path.bucket.rpartition("@")[2]  # Airflow 3.1 keeps "conn_id@" in the bucket
    if not bucket:
        return protocol, path.path
    if protocol in _AZURE_PROTOCOLS:
        fs: Any = path.fs
        account = getattr(fs, "account_name", None) or getattr(
            getattr(fs, "service_client", None), "account_name", None
        )
        if account:
            return f"abfss://{bucket}@{account}.dfs.core.windows.net", path.key
    return f"{protocol}://{bucket}", path.key


def guess_content_type(name: str) -> str | None:
    suffix = posixpath.splitext(name)[1].lower()
    return CONTENT_TYPES_BY_SUFFIX.get(suffix) or mimetypes.guess_type(name)[0]


def _fs_path(path: ObjectStoragePath) -> str:
    return str(path.path)


# --- all-or-nothing writes ------------------------------------------------------------------------


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
        self._target = _fs_path(path)
        self._done = False
        protocol = protocol_of(path)
        self._temp: str | None = None
        self._upload: _PartedUpload | None = None
        self._deferred = False
        if protocol in _DEFERRED_COMMIT_PROTOCOLS and callable(getattr(self._fs, "_call_s3", None)):
            self._upload = _PartedUpload(_S3Parts(self._fs, self._target, content_type))
            return
        if protocol in _AZURE_PROTOCOLS and hasattr(self._fs, "service_client"):
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


def describe(path: ObjectStoragePath) -> LandedObject:
    """Size, sha256 and content type of an existing object, read in chunks (never whole in memory)."""
    fs: Any = path.fs
    digest = hashlib.sha256()
    size = 0
    with fs.open(_fs_path(path), "rb") as stream:
        while chunk := stream.read(COPY_CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    content_type: str | None = None
    with contextlib.suppress(Exception):
        content_type = _stored_content_type(fs.info(_fs_path(path)))
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
            path.fs.rm(_fs_path(path))
        except Exception:
            log.warning("Could not remove %s after a failed landing", uri_of(path), exc_info=True)


# --- PNG zips -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnpackLimits:
    """What a PNG export zip may contain before it is refused as unsafe.

    :param max_members: most PNG files (Gamma decks have at most 75 cards).
    :param max_total_bytes: most uncompressed bytes over all members.
    :param max_ratio: largest uncompressed/compressed ratio of a member bigger than ``ratio_floor``
        (PNGs are already compressed; a large ratio is a decompression bomb).
    :param ratio_floor: members up to this many bytes are not ratio-checked.
    """

    max_members: int = 500
    max_total_bytes: int = 2 * 1024**3
    max_ratio: float = 100.0
    ratio_floor: int = 1024 * 1024


class UnsafeArchiveError(GammaExportError):
    """The PNG export zip was refused (unsafe names, not PNGs, too big); nothing was landed."""


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def png_members(archive: zipfile.ZipFile, limits: UnpackLimits = UnpackLimits()) -> list[zipfile.ZipInfo]:
    """The archive's PNG members in card order, after checking every member; nothing is extracted.

    :raises UnsafeArchiveError: an absolute or ``..`` name, a member that is not a PNG, an encrypted
        member, too many members, or too many (or too compressible) uncompressed bytes.
    """
    members: list[zipfile.ZipInfo] = []
    total = 0
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        parts = name.split("/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise UnsafeArchiveError(f"PNG export zip has an unsafe member name {info.filename!r}")
        if info.is_dir():
            continue
        if not name.lower().endswith(".png"):
            raise UnsafeArchiveError(f"PNG export zip has a member that is not a PNG: {info.filename!r}")
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"PNG export zip has an encrypted member {info.filename!r}")
        members.append(info)
        if len(members) > limits.max_members:
            raise UnsafeArchiveError(f"PNG export zip has more than {limits.max_members} members")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                f"PNG export zip would unpack to more than {limits.max_total_bytes} bytes"
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise UnsafeArchiveError(
                f"PNG export zip member {info.filename!r} is compressed more than {limits.max_ratio:g}:1 "
                "(a decompression bomb?)"
            )
    for info in members:
        with archive.open(info) as member:
            if member.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                raise UnsafeArchiveError(f"PNG export zip member {info.filename!r} is not a PNG image")
    return sorted(members, key=lambda info: _natural_key(info.filename))


def card_names(count: int) -> list[str]:
    """``card-01.png``, ``card-02.png``, ... (three digits from 100 cards on)."""
    width = max(2, len(str(count)))
    return [f"card-{number:0{width}d}.png" for number in range(1, count + 1)]


def unpack_pngs(
    archive: zipfile.ZipFile, folder: ObjectStoragePath, limits: UnpackLimits = UnpackLimits()
) -> list[LandedObject]:
    """Land every PNG of a checked export zip as ``folder/card-01.png`` ..., all or nothing.

    Every card is staged first (see :class:`StagedObject`) and only then committed; if anything
    fails, the staged cards are discarded and the ones already committed are removed again.
    """
    members = png_members(archive, limits)
    if not members:
        raise UnsafeArchiveError("PNG export zip holds no PNG images")
    staged: list[tuple[StagedObject, str, int]] = []
    committed: list[ObjectStoragePath] = []
    landed: list[LandedObject] = []
    try:
        for info, name in zip(members, card_names(len(members)), strict=True):
            target = folder / name
            stage = StagedObject(target, content_type="image/png")
            staged.append((stage, "", 0))
            digest = hashlib.sha256()
            with archive.open(info) as member:
                while chunk := member.read(COPY_CHUNK_SIZE):
                    digest.update(chunk)
                    stage.write(chunk)
            if stage.size != info.file_size:
                raise UnsafeArchiveError(f"PNG export zip member {info.filename!r} size does not match")
            staged[-1] = (stage, digest.hexdigest(), stage.size)
        for stage, sha256, size in staged:
            stage.commit()
            committed.append(stage.path)
            landed.append(
                LandedObject(uri=uri_of(stage.path), size=size, sha256=sha256, content_type="image/png")
            )
    except BaseException:
        for stage, _, _ in staged:
            stage.discard()
        remove(committed)
        raise
    return landed
