# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Uploads with several parts in flight (S3 parts, Azure blocks), and export downloads handing out
reused buffers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_gamma import landing
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.landing import StagedObject
from airflow_provider_gamma.testing import GammaEmulator
from tests.object_stores import Store

MIB = 1024 * 1024


@pytest.fixture
def s3(s3_bucket: str, moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """5 MiB parts (S3's floor), two in flight: a few MiB exercise the whole pipeline."""
    monkeypatch.setattr(landing._PartedUpload.__init__, "__defaults__", (5 * MIB, 2))


def _uploads(s3: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.mark.parametrize("store", ["s3", "azure"], indirect=True)
def test_parts_in_flight_land_in_order(store: Store, small_parts: None) -> None:
    body = b"".join(bytes([n]) * (MIB + n) for n in range(23))  # ~23 MiB: 5 parts, the last short
    stage = StagedObject(ObjectStoragePath(store.dest("deck.pdf")), content_type="application/pdf")
    for start in range(0, len(body), 300_000):
        stage.write(memoryview(body)[start : start + 300_000])
    assert store.keys() == []
    stage.commit()
    assert store.content_type("deck.pdf") == "application/pdf"
    assert hashlib.sha256(store.read("deck.pdf")).hexdigest() == hashlib.sha256(body).hexdigest()
    assert store.staged() == []


@pytest.mark.s3
def test_a_failed_part_aborts_the_upload(
    s3_bucket: str, s3: Any, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ObjectStoragePath(f"s3://aws_default@{s3_bucket}/deck.pdf")
    fs: Any = path.fs
    real_call = fs._call_s3
    sent: list[int] = []

    async def flaky_call(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "upload_part":
            sent.append(kwargs["PartNumber"])
            if kwargs["PartNumber"] == 3:
                raise OSError("connection reset")
        return await real_call(method, *args, **kwargs)

    monkeypatch.setattr(fs, "_call_s3", flaky_call)
    stage = StagedObject(path)

    def land() -> None:
        for _ in range(40):
            stage.write(b"x" * MIB)
        stage.commit()

    with pytest.raises(OSError, match="connection reset"):
        land()
    stage.discard()
    assert 3 in sent
    assert s3.list_objects_v2(Bucket=s3_bucket).get("Contents") is None
    assert _uploads(s3, s3_bucket) == []


def test_download_views_are_released_after_each_write(gamma_connection: GammaEmulator) -> None:
    hook = GammaHook()
    generation = hook.wait_for_generation(
        hook.create_generation("Weekly numbers", export_as="pdf", num_cards=3), poll_interval=0.05, timeout=10
    )
    kept: list[memoryview] = []
    copied = bytearray()

    def write(chunk: bytes) -> None:
        copied.extend(chunk)
        kept.append(chunk)  # type: ignore[arg-type]

    download = hook.download_export(generation["exportUrl"], write, chunk_size=1024, views=True)
    assert bytes(copied) == gamma_connection.export_bytes(generation["generationId"])
    assert download.size == len(copied) > 1024
    assert download.sha256 == hashlib.sha256(copied).hexdigest()
    with pytest.raises(ValueError, match="released"):
        bytes(kept[0])
