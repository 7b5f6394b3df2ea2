# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The submission record's former home, kept for code that imports it from here: see
:mod:`airflow_provider_gamma.reconcile`."""

from __future__ import annotations

from airflow_provider_gamma.reconcile import (
    MAX_TITLE_LENGTH,
    STATE_KEY,
    Submission,
    default_title,
    find_deck,
    fingerprint,
    new_marker,
    with_reference,
)

__all__ = [
    "MAX_TITLE_LENGTH",
    "STATE_KEY",
    "Submission",
    "default_title",
    "find_deck",
    "fingerprint",
    "new_marker",
    "with_reference",
]
