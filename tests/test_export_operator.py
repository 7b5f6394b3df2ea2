# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaExportToObjectStorageOperator against the emulator over HTTP, real files and S3 on moto_server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_gamma import landing
from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaExportError,
    GammaGenerationFailedError,
    GammaParameterError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.landing import StagedObject, UnpackLimits, UnsafeArchiveError
from airflow_provider_gamma.operators.export import (
    GammaExportExistsError,
    GammaExportNotRequestedError,
    GammaExportToObjectStorageOperator,
)
from airflow_provider_gamma.protocol import RetryPolicy
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.testing.exports import CONTENT_TYPES, build_png

FAST_RETRIES = RetryPolicy(max_attempts=3, backoff=0.01, jitter=False)
PPTX = CONTENT_TYPES["pptx"]
DAGS = Path(__file__).parent / "dags"


def generation(emu: GammaEmulator, export_as: str | None = "pptx", num_cards: int = 3) -> dict[str, Any]:
    hook = GammaHook()
    generation_id = hook.create_generation("Quarterly review", export_as=export_as, num_cards=num_cards)
    return dict(hook.wait_for_generation(generation_id, poll_interval=0.05, timeout=30))


def export_op(**kwargs: Any) -> GammaExportToObjectStorageOperator:
    kwargs.setdefault("task_id", "land")
    kwargs.setdefault("download_retry_policy", FAST_RETRIES)
    return GammaExportToObjectStorageOperator(**kwargs)


def run(op: GammaExportToObjectStorageOperator) -> tuple[list[dict[str, Any]], Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    events = OutletEventAccessors()
    return [dict(item) for item in op.execute({"outlet_events": events})], events  # type: ignore[arg-type]


def polls(emu: GammaEmulator, generation_id: str) -> int:
    return sum(
        1 for r in emu.requests if r.method == "GET" and r.path == f"/v1.0/generations/{generation_id}"
    )


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def s3(s3_bucket: str, moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


def s3_keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def s3_uploads(s3: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def crafted_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return out.getvalue()


PNG = build_png(8, 8, (10, 20, 30))


# --- landing whole files -----------------------------------------------------------------------------


def test_lands_local_file_byte_for_byte_without_api_key(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    gen = generation(gamma_connection)
    dest = tmp_path / "decks" / "weekly-report.pptx"

    landed, _ = run(export_op(generation_id=gen["generationId"], dest=f"file://{dest}"))

    data = gamma_connection.export_bytes(gen["generationId"])
    assert dest.read_bytes() == data
    assert landed == [
        {
            "uri": f"file://{dest}",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": PPTX,
        }
    ]
    assert files_under(tmp_path) == ["decks/weekly-report.pptx"]
    assert gamma_connection.export_requests
    for request in gamma_connection.export_requests:
        assert "x-api-key" not in request.headers
        assert "authorization" not in request.headers


def test_accepts_generate_operator_dict_and_plain_path(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    gen = generation(gamma_connection, export_as="pdf")
    landed, _ = run(export_op(generation_id=gen, dest=str(tmp_path / "deck.pdf")))
    assert (tmp_path / "deck.pdf").read_bytes() == gamma_connection.export_bytes(gen["generationId"])
    assert landed[0]["content_type"] == "application/pdf"


def test_folder_dest_is_named_after_the_gamma(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection, export_as="pdf")
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/out/"))
    assert files_under(tmp_path) == [f"out/{gen['gammaId']}.pdf"]
    assert landed[0]["uri"] == f"file://{tmp_path}/out/{gen['gammaId']}.pdf"


@pytest.mark.s3
def test_lands_on_s3_byte_for_byte(gamma_connection: GammaEmulator, s3_bucket: str, s3: Any) -> None:
    gen = generation(gamma_connection)
    landed, _ = run(
        export_op(
            generation_id=gen["generationId"],
            dest=f"s3://{s3_bucket}/decks/2026-01-01/weekly-report.pptx",
            dest_conn_id="aws_default",
        )
    )
    data = gamma_connection.export_bytes(gen["generationId"])
    obj = s3.get_object(Bucket=s3_bucket, Key="decks/2026-01-01/weekly-report.pptx")
    assert obj["Body"].read() == data
    assert obj["ContentType"] == PPTX
    assert landed == [
        {
            "uri": f"s3://{s3_bucket}/decks/2026-01-01/weekly-report.pptx",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": PPTX,
        }
    ]
    assert s3_uploads(s3, s3_bucket) == []


@pytest.mark.s3
def test_s3_folder_dest_and_multipart_sized_export(
    s3_bucket: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    padding = 19 * 1024 * 1024  # spans several 8 MiB upload parts
    with GammaEmulator(generation_seconds=0.05, export_padding_bytes=padding) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", emu.connection_uri())
        gen = generation(emu, export_as="pdf")
        landed, _ = run(
            export_op(generation_id=gen["generationId"], dest=f"s3://aws_default@{s3_bucket}/out/")
        )
        data = emu.export_bytes(gen["generationId"])
    key = f"out/{gen['gammaId']}.pdf"
    assert s3_keys(s3, s3_bucket) == [key]
    digest = hashlib.sha256(data)
    digest.update(bytes(padding))
    assert landed[0]["size"] == len(data) + padding
    assert landed[0]["sha256"] == digest.hexdigest()
    body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"]
    check = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()


# --- failures leave nothing; transient failures are retried ----------------------------------------


def test_truncated_download_leaves_nothing_locally(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection)
    gamma_connection.add_fault(host="export", truncate_at=100, times=None)
    with pytest.raises(GammaExportError, match="after 3 attempt"):
        run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/out/deck.pptx"))
    assert files_under(tmp_path) == []
    assert len(gamma_connection.export_requests) == 3


@pytest.mark.s3
def test_truncated_download_leaves_nothing_on_s3(
    gamma_connection: GammaEmulator, s3_bucket: str, s3: Any
) -> None:
    gen = generation(gamma_connection)
    gamma_connection.add_fault(host="export", truncate_at=100, times=None)
    with pytest.raises(GammaExportError, match="nothing was landed"):
        run(export_op(generation_id=gen["generationId"], dest=f"s3://aws_default@{s3_bucket}/deck.pptx"))
    assert s3_keys(s3, s3_bucket) == []
    assert s3_uploads(s3, s3_bucket) == []


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"truncate_at": 100, "times": 1}, id="truncated"),
        pytest.param({"drop": True, "times": 1}, id="dropped"),
        pytest.param({"status": 503, "times": 2}, id="5xx"),
    ],
)
def test_transient_failures_are_retried(
    gamma_connection: GammaEmulator, tmp_path: Path, fault: dict[str, Any]
) -> None:
    gen = generation(gamma_connection)
    gamma_connection.add_fault(host="export", **fault)
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx"))
    data = gamma_connection.export_bytes(gen["generationId"])
    assert (tmp_path / "deck.pptx").read_bytes() == data
    assert landed[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert files_under(tmp_path) == ["deck.pptx"]
    assert len(gamma_connection.export_requests) == fault["times"] + 1


@pytest.mark.s3
def test_retry_after_truncation_lands_whole_on_s3(
    gamma_connection: GammaEmulator, s3_bucket: str, s3: Any
) -> None:
    gen = generation(gamma_connection)
    gamma_connection.add_fault(host="export", truncate_at=100, times=2)
    run(export_op(generation_id=gen["generationId"], dest=f"s3://aws_default@{s3_bucket}/deck.pptx"))
    assert s3.get_object(Bucket=s3_bucket, Key="deck.pptx")["Body"].read() == gamma_connection.export_bytes(
        gen["generationId"]
    )
    assert s3_uploads(s3, s3_bucket) == []


def test_rejected_export_url_is_refreshed_once(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection)
    before = polls(gamma_connection, gen["generationId"])
    gamma_connection.add_fault(host="export", status=403, times=1)
    run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx"))
    assert (tmp_path / "deck.pptx").read_bytes() == gamma_connection.export_bytes(gen["generationId"])
    assert polls(gamma_connection, gen["generationId"]) - before == 2
    assert [r.status for r in gamma_connection.export_requests] == [403, 200]


def test_expired_export_url_answers_403(gamma_connection: GammaEmulator) -> None:
    """What the refresh above reacts to: the export host refuses an expired signed URL with a 403."""
    gen = generation(gamma_connection)
    with pytest.raises(GammaError) as caught:
        GammaHook().download_export(gamma_connection.export_url(gen["generationId"], ttl=-1), lambda _: None)
    assert caught.value.http_status == 403


def test_export_url_refused_twice_fails_after_one_refresh(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    gen = generation(gamma_connection)
    before = polls(gamma_connection, gen["generationId"])
    gamma_connection.add_fault(host="export", status=403, times=None)
    with pytest.raises(GammaExportError, match="403"):
        run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx"))
    assert polls(gamma_connection, gen["generationId"]) - before == 2
    assert len(gamma_connection.export_requests) == 2
    assert files_under(tmp_path) == []


# --- the generation must be exportable -------------------------------------------------------------


def test_generation_without_export_is_a_clear_error(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection, export_as=None)
    with pytest.raises(GammaExportNotRequestedError, match="export_as"):
        run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx"))
    assert gamma_connection.export_requests == []


def test_pending_generation_suggests_a_sensor(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gamma_connection.generation_seconds = 60
    generation_id = GammaHook().create_generation("later", export_as="pdf")
    with pytest.raises(GammaExportError, match="GammaGenerationSensor"):
        run(export_op(generation_id=generation_id, dest=f"file://{tmp_path}/deck.pdf"))


def test_failed_generation_reports_gammas_message(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    generation_id = GammaHook().create_generation("doomed", export_as="pdf")
    gamma_connection.fail_generation(generation_id, message="Rendering exploded")
    with pytest.raises(GammaGenerationFailedError, match="Rendering exploded"):
        run(export_op(generation_id=generation_id, dest=f"file://{tmp_path}/deck.pdf"))


# --- if_exists ---------------------------------------------------------------------------------------


def test_if_exists_skip_returns_what_is_there_without_downloading(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    gen = generation(gamma_connection)
    existing = tmp_path / "deck.pptx"
    existing.write_bytes(b"an older deck")
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=str(existing), if_exists="skip"))
    assert existing.read_bytes() == b"an older deck"
    assert landed == [
        {
            "uri": f"file://{existing}",
            "size": 13,
            "sha256": hashlib.sha256(b"an older deck").hexdigest(),
            "content_type": PPTX,
        }
    ]
    assert gamma_connection.export_requests == []


def test_if_exists_skip_in_a_folder(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection, export_as="pdf")
    (tmp_path / f"{gen['gammaId']}.pdf").write_bytes(b"old")
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=f"{tmp_path}/", if_exists="skip"))
    assert landed[0]["size"] == 3
    assert gamma_connection.export_requests == []


def test_if_exists_fail_names_dest(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection)
    existing = tmp_path / "deck.pptx"
    existing.write_bytes(b"old")
    with pytest.raises(GammaExportExistsError, match=f"dest already exists: file://{existing}"):
        run(export_op(generation_id=gen["generationId"], dest=str(existing), if_exists="fail"))
    assert existing.read_bytes() == b"old"


def test_if_exists_overwrite_replaces(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection)
    existing = tmp_path / "deck.pptx"
    existing.write_bytes(b"old")
    run(export_op(generation_id=gen["generationId"], dest=str(existing)))
    assert existing.read_bytes() == gamma_connection.export_bytes(gen["generationId"])


@pytest.mark.s3
def test_if_exists_on_s3(gamma_connection: GammaEmulator, s3_bucket: str, s3: Any) -> None:
    gen = generation(gamma_connection)
    dest = f"s3://aws_default@{s3_bucket}/deck.pptx"
    ObjectStoragePath(dest).write_bytes(b"old")
    with pytest.raises(GammaExportExistsError, match=f"s3://{s3_bucket}/deck.pptx"):
        run(export_op(generation_id=gen["generationId"], dest=dest, if_exists="fail"))
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=dest, if_exists="skip"))
    assert landed[0]["size"] == 3
    assert s3.get_object(Bucket=s3_bucket, Key="deck.pptx")["Body"].read() == b"old"
    assert gamma_connection.export_requests == []


# --- parse-time validation ---------------------------------------------------------------------------


def test_invalid_if_exists_fails_at_parse_time() -> None:
    with pytest.raises(GammaParameterError, match=r"if_exists='replace'.*overwrite, skip, fail"):
        export_op(generation_id="g", dest="s3://bucket/key", if_exists="replace")  # type: ignore[arg-type]


@pytest.mark.parametrize("dest", ["decks/deck.pptx", "nosuchscheme://bucket/deck.pptx", "", 42])
def test_invalid_literal_dest_fails_at_parse_time(dest: Any) -> None:
    with pytest.raises(GammaParameterError, match="dest="):
        export_op(generation_id="g", dest=dest)


@pytest.mark.parametrize(
    "dest",
    [
        "s3://bucket/decks/{{ ds }}/deck.pptx",
        "{{ var.value.deck_folder }}",
        "file:///tmp/deck.pptx",
        "/tmp/deck.pptx",
        "s3://aws_default@bucket/x/",
    ],
)
def test_valid_or_templated_dest_passes(dest: str) -> None:
    export_op(generation_id="g", dest=dest)
    export_op(generation_id="g", dest=ObjectStoragePath("s3://bucket/key"))


def test_template_fields() -> None:
    assert set(GammaExportToObjectStorageOperator.template_fields) == {
        "generation_id",
        "gamma_id",
        "export_as",
        "dest",
        "dest_conn_id",
        "gamma_conn_id",
    }


# --- PNG unpacking -----------------------------------------------------------------------------------


def test_unpacks_png_cards_locally(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection, export_as="png", num_cards=4)
    landed, _ = run(
        export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/cards", unpack_png=True)
    )
    with zipfile.ZipFile(io.BytesIO(gamma_connection.export_bytes(gen["generationId"]))) as archive:
        expected = {info.filename: archive.read(info) for info in archive.infolist()}
    names = [f"card-0{i}.png" for i in range(1, 5)]
    assert files_under(tmp_path) == [f"cards/{name}" for name in names]
    for item, name in zip(landed, names, strict=True):
        assert item["uri"] == f"file://{tmp_path}/cards/{name}"
        assert item["content_type"] == "image/png"
        assert (tmp_path / "cards" / name).read_bytes() == expected[name]
        assert item["sha256"] == hashlib.sha256(expected[name]).hexdigest()


@pytest.mark.s3
def test_unpacks_png_cards_on_s3_and_removes_stale_ones(
    gamma_connection: GammaEmulator, s3_bucket: str, s3: Any
) -> None:
    dest = f"s3://aws_default@{s3_bucket}/cards/"
    ObjectStoragePath(dest + "card-04.png").write_bytes(b"stale card of an earlier, longer deck")
    gen = generation(gamma_connection, export_as="png", num_cards=3)
    run(export_op(generation_id=gen["generationId"], dest=dest, unpack_png=True))
    assert s3_keys(s3, s3_bucket) == ["cards/card-01.png", "cards/card-02.png", "cards/card-03.png"]
    assert s3_uploads(s3, s3_bucket) == []


@pytest.mark.parametrize(
    ("members", "match"),
    [
        pytest.param({"card-01.png": PNG, "../evil.png": PNG}, "unsafe member name", id="dotdot"),
        pytest.param({"/abs.png": PNG}, "unsafe member name", id="absolute"),
        pytest.param({"card-01.png": PNG, "notes.txt": b"hi"}, "not a PNG", id="non-png-name"),
        pytest.param(
            {"card-01.png": PNG, "card-02.png": b"GIF89a not really"}, "not a PNG image", id="fake-png"
        ),
        pytest.param({"bomb.png": PNG[:8] + bytes(50 * 1024 * 1024)}, "decompression bomb", id="bomb"),
    ],
)
def test_unsafe_png_zips_land_nothing(
    gamma_connection: GammaEmulator, tmp_path: Path, members: dict[str, bytes], match: str
) -> None:
    gen = generation(gamma_connection, export_as="png")
    gamma_connection.add_fault(host="export", status=200, body=crafted_zip(members), times=None)
    with pytest.raises(UnsafeArchiveError, match=match):
        run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/cards/", unpack_png=True))
    assert files_under(tmp_path) == []


def test_png_zip_limits(tmp_path: Path) -> None:
    many = crafted_zip({f"card-{i}.png": PNG for i in range(1, 6)}, zipfile.ZIP_STORED)
    with zipfile.ZipFile(io.BytesIO(many)) as archive:
        with pytest.raises(UnsafeArchiveError, match="more than 4 members"):
            landing.unpack_pngs(archive, ObjectStoragePath(f"file://{tmp_path}"), UnpackLimits(max_members=4))
        with pytest.raises(UnsafeArchiveError, match="more than 100 bytes"):
            landing.unpack_pngs(
                archive, ObjectStoragePath(f"file://{tmp_path}"), UnpackLimits(max_total_bytes=100)
            )
        assert [i.filename for i in landing.png_members(archive)] == [f"card-{i}.png" for i in range(1, 6)]
    assert files_under(tmp_path) == []


def test_unpack_rolls_back_cards_already_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zipfile.ZipFile(io.BytesIO(crafted_zip({f"card-{i:02d}.png": PNG for i in range(1, 4)})))
    real_commit = StagedObject.commit
    commits: list[str] = []

    def failing_commit(self: StagedObject) -> None:
        if len(commits) == 2:
            raise OSError("disk full")
        real_commit(self)
        commits.append(self.path.name)

    monkeypatch.setattr(StagedObject, "commit", failing_commit)
    with pytest.raises(OSError, match="disk full"):
        landing.unpack_pngs(archive, ObjectStoragePath(f"file://{tmp_path}/cards"))
    assert commits == ["card-01.png", "card-02.png"]
    assert files_under(tmp_path) == []


def test_unpack_of_a_non_zip_export_is_a_clear_error(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection, export_as="pdf")
    with pytest.raises(GammaExportError, match="not a zip of PNGs"):
        run(export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/cards/", unpack_png=True))
    assert files_under(tmp_path) == []


# --- staged writes on a real S3 protocol -------------------------------------------------------------


@pytest.mark.s3
def test_s3_staged_object_is_invisible_until_commit(s3_bucket: str, s3: Any) -> None:
    path = ObjectStoragePath(f"s3://aws_default@{s3_bucket}/big.bin")
    stage = StagedObject(path, content_type="application/pdf")
    for _ in range(10):
        stage.write(b"x" * (1024 * 1024))
    assert s3_keys(s3, s3_bucket) == []
    assert s3_uploads(s3, s3_bucket) == ["big.bin"]
    stage.commit()
    assert s3.head_object(Bucket=s3_bucket, Key="big.bin")["ContentLength"] == 10 * 1024 * 1024
    assert s3_uploads(s3, s3_bucket) == []

    for written in (3, 9 * 1024 * 1024):  # buffered only / one part already uploaded
        stage = StagedObject(ObjectStoragePath(f"s3://aws_default@{s3_bucket}/dropped.bin"))
        stage.write(b"y" * written)
        stage.discard()
        stage.discard()
        assert s3_keys(s3, s3_bucket) == ["big.bin"]
        assert s3_uploads(s3, s3_bucket) == []
    assert not path.fs.transaction.files


def test_local_staged_object_uses_a_hidden_sibling(tmp_path: Path) -> None:
    stage = StagedObject(ObjectStoragePath(f"file://{tmp_path}/sub/deck.pdf"))
    stage.write(b"%PDF")
    [partial] = files_under(tmp_path)
    assert partial.startswith("sub/.deck.pdf.")
    assert partial.endswith(".partial")
    stage.commit()
    assert files_under(tmp_path) == ["sub/deck.pdf"]


# --- lineage -----------------------------------------------------------------------------------------


def test_outlet_assets_and_aliases_get_the_landed_uris(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    gen = generation(gamma_connection)
    asset = Asset(f"file://{tmp_path}/deck.pptx")
    alias = AssetAlias("gamma-decks")
    op = export_op(
        generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx", outlets=[asset, alias]
    )
    landed, events = run(op)
    extra = {"uris": [landed[0]["uri"]], "generation_id": gen["generationId"], "gamma_url": gen["gammaUrl"]}
    assert events[asset].extra == extra
    [added] = events[alias].asset_alias_events
    assert added.dest_asset_key.uri == landed[0]["uri"]
    assert added.extra == extra


def test_openlineage_names() -> None:
    assert landing.openlineage_name(ObjectStoragePath("s3://conn@bucket/a/b.pdf")) == (
        "s3://bucket",
        "a/b.pdf",
    )
    assert landing.openlineage_name(ObjectStoragePath("file:///tmp/a/b.pdf")) == ("file", "/tmp/a/b.pdf")
    assert landing.uri_of(ObjectStoragePath("s3://conn@bucket/a/b.pdf")) == "s3://bucket/a/b.pdf"


def test_openlineage_facets(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    gen = generation(gamma_connection)
    op = export_op(generation_id=gen["generationId"], dest=f"file://{tmp_path}/deck.pptx")
    run(op)
    try:
        import airflow.providers.openlineage.extractors  # noqa: F401
    except ImportError:
        assert op.get_openlineage_facets_on_complete(None) is None
        return
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", f"{tmp_path}/deck.pptx")]


# --- a real DAG run ----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_generate_then_land_under_airflow_dags_test(
    airflow_home: Path, gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    # conftest.py is imported by pytest (as "tests.conftest" or "conftest"); reuse that module.
    airflow_cli = next(
        module.airflow_cli for name, module in sys.modules.items() if name.rpartition(".")[2] == "conftest"
    )
    dest = f"file://{tmp_path}/"
    # `dags test -f` wants the file inside the configured dags folder (the test Airflow home's).
    dag_file = airflow_home / "dags" / "gamma_export_e2e.py"
    dag_file.parent.mkdir(exist_ok=True)
    shutil.copy(DAGS / "gamma_export_e2e.py", dag_file)
    airflow_cli(
        "dags",
        "test",
        "gamma_export_e2e",
        "2026-01-05",
        "-f",
        str(dag_file),
        env={"GAMMA_EXPORT_TEST_DEST": dest},
    )
    [landed_file] = files_under(tmp_path)
    assert landed_file == "2026-01-05/weekly-report.pptx"
    [generation_id] = gamma_connection.generations
    assert (tmp_path / landed_file).read_bytes() == gamma_connection.export_bytes(generation_id)

    with sqlite3.connect(airflow_home / "airflow.db") as db:
        [(state,)] = db.execute(
            "SELECT state FROM dag_run WHERE dag_id = 'gamma_export_e2e' ORDER BY id DESC LIMIT 1"
        ).fetchall()
        assert state == "success"
        rows = db.execute(
            "SELECT asset.uri, asset_event.extra FROM asset_event JOIN asset ON asset.id = asset_event.asset_id "
            "WHERE asset_event.source_dag_id = 'gamma_export_e2e' AND asset_event.source_task_id = 'land'"
        ).fetchall()
    assert rows, "no asset event was emitted"
    uri, extra = rows[-1]
    assert uri == f"{dest}weekly-report.pptx"
    assert json.loads(extra)["uris"] == [f"file://{tmp_path}/{landed_file}"]
    assert json.loads(extra)["generation_id"] == generation_id
    assert os.path.getsize(tmp_path / landed_file) > 0


@pytest.mark.e2e
def test_openlineage_events_name_the_landed_file_as_output(
    airflow_home: Path, gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    """The real OpenLineage provider, writing its events to a file: the land task's COMPLETE event
    has the landed file as its one output dataset."""
    airflow_cli = next(
        module.airflow_cli for name, module in sys.modules.items() if name.rpartition(".")[2] == "conftest"
    )
    dest_dir, events_file = tmp_path / "decks", tmp_path / "openlineage.jsonl"
    dag_file = airflow_home / "dags" / "gamma_export_e2e.py"
    dag_file.parent.mkdir(exist_ok=True)
    shutil.copy(DAGS / "gamma_export_e2e.py", dag_file)
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    airflow_cli(
        "dags",
        "test",
        "gamma_export_e2e",
        "2026-01-12",
        "-f",
        str(dag_file),
        env={
            "GAMMA_EXPORT_TEST_DEST": f"file://{dest_dir}/",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "gamma-tests",
        },
    )
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    [complete] = [
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "gamma_export_e2e.land"
    ]
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [
        ("file", f"{dest_dir}/2026-01-12/weekly-report.pptx")
    ]
    assert complete["job"]["namespace"] == "gamma-tests"
    [generation_id] = gamma_connection.generations
    assert (dest_dir / "2026-01-12" / "weekly-report.pptx").read_bytes() == gamma_connection.export_bytes(
        generation_id
    )


# --- new exports of a gamma: another format, or an existing gamma ----------------------------------


def test_one_generation_lands_as_pptx_and_as_pdf(gamma_connection: GammaEmulator, tmp_path: Path) -> None:
    result = generation(gamma_connection, export_as="pptx")
    [pptx] = run(export_op(generation_id=result, dest=f"{tmp_path}/"))[0]
    [pdf] = run(export_op(generation_id=result, export_as="pdf", dest=f"{tmp_path}/"))[0]

    gamma_id = result["gammaId"]
    assert files_under(tmp_path) == [f"{gamma_id}.pdf", f"{gamma_id}.pptx"]
    assert (tmp_path / f"{gamma_id}.pdf").read_bytes() == gamma_connection.export_bytes(
        result["generationId"], "pdf"
    )
    assert pdf["size"] == (tmp_path / f"{gamma_id}.pdf").stat().st_size
    assert pptx["content_type"] == PPTX
    exports = [r for r in gamma_connection.requests if r.path == f"/v1.0/gammas/{gamma_id}/export"]
    assert [r.json for r in exports] == [{"exportAs": "pdf"}]
    assert len(gamma_connection.generations) == 1, "a new format costs an export, not a generation"


def test_an_existing_gamma_is_exported_anew_by_its_id(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    """The weekly re-export of a template deck: no generation at all."""
    template = generation(gamma_connection, export_as=None)

    [landed] = run(export_op(gamma_id=template["gammaId"], export_as="pdf", dest=f"{tmp_path}/deck.pdf"))[0]

    assert (tmp_path / "deck.pdf").read_bytes() == gamma_connection.export_bytes(
        template["generationId"], "pdf"
    )
    assert landed["uri"].endswith("deck.pdf")
    assert len(gamma_connection.generations) == 1


def test_a_reconciled_deck_is_exported_in_the_format_asked_here(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    """A deck found by its reference after an uncertain POST has no generation id: a PDF of it is a
    new export of its gamma in PDF, not of the generate task's own format."""
    made = generation(gamma_connection, export_as="pptx")
    reconciled = {"gammaId": made["gammaId"], "exportAs": "pptx", "reconciled": True}

    run(export_op(generation_id=reconciled, export_as="pdf", dest=f"{tmp_path}/deck.pdf"))

    exports = [r for r in gamma_connection.requests if r.path == f"/v1.0/gammas/{made['gammaId']}/export"]
    assert [r.json for r in exports] == [{"exportAs": "pdf"}]
    assert (tmp_path / "deck.pdf").read_bytes() == gamma_connection.export_bytes(made["generationId"], "pdf")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma_id": "g_1"}, "needs export_as"),
        ({"gamma_id": "g_1", "generation_id": "gen_1", "export_as": "pdf"}, "exactly one of them"),
        ({}, "exactly one of them"),
        ({"generation_id": "gen_1", "export_as": "gif"}, "pdf, pptx, png"),
        ({"gamma_id": " ", "export_as": "pdf"}, "must be a gamma id"),
        ({"gamma_id": "{{ params.gamma }}"}, "needs export_as"),
    ],
)
def test_bad_new_export_arguments_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(GammaParameterError, match=message):
        export_op(dest="/tmp/deck.pdf", **kwargs)


@pytest.mark.parametrize(
    ("gamma_id", "export_as", "message"),
    [("g_1", "PDF", "pdf, pptx, png"), ("", "pdf", "must be a gamma id")],
)
def test_bad_rendered_export_arguments_fail_before_any_request(
    gamma_connection: GammaEmulator, tmp_path: Path, gamma_id: str, export_as: str, message: str
) -> None:
    op = export_op(gamma_id="{{ params.gamma }}", export_as="{{ params.format }}", dest=f"{tmp_path}/deck")
    op.gamma_id, op.export_as = gamma_id, export_as  # as Airflow renders them
    with pytest.raises(GammaParameterError, match=message):
        run(op)
    assert gamma_connection.requests == []
    assert list(tmp_path.iterdir()) == []


def test_a_deferrable_new_export_waits_in_the_triggerer_then_lands(
    gamma_connection: GammaEmulator, tmp_path: Path
) -> None:
    import asyncio

    from airflow_provider_gamma._compat import TaskDeferred
    from airflow_provider_gamma.triggers.gamma import GammaExportTrigger

    template = generation(gamma_connection, export_as=None)
    op = export_op(
        gamma_id=template["gammaId"], export_as="pptx", dest=f"{tmp_path}/deck.pptx", deferrable=True
    )
    op.poll_interval = 0.05
    with pytest.raises(TaskDeferred) as caught:
        run(op)
    trigger = caught.value.trigger
    assert isinstance(trigger, GammaExportTrigger)
    assert not (tmp_path / "deck.pptx").exists()
    assert gamma_connection.api_key not in json.dumps(trigger.serialize()[1])

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "success"
    assert event["export_id"] == trigger.job_id
    from airflow.sdk.execution_time.context import OutletEventAccessors

    [landed] = op.execute_complete({"outlet_events": OutletEventAccessors()}, event)  # type: ignore[arg-type]

    assert (tmp_path / "deck.pptx").read_bytes() == gamma_connection.export_bytes(
        template["generationId"], "pptx"
    )
    assert landed["uri"].endswith("deck.pptx")
    polls = [r.path for r in gamma_connection.requests if r.path.startswith("/v1.0/exports/")]
    assert polls
    assert all(path == f"/v1.0/exports/{trigger.job_id}" for path in polls)


@pytest.mark.parametrize(
    "event",
    [
        {
            "status": "failed",
            "export_id": "e1",
            "message": "Gamma export e1 failed: deck_too_large",
            "export": {},
        },
        {"status": "timeout", "export_id": "e1", "message": "still pending at the deadline", "export": None},
        {"status": "success", "export_id": "e1", "message": "ok", "export": {"status": "completed"}},
    ],
)
def test_an_export_that_did_not_finish_lands_nothing(event: dict[str, Any], tmp_path: Path) -> None:
    op = export_op(gamma_id="g_1", export_as="pdf", dest=f"{tmp_path}/deck.pdf", deferrable=True)
    with pytest.raises(GammaExportError, match="nothing was landed"):
        op.execute_complete({"outlet_events": {}}, event)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_the_export_trigger_reports_gammas_failure_reason() -> None:
    from airflow_provider_gamma import protocol

    failed: Any = {"exportId": "e1", "status": "failed", "error": None, "reason": "render_timeout"}
    assert protocol.export_failure_reason(failed) == "no reason given (render_timeout)"
    failed = {"exportId": "e1", "status": "failed", "error": {"message": "Deck too large"}}
    assert protocol.export_failure_reason(failed) == "Deck too large"
