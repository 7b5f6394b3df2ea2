# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Refusals of the living-deck endpoints (uploads, agent edits, analytics) that :func:`error_for` types
more precisely than by status alone. Gamma publishes none of their statuses or texts: the rules below
read what is documented (one edit per gamma at a time; analytics and edits need edit permission; uploads
of at most 250 MiB with a ``Content-Length``) and name it in the message."""

from __future__ import annotations

import re
from urllib.parse import unquote

from airflow_provider_gamma.exceptions import (
    GammaEditInProgressError,
    GammaError,
    GammaPermissionError,
    GammaValidationError,
)
from airflow_provider_gamma.protocol._requests import API_PREFIX, ApiRequest

_EDIT_POST = re.compile(rf"^{re.escape(API_PREFIX)}/agent/gammas/([^/]+)/edits$")
_ANALYTICS = re.compile(rf"^{re.escape(API_PREFIX)}/gammas/([^/]+)/analytics(?:/.*)?$")
# "An edit is already in progress", "one edit per gamma at a time", "still running"... but not "upload
# already attached to an edit", which is a plain 400.
_RUNNING = re.compile(
    r"\b(in progress|already running|still running|currently running|is running|at a time|underway)\b", re.I
)


def living_refusal(request: ApiRequest, status: int, message: str) -> tuple[type[GammaError], str] | None:
    """The error class and message for a refusal of an upload, an edit or an analytics call, or
    ``None`` when the generic mapping by status applies."""
    edit = _EDIT_POST.match(request.path) if request.method == "POST" else None
    if edit is not None:
        gamma_id = unquote(edit.group(1))
        lowered = message.lower()
        if (status == 409 and "upload" not in lowered) or (
            status in (400, 422, 423) and "edit" in lowered and _RUNNING.search(message)
        ):
            return GammaEditInProgressError, (
                f"{message} (Gamma runs one edit per gamma at a time and one is running on gamma "
                f"{gamma_id}: this edit was not started)"
            )
        if status == 403:
            return (
                GammaPermissionError,
                f"{message} (an edit needs at least edit permission on gamma {gamma_id})",
            )
        return None
    analytics = _ANALYTICS.match(request.path) if request.method == "GET" else None
    if analytics is not None and status == 403:
        return GammaPermissionError, (
            f"{message} (analytics need at least edit permission on gamma {unquote(analytics.group(1))}; "
            "with manage permission they cover every viewer, with edit permission only the key's own user)"
        )
    if request.method == "POST" and request.path == f"{API_PREFIX}/uploads" and status in (411, 413, 415):
        return GammaValidationError, (
            f"{message} (Gamma takes raw bytes with a Content-Length, at most 250 MiB a file and 50 "
            "megapixels an image)"
        )
    return None
