# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A Gamma public API emulator serving real HTTP on loopback, for tests, benchmarks and demos.

Use it in-process::

    from airflow_provider_gamma.testing import GammaEmulator

    with GammaEmulator(api_key="sk-gamma-test", generation_seconds=0.5) as emu:
        ...  # point the Gamma connection at emu.base_url

or as a stand-alone process::

    python -m airflow_provider_gamma.testing.emulator --port 8765 --export-port 8766
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any, Literal

from aiohttp import web

from airflow_provider_gamma.testing.catalog import Catalog, default_folders, default_themes
from airflow_provider_gamma.testing.edits import DEFAULT_EDIT_FAILURE, lost_edit_answer
from airflow_provider_gamma.testing.faults import FaultRule
from airflow_provider_gamma.testing.records import EditState, UploadRecord
from airflow_provider_gamma.testing.server import EmulatorCore
from airflow_provider_gamma.testing.state import (
    DEFAULT_FAILURE_MESSAGE,
    FAIL_MARKER,
    EmulatorConfig,
    EmulatorState,
    GenerationState,
    RecordedRequest,
)

__all__ = ["FAIL_MARKER", "GammaEmulator", "main"]

_SHUTDOWN_TIMEOUT = 0.5
_BACKLOG = 4096


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop (e.g. idle keep-alive handlers) and close it quietly."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


class GammaEmulator:
    """An emulator of the Gamma public API (v1.0), serving real HTTP on two loopback ports.

    The API host (:attr:`base_url`) behaves like ``https://public-api.gamma.app``: ``X-API-KEY``
    auth, request validation with Gamma's error bodies, asynchronous generations that finish after
    ``generation_seconds``, themes/folders pagination, archive/delete, credits, rate-limit headers.
    A second host (:attr:`export_base_url`) serves signed, expiring export URLs with real tiny
    PDF / PPTX / PNG-zip files. Faults can be injected with :meth:`add_fault`.

    The servers run in a background thread with their own event loop. Every method here is
    thread-safe. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Put ``[[emulator:fail]]`` in ``inputText`` / ``prompt`` to make a generation fail, or
    ``[[emulator:seconds=5]]`` to give one generation its own duration.

    Args:
        api_key: The only key accepted in ``X-API-KEY``.
        host: Interface both servers bind to.
        port: API host port (0 = a free port).
        export_port: Export host port (0 = a free port).
        generation_seconds: Time from POST until a generation is completed (or failed).
        export_seconds: Time from ``POST /v1.0/gammas/{id}/export`` until that export is completed.
        export_url_ttl: Seconds a signed export URL stays valid (Gamma: about a week).
        credits: Starting credit balance of the workspace.
        credits_per_card: Credits a completed generation deducts per card.
        max_cards: Largest ``numCards`` accepted (60 on Pro/Teams/Business, 75 on Ultra).
        burst_limit: Requests allowed per burst window.
        burst_window_seconds: Length of the burst window in seconds.
        hourly_limit: Requests allowed per hour.
        daily_limit: Requests allowed per day.
        rate_limit_retry_after: Send a ``Retry-After`` header with rate-limit 429s.
        export_padding_bytes: If > 0, every export download is the real file followed by this many
            zero bytes, generated on the fly and streamed (for large-download benchmarks).
        themes: Themes served by ``GET /v1.0/themes`` (dicts with id, name, type, colorKeywords,
            toneKeywords); default: 40 built-in themes.
        folders: Folders served by ``GET /v1.0/folders`` (dicts with id, name); default: 25.
        reject_unknown_fields: Answer 400 ``property X should not exist`` for body fields that are
            not in Gamma's schema.
        search_enabled: Serve ``GET /v1.0/gammas/search``; ``False`` answers it 403, as Gamma does for a
            workspace it has not rolled search out to yet.
        searchable_while_pending: Let search find a gamma once its document exists (half-way through
            its generation) instead of once it is complete (Gamma does not document which), and
            ``GET /v1.0/gammas/{id}`` read it then. Either way a gamma's ``updatedTime`` moves forward
            as each card is written (over the second half) and stops when its generation ends.
        record_requests: Keep every request in :attr:`requests` / :attr:`export_requests`
            (turn off for very long benchmarks; :meth:`post_count` keeps working).
        edit_seconds: Time from ``POST /v1.0/agent/gammas/{id}/edits`` until the edit ends. One edit
            runs per gamma at a time; a completed edit is a new revision of the gamma, which later
            exports show (its prompt on the first card) and which moves its ``updatedTime``.
        credits_per_edit: Credits a completed edit deducts.
        analytics_access: The key's right on every gamma's analytics: ``"manage"`` (every viewer,
            ``scope: all``), ``"edit"`` (only the key's own user, ``scope: self``) or ``"none"``
            (403, as Gamma answers without edit permission); can be changed while running.

    Uploads (``POST /v1.0/uploads``) are hashed as they stream in: :attr:`uploads` holds each one's
    size and SHA-256 (the bytes are not kept) and whether a generation or edit attached it. Their
    expiry after two days is not simulated.
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-gamma-test",
        host: str = "127.0.0.1",
        port: int = 0,
        export_port: int = 0,
        generation_seconds: float = 1.0,
        export_seconds: float = 0.5,
        export_url_ttl: float = 7 * 24 * 3600.0,
        credits: int = 10_000,
        credits_per_card: int = 2,
        max_cards: int = 60,
        burst_limit: int = 10_000,
        burst_window_seconds: float = 60.0,
        hourly_limit: int = 40_000,
        daily_limit: int = 200_000,
        rate_limit_retry_after: bool = True,
        export_padding_bytes: int = 0,
        themes: Sequence[Mapping[str, Any]] | None = None,
        folders: Sequence[Mapping[str, Any]] | None = None,
        reject_unknown_fields: bool = True,
        search_enabled: bool = True,
        searchable_while_pending: bool = False,
        record_requests: bool = True,
        edit_seconds: float = 1.0,
        credits_per_edit: int = 10,
        analytics_access: Literal["manage", "edit", "none"] = "manage",
    ) -> None:
        if export_padding_bytes < 0:
            raise ValueError("export_padding_bytes must be >= 0")
        self._host = host
        self._port = port
        self._export_port = export_port
        self._config = EmulatorConfig(
            api_key=api_key,
            generation_seconds=generation_seconds,
            export_seconds=export_seconds,
            export_url_ttl=export_url_ttl,
            credits_per_card=credits_per_card,
            max_cards=max_cards,
            reject_unknown_fields=reject_unknown_fields,
            burst_limit=burst_limit,
            burst_window_seconds=burst_window_seconds,
            hourly_limit=hourly_limit,
            daily_limit=daily_limit,
            rate_limit_retry_after=rate_limit_retry_after,
            export_padding_bytes=export_padding_bytes,
            record_requests=record_requests,
            search_enabled=search_enabled,
            searchable_while_pending=searchable_while_pending,
            edit_seconds=edit_seconds,
            credits_per_edit=credits_per_edit,
            analytics_access=analytics_access,
        )
        self._state = EmulatorState(self._config, credits)
        self._core = EmulatorCore(
            self._state,
            Catalog(default_themes() if themes is None else themes),
            Catalog(default_folders() if folders is None else folders),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._base_url = ""
        self._export_base_url = ""

    # ============================================================================ lifecycle

    def start(self) -> GammaEmulator:
        """Bind both ports and start serving in a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        api_sock = _listen(self._host, self._port)
        try:
            export_sock = _listen(self._host, self._export_port)
        except OSError:
            api_sock.close()
            raise
        shown_host = f"[{self._host}]" if ":" in self._host else self._host
        self._base_url = f"http://{shown_host}:{api_sock.getsockname()[1]}"
        self._export_base_url = f"http://{shown_host}:{export_sock.getsockname()[1]}"
        self._state.export_base_url = self._export_base_url
        self._core.base_url = self._base_url

        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            for app, sock in ((self._core.api_app(), api_sock), (self._core.export_app(), export_sock)):
                runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
                await runner.setup()
                self._runners.append(runner)
                await web.SockSite(runner, sock, backlog=_BACKLOG).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # Reported to start() below.
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                _drain(loop)

        self._loop = loop
        self._thread = threading.Thread(target=run, name="gamma-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            api_sock.close()
            export_sock.close()
            raise RuntimeError("the Gamma emulator failed to start") from failure[0]
        return self

    def stop(self) -> None:
        """Stop both servers (open connections are closed) and join the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            for runner in self._runners:
                await runner.cleanup()
            self._runners.clear()

        future = asyncio.run_coroutine_threadsafe(shutdown(), loop)
        try:
            future.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> GammaEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the servers are running."""
        return self._thread is not None

    # ============================================================================ addresses

    @property
    def base_url(self) -> str:
        """API host, e.g. ``http://127.0.0.1:54321`` (use it instead of ``https://public-api.gamma.app``)."""
        self._require_running()
        return self._base_url

    @property
    def export_base_url(self) -> str:
        """Export host serving the signed ``exportUrl`` downloads, e.g. ``http://127.0.0.1:54322``."""
        self._require_running()
        return self._export_base_url

    @property
    def api_key(self) -> str:
        """The API key the emulator accepts."""
        return self._config.api_key

    def connection_uri(self) -> str:
        """An Airflow connection in JSON form (``AIRFLOW_CONN_GAMMA_DEFAULT`` value) for this emulator."""
        return json.dumps({"conn_type": "gamma", "host": self.base_url, "password": self.api_key})

    def _require_running(self) -> None:
        if not self._base_url:
            raise RuntimeError("the emulator is not started; use `with GammaEmulator() as emu:` or start()")

    # ======================================================================== observations

    @property
    def requests(self) -> list[RecordedRequest]:
        """API-host requests received so far, oldest first (control endpoints excluded)."""
        return self._state.requests("api")

    @property
    def export_requests(self) -> list[RecordedRequest]:
        """Export-host requests received so far, oldest first."""
        return self._state.requests("export")

    @property
    def generations(self) -> dict[str, GenerationState]:
        """Snapshot of all generations, keyed by generation id."""
        return self._state.snapshot()

    def post_count(self, path: str = "/v1.0/generations") -> int:
        """How many POST requests reached exactly ``path`` (including faulted and rejected ones)."""
        return self._state.count("POST", path)

    @property
    def credits(self) -> int:
        """Remaining workspace credits; set it to simulate a low balance."""
        return self._state.credits

    @credits.setter
    def credits(self, value: int) -> None:
        self._state.credits = value

    @property
    def generation_seconds(self) -> float:
        """Duration of new generations; can be changed while running."""
        return self._config.generation_seconds

    @generation_seconds.setter
    def generation_seconds(self, value: float) -> None:
        self._config.generation_seconds = float(value)

    @property
    def search_enabled(self) -> bool:
        """Whether ``GET /v1.0/gammas/search`` answers (else 403); can be changed while running."""
        return self._config.search_enabled

    @search_enabled.setter
    def search_enabled(self, value: bool) -> None:
        self._config.search_enabled = bool(value)

    # ===================================================================== faults & control

    def add_fault(
        self,
        *,
        host: Literal["api", "export"] = "api",
        method: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        truncate_at: int | None = None,
        created: bool = False,
        times: int | None = 1,
        every: int | None = None,
    ) -> FaultRule:
        """Inject a fault; rules are tried in the order added, first match wins.

        Args:
            host: ``"api"`` or ``"export"``.
            method: Only requests with this HTTP method (``None`` = any).
            path_prefix: Only paths starting with this (``None`` = any).
            status: Answer with this status instead (body: Gamma's envelope with the documented
                message, e.g. 429 ``Too many requests``, unless ``body`` is given).
            body: Custom body for ``status`` (dict/list as JSON, str, bytes).
            retry_after: Add ``Retry-After: <seconds>`` to the ``status`` answer.
            delay: Wait this long first; alone, it just makes the real answer slow.
            drop: Close the connection without any response.
            truncate_at: Send full headers, then close after this many body bytes.
            created: Run the real handler first (e.g. really start the generation, which will be
                billed) and then send the fault instead of its answer.
            times: Number of requests to affect (``None`` = forever).
            every: Affect only every n-th matching request (e.g. ``status=502, every=7, times=None``).

        Returns:
            The live rule; its ``hits`` attribute counts the requests it affected.
        """
        rule = FaultRule(
            host=host,
            method=method,
            path_prefix=path_prefix,
            status=status,
            body=body,
            retry_after=retry_after,
            delay=delay,
            drop=drop,
            truncate_at=truncate_at,
            created=created,
            times=times,
            every=every,
        )
        return self._core.faults.add(rule)

    @property
    def faults(self) -> list[FaultRule]:
        """The fault rules added so far (including used-up ones)."""
        return self._core.faults.snapshot()

    def clear_faults(self) -> None:
        """Remove all fault rules."""
        self._core.faults.clear()

    def reset(self) -> None:
        """Clear recorded requests, fault rules, generations and rate-limit windows (credits stay)."""
        self._core.reset()

    def fail_generation(
        self,
        generation_id: str,
        *,
        message: str = DEFAULT_FAILURE_MESSAGE,
        status_code: int = 500,
        immediately: bool = True,
    ) -> None:
        """Make a pending generation fail, at once or (``immediately=False``) when it is due.

        Raises:
            KeyError: Unknown generation id.
            ValueError: The generation already finished.
        """
        if immediately:
            self._state.finish_now(generation_id, (message, status_code))
        else:
            self._state.plan_failure(generation_id, (message, status_code))

    def fail_next_generation(
        self, *, message: str = DEFAULT_FAILURE_MESSAGE, status_code: int = 500, count: int = 1
    ) -> None:
        """Make the next ``count`` generations created (by any client) end as ``failed``."""
        self._state.fail_next(message, status_code, count)

    def fail_next_export(
        self, *, message: str = "Export failed", reason: str = "export_failed", count: int = 1
    ) -> None:
        """Make the next ``count`` exports of existing gammas end as ``failed``, with ``reason`` one of
        Gamma's codes (``render_timeout``, ``deck_too_large``, ``no_content``, ``export_failed``)."""
        self._state.fail_next_export(message, reason, count)

    def complete_generation(self, generation_id: str) -> None:
        """Finish a pending generation successfully right now (skipping the wait)."""
        self._state.finish_now(generation_id)

    # ========================================================================= living decks

    @property
    def uploads(self) -> dict[str, UploadRecord]:
        """Files received by ``POST /v1.0/uploads``, keyed by upload id (``size``, ``sha256``,
        ``filename``, ``head`` (first 4 KiB), ``attached_to``)."""
        return self._state.uploads.snapshot()

    @property
    def edits(self) -> dict[str, EditState]:
        """Snapshot of every agent edit made, keyed by edit id, oldest first."""
        return self._core.edits.snapshot()

    def fail_next_edit(
        self, *, message: str = DEFAULT_EDIT_FAILURE, status_code: int = 500, count: int = 1
    ) -> None:
        """Make the next ``count`` edits started (by any client) end as ``failed`` (nothing billed)."""
        self._core.edits.fail_next(message, status_code, count)

    def lose_next_edit_answer(self, *, status: int | None = None, times: int = 1) -> FaultRule:
        """The next edit POST really starts its edit (billed when it completes), but its answer is
        lost: the connection is dropped, or ``status`` (e.g. 502) is answered instead."""
        return self._core.faults.add(lost_edit_answer(status, times))

    def complete_edit(self, edit_id: str) -> None:
        """End a pending edit successfully right now.

        Raises:
            KeyError: Unknown edit id. ValueError: It already ended.
        """
        self._core.edits.finish_now(edit_id)

    def fail_edit(self, edit_id: str, *, message: str = DEFAULT_EDIT_FAILURE, status_code: int = 500) -> None:
        """End a pending edit as ``failed`` right now (nothing billed, the gamma unchanged)."""
        self._core.edits.finish_now(edit_id, (message, status_code))

    def revision(self, gamma_id: str) -> int:
        """How many edits of the gamma have completed (0: as generated).

        Raises:
            KeyError: Unknown gamma id.
        """
        return self._gamma(gamma_id).revision(time.monotonic())

    @property
    def analytics_access(self) -> str:
        """``"manage"``, ``"edit"`` or ``"none"`` (analytics answer 403); can be changed while running."""
        return self._config.analytics_access

    @analytics_access.setter
    def analytics_access(self, value: Literal["manage", "edit", "none"]) -> None:
        if value not in ("manage", "edit", "none"):
            raise ValueError("analytics_access must be 'manage', 'edit' or 'none'")
        self._config.analytics_access = value

    def set_viewer_count(self, gamma_id: str, count: int) -> None:
        """Give a gamma ``count`` unique viewers (default: 3 to 80, fixed per gamma); Gamma lists at
        most 500 of them."""
        if count < 0:
            raise ValueError("count must be >= 0")
        self._core.analytics.viewer_counts[gamma_id] = int(count)

    # =============================================================================== exports

    def _generation(self, generation_id: str) -> GenerationState:
        generation = self._state.get(generation_id)
        if generation is None:
            raise KeyError(generation_id)
        return generation

    def _gamma(self, gamma_id: str) -> GenerationState:
        generation = self._state.gamma(gamma_id)
        if generation is None:
            raise KeyError(gamma_id)
        return generation

    def export_bytes(
        self, generation_id: str, export_as: str | None = None, *, revision: int | None = None
    ) -> bytes:
        """The export file of a generation's gamma (in ``export_as``, default its own ``exportAs``), exactly
        as served (without ``export_padding_bytes``), as of ``revision`` (default: now, after every
        completed edit). ``generation_id`` may also be the gamma's id (``g_...``).

        Raises:
            KeyError: Unknown generation (or gamma) id.
            ValueError: The generation was created without ``exportAs``.
        """
        generation = (
            self._gamma(generation_id) if generation_id.startswith("g_") else self._generation(generation_id)
        )
        return self._state.export_bytes(generation, export_as, revision)

    def export_url(self, generation_id: str, *, ttl: float | None = None) -> str:
        """Mint a signed export URL for a generation, valid for ``ttl`` seconds (negative = already
        expired; default ``export_url_ttl``).

        Raises:
            KeyError: Unknown generation id.
            ValueError: The generation was created without ``exportAs``.
        """
        self._require_running()
        url = self._state.export_url(self._generation(generation_id), ttl)
        if url is None:
            raise ValueError(f"generation {generation_id} was created without exportAs")
        return url

    def __repr__(self) -> str:
        where = self._base_url or "not started"
        return f"<GammaEmulator {where} generations={len(self._state.snapshot())}>"


# ====================================================================================== CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_gamma.testing.emulator",
        description="Serve a Gamma public API emulator on loopback until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="API host port (0 = free port; default 8765)")
    parser.add_argument("--export-port", type=int, default=8766, help="export host port (default 8766)")
    parser.add_argument(
        "--api-key", default="sk-gamma-demo", help="accepted X-API-KEY (default sk-gamma-demo)"
    )
    parser.add_argument("--generation-seconds", type=float, default=3.0, help="seconds per generation")
    parser.add_argument(
        "--export-url-ttl", type=float, default=7 * 24 * 3600.0, help="export URL lifetime (s)"
    )
    parser.add_argument("--credits", type=int, default=10_000, help="starting credits")
    parser.add_argument("--credits-per-card", type=int, default=2, help="credits deducted per card")
    parser.add_argument("--max-cards", type=int, default=60, help="largest numCards accepted")
    parser.add_argument("--burst-limit", type=int, default=10_000)
    parser.add_argument("--burst-window-seconds", type=float, default=60.0)
    parser.add_argument("--hourly-limit", type=int, default=40_000)
    parser.add_argument("--daily-limit", type=int, default=200_000)
    parser.add_argument("--no-retry-after", action="store_true", help="omit Retry-After on rate-limit 429s")
    parser.add_argument("--export-padding-bytes", type=int, default=0, help="zero bytes appended to exports")
    parser.add_argument("--allow-unknown-fields", action="store_true", help="accept unknown body fields")
    parser.add_argument("--search-disabled", action="store_true", help="answer search 403 (not rolled out)")
    parser.add_argument(
        "--searchable-while-pending", action="store_true", help="search finds decks still being written"
    )
    parser.add_argument("--no-record", action="store_true", help="do not keep recorded requests")
    parser.add_argument("--edit-seconds", type=float, default=3.0, help="seconds per agent edit")
    parser.add_argument("--credits-per-edit", type=int, default=10, help="credits deducted per edit")
    parser.add_argument(
        "--analytics-access",
        choices=("manage", "edit", "none"),
        default="manage",
        help="the key's analytics right",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGTERM or SIGINT; prints one JSON line once ready."""
    args = _parser().parse_args(argv)
    emulator = GammaEmulator(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        export_port=args.export_port,
        generation_seconds=args.generation_seconds,
        export_url_ttl=args.export_url_ttl,
        credits=args.credits,
        credits_per_card=args.credits_per_card,
        max_cards=args.max_cards,
        burst_limit=args.burst_limit,
        burst_window_seconds=args.burst_window_seconds,
        hourly_limit=args.hourly_limit,
        daily_limit=args.daily_limit,
        rate_limit_retry_after=not args.no_retry_after,
        export_padding_bytes=args.export_padding_bytes,
        reject_unknown_fields=not args.allow_unknown_fields,
        search_enabled=not args.search_disabled,
        searchable_while_pending=args.searchable_while_pending,
        record_requests=not args.no_record,
        edit_seconds=args.edit_seconds,
        credits_per_edit=args.credits_per_edit,
        analytics_access=args.analytics_access,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator.start()
    try:
        line = {
            "base_url": emulator.base_url,
            "export_base_url": emulator.export_base_url,
            "api_key": emulator.api_key,
            "connection_uri": emulator.connection_uri(),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
