# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A real, small Airflow 3 deployment on loopback, for end-to-end tests of DAGs and deferrable operators
(the e2e suite and ``benchmarks/bench_slot_seconds.py``; it knows nothing of Gamma, so it is not shipped).

:class:`AirflowCluster` runs ``airflow db migrate`` and then the four Airflow 3 components as separate
processes from one venv's ``airflow`` binary (by default the venv of the running interpreter): the
``api-server`` (which also serves the Execution API the task workers talk to), the ``scheduler`` (with
the LocalExecutor), the ``dag-processor`` and the ``triggerer``. The metadata DB is SQLite in a private
Airflow home unless ``database_url`` names another (e.g. Postgres). A production-like topology adds
``celery-worker`` (with ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor`` and a broker in ``env``) and more
triggerers, named ``triggerer-2``, ``triggerer-3`` ...; the auth manager is the SimpleAuthManager with ``simple_auth_manager_all_admins``, so the
REST API needs no password. State is read through the REST API (``/api/v2``), which is the same in
Airflow 3.1 and 3.3::

    from airflow_provider_gamma.testing import GammaEmulator
    from tests.airflow_cluster import AirflowCluster

    with GammaEmulator(generation_seconds=5) as emu, AirflowCluster(
        dags_folder="tests/e2e/dags",
        connections={"gamma_default": emu.connection_uri()},
    ) as cluster:
        run_id = cluster.trigger_dag("my_dag")
        seen = cluster.wait_for_task_state("my_dag", run_id, "generate", {"success"}, timeout=60)
        assert "deferred" in seen
        cluster.kill("triggerer")  # SIGKILL, like a crashed pod
        cluster.restart("triggerer")

Every component runs in its own session and process group; :meth:`AirflowCluster.stop` (also run on
``__exit__`` and when :meth:`~AirflowCluster.start` fails) sends SIGTERM to every process of each
session, task processes included, and SIGKILL to whatever is left after a grace period. Component
output goes to ``<home>/cluster-logs/<component>.log``; task logs to ``<home>/logs``.

POSIX only (process groups and ``/proc``, falling back to process groups where ``/proc`` is missing).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final
from urllib.parse import quote

import requests

__all__ = [
    "COMPONENTS",
    "OPTIONAL_COMPONENTS",
    "TERMINAL_DAG_RUN_STATES",
    "TERMINAL_TASK_STATES",
    "AirflowCluster",
    "AirflowClusterError",
    "default_airflow_bin",
    "free_port",
]

#: The components :class:`AirflowCluster` starts by default, in start order.
COMPONENTS: Final = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Components started only when asked for; ``triggerer-<n>`` (n >= 2) names further triggerers too.
OPTIONAL_COMPONENTS: Final = ("celery-worker",)
#: Task instance states after which a task does not change any more without a clear or a retry.
TERMINAL_TASK_STATES: Final = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
#: DAG run states after which a run does not change any more.
TERMINAL_DAG_RUN_STATES: Final = frozenset({"success", "failed"})

_SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
# Inherited variables that would leak another Airflow setup (e.g. a test session's) into the cluster.
_AIRFLOW_ENV_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
_AIRFLOW_ENV_NAMES = ("AIRFLOW_HOME", "AIRFLOW_CONFIG")


class AirflowClusterError(RuntimeError):
    """A component did not start, died, or the cluster did not reach an expected state in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _kind(component: str) -> str:
    """What ``component`` runs: ``triggerer-2`` is a triggerer; raises for an unknown name."""
    base, _, number = component.rpartition("-")
    if base == "triggerer" and number.isdigit() and int(number) >= 2:
        return "triggerer"
    if component in COMPONENTS or component in OPTIONAL_COMPONENTS:
        return component
    raise ValueError(
        f"unknown component {component!r}; choose from {COMPONENTS + OPTIONAL_COMPONENTS} or triggerer-<n>"
    )


def default_airflow_bin() -> Path:
    """The ``airflow`` script next to the running interpreter (i.e. of the active venv)."""
    return Path(sys.executable).parent / "airflow"


def _session_members(sid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in session ``sid``, read from ``/proc``; [] without it."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After "pid (comm)": state ppid pgrp session ...
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def _signal_session(sid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``sid`` and to every process of session ``sid``.

    Task processes put themselves in process groups of their own (Airflow >= 3.3), so the process
    group of the component alone does not reach them; the session does, even once they are orphaned.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in _session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _session_alive(sid: int) -> bool:
    """Whether any live process of session ``sid`` is left (zombies do not count)."""
    if os.path.isdir("/proc"):
        return bool(_session_members(sid))
    try:
        os.killpg(sid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class _Component:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started_at: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        return self.process.pid


class AirflowCluster:
    """A real Airflow 3 deployment (api-server, scheduler, dag-processor, triggerer) on loopback.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` (always call :meth:`stop`).

    Args:
        dags_folder: The DAGs folder (``[core] dags_folder``).
        airflow_bin: The ``airflow`` executable; default: the one of the running interpreter's venv.
            Everything (migrations, components, task workers) runs from that venv.
        home: The ``AIRFLOW_HOME``; default: a fresh temporary directory, removed by :meth:`stop`
            unless ``keep_home`` (a given home is never removed).
        database_url: The metadata DB's SQLAlchemy URL (``[database] sql_alchemy_conn``); default:
            SQLite in the home.
        connections: ``{conn_id: uri_or_json}``, passed as ``AIRFLOW_CONN_<CONN_ID>`` variables.
        variables: ``{name: value}``, passed as ``AIRFLOW_VAR_<NAME>`` variables.
        env: Further environment for every component and CLI call; applied last, so it can
            override any ``AIRFLOW__SECTION__KEY`` setting chosen here.
        inherit_airflow_env: Keep ``AIRFLOW_*`` variables of this process (by default they are
            dropped, so that e.g. a test session's own ``AIRFLOW_HOME`` does not leak in).
        host: The loopback address the api-server binds to.
        api_port: The api-server port; default: a free port.
        components: Which components :meth:`start` starts (default :data:`COMPONENTS`); may add
            ``celery-worker`` and ``triggerer-2`` ....
        parallelism: ``[core] parallelism``, the LocalExecutor's worker count.
        startup_timeout: Seconds :meth:`start` waits for the components to report healthy.
        stop_grace: Seconds between SIGTERM and SIGKILL when stopping a component.
        keep_home: Keep a temporary home (logs, DB) after :meth:`stop`, e.g. to debug a failure.
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        *,
        airflow_bin: str | os.PathLike[str] | None = None,
        home: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        connections: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        inherit_airflow_env: bool = False,
        host: str = "127.0.0.1",
        api_port: int | None = None,
        components: Sequence[str] = COMPONENTS,
        parallelism: int = 4,
        startup_timeout: float = 180.0,
        stop_grace: float = 5.0,
        keep_home: bool = False,
    ) -> None:
        for component in components:
            _kind(component)
        self.dags_folder = Path(dags_folder).resolve()
        self.airflow_bin = Path(airflow_bin) if airflow_bin is not None else default_airflow_bin()
        self._given_home = home is not None
        self._home = Path(home).resolve() if home is not None else None
        self.database_url = database_url
        self._connections = dict(connections or {})
        self._variables = dict(variables or {})
        self._extra_env = dict(env or {})
        self._inherit_airflow_env = inherit_airflow_env
        self.host = host
        self._api_port = api_port
        self._components_to_start = tuple(components)
        self.parallelism = parallelism
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.keep_home = keep_home
        self._components: dict[str, _Component] = {}
        self._env: dict[str, str] = {}
        self._session = requests.Session()
        self._token: str | None = None

    # ============================================================================ properties

    @property
    def home(self) -> Path:
        """The ``AIRFLOW_HOME`` (available once started)."""
        if self._home is None:
            raise AirflowClusterError("the cluster is not started")
        return self._home

    @property
    def api_url(self) -> str:
        """Base URL of the api-server, e.g. ``http://127.0.0.1:40123``."""
        if self._api_port is None:
            raise AirflowClusterError("the cluster is not started")
        return f"http://{self.host}:{self._api_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment every component and CLI call gets (a copy)."""
        return dict(self._env)

    @property
    def db_path(self) -> Path:
        """The SQLite metadata DB."""
        return self.home / "airflow.db"

    @property
    def log_dir(self) -> Path:
        """Where component output goes: ``<home>/cluster-logs/<component>.log``."""
        return self.home / "cluster-logs"

    def log_path(self, component: str) -> Path:
        """The log file of ``component`` (all of its incarnations, appended)."""
        return self.log_dir / f"{component}.log"

    def log_tail(self, component: str, lines: int = 40) -> str:
        """The last ``lines`` lines of ``component``'s log (for error messages)."""
        try:
            text = self.log_path(component).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def pid(self, component: str) -> int | None:
        """PID of the running ``component`` (its session and process group id), or ``None``."""
        comp = self._components.get(component)
        return comp.pid if comp is not None and comp.process.poll() is None else None

    def is_running(self, component: str) -> bool:
        """Whether ``component``'s main process is alive."""
        return self.pid(component) is not None

    # ============================================================================ lifecycle

    def _build_env(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if self._inherit_airflow_env
            or not (name.startswith(_AIRFLOW_ENV_PREFIXES) or name in _AIRFLOW_ENV_NAMES)
        }
        bin_dir = str(self.airflow_bin.parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        api = self.api_url
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "AIRFLOW__CORE__AUTH_MANAGER": _SIMPLE_AUTH_MANAGER,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
                # Writers wait up to 30 s for the lock (sqlite3's default is 5 s) instead of
                # failing with "database is locked" when the machine is busy.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url
                or f"sqlite:///{self.db_path}?timeout=30",
                "AIRFLOW__API__BASE_URL": api,
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": str(self._api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # Fast loops, so that a test waits seconds, not minutes.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "0",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # A killed triggerer's triggers go to a new one this many seconds after its last beat.
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            }
        )
        for conn_id, uri in self._connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
        for name, value in self._variables.items():
            env[f"AIRFLOW_VAR_{name.upper()}"] = value
        env.update(self._extra_env)
        return env

    def start(self) -> AirflowCluster:
        """Create the home, migrate the DB, start the components and wait until they are healthy.

        On any failure everything started so far is stopped before the error propagates.
        """
        if self._components:
            raise AirflowClusterError("the cluster is already started")
        if not self.airflow_bin.exists():
            raise AirflowClusterError(f"no airflow executable at {self.airflow_bin}")
        if self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="airflow-cluster-"))
        self._home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._api_port is None:
            self._api_port = free_port(self.host)
        self._env = self._build_env()
        try:
            self.cli("db", "migrate", timeout=300)
            if self.database_url is None:
                # Write-ahead logging: readers (the REST API polled by tests) no longer block writers.
                with contextlib.closing(sqlite3.connect(self.db_path)) as db:
                    db.execute("PRAGMA journal_mode=WAL")
            for component in self._components_to_start:
                self.start_component(component)
            self.wait_until_healthy(
                [c for c in self._components_to_start if c != "api-server"], timeout=self.startup_timeout
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, component: str) -> list[str]:
        airflow = str(self.airflow_bin)
        if component == "api-server":
            return [
                airflow,
                "api-server",
                "--host",
                self.host,
                "--port",
                str(self._api_port),
                "--workers",
                "1",
            ]
        kind = _kind(component)
        if kind in ("scheduler", "triggerer"):
            # Task and trigger logs are files in this home; no log-serving ports to collide on.
            return [airflow, kind, "--skip-serve-logs"]
        if kind == "celery-worker":
            return [airflow, "celery", "worker", "--skip-serve-logs", "--without-gossip", "--without-mingle"]
        return [airflow, kind]

    def start_component(self, component: str) -> int:
        """Start ``component`` (see ``components``) in a new session; returns its PID.

        The api-server is waited for (its health endpoint answering); other components are not.
        """
        _kind(component)
        if self.is_running(component):
            raise AirflowClusterError(f"{component} is already running (pid {self.pid(component)})")
        self._reap(component)
        log = open(self.log_path(component), "ab")  # noqa: SIM115 - closed in _reap
        log.write(f"\n===== {datetime.now().isoformat()} starting {component}\n".encode())
        log.flush()
        process = subprocess.Popen(
            self._command(component),
            env=self._env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._components[component] = _Component(component, process, log)
        if component == "api-server":
            self._wait_for_api_server()
        return process.pid

    def _wait_for_api_server(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                if self._session.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            self._check_alive("api-server")
            if time.monotonic() > deadline:
                raise AirflowClusterError(
                    f"api-server did not answer within {self.startup_timeout:.0f} s\n"
                    + self.log_tail("api-server")
                )
            time.sleep(0.25)

    def _check_alive(self, component: str) -> None:
        comp = self._components.get(component)
        if comp is not None and comp.process.poll() is not None:
            raise AirflowClusterError(
                f"{component} exited with {comp.process.returncode}; log {self.log_path(component)}:\n"
                + self.log_tail(component)
            )

    def kill(self, component: str, sig: int = signal.SIGKILL, *, wait: float = 10.0) -> None:
        """Send ``sig`` to every process of ``component`` (its whole session: sub-processes, trigger
        runners and task processes too), like a crashed or evicted container.

        Waits up to ``wait`` seconds for the main process to exit (0: do not wait).
        """
        comp = self._components.get(component)
        if comp is None:
            raise AirflowClusterError(f"{component} was never started")
        _signal_session(comp.pid, sig)
        if wait > 0:
            try:
                comp.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                raise AirflowClusterError(
                    f"{component} (pid {comp.pid}) still running {wait} s after signal {sig}"
                ) from None

    def stop_component(self, component: str) -> None:
        """Stop ``component``: SIGTERM its session, SIGKILL what is left after ``stop_grace``."""
        self._stop_many([component])

    def _stop_many(self, components: Iterable[str]) -> None:
        """SIGTERM ``components`` together, wait up to ``stop_grace`` for all of their processes to
        end, then SIGKILL whatever is left of their sessions, and reap.

        SIGTERM goes to the main process only, as a container runtime does: Airflow shuts its own
        children down (signalled too, a LocalExecutor worker would run the scheduler's handler and
        the scheduler could wait for it until SIGKILL). Leftovers of a dead main process get it too.
        """
        comps = [self._components[c] for c in components if c in self._components]
        live = [c for c in comps if c.process.poll() is None or _session_alive(c.pid)]
        for comp in live:
            if comp.process.poll() is None:
                comp.process.send_signal(signal.SIGTERM)
            else:
                _signal_session(comp.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while live and time.monotonic() < deadline:
            live = [c for c in live if c.process.poll() is None or _session_alive(c.pid)]
            if live:
                time.sleep(0.1)
        for comp in comps:
            self._reap(comp.name)

    def _reap(self, component: str) -> None:
        comp = self._components.pop(component, None)
        if comp is None:
            return
        if comp.process.poll() is None or _session_alive(comp.pid):
            _signal_session(comp.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            comp.process.wait(timeout=10)
        comp.log.close()

    def restart(self, component: str) -> int:
        """Stop ``component`` if it is still running (gracefully), then start a new one; returns its PID.

        After :meth:`kill` this just starts the replacement.
        """
        self.stop_component(component)
        return self.start_component(component)

    def stop(self) -> None:
        """Stop every component (reverse start order) and remove a temporary home. Idempotent."""
        # Scheduler, dag-processor and triggerer together; the api-server (which their task and
        # trigger processes talk to) after them.
        started = list(self._components)
        for group in ([c for c in started if c != "api-server"], ["api-server"]):
            try:
                self._stop_many(group)
            except Exception:  # noqa: S112 - keep stopping the others
                continue
        self._session.close()
        self._token = None
        if self._home is not None and not self._given_home and not self.keep_home:
            shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> AirflowCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ============================================================================ CLI and REST

    def cli(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` with the cluster's environment; raises with its output on failure."""
        result = subprocess.run(
            [str(self.airflow_bin), *args],
            env=self._env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AirflowClusterError(
                f"airflow {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def _auth_header(self) -> dict[str, str]:
        if self._token is None:
            # SimpleAuthManager with all_admins hands out a token without credentials (3.1 and 3.3).
            response = self._session.get(f"{self.api_url}/auth/token", timeout=10)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return {"Authorization": f"Bearer {self._token}"}

    def api(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        ok: Collection[int] = (200, 201, 204),
        timeout: float = 15.0,
    ) -> Any:
        """Call the REST API (``path`` like ``/api/v2/dags``) and return the decoded JSON (or ``None``).

        Raises :class:`AirflowClusterError` for a status not in ``ok``. A ``GET`` is retried a few
        times on a 5xx answer or a connection error (SQLite can be briefly locked on a busy machine);
        other methods are sent once.
        """
        retries = 3 if method.upper() == "GET" else 0
        refreshed_token = False
        while True:
            try:
                response = self._session.request(
                    method,
                    f"{self.api_url}{path}",
                    json=json_body,
                    params=params,
                    headers=self._auth_header(),
                    timeout=timeout,
                )
            except requests.ConnectionError:
                if retries <= 0:
                    raise
                retries -= 1
                time.sleep(0.5)
                continue
            if response.status_code == 401 and not refreshed_token:  # expired token: get a new one
                self._token = None
                refreshed_token = True
                continue
            if response.status_code >= 500 and retries > 0:
                retries -= 1
                time.sleep(0.5)
                continue
            break
        if response.status_code not in ok:
            raise AirflowClusterError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health``: status and latest heartbeat of each component."""
        response = self._session.get(f"{self.api_url}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait_until_healthy(self, components: Iterable[str] | None = None, *, timeout: float = 120.0) -> None:
        """Wait until the health endpoint reports each of ``components`` (default: all started ones
        but the api-server) healthy with a heartbeat from its current process."""
        wanted = [
            c for c in (components if components is not None else self._components) if c != "api-server"
        ]
        deadline = time.monotonic() + timeout
        while True:
            for component in wanted:
                self._check_alive(component)
            try:
                health = self.health()
            except requests.RequestException:
                health = {}
            if all(self._healthy(health, component) for component in wanted):
                return
            if time.monotonic() > deadline:
                raise AirflowClusterError(
                    f"not healthy within {timeout:.0f} s: {json.dumps(health)}\n"
                    + "\n".join(f"--- {c}:\n{self.log_tail(c, 15)}" for c in wanted)
                )
            time.sleep(0.5)

    def alive_jobs(self, job_type: str = "TriggererJob") -> list[dict[str, Any]]:
        """Jobs of ``job_type`` (``TriggererJob``, ``SchedulerJob`` ...) whose heartbeat is recent."""
        result = self.api(
            "GET", "/api/v2/jobs", params={"job_type": job_type, "is_alive": True, "limit": 100}
        )
        return list(result["jobs"])

    def _healthy(self, health: Mapping[str, Any], component: str) -> bool:
        kind = _kind(component)
        if kind == "celery-worker":  # no health entry: Celery's own start-up line
            return b" ready." in self.log_path(component).read_bytes()
        if component != kind:  # a further triggerer: the health entry shows only the latest beat
            triggerers = sum(_kind(c) == "triggerer" for c in self._components)
            return len(self.alive_jobs("TriggererJob")) >= triggerers
        key = component.replace("-", "_")
        entry = health.get(key) or {}
        beat = entry.get(f"latest_{key}_heartbeat")
        if entry.get("status") != "healthy" or not beat:
            return False
        comp = self._components.get(component)
        started = comp.started_at if comp is not None else 0.0
        return datetime.fromisoformat(beat).timestamp() >= started

    # ============================================================================ DAGs and runs

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's REST representation, or ``None`` if it is not (yet) parsed."""
        result: dict[str, Any] | None = self.api("GET", f"/api/v2/dags/{quote(dag_id)}", ok=(200, 404))
        return None if result is None or "dag_id" not in result else result

    def wait_for_dag(self, dag_id: str, *, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; returns it.

        Raises with the DAG import errors (if any) when it does not appear in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            dag = self.dag(dag_id)
            if dag is not None:
                return dag
            self._check_alive("dag-processor")
            if time.monotonic() > deadline:
                errors = self.api("GET", "/api/v2/importErrors", ok=(200, 404)) or {}
                raise AirflowClusterError(
                    f"DAG {dag_id!r} not parsed within {timeout:.0f} s; import errors: "
                    f"{json.dumps(errors.get('import_errors', []))[:4000]}\n{self.log_tail('dag-processor')}"
                )
            time.sleep(0.5)

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id`` (DAGs are created unpaused here, so this is rarely needed)."""
        self.api("PATCH", f"/api/v2/dags/{quote(dag_id)}", json_body={"is_paused": False})

    def trigger_dag(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
        *,
        run_id: str | None = None,
        timeout: float = 90.0,
    ) -> str:
        """Trigger a run of ``dag_id`` (waiting up to ``timeout`` for it to be parsed); returns its run id.

        ``logical_date`` must be timezone-aware; ``None`` gives a run without logical date (Airflow 3).
        """
        dag = self.wait_for_dag(dag_id, timeout=timeout)
        if dag.get("is_paused"):
            self.unpause(dag_id)
        body: dict[str, Any] = {
            "logical_date": logical_date.isoformat() if logical_date is not None else None,
            "conf": dict(conf or {}),
        }
        if run_id is not None:
            body["dag_run_id"] = run_id
        run = self.api("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", json_body=body)
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The REST representation of one DAG run (``state``, ``conf``, dates, ...)."""
        result: dict[str, Any] = self.api("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")
        return result

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """All runs of ``dag_id``, oldest first."""
        result = self.api(
            "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns", params={"limit": 100, "order_by": "id"}
        )
        return list(result["dag_runs"])

    def wait_for_dag_runs(
        self, dag_id: str, timeout: float = 120.0, *, poll_interval: float = 1.0
    ) -> list[dict[str, Any]]:
        """Wait until ``dag_id`` has a run (the scheduler made it, e.g. on a schedule or an asset event);
        returns all its runs, oldest first (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while not (runs := self.dag_runs(dag_id)):
            if time.monotonic() > deadline:
                raise AirflowClusterError(f"no run of {dag_id} within {timeout:.0f} s")
            time.sleep(poll_interval)
        return runs

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """The REST representation of one task instance (``state``, ``try_number``, ...)."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
        if map_index >= 0:
            path += f"/{map_index}"
        result: dict[str, Any] = self.api("GET", path)
        return result

    def task_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        """The task instance's state (``None`` before it is scheduled)."""
        state = self.task_instance(dag_id, run_id, task_id, map_index).get("state")
        return None if state is None else str(state)

    def wait_for_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: str | Collection[str],
        timeout: float = 120.0,
        *,
        map_index: int = -1,
        poll_interval: float = 0.2,
    ) -> list[str | None]:
        """Watch the task instance until its state is one of ``states``; returns the states seen.

        The list holds every state observed, in order, without consecutive repeats, ending with the
        one that matched, e.g. ``[None, "scheduled", "queued", "running", "deferred", "scheduled",
        "queued", "running", "success"]``; short-lived states can be missed between polls. Raises
        :class:`AirflowClusterError` on timeout, or when the task reaches a terminal state that is not
        wanted (e.g. ``failed`` while waiting for ``success``).
        """
        wanted = {states} if isinstance(states, str) else set(states)
        seen: list[str | None] = []
        deadline = time.monotonic() + timeout
        while True:
            state = self.task_state(dag_id, run_id, task_id, map_index)
            if not seen or seen[-1] != state:
                seen.append(state)
            if state in wanted:
                return seen
            if state in TERMINAL_TASK_STATES:
                raise AirflowClusterError(
                    f"{dag_id}.{task_id} in {run_id} ended {state!r} while waiting for {sorted(wanted)}; "
                    f"states seen: {seen}; the end of its log:\n{self.task_log_tail(dag_id, run_id, task_id)}"
                )
            if time.monotonic() > deadline:
                raise AirflowClusterError(
                    f"{dag_id}.{task_id} in {run_id} not in {sorted(wanted)} within {timeout:.0f} s; "
                    f"states seen: {seen}"
                )
            time.sleep(poll_interval)

    def task_log_tail(self, dag_id: str, run_id: str, task_id: str, lines: int = 40) -> str:
        """The last ``lines`` lines of the task's newest attempt log (what a failure report needs:
        the cluster's home, and so the log, is gone when the test ends)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        logs = [path for path in folder.rglob("attempt=*.log") if ".trigger." not in path.name]
        attempts = sorted(logs, key=lambda path: path.stat().st_mtime)
        if not attempts:
            return f"(no task log under {folder})"
        text = attempts[-1].read_text(errors="replace").splitlines()
        return "\n".join(line[:2000] for line in text[-lines:])

    def wait_for_dag_run(
        self, dag_id: str, run_id: str, timeout: float = 120.0, *, poll_interval: float = 0.5
    ) -> str:
        """Wait until the DAG run is ``success`` or ``failed``; returns that state (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            state = str(self.dag_run(dag_id, run_id).get("state"))
            if state in TERMINAL_DAG_RUN_STATES:
                return state
            if time.monotonic() > deadline:
                raise AirflowClusterError(f"run {run_id} of {dag_id} still {state!r} after {timeout:.0f} s")
            time.sleep(poll_interval)

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """The XCom value ``key`` pushed by the task instance, as stored (JSON); raises if absent."""
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/xcomEntries/{quote(key)}"
        )
        entry = self.api("GET", path, params={"map_index": map_index})
        return entry["value"]
