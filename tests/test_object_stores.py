# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The same landing tests on every real store: S3 (moto_server), GCS (fake-gcs-server) and Azure Blob
(Azurite), each through Airflow's own filesystem for its scheme (amazon, google, microsoft-azure
providers) and a connection naming the store.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile

import pytest
from airflow.sdk import Asset, ObjectStoragePath

from airflow_provider_gamma.exceptions import GammaExportError
from airflow_provider_gamma.landing import StagedObject
from airflow_provider_gamma.operators.export import GammaExportExistsError
from airflow_provider_gamma.testing import GammaEmulator
from airflow_provider_gamma.testing.exports import CONTENT_TYPES
from tests.object_stores import Store
from tests.test_export_operator import export_op, generation, run

#: OpenLineage's naming spec for each store (Azure names the account: Azurite's development one).
OPENLINEAGE_NAMESPACES = {
    "s3": "s3://{}",
    "gs": "gs://{}",
    "abfs": "abfss://{}@devstoreaccount1.dfs.core.windows.net",
}
#: Spans several 8 MiB upload parts (S3 parts, Azure blocks, GCS resumable chunks).
PADDING = 19 * 1024 * 1024


@pytest.fixture
def padded_emulator(monkeypatch: pytest.MonkeyPatch) -> GammaEmulator:
    with GammaEmulator(generation_seconds=0.05, export_padding_bytes=PADDING) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_GAMMA_DEFAULT", emulator.connection_uri())
        yield emulator  # type: ignore[misc]


def padded_digest(data: bytes) -> str:
    digest = hashlib.sha256(data)
    digest.update(bytes(PADDING))
    return digest.hexdigest()


def test_lands_byte_for_byte_with_its_content_type_asset_event_and_lineage(
    gamma_connection: GammaEmulator, store: Store
) -> None:
    gen = generation(gamma_connection)
    key = "decks/2026-01-05/weekly-report.pptx"
    asset = Asset(store.uri(key))
    op = export_op(generation_id=gen["generationId"], dest=store.dest(key), outlets=[asset])
    landed, events = run(op)
    data = gamma_connection.export_bytes(gen["generationId"])
    assert store.keys() == [key]
    assert store.read(key) == data
    assert store.content_type(key) == CONTENT_TYPES["pptx"]
    assert landed == [
        {
            "uri": store.uri(key),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": CONTENT_TYPES["pptx"],
        }
    ]
    assert events[asset].extra["uris"] == [store.uri(key)]
    assert store.staged() == []
    [output] = op.get_openlineage_facets_on_complete(None).outputs
    assert (output.namespace, output.name) == (OPENLINEAGE_NAMESPACES[store.scheme].format(store.bucket), key)


def test_an_export_of_several_parts_lands_whole(padded_emulator: GammaEmulator, store: Store) -> None:
    gen = generation(padded_emulator, export_as="pdf")
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=store.dest("out/")))
    key = f"out/{gen['gammaId']}.pdf"
    data = padded_emulator.export_bytes(gen["generationId"])
    assert store.keys() == [key]
    assert hashlib.sha256(store.read(key)).hexdigest() == padded_digest(data) == landed[0]["sha256"]
    assert landed[0]["size"] == len(data) + PADDING
    assert store.staged() == []


def test_a_download_cut_after_parts_were_sent_leaves_nothing(
    padded_emulator: GammaEmulator, store: Store
) -> None:
    """Cut at 12 MiB of 19+: one whole 8 MiB part is already in the store when the download fails."""
    gen = generation(padded_emulator, export_as="pdf")
    padded_emulator.add_fault(host="export", truncate_at=12 * 1024 * 1024, times=None)
    with pytest.raises(GammaExportError, match="nothing was landed"):
        run(export_op(generation_id=gen["generationId"], dest=store.dest("deck.pdf")))
    assert store.keys() == []
    assert store.staged() == []


def test_a_failed_overwrite_keeps_the_old_object(padded_emulator: GammaEmulator, store: Store) -> None:
    store.put("deck.pdf", b"last week's deck")
    gen = generation(padded_emulator, export_as="pdf")
    padded_emulator.add_fault(host="export", truncate_at=12 * 1024 * 1024, times=None)
    with pytest.raises(GammaExportError, match="nothing was landed"):
        run(export_op(generation_id=gen["generationId"], dest=store.dest("deck.pdf"), if_exists="overwrite"))
    assert store.keys() == ["deck.pdf"]
    assert store.read("deck.pdf") == b"last week's deck"
    # Azure cannot drop staged blocks of a blob that exists without deleting the blob: they stay,
    # unreadable, until the next commit to that name (or 7 days).
    assert store.staged() == (["deck.pdf"] if store.scheme == "abfs" else [])


def test_a_retry_after_a_cut_lands_whole(gamma_connection: GammaEmulator, store: Store) -> None:
    gen = generation(gamma_connection)
    gamma_connection.add_fault(host="export", truncate_at=100, times=2)
    run(export_op(generation_id=gen["generationId"], dest=store.dest("deck.pptx")))
    assert store.read("deck.pptx") == gamma_connection.export_bytes(gen["generationId"])
    assert store.keys() == ["deck.pptx"]
    assert store.staged() == []


def test_if_exists(gamma_connection: GammaEmulator, store: Store) -> None:
    store.put("deck.pptx", b"old")
    gen = generation(gamma_connection)
    with pytest.raises(GammaExportExistsError, match=store.uri("deck.pptx")):
        run(export_op(generation_id=gen["generationId"], dest=store.dest("deck.pptx"), if_exists="fail"))
    downloads = len(gamma_connection.export_requests)
    [skipped], _ = run(
        export_op(generation_id=gen["generationId"], dest=store.dest("deck.pptx"), if_exists="skip")
    )
    assert skipped["sha256"] == hashlib.sha256(b"old").hexdigest()
    assert len(gamma_connection.export_requests) == downloads
    assert store.read("deck.pptx") == b"old"
    run(export_op(generation_id=gen["generationId"], dest=store.dest("deck.pptx"), if_exists="overwrite"))
    assert store.read("deck.pptx") == gamma_connection.export_bytes(gen["generationId"])


def test_png_cards_are_unpacked_and_stale_ones_removed(gamma_connection: GammaEmulator, store: Store) -> None:
    store.put("cards/card-04.png", b"stale card of an earlier, longer deck")
    gen = generation(gamma_connection, export_as="png", num_cards=3)
    landed, _ = run(export_op(generation_id=gen["generationId"], dest=store.dest("cards/"), unpack_png=True))
    with zipfile.ZipFile(io.BytesIO(gamma_connection.export_bytes(gen["generationId"]))) as archive:
        expected = {info.filename: archive.read(info) for info in archive.infolist()}
    names = ["card-01.png", "card-02.png", "card-03.png"]
    assert store.keys() == [f"cards/{name}" for name in names]
    assert [item["uri"] for item in landed] == [store.uri(f"cards/{name}") for name in names]
    for name in names:
        assert store.read(f"cards/{name}") == expected[name]
        assert store.content_type(f"cards/{name}") == "image/png"
    assert store.staged() == []


def test_a_staged_object_is_invisible_until_committed(store: Store) -> None:
    stage = StagedObject(ObjectStoragePath(store.dest("big.bin")), content_type="application/octet-stream")
    stage.write(bytes(10 * 1024 * 1024))
    assert store.keys() == []
    deadline = time.monotonic() + 10  # one whole part is on its way, staged
    while store.staged() != ["big.bin"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.staged() == ["big.bin"]
    stage.commit()
    assert store.keys() == ["big.bin"]
    assert len(store.read("big.bin")) == 10 * 1024 * 1024
    dropped = StagedObject(ObjectStoragePath(store.dest("dropped.bin")))
    dropped.write(bytes(9 * 1024 * 1024))
    dropped.discard()
    assert store.keys() == ["big.bin"]
    assert store.staged() == []
