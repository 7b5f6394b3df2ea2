# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""``files=``: sources in object storage that the agent reads, uploaded in the try that POSTs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_gamma import parameters

if TYPE_CHECKING:
    from airflow_provider_gamma.hooks.gamma import GammaHook

FileSource = Any
"""An :class:`~airflow.sdk.ObjectStoragePath`, a URI (``s3://bucket/key.csv``) or a local path."""


def check(files: Any, files_conn_id: Any) -> None:
    """``files=`` and ``files_conn_id=`` as given, when the DAG is parsed (templates pass until rendered)."""
    parameters.check_files(files)
    if files_conn_id is not None:
        parameters.check_conn_id(files_conn_id, "files_conn_id")


def describe(files: Sequence[FileSource] | None) -> list[str]:
    """The files as URIs, for the request's fingerprint: the same files are the same request, while
    their upload ids differ with every upload. Checked again as rendered: a template that rendered to
    one string would otherwise be read letter by letter."""
    parameters.check_files(files)
    return [str(os.fspath(source) if isinstance(source, os.PathLike) else source) for source in files or ()]


def uploaded(hook: GammaHook, files: Sequence[FileSource] | None, conn_id: str | None) -> dict[str, Any]:
    """``{"files": [{"uploadId", "filename"}, ...]}`` once each file was streamed to Gamma; ``{}``
    without files.

    Gamma uses an upload once and drops one left unattached for two days, so this runs right before
    each POST; an upload bills nothing, so a failed one is retried like a read.
    """
    if not files:
        return {}
    # Gamma's guide: "pass the returned uploadId and filename in files" (the item's shape is unpublished).
    uploads = hook.upload_files(files, conn_id=conn_id)
    return {"files": [{"uploadId": upload["uploadId"], "filename": upload["filename"]} for upload in uploads]}
