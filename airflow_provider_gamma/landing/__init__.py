# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Landing export files in object storage: all-or-nothing writes, safe unpacking of PNG zips.

Used by :class:`~airflow_provider_gamma.operators.export.GammaExportToObjectStorageOperator` through
:func:`land`; usable on its own with any :class:`~airflow.sdk.ObjectStoragePath`.

* ``_paths``: checking destinations, naming files, content types, ``if_exists`` modes;
* ``_staged``: :class:`StagedObject`, a write nobody sees until it is committed, on any store;
* ``_parts``: the uploads in parts behind it, one strategy per store (S3, Azure Blob);
* ``_cards``: PNG zips checked and landed as ``card-01.png`` ..., stale cards removed;
* ``_land``: :func:`land`, which puts these together for one export;
* ``_events``: the asset events and OpenLineage outputs of what landed.
"""

from __future__ import annotations

from airflow_provider_gamma.landing._cards import (
    PNG_SIGNATURE,
    UnpackLimits,
    UnsafeArchiveError,
    card_names,
    existing_cards,
    png_members,
    remove_stale_cards,
    unpack_pngs,
)
from airflow_provider_gamma.landing._events import emit_asset_events, openlineage_outputs
from airflow_provider_gamma.landing._land import Download, ExportFile, Fetched, Landing, Sink, existing, land
from airflow_provider_gamma.landing._parts import (
    MULTIPART_BLOCK_SIZE,
    MULTIPART_CONCURRENCY,
    _PartedUpload,  # tests shrink its parts
)
from airflow_provider_gamma.landing._paths import (
    CONTENT_TYPES_BY_SUFFIX,
    IF_EXISTS_MODES,
    SUFFIXES_BY_CONTENT_TYPE,
    GammaExportExistsError,
    IfExists,
    LandedObject,
    guess_content_type,
    is_templated,
    openlineage_name,
    protocol_of,
    registered_schemes,
    to_path,
    uri_of,
    validate_dest,
    validate_if_exists,
)
from airflow_provider_gamma.landing._staged import COPY_CHUNK_SIZE, StagedObject, describe, remove

__all__ = [
    "CONTENT_TYPES_BY_SUFFIX",
    "COPY_CHUNK_SIZE",
    "IF_EXISTS_MODES",
    "MULTIPART_BLOCK_SIZE",
    "MULTIPART_CONCURRENCY",
    "PNG_SIGNATURE",
    "SUFFIXES_BY_CONTENT_TYPE",
    "Download",
    "ExportFile",
    "Fetched",
    "GammaExportExistsError",
    "IfExists",
    "LandedObject",
    "Landing",
    "Sink",
    "StagedObject",
    "UnpackLimits",
    "UnsafeArchiveError",
    "_PartedUpload",
    "card_names",
    "describe",
    "emit_asset_events",
    "existing",
    "existing_cards",
    "guess_content_type",
    "is_templated",
    "land",
    "openlineage_name",
    "openlineage_outputs",
    "png_members",
    "protocol_of",
    "registered_schemes",
    "remove",
    "remove_stale_cards",
    "to_path",
    "unpack_pngs",
    "uri_of",
    "validate_dest",
    "validate_if_exists",
]
