# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Destinations: checking them, naming what lands in them, and what ``if_exists`` may say.

Knows URLs, schemes, suffixes and content types; writes nothing.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from collections.abc import Mapping
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma._compat import AirflowFailException
from airflow_provider_gamma.exceptions import GammaExportError, GammaParameterError

log = logging.getLogger(__name__)

#: What to do when the destination already holds the file: replace it, keep it (and download
#: nothing), or fail.
IfExists = Literal["overwrite", "skip", "fail"]
IF_EXISTS_MODES: tuple[str, ...] = ("overwrite", "skip", "fail")

#: Azure Blob Storage through adlfs.
AZURE_PROTOCOLS = frozenset({"abfs", "abfss", "az", "adl", "wasb"})
LOCAL_PROTOCOLS = frozenset({"", "file", "local"})

CONTENT_TYPES_BY_SUFFIX: Mapping[str, str] = {
    ".pdf": "application/pdf",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".zip": "application/zip",
    ".png": "image/png",
}
SUFFIXES_BY_CONTENT_TYPE: Mapping[str, str] = {v: k for k, v in CONTENT_TYPES_BY_SUFFIX.items()}
_UNTYPED = ("application/octet-stream", "binary/octet-stream")


class LandedObject(TypedDict):
    """One object written (or found, with ``if_exists="skip"``) at the destination."""

    uri: str
    size: int
    sha256: str
    content_type: str | None


class GammaExportExistsError(GammaExportError, AirflowFailException):
    """``if_exists="fail"`` and something is already at the destination."""


# --- checks when the DAG is parsed ----------------------------------------------------------------


def is_templated(value: object) -> bool:
    """Whether ``value`` is a string Airflow will still render (so it cannot be checked yet)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


_RELATIVE = (
    "Invalid Gamma parameter {field}={value!r}: a local file must be named by an absolute path, "
    "'/path/to/deck.pdf' or 'file:///path/to/deck.pdf' (three slashes)"
)


def validate_dest(value: object, field: str = "dest") -> None:
    """Check a literal destination when the DAG is parsed.

    Accepts an :class:`ObjectStoragePath`, a URL whose scheme has an Airflow filesystem registered
    (``file``, ``s3``, ``gs``, ...: whatever ``ObjectStoragePath`` can open), or an absolute local path.
    Templated strings and other lazily resolved values pass unchecked.

    :raises GammaParameterError: naming ``field``.
    """
    if isinstance(value, ObjectStoragePath):
        if value.protocol in ("", "file", "local") and not str(value.path).startswith("/"):
            raise GammaParameterError(_RELATIVE.format(field=field, value=value))
        return
    if is_templated(value) or hasattr(value, "resolve"):
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
    url = urlsplit(value.strip())
    if url.scheme.lower() in ("file", "local") and (bool(url.netloc) or url.path[:1] != "/"):
        # file:decks/x.pdf or file://decks/x.pdf would land wherever the worker happens to run
        raise GammaParameterError(_RELATIVE.format(field=field, value=value))
    known = registered_schemes()
    if known is not None and scheme.lower() not in known:
        raise GammaParameterError(
            f"Invalid Gamma parameter {field}={value!r}: no Airflow filesystem handles {scheme}:// "
            f"(available: {', '.join(sorted(known))}); install the provider that adds it: "
            "airflow-provider-gamma[s3] for s3://, [gcs] for gs://, [azure] for abfs://"
        )


def validate_if_exists(value: object, field: str = "if_exists") -> None:
    """Check an ``if_exists`` mode (one of :data:`IF_EXISTS_MODES`).

    :raises GammaParameterError: naming ``field``.
    """
    if value not in IF_EXISTS_MODES:
        raise GammaParameterError(
            f"Invalid Gamma parameter {field}={value!r}: must be one of {', '.join(IF_EXISTS_MODES)}"
        )


def registered_schemes() -> frozenset[str] | None:
    """Schemes ``ObjectStoragePath`` can open here, or ``None`` when the registry could not be read."""
    try:
        from airflow.sdk.io.fs import _register_filesystems

        return frozenset(_register_filesystems())
    except Exception:  # a broken provider must not fail DAG parsing; the task reports it instead
        log.debug("Could not list Airflow filesystems", exc_info=True)
        return None


# --- paths ----------------------------------------------------------------------------------------


def to_path(dest: str | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """``dest`` as an :class:`ObjectStoragePath`; ``conn_id`` (when given) wins over one in the URL."""
    if conn_id:
        return ObjectStoragePath(str(dest), conn_id=conn_id)
    return dest if isinstance(dest, ObjectStoragePath) else ObjectStoragePath(dest)


def names_a_folder(dest: str | ObjectStoragePath, path: ObjectStoragePath) -> bool:
    """Whether ``dest`` (as given; ``path`` as opened) is a folder: a string ending in ``/``, or an
    :class:`ObjectStoragePath` to an existing folder."""
    if isinstance(dest, str):
        return dest.endswith("/")
    return bool(path.is_dir())


def protocol_of(path: ObjectStoragePath) -> str:
    return (path.protocol or "file").lower()


def fs_path(path: ObjectStoragePath) -> str:
    """The path as the filesystem's own methods take it."""
    return str(path.path)


def uri_of(path: ObjectStoragePath) -> str:
    """The path's URI without any connection id: ``s3://bucket/key``, ``file:///abs/path``."""
    protocol = protocol_of(path)
    if protocol in LOCAL_PROTOCOLS:
        return f"file://{path.path}"
    return f"{protocol}://{path.path}"


def openlineage_name(path: ObjectStoragePath) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a path, as OpenLineage's naming spec has it:
    ``("s3://bucket", "key")``, ``("gs://bucket", "key")``, ``("file", "/abs")``, and for Azure
    ``("abfss://container@account.dfs.core.windows.net", "key")`` (the account read from the
    filesystem; ``("abfs://container", "key")`` when it has none)."""
    protocol = protocol_of(path)
    if protocol in LOCAL_PROTOCOLS:
        return "file", path.path
    bucket = path.bucket.rpartition("@")[2]  # Airflow 3.1 keeps "conn_id@" in the bucket
    if not bucket:
        return protocol, path.path
    if protocol in AZURE_PROTOCOLS:
        fs: Any = path.fs
        account = getattr(fs, "account_name", None) or getattr(
            getattr(fs, "service_client", None), "account_name", None
        )
        if account:
            return f"abfss://{bucket}@{account}.dfs.core.windows.net", path.key
    return f"{protocol}://{bucket}", path.key


# --- names and content types of export files ------------------------------------------------------


def guess_content_type(name: str) -> str | None:
    suffix = posixpath.splitext(name)[1].lower()
    return CONTENT_TYPES_BY_SUFFIX.get(suffix) or mimetypes.guess_type(name)[0]


def suffix_from_url(url: str) -> str | None:
    """``.pdf``, ``.pptx``, ``.zip`` or ``.png`` when the URL's path ends in one."""
    suffix = posixpath.splitext(urlsplit(url).path)[1].lower()
    return suffix if suffix in CONTENT_TYPES_BY_SUFFIX else None


def suffix_from_headers(headers: Mapping[str, str]) -> str | None:
    """The suffix of a ``Content-Disposition`` file name, else the one ``Content-Type`` implies."""
    disposition = headers.get("Content-Disposition") or ""
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename":
            suffix = posixpath.splitext(value.strip().strip('"'))[1].lower()
            if suffix in CONTENT_TYPES_BY_SUFFIX:
                return suffix
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return SUFFIXES_BY_CONTENT_TYPE.get(content_type)


def content_type_from_headers(headers: Mapping[str, str]) -> str | None:
    """``Content-Type`` as sent, unless it says nothing (absent, or a generic octet stream)."""
    value = headers.get("Content-Type")
    if not value or value.split(";")[0].strip().lower() in _UNTYPED:
        return None
    return value
