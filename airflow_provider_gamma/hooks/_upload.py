# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Uploads: files the agent reads as sources, streamed from wherever they live to ``POST /v1.0/uploads``.

A source is an :class:`~airflow.sdk.ObjectStoragePath`, a URI of any scheme Airflow has a filesystem
for (``s3://``, ``gs://``, ``abfs://``, ``file://`` ...; ``conn_id`` names the store's connection) or
a local path. Its size is taken before anything is sent (Gamma takes 1 byte to 250 MiB a file), then
its bytes go out with that exact ``Content-Length``, read from the store chunk by chunk (never whole
in memory) and read afresh from the first byte by each retry.

Only workers upload: there is no async variant (the triggerer waits for jobs; it sends no files).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.hooks._base import GammaClient
from airflow_provider_gamma.protocol import ApiRequest, Upload

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Bytes an object store's reader fetches at a time (fsspec's block size): what an upload from
#: ``s3://`` or ``gs://`` holds in memory at most, however big the file.
SOURCE_BLOCK_SIZE = 4 * 1024 * 1024
#: Seconds one attempt of an upload may take in all, as for an export download: an upload is cut when
#: it stalls (no write taken within the connection's timeout), not for being slow.
UPLOAD_DEADLINE = protocol.UPLOAD_DEADLINE


@dataclass(frozen=True)
class UploadSource:
    """A file to upload, its size taken.

    :param uri: where it is, as logs and errors name it (``s3://bucket/key``, ``/abs/path``).
    :param filename: the name Gamma is given.
    :param size: its size in bytes when it was looked at.
    :param open: a fresh binary reader at its first byte (one per attempt).
    """

    uri: str
    filename: str
    size: int
    open: Callable[[], IO[bytes]] = dataclasses.field(repr=False)


def open_source(
    source: ObjectStoragePath | str | os.PathLike[str],
    *,
    conn_id: str | None = None,
    filename: str | None = None,
) -> UploadSource:
    """Find ``source`` and take its size, sending nothing.

    :param conn_id: the connection of the store a URI lives in (wins over one in an ObjectStoragePath).
    :param filename: the name to give Gamma; default: the source's own.
    :raises GammaParameterError: it is not a file (missing, a folder), or not a path at all.
    """
    from airflow.sdk import ObjectStoragePath

    if isinstance(source, ObjectStoragePath) or (isinstance(source, str) and "://" in source):
        from airflow_provider_gamma.landing._paths import fs_path, to_path, uri_of

        path = to_path(source, conn_id)
        uri, fs, key = uri_of(path), path.fs, fs_path(path)
        info = _info(uri, lambda: fs.info(key))
        size = info.get("size") if info.get("type") == "file" else None

        def open_store() -> IO[bytes]:
            return fs.open(key, "rb", block_size=SOURCE_BLOCK_SIZE)  # type: ignore[no-any-return]

        opener, own_name = open_store, posixpath.basename(key)
    elif isinstance(source, str | os.PathLike):
        uri = os.path.abspath(os.fspath(source))
        stat = _info(uri, lambda: os.stat(uri))
        size = stat.st_size if os.path.isfile(uri) else None

        def open_local() -> IO[bytes]:
            return open(uri, "rb")

        opener, own_name = open_local, os.path.basename(uri)
    else:
        raise GammaParameterError(
            f"cannot upload {source!r}: give an ObjectStoragePath, a URI such as 's3://bucket/key' or a "
            "local path"
        )
    if not isinstance(size, int):
        raise GammaParameterError(f"cannot upload {uri}: it is not a file")
    name = filename if filename is not None else own_name
    if not isinstance(name, str) or not name.strip():
        raise GammaParameterError(f"cannot upload {uri}: it has no file name; pass filename=")
    return UploadSource(uri=uri, filename=name, size=size, open=opener)


def _info(uri: str, look: Callable[[], Any]) -> Any:
    try:
        return look()
    except FileNotFoundError:
        raise GammaParameterError(f"cannot upload {uri}: no such file") from None


def upload_request_for(file: UploadSource, content_type: str | None = None) -> ApiRequest:
    """The upload's request, its size checked (1 byte to 250 MiB) before anything is sent; each attempt
    may take :data:`UPLOAD_DEADLINE` in all.

    :raises GammaParameterError: the file is empty or over 250 MiB, naming it, its size and the limit.
    """
    try:
        request = protocol.upload_request(file.size, filename=file.filename, content_type=content_type)
    except GammaParameterError as error:
        raise GammaParameterError(f"{error.message} ({file.uri})") from None
    return request


class UploadEndpoints(GammaClient):
    """``POST /v1.0/uploads`` for :class:`~airflow_provider_gamma.hooks.gamma.GammaHook`."""

    def upload_file(
        self,
        source: ObjectStoragePath | str | os.PathLike[str],
        *,
        conn_id: str | None = None,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Upload:
        """Stream one file to Gamma for the agent to read (``files`` of an agent generation or edit) and
        return Gamma's answer, whose ``uploadId`` goes into ``files``.

        The size is taken first, and a file that is empty or over 250 MiB is refused before any byte is
        sent. The bytes are read from the store chunk by chunk (memory stays flat whatever the size)
        and sent with their exact ``Content-Length``; a failed attempt is retried on
        :attr:`retry_policy`, reading the file again from its start. An upload is free and may be
        retried; Gamma drops one never attached after two days, so upload in the task that submits.

        :param source: an :class:`~airflow.sdk.ObjectStoragePath`, a URI (``s3://bucket/figures.csv``,
            ``gs://...``, ``file:///data/figures.csv``: any scheme Airflow has a filesystem for) or a
            local path.
        :param conn_id: the connection of the store a URI lives in (e.g. ``aws_default``).
        :param filename: the name Gamma is given; default: the source's own.
        :param content_type: the body's ``Content-Type``; default ``application/octet-stream``, as
            Gamma documents for every upload.
        :raises GammaParameterError: no such file, a folder, empty, or over 250 MiB.
        """
        file = open_source(source, conn_id=conn_id, filename=filename)
        return self._upload(file, upload_request_for(file, content_type))

    def upload_files(
        self,
        sources: Sequence[ObjectStoragePath | str | os.PathLike[str]],
        *,
        conn_id: str | None = None,
    ) -> list[Upload]:
        """Upload several files (see :meth:`upload_file`) and return Gamma's answers (``uploadId`` and
        ``filename``), in order: what the agent's ``files`` take.

        Every file is looked at before the first is sent: one that is missing, empty or too big, more
        than 50 files, or more than 250 MiB in all (Gamma's limits for one generation's ``files``)
        fails the call with nothing uploaded.

        :param sources: the files, each as :meth:`upload_file` takes it.
        :param conn_id: the connection of the store the URIs live in.
        """
        if isinstance(sources, str | os.PathLike) or len(sources) > parameters.MAX_FILES:
            got = repr(sources) if isinstance(sources, str | os.PathLike) else f"{len(sources)} files"
            raise GammaParameterError(
                f"upload_files takes a list of at most {parameters.MAX_FILES} files, got {got}"
            )
        files = [open_source(source, conn_id=conn_id) for source in sources]
        requests = [upload_request_for(file) for file in files]
        total = sum(file.size for file in files)
        if total > protocol.MAX_UPLOAD_BYTES:
            sizes = ", ".join(f"{file.uri} {file.size:,}" for file in files)
            raise GammaParameterError(
                f"cannot upload {len(files)} files of {total:,} bytes in all: Gamma takes at most "
                f"{protocol.MAX_UPLOAD_BYTES:,} bytes (250 MiB) of files per generation ({sizes})"
            )
        return [self._upload(file, request) for file, request in zip(files, requests, strict=True)]

    def _upload(self, file: UploadSource, request: ApiRequest) -> Upload:
        self.log.info("Uploading %s (%s bytes) to Gamma as %r", file.uri, f"{file.size:,}", file.filename)
        upload = protocol.read_upload(request, self._call(request, body=file.open))
        upload.setdefault("filename", file.filename)
        self.log.info("Gamma stored %s as upload %s", file.uri, upload["uploadId"])
        return upload
