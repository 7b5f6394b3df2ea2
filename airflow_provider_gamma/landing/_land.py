# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The one entry point, :func:`land`: decide the file's name, honour ``if_exists``, stage the download
and commit it, or land a PNG zip as cards.

The caller owns everything before the bytes: where the export comes from, its URL, and how a
download is retried. It hands :func:`land` two callables, ``resolve`` and ``download``; landing calls
``resolve`` only once the destination needs the file (``if_exists="skip"`` on an existing file
downloads nothing and asks nothing of the source).
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaExportError
from airflow_provider_gamma.landing._cards import (
    UnpackLimits,
    UnsafeArchiveError,
    card_names,
    existing_cards,
    remove_stale_cards,
    unpack_pngs,
)
from airflow_provider_gamma.landing._paths import (
    GammaExportExistsError,
    IfExists,
    LandedObject,
    content_type_from_headers,
    guess_content_type,
    names_a_folder,
    suffix_from_headers,
    suffix_from_url,
    to_path,
    uri_of,
    validate_dest,
)
from airflow_provider_gamma.landing._staged import StagedObject, describe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportFile:
    """An export ready to download, as the caller's ``resolve`` found it.

    :param url: where to download it; a ``.pdf``/``.pptx``/``.zip``/``.png`` suffix in its path names
        the file landed in a folder (else the download's headers do).
    :param name: the file's name without suffix when it lands in a folder (e.g. the gamma's id).
    :param label: how error messages name the export (e.g. ``generation abc123``).
    """

    url: str
    name: str
    label: str


@dataclass(frozen=True)
class Sink:
    """Where one download's bytes go; ``download`` passes these on to the HTTP client.

    :param write: takes each chunk of the body, in order (a view it may not keep is fine).
    :param reset: throws away what a failed attempt wrote; call it before trying again.
    :param on_headers: takes the answer's headers before any of the body (``None``: not needed);
        it may raise to stop the download.
    """

    write: Callable[[bytes], object]
    reset: Callable[[], None]
    on_headers: Callable[[Mapping[str, str]], object] | None = None


class Fetched(Protocol):
    """What a finished download reports."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...


#: Streams an export into a :class:`Sink`, retrying as it sees fit and calling ``sink.reset()``
#: after each failed attempt; raises when it gives up.
Download = Callable[[ExportFile, Sink], Fetched]


@dataclass(frozen=True)
class Landing:
    """What :func:`land` left at the destination (or found there, with ``if_exists="skip"``).

    :param objects: one entry per object, as a task returns it.
    :param paths: the same objects as paths (with their connection), e.g. for lineage.
    """

    objects: list[LandedObject]
    paths: list[ObjectStoragePath] = field(default_factory=list)


class _AlreadyThere(Exception):
    """Control flow only: the headers named a file the destination already holds."""

    def __init__(self, landing: Landing) -> None:
        self.landing = landing


def land(
    dest: str | ObjectStoragePath,
    *,
    resolve: Callable[[], ExportFile],
    download: Download,
    conn_id: str | None = None,
    if_exists: IfExists = "overwrite",
    unpack_png: bool = False,
    limits: UnpackLimits | None = None,
) -> Landing:
    """Land one export at ``dest``, all or nothing: a failure leaves nothing new there.

    :param dest: a file, or a folder (a string ending in ``/``, or an existing folder's path): the
        file is then named ``<name><suffix>``, the suffix taken from the URL or else the download's
        ``Content-Disposition``/``Content-Type`` (``.bin`` when neither tells).
    :param resolve: finds the export; called at most once, and only when the file is needed.
    :param download: streams it into the :class:`Sink` landing hands it.
    :param conn_id: Airflow connection for the destination's filesystem; wins over one in the URL.
    :param if_exists: when the file (or the first card) is there already: ``"overwrite"`` it,
        ``"skip"`` (describe what is there, download nothing) or ``"fail"``.
    :param unpack_png: land a PNG zip as ``card-01.png``, ... under ``dest`` (always a folder), and
        remove the cards of an earlier, longer deck.
    :param limits: what the PNG zip may hold (``unpack_png`` only; default :class:`UnpackLimits`).
    :raises GammaExportExistsError: ``if_exists="fail"`` and something is there.
    :raises UnsafeArchiveError: the PNG zip was refused.
    :raises GammaExportError: the download or the write failed.
    """
    validate_dest(dest, "dest")
    path = to_path(dest, conn_id)
    folder = unpack_png or names_a_folder(dest, path)
    if not folder and if_exists != "overwrite" and path.exists():
        return existing([path], if_exists)
    export = resolve()
    if unpack_png:
        return _land_cards(export, path, download, if_exists, limits or UnpackLimits())
    try:
        return _land_file(export, path, folder, download, if_exists)
    except _AlreadyThere as there:
        return there.landing


def existing(paths: list[ObjectStoragePath], if_exists: IfExists) -> Landing:
    """What a destination already holds, for ``if_exists`` ``"skip"``; raises
    :class:`GammaExportExistsError` for ``"fail"``."""
    where = ", ".join(uri_of(path) for path in paths)
    if if_exists == "fail":
        raise GammaExportExistsError(
            f"dest already exists: {where} (if_exists='fail'); use if_exists='overwrite' or 'skip'"
        )
    log.info("dest already exists, not writing it again (if_exists='skip'): %s", where)
    return Landing([describe(path) for path in paths], list(paths))


def _land_file(
    export: ExportFile, dest: ObjectStoragePath, folder: bool, download: Download, if_exists: IfExists
) -> Landing:
    target: ObjectStoragePath | None = dest
    if folder:
        suffix = suffix_from_url(export.url)
        target = dest / f"{export.name}{suffix}" if suffix else None
        if target is not None and if_exists != "overwrite" and target.exists():
            return existing([target], if_exists)
    stage: StagedObject | None = None
    content_type: str | None = None

    def on_headers(headers: Mapping[str, str]) -> None:
        nonlocal target, stage, content_type
        content_type = content_type_from_headers(headers)
        if target is None:
            target = dest / f"{export.name}{suffix_from_headers(headers) or '.bin'}"
            if if_exists != "overwrite" and target.exists():
                raise _AlreadyThere(existing([target], if_exists))
        content_type = content_type or guess_content_type(target.name)
        stage = StagedObject(target, content_type=content_type)

    def write(chunk: bytes) -> None:
        if stage is None:
            raise GammaExportError("export body arrived before its headers")
        stage.write(chunk)

    def reset() -> None:
        nonlocal stage
        if stage is not None:
            stage.discard()
            stage = None

    try:
        fetched = download(export, Sink(write, reset, on_headers))
    except BaseException:
        reset()
        raise
    if stage is None or target is None:
        raise GammaExportError("the export download ended without a response")
    try:
        stage.commit()
    except Exception as error:
        raise GammaExportError(f"Could not land the export at {uri_of(target)}: {error}") from error
    uri = uri_of(target)
    log.info("Landed %s (%d bytes, sha256 %s)", uri, fetched.size, fetched.sha256)
    landed = LandedObject(uri=uri, size=fetched.size, sha256=fetched.sha256, content_type=content_type)
    return Landing([landed], [target])


def _land_cards(
    export: ExportFile,
    folder: ObjectStoragePath,
    download: Download,
    if_exists: IfExists,
    limits: UnpackLimits,
) -> Landing:
    if if_exists != "overwrite" and (folder / card_names(1)[0]).exists():
        return existing(existing_cards(folder), if_exists)
    with tempfile.TemporaryFile(prefix="gamma-export-", suffix=".zip") as spool:

        def reset() -> None:
            spool.seek(0)
            spool.truncate()

        download(export, Sink(spool.write, reset))
        spool.seek(0)
        try:
            archive = zipfile.ZipFile(spool)
        except zipfile.BadZipFile:
            raise GammaExportError(
                f"unpack_png=True, but the export of {export.label} is not a "
                "zip of PNGs; set unpack_png=False (or export_as='png' on the generate task)"
            ) from None
        with archive:
            try:
                landed = unpack_pngs(archive, folder, limits)
            except zipfile.BadZipFile as error:
                raise UnsafeArchiveError(f"PNG export zip is corrupt: {error}") from error
    paths = [folder / posixpath.basename(item["uri"]) for item in landed]
    remove_stale_cards(folder, len(landed))
    log.info("Landed %d cards under %s", len(landed), uri_of(folder))
    return Landing(landed, paths)
