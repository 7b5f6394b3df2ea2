# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What every generate operator shares: submit once, never pay twice, follow the generation, finish.

The never-pay-twice rules are :mod:`airflow_provider_gamma.reconcile`'s; the base class here only
carries its decisions out (POST, look up, sleep or defer, remember the record, finish).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_gamma import _cost, parameters, reconcile
from airflow_provider_gamma._compat import AirflowFailException, conf, task_state_store
from airflow_provider_gamma._signed_urls import without_signed_urls
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaEditInProgressError,
    GammaError,
    GammaGenerationFailedError,
    GammaGenerationTimeoutError,
    GammaParameterError,
    GammaSubmissionUncertainError,
    GammaValidationError,
    error_from_event,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators import _files, _lookups
from airflow_provider_gamma.operators._settling import (
    XCOM_GAMMA_URL,
    XCOM_GENERATION_ID,
    _SettlesLostAnswers,
)
from airflow_provider_gamma.protocol import (
    Generation,
    GenerationCreated,
    failure_reason,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey
    from airflow.triggers.base import BaseTrigger

#: No Gamma generation completes in under ten seconds, so the trigger spends no poll before then.
DEFAULT_FIRST_POLL_DELAY = 10.0


class GammaGenerationLink(BaseOperatorLink):
    """ "View in Gamma": opens the generated gamma (its ``gammaUrl``) once the generation completed."""

    name = "View in Gamma"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(key=XCOM_GAMMA_URL, ti_key=ti_key) or "")


def generation_failure(generation: Generation) -> GammaGenerationFailedError:
    """The error for a generation Gamma reported as failed, with Gamma's message and the generation id."""
    return GammaGenerationFailedError(
        failure_reason(generation),
        generation_id=generation["generationId"],
        http_status=generation.get("error", {}).get("statusCode"),
    )


def _max_tries(context: Context) -> int:
    """What Airflow fixed for this try's ``max_tries`` (kept by a retry, set anew by a clear)."""
    max_tries = getattr(context["ti"], "max_tries", None)
    return max_tries if isinstance(max_tries, int) else -1


def _title_refused(error: GammaError) -> bool:
    return isinstance(error, GammaValidationError) and "title" in error.message.lower()


class _GammaGenerationOperator(_SettlesLostAnswers):
    """What the generate operators share: submit once, never pay twice, wait or defer, return the result."""

    operator_extra_links = (GammaGenerationLink(),)
    ui_color = "#e9e1fb"
    #: The endpoint the operator POSTs to; part of the request's fingerprint.
    _endpoint: ClassVar[str]
    #: Whether the endpoint takes a ``title``, and so can carry the reference.
    _takes_title: ClassVar[bool] = True
    #: How long after an uncertain POST its deck may still appear (see :mod:`..reconcile`).
    default_reconcile_window: ClassVar[float] = reconcile.CLASSIC_WINDOW
    #: What the job is called in messages, and its keys in the trigger's event (``<job>_id``, ``<job>``).
    _job: ClassVar[str] = "generation"
    #: How long a deck found after a lost answer must stay unchanged to count as finished.
    _quiet_period: ClassVar[float] = reconcile.QUIET_PERIOD
    #: Sources for the agent to read (``files=`` of the agent and edit operators), and their store's connection.
    files: Sequence[Any] | None = None
    files_conn_id: str | None = None

    def __init__(
        self,
        *,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta = 5.0,
        timeout: float | timedelta = timedelta(minutes=30),
        first_poll_delay: float | timedelta = DEFAULT_FIRST_POLL_DELAY,
        resubmit_failed: bool = False,
        title: str | None = None,
        reconcile: bool = True,
        reconcile_window: float | timedelta | None = None,
        title_reference: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, flag in (
            ("wait_for_completion", wait_for_completion),
            ("deferrable", deferrable),
            ("resubmit_failed", resubmit_failed),
            ("reconcile", reconcile),
        ):
            if not isinstance(flag, bool):  # a string such as "False" would be truthy
                raise GammaParameterError(f"Invalid Gamma parameter {name}={flag!r}: must be True or False")
        if title_reference is not None and not isinstance(title_reference, bool):
            raise GammaParameterError(
                f"Invalid Gamma parameter title_reference={title_reference!r}: must be True, False or None"
            )
        parameters.check_conn_id(gamma_conn_id)
        self.first_poll_delay = parameters.seconds(first_poll_delay, "first_poll_delay", allow_zero=True)
        self.gamma_conn_id = gamma_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = parameters.seconds(
            poll_interval, "poll_interval", maximum=parameters.MAX_POLL_INTERVAL
        )
        self.timeout = parameters.seconds(timeout, "timeout")
        self.resubmit_failed = resubmit_failed
        self.title = title
        self.reconcile = reconcile
        self.title_reference = title_reference
        self.reconcile_window = (
            self.default_reconcile_window
            if reconcile_window is None
            else parameters.seconds(reconcile_window, "reconcile_window")
        )
        self._started = time.monotonic()

    @cached_property
    def hook(self) -> GammaHook:
        return GammaHook(self.gamma_conn_id)

    def build_body(self) -> dict[str, Any]:
        """The request body from the (rendered) parameters; raises :class:`GammaParameterError`."""
        raise NotImplementedError

    def _send(self, body: Mapping[str, Any], *, timeout: float | None) -> GenerationCreated:
        """POST ``body`` to the operator's endpoint."""
        raise NotImplementedError

    def execute(self, context: Context) -> Generation:
        self._started = time.monotonic()
        store = task_state_store(context)
        this = reconcile.Submission(
            fingerprint=self._fingerprint(),
            max_tries=_max_tries(context),
        )
        earlier = reconcile.Submission.from_json(store.get(reconcile.STATE_KEY)) if store else None
        decision = reconcile.start(earlier, this)
        if isinstance(decision, reconcile.Submit) and decision.reason:
            self.log.info("%s; submitting a new one", decision.reason)
        elif isinstance(decision, reconcile.LookUpNow | reconcile.CheckDeck) and earlier is not None:
            self.log.warning(
                "An earlier try's POST may have started a generation whose id never arrived; looking "
                "for its deck (%s) before submitting anything",
                earlier.evidence(),
            )
        return self._carry_out(context, earlier or this, decision)

    def _carry_out(
        self, context: Context, record: reconcile.Submission, decision: reconcile.Decision
    ) -> Generation:
        """Carry out :mod:`~airflow_provider_gamma.reconcile`'s decisions about ``record`` until the
        generation is followed or its deck found; a wait in the triggerer leaves by deferring."""
        last: reconcile.Outcome | None = None
        while True:
            match decision:
                case reconcile.Reattach(generation_id=generation_id):
                    generation = self._reattach(generation_id)
                    if generation is not None:
                        return self._follow(context, generation)
                    decision = reconcile.Submit(reconcile.Submission(record.fingerprint, record.max_tries))
                    continue
                case reconcile.Submit(record=record) | reconcile.SendAgain(record=record):
                    if isinstance(decision, reconcile.SendAgain):
                        self.log.warning(
                            "No deck %s %.0f s after the POST, so Gamma did not create one; submitting again",
                            f"carries the reference {record.marker}" if record.marker else "appeared",
                            time.time() - record.sent_at,
                        )
                    record, generation = self._post(context, record)
                    if generation is not None:
                        return self._follow(context, generation)
                    last = None
                case reconcile.LookUpNow():
                    record, last = _lookups.look_up(self.hook, record)
                case reconcile.CheckDeck(gamma_id=gamma_id):
                    record, last = _lookups.check_deck(self.hook, record, gamma_id)
                case reconcile.WaitUntil(when=when):
                    self._remember(context, record)
                    self._wait_until(when, record, context)
                case reconcile.Found(deck=deck):
                    self._remember(context, record.settled())
                    return self._reconciled(context, deck, record)
                case reconcile.GiveUp(evidence=evidence):
                    self._remember(context, record)
                    raise GammaSubmissionUncertainError(evidence)
            decision = reconcile.decide(
                record,
                time.time(),
                last,
                window=self.reconcile_window,
                # Shortened with the window, which says how quickly this task's decks move.
                quiet=min(self._quiet_period, self.reconcile_window),
                finish_by=self.timeout,
            )

    def _remember(self, context: Context, record: reconcile.Submission) -> None:
        store = task_state_store(context)
        if store is not None:
            store.set(reconcile.STATE_KEY, record.to_json())

    def _post(
        self, context: Context, record: reconcile.Submission
    ) -> tuple[reconcile.Submission, Generation | None]:
        """POST once, noting first what lets a lookup find the deck should the answer be lost: the
        record as sent and the accepted generation, or ``None`` when the answer was lost."""
        body = self.build_body()
        marker = reconcile.new_marker() if self.reconcile and self._reference_in_title() else None
        record = self._before_post(record)
        while True:
            # In the try that POSTs, right before it: Gamma uses an upload once, and drops one unused
            # for two days.
            attached = {**(reconcile.with_reference(body, marker) if marker else body), **self._attachments()}
            record = record.sending(marker, time.time(), by_candidates=self.reconcile)
            self._remember(context, record)
            try:
                created = self._send(attached, timeout=self._time_for_post())
            except GammaEditInProgressError as error:
                if not (self.reconcile and record.edit_of and record.resubmits):
                    self._remember(context, record.refused())
                    raise
                # E3: the edit sent again is refused because one is running: the first POST's, after all.
                self.log.warning("%s; the edit sent earlier is running after all: watching the gamma", error)
                return record.noted("resent edit refused: an edit of the gamma is running", time.time()), None
            except GammaSubmissionUncertainError as error:
                if not self.reconcile:
                    raise GammaSubmissionUncertainError(
                        f"{error} With reconcile=False the deck cannot be looked for: {self._unsettled_hint()}",
                        http_status=error.http_status,
                        request_id=error.request_id,
                    ) from error
                self.log.warning("%s; looking for the deck by %s", error, self._lookup_description(marker))
                return record.noted(f"POST uncertain ({error.http_status or 'no answer'})", time.time()), None
            except GammaError as error:
                # Gamma certainly did not start a deck (a 4xx, or a 429 or connection failure retried to
                # the end). An endpoint that takes no title (from-template's is not documented everywhere)
                # still gets the deck, only without a reference; otherwise the next try submits afresh.
                if marker is not None and self.title is None and _title_refused(error):
                    self.log.warning(
                        "Gamma refused the title that carries the reference (%s); submitting without it, "
                        "so a lost answer to this POST can be settled only if no gamma of yours changed",
                        error,
                    )
                    marker = None
                    continue
                self._remember(context, record.refused())
                raise
            record = replace(record, generation_id=created["generationId"])
            self._remember(context, record)
            generation: Generation = {"generationId": created["generationId"], "status": "pending"}
            if created.get("warnings"):
                generation["warnings"] = created["warnings"]
            if created.get("pageWarnings"):
                generation["pageWarnings"] = created["pageWarnings"]
            return record, generation

    def _fingerprint(self) -> str:
        """What is asked for, stable across tries: the endpoint, the body and the files' URIs."""
        sources = {"files": _files.describe(self.files)} if self.files else {}
        return reconcile.fingerprint(self._fingerprint_endpoint(), {**self.build_body(), **sources})

    def _fingerprint_endpoint(self) -> str:
        return self._endpoint

    def _failed(self, generation: Generation) -> GammaError:
        """The error for a job Gamma reported as failed."""
        return generation_failure(generation)

    def _announce(self, context: Context, job_id: str) -> None:
        """Publish the job's id as soon as Gamma accepted it (XCom ``generation_id``)."""
        context["ti"].xcom_push(key=XCOM_GENERATION_ID, value=job_id)

    def _before_post(self, record: reconcile.Submission) -> reconcile.Submission:
        """What to note or check before the first POST (an edit notes its gamma's ``updatedTime``)."""
        return record

    def _attachments(self) -> dict[str, Any]:
        """Body fields made for each POST: the upload ids of ``files`` (agent and edit operators)."""
        return _files.uploaded(self.hook, self.files, self.files_conn_id)

    def _read_job(self, job_id: str) -> Generation:
        """One read of the job the POST started."""
        return self.hook.get_generation(job_id)

    def _wait_job(self, job_id: str, deadline: float) -> Generation:
        """Wait here for the job to end (``deferrable=False``)."""
        return self.hook.wait_for_generation(job_id, poll_interval=self.poll_interval, deadline=deadline)

    def _job_trigger(self, job_id: str, deadline: float) -> BaseTrigger:
        """The trigger that watches the job from the triggerer."""
        from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger

        return GammaGenerationTrigger(
            generation_id=job_id,
            gamma_conn_id=self.gamma_conn_id,
            poll_interval=self.poll_interval,
            end_time=deadline,
            first_poll_delay=min(self.first_poll_delay, self.timeout),
        )

    def _time_for_post(self) -> float | None:
        """Seconds the POST may take so that it settles before ``execution_timeout`` fires."""
        if self.execution_timeout is None:
            return None
        budget = self.execution_timeout.total_seconds()
        left = budget - (time.monotonic() - self._started) - min(30.0, max(5.0, budget / 10))
        if left < 1:
            raise GammaError(
                f"execution_timeout={budget:.0f}s leaves no time for the POST to settle; not submitting"
            )
        return left

    def _follow(self, context: Context, generation: Generation) -> Generation:
        """Publish the id and the link, then wait for the generation here or in the triggerer."""
        generation = without_signed_urls(generation)  # in no result: the export operator asks for it
        generation_id = generation["generationId"]
        self._announce(context, generation_id)
        # Airflow resolves the link whenever the task stops, deferring included; until Gamma reports
        # the gamma's URL it is empty, rather than an error about a missing XCom in every task log.
        context["ti"].xcom_push(key=XCOM_GAMMA_URL, value=generation.get("gammaUrl", ""))
        if generation["status"] == "completed" or not self.wait_for_completion:
            return self._finish(context, generation)
        deadline = time.time() + self.timeout
        if not self.deferrable:
            final = self._wait_job(generation_id, deadline)
            return self._finish(context, {**generation, **without_signed_urls(final)})
        self.defer(
            trigger=self._job_trigger(generation_id, deadline),
            method_name="execute_complete",
            kwargs={"warnings": generation.get("warnings"), "page_warnings": generation.get("pageWarnings")},
            # A backstop only: the trigger reports the deadline itself, with the generation id.
            timeout=self.execution_timeout or timedelta(seconds=self.timeout + self.poll_interval + 120),
        )

    def _reattach(self, generation_id: str) -> Generation | None:
        """The generation an earlier try of this clear started: a pending one is watched again and a
        completed one returned, so a retry never pays again; a failed one is resubmitted only with
        ``resubmit_failed=True`` (``None``)."""
        generation = self._read_job(generation_id)
        if generation["status"] == "failed":
            if not self.resubmit_failed:
                raise AirflowFailException(
                    f"An earlier try's {self._failed(generation)}; not starting a new, billed one. "
                    "Set resubmit_failed=True to let retries submit again, or clear the task."
                )
            self.log.info("Earlier try's generation %s failed; submitting a new one", generation_id)
            return None
        self.log.info("Re-attaching to generation %s started by an earlier try", generation_id)
        return generation

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        warnings: str | None = None,
        page_warnings: Any = None,
    ) -> Generation:
        """Resume after the trigger fired: check the event (it crossed a process boundary) and finish."""
        from airflow_provider_gamma.triggers.gamma import checked_event

        event = checked_event(event, "the Gamma trigger")
        generation_id = str(event.get(f"{self._job}_id"))
        generation = self._job_from_event(event.get(self._job), generation_id)
        if warnings:
            generation["warnings"] = warnings
        if page_warnings:
            generation["pageWarnings"] = page_warnings
        if event["status"] == "timeout":
            raise GammaGenerationTimeoutError(
                f"{event['message']}; {self._after_timeout(generation_id)}", generation_id=generation_id
            )
        if event["status"] == "error":
            raise error_from_event(event, f"Watching generation {generation_id} failed: {event['message']}")
        return self._finish(context, generation)

    def _after_timeout(self, job_id: str) -> str:
        """What the user can do about a job still running at the deadline (Gamma cannot cancel one)."""
        return f"wait for it with GammaGenerationSensor(generation_id={job_id!r})"

    def _job_from_event(self, job: Any, job_id: str) -> Generation:
        """The job as the trigger last saw it, without a signed URL (an older triggerer's event may carry one)."""
        return without_signed_urls(cast(Generation, job or {"generationId": job_id, "status": "pending"}))

    def _finish(self, context: Context, generation: Generation) -> Generation:
        if generation["status"] != "pending":  # what it cost, in the log and the result
            cast(dict[str, Any], generation)["cost"] = self._cost(generation)
        if generation["status"] == "failed":
            failure = self._failed(generation)
            if self.resubmit_failed:
                raise GammaError(f"{failure} (a retry will submit a new {self._job}: resubmit_failed=True)")
            self.log.error(
                "Not retrying, since a retry would pay for a new %s (resubmit_failed=False)", self._job
            )
            raise failure
        if generation.get("gammaUrl"):
            context["ti"].xcom_push(key=XCOM_GAMMA_URL, value=generation["gammaUrl"])
            self.log.info(
                "Gamma deck %s is ready: %s",
                generation["generationId"] or generation.get("gammaId"),
                generation["gammaUrl"],
            )
        if generation.get("summary"):
            self.log.info("The agent's summary: %s", generation["summary"])
        return generation

    def _cost(self, generation: Generation) -> str:
        """Log and count what a finished deck cost (see :mod:`airflow_provider_gamma._cost`)."""
        # A hook standing in for GammaHook (a test double) may carry no connection settings.
        threshold = getattr(getattr(self.hook, "settings", None), "credits_warning_below", None)
        return _cost.report(
            generation,
            cards=_cost.cards_asked(self.build_body()),
            threshold=threshold if isinstance(threshold, float) else None,
            tags={"dag_id": self.dag_id, "task_id": self.task_id, "conn_id": self.gamma_conn_id},
            log=self.log,
        )
