# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Files the agent reads as sources: what an operator's ``files=`` may hold, checked when the DAG is
parsed (the hook's ``upload_file`` then finds, sizes and streams each one)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_gamma._checks import fail, is_unresolved, short

#: Gamma's import guide: "A generation takes up to 50 files and 250 MiB in total".
MAX_FILES = 50

_FILE_FORMS = (
    "an ObjectStoragePath, a URI such as 's3://bucket/figures.csv' or 'file:///data/figures.csv', or "
    "an absolute local path"
)


def check_files(value: Any, name: str = "files") -> None:
    """Check an operator's ``files=`` as given (when the DAG is parsed): up to 50 files for the agent
    to read, each an :class:`~airflow.sdk.ObjectStoragePath`, a URI whose scheme has an Airflow
    filesystem (``s3://``, ``gs://``, ``file://`` ...) or an absolute local path. ``None`` (no files),
    a Jinja string and an ``XComArg`` pass, as a whole or as an item, until rendered.

    :raises GammaParameterError: naming ``name`` (and the item's index) and what is allowed.
    """
    if value is None or is_unresolved(value):
        return
    if isinstance(value, str | os.PathLike) or not isinstance(value, list | tuple):
        fail(name, value, f"must be a list of files to upload, each {_FILE_FORMS} (wrap one file in [...])")
    if len(value) > MAX_FILES:
        fail(name, short(repr(value)), f"at most {MAX_FILES} files (Gamma's limit per generation)")
    for index, item in enumerate(value):
        _check_file(f"{name}[{index}]", item)


def _check_file(path: str, value: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath) or is_unresolved(value):
        return
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        fail(path, value, f"must be a file to upload: {_FILE_FORMS}")
    scheme = urlsplit(value).scheme.lower()
    if not scheme:
        if not os.path.isabs(value):
            fail(path, value, "a local path must be absolute (or use a URI such as 'file:///path')")
        return
    from airflow_provider_gamma.landing._paths import registered_schemes

    known = registered_schemes()
    if known is not None and scheme not in known:
        hint = " (a web page goes in source_urls)" if scheme in ("http", "https") else ""
        fail(
            path,
            value,
            f"no Airflow filesystem handles {scheme}://{hint}; available: {', '.join(sorted(known))}. "
            "Install the provider that adds it: airflow-provider-gamma[s3] for s3://, [gcs] for gs://, "
            "[azure] for abfs://",
        )
