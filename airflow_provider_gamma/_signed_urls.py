# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Signed URLs stay in the process that uses them.

Gamma's ``exportUrl`` is a bearer URL: anyone holding it can download the deck for about a week. So it
is kept out of what Airflow stores or logs for everyone who can read a task: trigger events (logged as
"Trigger fired event … result=…" and kept in the task instance), XComs and the task's result. A task
that lands the file asks Gamma for the URL itself, when it needs it. ``gammaUrl``, the deck's
shareable link, is not signed and stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

#: Keys of Gamma's answers whose values are signed (bearer) URLs.
SIGNED_URL_KEYS: frozenset[str] = frozenset({"exportUrl"})

_Job = TypeVar("_Job", bound=Mapping[str, Any])


def without_signed_urls(job: _Job) -> _Job:
    """A copy of Gamma's answer ``job`` without its signed URLs (the same object when it has none)."""
    if not SIGNED_URL_KEYS.intersection(job):
        return job
    return cast(_Job, {key: value for key, value in job.items() if key not in SIGNED_URL_KEYS})


def has_signed_url(job: Any) -> bool:
    """Whether ``job`` (Gamma's answer, or anything else) carries a signed URL to download from."""
    return isinstance(job, Mapping) and any(job.get(key) for key in SIGNED_URL_KEYS)
