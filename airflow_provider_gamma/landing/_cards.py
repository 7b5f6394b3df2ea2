# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""PNG exports as cards: checking the zip, landing ``card-01.png`` ... all or nothing, and removing
the cards an earlier, longer deck left behind."""

from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaExportError
from airflow_provider_gamma.landing._paths import LandedObject, uri_of
from airflow_provider_gamma.landing._staged import COPY_CHUNK_SIZE, StagedObject, remove

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def existing_cards(folder: ObjectStoragePath) -> list[ObjectStoragePath]:
    """The ``card-NN.png`` objects in ``folder``, in card order."""
    cards: list[ObjectStoragePath] = []
    number = 1
    while True:
        for name in (f"card-{number:02d}.png", f"card-{number:03d}.png"):
            path = folder / name
            if path.exists():
                cards.append(path)
                break
        else:
            return cards
        number += 1


def remove_stale_cards(folder: ObjectStoragePath, count: int) -> None:
    """Delete ``card-NN.png`` left by an earlier, longer deck, so the folder holds one deck of ``count``."""
    keep = set(card_names(count))
    stale = [path for path in existing_cards(folder) if path.name not in keep]
    if stale:
        log.info("Removing %d cards of an earlier export", len(stale))
        remove(stale)
