# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Postgres and Redis from Debian's packages, started on loopback ports in temporary directories.

Each server runs in a session of its own and is stopped by its PID (SIGTERM, then SIGKILL). The
binaries come from ``apt-get install postgresql redis-server`` (``.ci/run`` installs them when they are
missing); a test that needs one and finds it absent is skipped with the command to install it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.airflow_cluster import free_port

POSTGRES_USER = "postgres"  # the Debian package's system user: postgres refuses to run as root


def postgres_bin_dir() -> Path | None:
    """``/usr/lib/postgresql/<newest>/bin``, where Debian keeps initdb and postgres, or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def missing() -> list[str]:
    """The Debian packages the production topology needs and this machine lacks."""
    lacking = []
    if postgres_bin_dir() is None:
        lacking.append("postgresql")
    if shutil.which("redis-server") is None:
        lacking.append("redis-server")
    return lacking


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"{process.args[0]} did not listen on {port}:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A fresh Postgres cluster on a free loopback port; yields its SQLAlchemy URL (database ``airflow``)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no Postgres server: apt-get install -y postgresql")
    root = Path(tempfile.mkdtemp(prefix="gamma-pg-"))
    data, log = root / "data", root / "postgres.log"
    user = pwd.getpwnam(POSTGRES_USER) if os.geteuid() == 0 else None
    as_user = ["runuser", "-u", POSTGRES_USER, "--"] if user else []
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    port = free_port()
    process = None
    try:
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "airflow",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    *as_user,
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(root),
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(port, process, log)
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """A Redis server on a free loopback port, nothing persisted; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis server: apt-get install -y redis-server")
    root = Path(tempfile.mkdtemp(prefix="gamma-redis-"))
    log = root / "redis.log"
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)
