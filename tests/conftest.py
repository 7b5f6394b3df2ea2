# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Shared fixtures: a throwaway Airflow home, the Gamma emulator, and moto_server for real S3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration on first import: point it at a private home before anything imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="gamma-tests-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_AIRFLOW_HOME / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW_CONN_GAMMA_DEFAULT", None)
# gcsfs asks GCS's gRPC control plane for every bucket's layout unless told not to; an emulator has none.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import pytest  # noqa: E402
import requests  # noqa: E402

from tests.airflow_cluster import free_port  # noqa: E402

pytest_plugins = ["airflow_provider_gamma.testing.pytest_plugin"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent


def airflow_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the ``airflow`` CLI of this venv with the test Airflow home; raises with its output on failure."""
    result = subprocess.run(
        [str(BIN / "airflow"), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"airflow {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """A migrated Airflow metadata DB (sqlite) in the throwaway home, shared by the session."""
    airflow_cli("db", "migrate")
    yield _AIRFLOW_HOME
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 endpoint: ``moto_server`` on a loopback port for the whole session."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on moto, with ``aws_default`` pointing at it; returns the bucket name."""
    import json
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    bucket = f"decks-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """fake-gcs-server on a loopback port for the whole session."""
    from tests.object_stores import fake_gcs_server

    with fake_gcs_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """Azurite's blob service on a loopback port for the whole session."""
    from tests.object_stores import azurite

    with azurite() as connection_string:
        yield connection_string


@pytest.fixture(params=["s3", "gcs", "azure"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    """A fresh bucket on each real store in turn (S3 on moto, GCS on fake-gcs-server, Azure Blob on
    Azurite), with an Airflow connection ``<name>_test`` reaching it."""
    from tests import object_stores

    conn_id = f"{request.param}_test"
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        uri, made = object_stores.s3_connection(endpoint), object_stores.s3_store(endpoint, conn_id)
    elif request.param == "gcs":
        endpoint = request.getfixturevalue("gcs_endpoint")
        uri, made = object_stores.gcs_connection(endpoint), object_stores.gcs_store(endpoint, conn_id)
    else:
        connection = request.getfixturevalue("azurite_connection_string")
        uri, made = object_stores.azure_connection(connection), object_stores.azure_store(connection, conn_id)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", uri)
    return made
