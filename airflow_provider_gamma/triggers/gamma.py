# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Triggers that watch one Gamma job (a generation, an export of a gamma, an agent edit) from the
triggerer, without blocking it. One polling loop serves them all; each kind only says how to read its job."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal, TypedDict

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma._signed_urls import has_signed_url, without_signed_urls
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaAuthenticationError,
    GammaError,
    GammaParameterError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import Edit, Export, Generation, RetryPolicy
from airflow_provider_gamma.triggers._progress import PROGRESS_EVERY, WatchLog

EventStatus = Literal["success", "failed", "timeout", "error"]
#: Latest accepted ``end_time``: the year 9999, past which datetimes overflow.
MAX_END_TIME = 253_402_300_799.0
EVENT_STATUSES: frozenset[str] = frozenset({"success", "failed", "timeout", "error"})
#: Most attempts of one poll (a RetryPolicy's ceiling): ``max_consecutive_errors`` above 99 count as 99.
MAX_POLL_ATTEMPTS = 100


def checked_event(event: Any, trigger: str) -> Mapping[str, Any]:
    """The event a resumed task received from ``trigger``, checked once for every ``execute_complete``:
    it crossed a process boundary (and a serializer), so its shape is not taken on trust."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise GammaError(f"Unexpected event from {trigger}: {event!r}")
    return event


class GenerationEvent(TypedDict):
    """Payload of the one event the trigger yields: the generation as last seen, without its signed
    ``exportUrl`` (``has_export_url`` says whether it had one)."""

    status: EventStatus
    generation_id: str
    message: str
    generation: Generation | None
    has_export_url: bool


class ExportEvent(TypedDict):
    """Payload of the one event :class:`GammaExportTrigger` yields: the export as last seen, without its
    signed ``exportUrl`` (``has_export_url`` says whether it had one)."""

    status: EventStatus
    export_id: str
    message: str
    export: Export | None
    has_export_url: bool


class _GammaJobTrigger(BaseTrigger):
    """The polling loop of one Gamma job, shared by every kind of job: an answered poll waits
    ``poll_interval`` (+0-20 %), a failed one the retry policy's backoff or ``Retry-After``, a 401
    re-reads the connection once, and the deadline is absolute. Subclasses say what the job is."""

    #: The job id's kwarg and payload key, and the payload key of the job's last answer.
    _id_name: ClassVar[str]
    _job_name: ClassVar[str]
    #: How messages name the job: "Gamma generation <id> completed".
    _what: ClassVar[str]
    #: Seconds between two progress lines in the task log while nothing changes.
    progress_every: float = PROGRESS_EVERY

    def __init__(
        self,
        job_id: str,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 5.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 10,
        first_poll_delay: float = 0.0,
        started_at: float | None = None,
    ) -> None:
        super().__init__()
        # Re-created from kwargs in the triggerer, so checked here too: NaN would poll in a tight loop.
        if not isinstance(job_id, str) or not job_id.strip():
            raise GammaParameterError(f"Invalid Gamma parameter {self._id_name}={job_id!r}: must be an id")
        self.job_id = job_id
        self.gamma_conn_id = gamma_conn_id
        self.poll_interval = parameters.seconds(
            poll_interval, "poll_interval", maximum=parameters.MAX_POLL_INTERVAL
        )
        if end_time is not None and parameters.seconds_problem(end_time, maximum=MAX_END_TIME):
            raise GammaParameterError(
                f"Invalid Gamma parameter end_time={end_time!r}: must be epoch seconds or None"
            )
        self.end_time = float(end_time) if end_time is not None else None
        if started_at is not None and parameters.seconds_problem(started_at, maximum=MAX_END_TIME):
            raise GammaParameterError(
                f"Invalid Gamma parameter started_at={started_at!r}: must be epoch seconds or None"
            )
        # Set once where the task defers and serialized, so a restarted trigger counts from there too.
        self.started_at = time.time() if started_at is None else float(started_at)
        errors = max_consecutive_errors
        if isinstance(errors, bool) or not isinstance(errors, int) or not 0 <= errors <= 1000:
            raise GammaParameterError(
                f"Invalid Gamma parameter max_consecutive_errors={errors!r}: must be a whole number "
                "from 0 to 1000"
            )
        self.max_consecutive_errors = errors
        self.first_poll_delay = parameters.seconds(first_poll_delay, "first_poll_delay", allow_zero=True)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self._id_name: self.job_id,
                "gamma_conn_id": self.gamma_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_consecutive_errors": self.max_consecutive_errors,
                "first_poll_delay": self.first_poll_delay,
                "started_at": self.started_at,
            },
        )

    # --- what each kind of job says ---------------------------------------------------------------

    async def _read(self, hook: GammaHook) -> Any:
        """One poll of the job."""
        raise NotImplementedError

    @staticmethod
    def _failure(job: Any) -> str:
        raise NotImplementedError

    def _event(
        self, status: EventStatus, message: str, job: Any = None, error: GammaError | None = None
    ) -> TriggerEvent:
        # The triggerer logs the payload and Airflow stores it with the task: ids, never a signed URL.
        payload = {
            "status": status,
            self._id_name: self.job_id,
            "message": message,
            self._job_name: without_signed_urls(job) if isinstance(job, Mapping) else job,
            "has_export_url": has_signed_url(job),
        }
        if error is not None:  # so the task raises what the worker would have (see error_from_event)
            payload["error_type"] = type(error).__name__
        return TriggerEvent(payload)

    # --- the loop ---------------------------------------------------------------------------------

    def _seconds_left(self) -> float:
        return float("inf") if self.end_time is None else self.end_time - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # One poll is one call of the attempt flow: failures in a row are its retries (429s do not
        # count, they are waited out as Gamma asks), so the trigger retries exactly as a worker does.
        hook = GammaHook(
            self.gamma_conn_id,
            retry_policy=RetryPolicy(
                max_attempts=min(self.max_consecutive_errors + 1, MAX_POLL_ATTEMPTS), count_rate_limits=False
            ),
        )
        watch = WatchLog(
            f"Gamma {self._what} {self.job_id}", self.started_at, self.end_time, self.log, self.progress_every
        )
        watch.started(max(0.0, min(self.first_poll_delay, self._seconds_left())))
        beat = asyncio.ensure_future(watch.beat())
        try:
            event = await self._outcome(hook, watch)
        finally:
            beat.cancel()
        yield event

    async def _outcome(self, hook: GammaHook, watch: WatchLog) -> TriggerEvent:
        try:
            try:
                return await self._watch(hook, self.first_poll_delay, None, watch)
            except _KeyRefused as refused:
                # The key may have been rotated since it was read: read the connection once more and
                # carry on where the watch stopped (the same key again is not worth another poll).
                self.log.warning(
                    "Gamma refused the API key of connection %r; reading the connection again",
                    self.gamma_conn_id,
                )
                if (await hook.aget_settings(refresh=True)).api_key == refused.api_key:
                    raise
                return await self._watch(hook, 0.0, refused.job, watch)
        except _KeyRefused as refused:
            return self._event("error", str(refused.error), refused.job, refused.error)
        except GammaError as error:  # the connection itself is unusable (no key, bad URL)
            return self._event("error", str(error), error=error)

    async def _watch(self, hook: GammaHook, delay: float, job: Any, watch: WatchLog) -> TriggerEvent:
        """Poll until the job ends; raises :class:`_KeyRefused` on a 401."""
        async with hook.async_session():
            return await self._poll(hook, delay, job, watch)

    async def _poll(self, hook: GammaHook, delay: float, job: Any, watch: WatchLog) -> TriggerEvent:
        while True:
            pause = max(0.0, min(delay, self._seconds_left()))
            watch.waiting(pause)
            await asyncio.sleep(pause)
            watch.polling()
            try:
                # Bounded by the deadline: a poll held back by the key's shared rate budget (another
                # trigger's 429) must not make this one miss its own deadline.
                job = await asyncio.wait_for(
                    self._read(hook), None if self.end_time is None else max(1.0, self._seconds_left())
                )
            except TimeoutError:
                pass
            except GammaAuthenticationError as error:
                raise _KeyRefused(error, hook.settings.api_key, job) from error
            except GammaError as error:
                if protocol.is_transient(error):
                    attempts = hook.retry_policy.max_attempts
                    message = f"gave up after {attempts} failed polls in a row: {error}"
                    return self._event("error", message, job, error)
                return self._event("error", str(error), job, error)
            else:
                watch.seen(job)
                if job["status"] == "completed":
                    return self._event("success", f"Gamma {self._what} {self.job_id} completed", job)
                if job["status"] == "failed":
                    reason = self._failure(job)
                    return self._event("failed", f"Gamma {self._what} {self.job_id} failed: {reason}", job)
            # Up to +20 % keeps thousands of triggers started together from polling in lockstep;
            # never shorter than the interval, so a generation of d seconds costs at most
            # ceil(d / interval) + 1 polls.
            delay = protocol.poll_delay(self.poll_interval, hook.shared_rate_limit) * random.uniform(1.0, 1.2)
            if self._seconds_left() <= 0:
                status = job["status"] if job else "unknown"
                return self._event(
                    "timeout", f"Gamma {self._what} {self.job_id} was still {status} at the deadline", job
                )


class GammaGenerationTrigger(_GammaJobTrigger):
    """Poll a generation (``GET /v1.0/generations/{id}``, or ``/v1.0/agent/generations/{id}`` for the
    ``gen_...`` id of an agent run) until it ends, then yield exactly one event.

    It never starts a generation, so the triggerer may re-create it from :meth:`serialize` at any time
    (restart, HA move) and it simply carries on polling the same generation. Its kwargs are plain JSON
    and never hold the API key: the key is read from the connection inside the triggerer.

    Event ``status``: ``success`` (completed), ``failed`` (Gamma reported a failure), ``timeout`` (still
    pending at ``end_time``) or ``error`` (an error no wait can fix, e.g. 401/404, or too many transient
    failures in a row). The payload also holds ``generation_id``, a ``message``, the last
    ``generation`` seen (Gamma's JSON), when there was one, without its signed ``exportUrl`` (the
    triggerer logs the payload and Airflow stores it; a task that downloads asks Gamma for the URL
    itself) and ``has_export_url``, whether it had one. When Gamma refuses the API key (401), the
    connection is read once more (the key may have been rotated) and the watch carries on with the
    new key; the same key refused twice is an ``error``.

    While it watches, the task's log shows where the watch stands: a line when it starts, on every
    change of state (first answer, the deck appearing, the end) and every :attr:`progress_every`
    seconds (60) in between, with the time elapsed since the task deferred, the deadline, the next
    poll and Gamma's ``progress`` when it sends one (the agent does, while pending). Gamma has not
    published the names of ``progress``'s keys: its numbers are shown under whatever names it sends.

    :param generation_id: the generation to watch.
    :param gamma_conn_id: the ``gamma`` connection.
    :param poll_interval: seconds from an answered poll to the next: at least this, up to 20 % more (so
        triggers started together drift apart), 15 s when Gamma's burst budget runs low. A failed
        poll is retried sooner or later, on the hook's retry backoff or Gamma's ``Retry-After``.
    :param end_time: absolute wall-clock deadline (epoch seconds). Absolute, so a restarted trigger
        keeps the original deadline instead of starting a new window. ``None`` waits forever.
    :param max_consecutive_errors: 5xx answers or network failures in a row tolerated before giving up
        (at most 99 are honoured); 429s never count, they are waited out as Gamma asks. Failed polls are
        retried on the hook's back-off or Gamma's ``Retry-After``, exactly as a worker's calls are.
    :param first_poll_delay: seconds to wait before the first poll (no generation completes at once).
    :param started_at: when the task began waiting (epoch seconds), for the elapsed time in the
        progress lines; default: when the trigger is built (in the task, so serialized with it).
    """

    _id_name, _job_name, _what = "generation_id", "generation", "generation"

    def __init__(
        self,
        generation_id: str,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 5.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 10,
        first_poll_delay: float = 0.0,
        started_at: float | None = None,
    ) -> None:
        super().__init__(
            generation_id,
            gamma_conn_id,
            poll_interval,
            end_time,
            max_consecutive_errors,
            first_poll_delay,
            started_at,
        )

    @property
    def generation_id(self) -> str:
        return self.job_id

    async def _read(self, hook: GammaHook) -> Generation:
        return await hook.aget_generation(self.job_id)

    @staticmethod
    def _failure(job: Any) -> str:
        return protocol.failure_reason(job)

    async def on_kill(self) -> None:
        """Called by Airflow >= 3.3 when a user marks the deferred task failed or success, or clears it.

        Gamma's API has no way to cancel a generation, so the generation runs on (and is billed); this
        says so in the triggerer log, with the id to find it by.
        """
        self.log.warning(
            "Task killed while watching Gamma generation %s; Gamma cannot cancel a generation, so it "
            "keeps running and is billed. Pick it up with GammaGenerationSensor(generation_id=%r).",
            self.job_id,
            self.job_id,
        )


class GammaExportTrigger(_GammaJobTrigger):
    """Poll an export of a gamma (``GET /v1.0/exports/{id}``) until it ends, then yield one event:
    ``status`` as for :class:`GammaGenerationTrigger`, with ``export_id``, a ``message``, the last
    ``export`` seen without its signed ``exportUrl``, and ``has_export_url`` (whether a completed
    export had one: the task then reads the export once more to download it). A restarted trigger
    watches the same export; a retry requests a new one (Gamma's pricing charges for cards and
    images, and documents no charge for an export).

    :param export_id: the export to watch (from ``POST /v1.0/gammas/{id}/export``).

    The other parameters are :class:`GammaGenerationTrigger`'s.
    """

    _id_name, _job_name, _what = "export_id", "export", "export"

    def __init__(
        self,
        export_id: str,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 2.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 10,
        first_poll_delay: float = 0.0,
        started_at: float | None = None,
    ) -> None:
        super().__init__(
            export_id,
            gamma_conn_id,
            poll_interval,
            end_time,
            max_consecutive_errors,
            first_poll_delay,
            started_at,
        )

    async def _read(self, hook: GammaHook) -> Export:
        return await hook.aget_export(self.job_id)

    @staticmethod
    def _failure(job: Any) -> str:
        return protocol.export_failure_reason(job)


class GammaEditTrigger(_GammaJobTrigger):
    """Poll a Gamma 5 agent edit of a gamma (``GET /v1.0/agent/edits/{id}``) until it ends, then yield
    one event: ``status`` as for :class:`GammaGenerationTrigger`, with ``edit_id``, a ``message``, the
    last ``edit`` seen (without a signed ``exportUrl``) and ``has_export_url``. It never sends an edit,
    so a restarted triggerer simply carries on watching the same one.

    :param edit_id: the edit to watch (Gamma's ``editId``).

    The other parameters are :class:`GammaGenerationTrigger`'s.
    """

    _id_name, _job_name, _what = "edit_id", "edit", "edit"

    def __init__(
        self,
        edit_id: str,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        end_time: float | None = None,
        max_consecutive_errors: int = 10,
        first_poll_delay: float = 0.0,
        started_at: float | None = None,
    ) -> None:
        super().__init__(
            edit_id,
            gamma_conn_id,
            poll_interval,
            end_time,
            max_consecutive_errors,
            first_poll_delay,
            started_at,
        )

    async def _read(self, hook: GammaHook) -> Edit:
        return await hook.aget_edit(self.job_id)

    @staticmethod
    def _failure(job: Any) -> str:
        return protocol.edit_failure_reason(job)

    async def on_kill(self) -> None:
        """Called by Airflow >= 3.3 when the deferred task is marked failed or success, or cleared:
        Gamma has no way to cancel an edit, so it runs on (and is billed); said in the triggerer log."""
        self.log.warning(
            "Task killed while watching Gamma edit %s; Gamma cannot cancel an edit, so it keeps running "
            "and is billed.",
            self.job_id,
        )


class _KeyRefused(Exception):
    """Gamma answered 401 to the key ``api_key`` while watching (internal to the trigger)."""

    def __init__(self, error: GammaAuthenticationError, api_key: str, job: Any) -> None:
        super().__init__(str(error))
        self.error = error
        self.api_key = api_key
        self.job = job

    def __repr__(self) -> str:  # never show the key
        return f"_KeyRefused({self.error!r})"
