# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Operators that start a Gamma generation and (by default) wait for it, deferring to the triggerer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_gamma import parameters, submission
from airflow_provider_gamma._compat import AirflowFailException, conf, task_state_store
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaGenerationFailedError,
    GammaGenerationTimeoutError,
    GammaParameterError,
    GammaSubmissionUncertainError,
    GammaValidationError,
    error_from_event,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import (
    GammaHit,
    Generation,
    GenerationCreated,
    failure_reason,
    is_transient,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

XCOM_GENERATION_ID = "generation_id"
XCOM_GAMMA_URL = "gamma_url"
XCOM_SUBMISSION = "gamma_submission"
#: No Gamma generation completes in under ten seconds, so the trigger spends no poll before then.
DEFAULT_FIRST_POLL_DELAY = 10.0
#: Uncertain POSTs that found nothing and were sent again, at most, before giving up.
MAX_RESUBMITS = 2


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


def _submission_record(value: Any) -> submission.Submission:
    entry = submission.Submission.from_json(value)
    if entry is None or entry.marker is None:
        raise GammaError(f"Cannot resume looking for an uncertain POST's deck: bad record {value!r}")
    return entry


class _GammaGenerationOperator(BaseOperator):
    """What both generate operators share: submit once, never pay twice, wait or defer, return the result."""

    operator_extra_links = (GammaGenerationLink(),)
    ui_color = "#e9e1fb"
    _submit_method: ClassVar[str]

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
        # A deck may show in Gamma's search only once complete: look for it as long as it may take.
        self.reconcile_window = (
            self.timeout
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

    def execute(self, context: Context) -> Generation:
        self._started = time.monotonic()
        body = self.build_body()
        store = task_state_store(context)
        this = submission.Submission(
            fingerprint=submission.fingerprint(self._submit_method, body),
            clear_epoch=self._clear_epoch(context),
            sent_at=0.0,
        )
        earlier = submission.Submission.from_json(store.get(submission.STATE_KEY)) if store else None
        if earlier is not None and earlier.same_request(this.fingerprint, this.clear_epoch):
            if earlier.generation_id:
                generation = self._reattach(earlier.generation_id)
                if generation is not None:
                    return self._follow(context, generation)
            elif not earlier.sent_at:  # its POST was refused outright
                pass
            elif earlier.marker:
                self.log.warning(
                    "An earlier try's POST may have started a generation whose id never arrived; looking "
                    "for its deck (reference %s) before submitting anything",
                    earlier.marker,
                )
                return self._reconcile(context, earlier)
            else:
                raise AirflowFailException(
                    "An earlier try of this task was stopped while its POST was under way, so a generation "
                    "may be running and billed; with reconcile=False it cannot be looked for. Not paying "
                    "again: check your Gamma workspace, then clear the task to submit anew."
                )
        elif earlier is not None:
            self.log.info(
                "The task state store holds the deck of %s; submitting a new one",
                "another input" if earlier.fingerprint != this.fingerprint else "an earlier run or clear",
            )
        return self._submit(context, this)

    def _clear_epoch(self, context: Context) -> int:
        ti = context["ti"]
        max_tries = getattr(ti, "max_tries", None)
        if not isinstance(max_tries, int):
            return 1
        return submission.clear_epoch(ti.try_number, max_tries, self.retries or 0)

    def _remember(self, context: Context, entry: submission.Submission) -> None:
        store = task_state_store(context)
        if store is not None:
            store.set(submission.STATE_KEY, entry.to_json())

    def _submit(
        self, context: Context, entry: submission.Submission, *, reference: bool | None = None
    ) -> Generation:
        """POST once, noting first what lets the next try (or this one) find the deck if the answer is lost."""
        body = self.build_body()
        entry.marker = (
            submission.new_marker() if (self.reconcile if reference is None else reference) else None
        )
        entry.generation_id, entry.lookups = None, []
        entry.sent_at = time.time()
        self._remember(context, entry)
        try:
            created: GenerationCreated = getattr(self.hook, self._submit_method)(
                submission.with_reference(body, entry.marker) if entry.marker else body,
                timeout=self._time_for_post(),
            )
        except GammaSubmissionUncertainError as error:
            if entry.marker is None:
                raise GammaSubmissionUncertainError(
                    f"{error} With reconcile=False the deck cannot be looked for: check your Gamma "
                    "workspace for a new gamma before re-running the task.",
                    http_status=error.http_status,
                    request_id=error.request_id,
                ) from error
            self.log.warning("%s; looking for the deck by its reference %s", error, entry.marker)
            entry.note(f"POST uncertain ({error.http_status or 'no answer'})", time.time())
            return self._reconcile(context, entry)
        except GammaError as error:
            # Gamma certainly did not start a deck (a 4xx, or a 429 or connection failure retried to
            # the end). An endpoint that takes no title (from-template's is not documented everywhere)
            # still gets the deck, only without a reference; otherwise the next try submits afresh.
            if (
                isinstance(error, GammaValidationError)
                and entry.marker is not None
                and self.title is None
                and "title" in error.message.lower()
            ):
                self.log.warning(
                    "Gamma refused the title that carries the reference (%s); submitting without it, so "
                    "a lost answer to this POST cannot be settled",
                    error,
                )
                return self._submit(context, entry, reference=False)
            entry.marker, entry.sent_at = None, 0.0
            self._remember(context, entry)
            raise
        entry.generation_id = created["generationId"]
        self._remember(context, entry)
        generation: Generation = {"generationId": created["generationId"], "status": "pending"}
        if created.get("warnings"):
            generation["warnings"] = created["warnings"]
        if created.get("pageWarnings"):
            generation["pageWarnings"] = created["pageWarnings"]
        return self._follow(context, generation)

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
        generation_id = generation["generationId"]
        context["ti"].xcom_push(key=XCOM_GENERATION_ID, value=generation_id)
        # Airflow resolves the link whenever the task stops, deferring included; until Gamma reports
        # the gamma's URL it is empty, rather than an error about a missing XCom in every task log.
        context["ti"].xcom_push(key=XCOM_GAMMA_URL, value=generation.get("gammaUrl", ""))
        if generation["status"] == "completed" or not self.wait_for_completion:
            return self._finish(context, generation)
        deadline = time.time() + self.timeout
        if not self.deferrable:
            final = self.hook.wait_for_generation(
                generation_id, poll_interval=self.poll_interval, deadline=deadline
            )
            return self._finish(context, {**generation, **final})
        from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger

        self.defer(
            trigger=GammaGenerationTrigger(
                generation_id=generation_id,
                gamma_conn_id=self.gamma_conn_id,
                poll_interval=self.poll_interval,
                end_time=deadline,
                first_poll_delay=min(self.first_poll_delay, self.timeout),
            ),
            method_name="execute_complete",
            kwargs={"warnings": generation.get("warnings"), "page_warnings": generation.get("pageWarnings")},
            # A backstop only: the trigger reports the deadline itself, with the generation id.
            timeout=self.execution_timeout or timedelta(seconds=self.timeout + self.poll_interval + 120),
        )

    def _reattach(self, generation_id: str) -> Generation | None:
        """The generation an earlier try of this clear started: a pending one is watched again and a
        completed one returned, so a retry never pays again; a failed one is resubmitted only with
        ``resubmit_failed=True`` (``None``)."""
        generation = self.hook.get_generation(generation_id)
        if generation["status"] == "failed":
            if not self.resubmit_failed:
                raise AirflowFailException(
                    f"An earlier try's {generation_failure(generation)}; not starting a new, billed one. "
                    "Set resubmit_failed=True to let retries submit again, or clear the task."
                )
            self.log.info("Earlier try's generation %s failed; submitting a new one", generation_id)
            return None
        self.log.info("Re-attaching to generation %s started by an earlier try", generation_id)
        return generation

    # --- reconciliation: finding the deck of a POST whose answer was lost -------------------------

    def _reconcile(self, context: Context, entry: submission.Submission) -> Generation:
        """Look for the deck by its reference until found or the window closes; then resubmit once
        nothing can have been created, or fail with the evidence when that cannot be known."""
        while True:
            deck, answered = self._look_up(entry)
            if deck is not None:
                self._remember(context, entry)
                return self._reconciled(context, deck, entry)
            wake = entry.next_lookup(time.time(), self.reconcile_window)
            if wake is None:
                if not answered:
                    raise GammaSubmissionUncertainError(
                        f"Could not find out whether Gamma started the generation: the last search failed. "
                        f"Check your Gamma workspace before re-running the task. {entry.evidence()}"
                    )
                if entry.resubmits >= MAX_RESUBMITS:
                    raise GammaSubmissionUncertainError(
                        f"Gave up after {entry.resubmits + 1} uncertain submissions. {entry.evidence()}"
                    )
                self.log.warning(
                    "No deck carries the reference %s %.0f s after the POST, so Gamma did not create one; "
                    "submitting again",
                    entry.marker,
                    time.time() - entry.sent_at,
                )
                entry.resubmits += 1
                return self._submit(context, entry)
            self._remember(context, entry)
            if self.deferrable:
                from airflow.providers.standard.triggers.temporal import DateTimeTrigger

                # Also in XCom, which outlives the deferral: ``airflow dags test`` resumes a task with
                # the trigger's event only, dropping the kwargs below.
                context["ti"].xcom_push(key=XCOM_SUBMISSION, value=entry.to_json())

                self.defer(
                    trigger=DateTimeTrigger(moment=datetime.fromtimestamp(wake, UTC)),
                    method_name="resume_reconciliation",
                    kwargs={"submission": entry.to_json()},
                )
            self._sleep_until(wake, entry, context)

    def _look_up(self, entry: submission.Submission) -> tuple[GammaHit | None, bool]:
        """One search for the reference: (the deck or ``None``, whether Gamma answered)."""
        assert entry.marker is not None
        try:
            hits = self.hook.search_gammas(
                entry.marker, updated_after=entry.searched_since(), include_archived=True
            )
        except GammaError as error:
            entry.note(f"search failed: {error}", time.time())
            if is_transient(error):
                return None, False
            raise GammaSubmissionUncertainError(
                f"Cannot look for the deck of an uncertain POST ({error}), so it may be running and billed. "
                f"Check your Gamma workspace before re-running the task. {entry.evidence()}"
            ) from error
        deck = submission.find_deck(hits, entry.marker)
        entry.note(
            f"search: {len(hits)} hits, {'deck ' + deck['id'] if deck else 'none with it'}", time.time()
        )
        return deck, True

    def _sleep_until(self, wake: float, entry: submission.Submission, context: Context) -> None:
        wait = max(0.0, wake - time.time())
        if self.execution_timeout is not None:
            left = self.execution_timeout.total_seconds() - (time.monotonic() - self._started) - 5.0
            if wait > left:
                message = (
                    f"execution_timeout leaves no time to look for the deck again in {wait:.0f} s. "
                    f"{entry.evidence()}"
                )
                if task_state_store(context) is not None:  # the next try carries on from the record
                    raise GammaError(f"{message}; the next try keeps looking")
                raise GammaSubmissionUncertainError(f"{message}. Check your Gamma workspace.")
        time.sleep(wait)

    def resume_reconciliation(
        self, context: Context, event: Mapping[str, Any] | None = None, submission: Any = None
    ) -> Generation:
        """Resume after a deferred wait between two lookups of an uncertain POST's deck."""
        self._started = time.monotonic()
        if submission is None:
            ti = context["ti"]
            submission = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_SUBMISSION, map_indexes=ti.map_index)
        return self._reconcile(context, _submission_record(submission))

    def _reconciled(self, context: Context, deck: GammaHit, entry: submission.Submission) -> Generation:
        self.log.warning(
            "Found the deck of the uncertain POST by its reference %s: gamma %s. Gamma reports no "
            "generation id or credits for it.",
            entry.marker,
            deck["id"],
        )
        result: dict[str, Any] = {
            "generationId": None,
            "status": "completed",
            "gammaId": deck["id"],
            "gammaUrl": deck.get("url", ""),
            "reconciled": True,
        }
        export_as = self.build_body().get("exportAs")
        if export_as:
            result["exportAs"] = export_as
        context["ti"].xcom_push(key=XCOM_GENERATION_ID, value=None)
        return self._finish(context, cast(Generation, result))

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        warnings: str | None = None,
        page_warnings: Any = None,
    ) -> Generation:
        """Resume after the trigger fired: check the event (it crossed a process boundary) and finish."""
        from airflow_provider_gamma.triggers.gamma import EVENT_STATUSES

        if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
            raise GammaError(f"Unexpected event from GammaGenerationTrigger: {event!r}")
        generation_id = str(event.get("generation_id"))
        generation: Generation = event.get("generation") or {
            "generationId": generation_id,
            "status": "pending",
        }
        if warnings:
            generation["warnings"] = warnings
        if page_warnings:
            generation["pageWarnings"] = page_warnings
        if event["status"] == "timeout":
            raise GammaGenerationTimeoutError(
                f"{event['message']}; wait for it with GammaGenerationSensor(generation_id={generation_id!r})",
                generation_id=generation_id,
            )
        if event["status"] == "error":
            raise error_from_event(event, f"Watching generation {generation_id} failed: {event['message']}")
        return self._finish(context, generation)

    def _finish(self, context: Context, generation: Generation) -> Generation:
        if generation["status"] == "failed":
            failure = generation_failure(generation)
            if self.resubmit_failed:
                raise GammaError(f"{failure} (a retry will submit a new generation: resubmit_failed=True)")
            self.log.error(
                "Not retrying, since a retry would pay for a new generation (resubmit_failed=False)"
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
        if generation.get("credits"):
            self.log.info("Credits: %s", generation["credits"])
        return generation


class GammaGenerateOperator(_GammaGenerationOperator):
    """Generate a presentation, document, webpage or social post from text with Gamma.

    The request is sent once. With ``wait_for_completion`` (the default) the task then waits for the
    generation, in the triggerer when ``deferrable`` (no worker slot held), and returns Gamma's
    completed generation: ``generationId``, ``status``, ``gammaId``, ``gammaUrl``, ``exportUrl`` (with
    ``export_as``), ``credits`` and the request's ``warnings``. The generation id is pushed to XCom
    (key ``generation_id``) as soon as Gamma accepts it, and a "View in Gamma" link appears on the task.

    Every Gamma parameter is a keyword with Gamma's meaning; option dicts keep Gamma's camelCase keys so
    they can be copied from Gamma's docs. Invalid values fail when the DAG is parsed.

    :param input_text: the topic, outline or full content (1 to 400,000 characters). Templated.
        Required unless ``pages`` is given.
    :param pages: a multi-page file instead of ``input_text``: 1 to 50 dicts, each with its own
        ``inputText`` and any per-page ``title``, ``format``, ``textMode``, ``cardSplit``,
        ``numCards``, ``additionalInstructions``, ``path`` (the page's slug on a published site),
        ``textOptions`` or ``imageOptions``, which override the operator's own for that page; the
        file-level options (theme, folder, sharing, card options, export) still apply. Gamma has not
        published the page schema yet: these keys are what its own clients send, and a newer one goes
        through ``extra_body``. Gamma's ``pageWarnings`` are logged and returned. Templated (render
        it natively, or pass an upstream task's output).
    :param publish: publish the multi-page file as a Gamma site once every page succeeds.
    :param text_mode: ``generate`` (expand), ``condense`` (summarise) or ``preserve`` (keep the text).
    :param format: ``presentation`` (Gamma's default), ``document``, ``social`` or ``webpage``.
    :param num_cards: number of cards, 1 to 60 (75 on Ultra); used with ``card_split="auto"``.
    :param card_split: ``auto`` or ``inputTextBreaks`` (split on ``\\n---\\n``).
    :param theme_id: a theme id from :meth:`GammaHook.list_themes` or the Gamma app.
    :param additional_instructions: free-text steering of layout, style and tone (up to 5,000 chars).
    :param export_as: also export as ``pdf``, ``pptx`` or ``png`` (a zip of one PNG per card); needed
        by :class:`~airflow_provider_gamma.operators.export.GammaExportToObjectStorageOperator`.
    :param folder_id: the folder to file the gamma in (from :meth:`GammaHook.list_folders`).
    :param folder_ids: deprecated: Gamma files a gamma in one folder now. A one-item list is sent
        as ``folder_id`` (with a ``DeprecationWarning``); more items fail when the DAG is parsed.
    :param text_options: ``{"amount", "tone", "audience", "language"}``.
    :param image_options: ``{"source", "model", "style"}``.
    :param card_options: ``{"dimensions", "headerFooter"}``.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body as is.
    :param gamma_conn_id: the ``gamma`` connection.
    :param wait_for_completion: wait for the generation to end (default); if not, return at once with
        the generation id, for a :class:`~airflow_provider_gamma.sensors.gamma.GammaGenerationSensor`.
    :param deferrable: wait in the triggerer instead of a worker slot. Default: ``[operators]
        default_deferrable``.
    :param poll_interval: seconds (or a timedelta) between status polls; Gamma recommends 5.
    :param timeout: how long to wait for the generation (seconds or timedelta; default 30 minutes),
        measured as an absolute deadline so a triggerer restart does not reset it.
    :param first_poll_delay: seconds before the first status poll when deferred (default 10): no
        generation completes sooner, so no request is spent before it can plausibly be done.
    :param resubmit_failed: when a generation fails, let a task retry submit (and pay for) a new one.
        Off by default: a failed generation fails the task without retries. A cleared task always
        submits anew.
    :param title: the deck's title (1 to 500 characters); Gamma makes one up when it is not given.
        Templated.
    :param reconcile: give each submission a reference (``[gx0123456789]``, appended to ``title`` or,
        without one, to the input's first line) so that a POST whose answer is lost (5xx, timeout,
        dropped connection, unreadable answer) can be settled by searching for the deck: found, it is
        returned (with ``reconciled: True``, no ``generationId`` and no ``credits``, which Gamma does
        not report for it); not found within ``reconcile_window``, the request is sent again. With
        ``False`` the title is left alone and such a POST fails the task without a retry.
    :param reconcile_window: how long to look for the deck of an uncertain POST (seconds or
        timedelta) before concluding Gamma created none; by default as long as ``timeout``, since a
        deck may appear in Gamma's search only once it is complete. A deck that appears later than
        this would be paid for twice; lower it only for decks known to be quick, to resubmit sooner
        when Gamma created nothing. Deferred tasks wait between lookups in the triggerer.
    """

    template_fields: Sequence[str] = (
        "input_text",
        "pages",
        "text_mode",
        "title",
        "format",
        "num_cards",
        "card_split",
        "theme_id",
        "additional_instructions",
        "export_as",
        "folder_id",
        "folder_ids",
        "text_options",
        "image_options",
        "card_options",
        "sharing_options",
        "extra_body",
        "gamma_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "input_text": "md",
        "pages": "json",
        "text_options": "json",
        "image_options": "json",
        "card_options": "json",
        "sharing_options": "json",
        "extra_body": "json",
    }
    _submit_method = "submit_generation"

    def __init__(
        self,
        *,
        input_text: str | None = None,
        pages: list[dict[str, Any]] | str | None = None,
        publish: bool | None = None,
        text_mode: str = "generate",
        format: str | None = None,
        num_cards: int | str | None = None,
        card_split: str | None = None,
        theme_id: str | None = None,
        additional_instructions: str | None = None,
        export_as: str | None = None,
        folder_id: str | None = None,
        folder_ids: list[str] | None = None,
        text_options: dict[str, Any] | None = None,
        image_options: dict[str, Any] | None = None,
        card_options: dict[str, Any] | None = None,
        sharing_options: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_text = input_text
        self.pages = pages
        self.publish = publish
        self.text_mode = text_mode
        self.format = format
        self.num_cards = num_cards
        self.card_split = card_split
        self.theme_id = theme_id
        self.additional_instructions = additional_instructions
        self.export_as = export_as
        self.folder_id = folder_id
        self.folder_ids = folder_ids
        self.text_options = text_options
        self.image_options = image_options
        self.card_options = card_options
        self.sharing_options = sharing_options
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.generation_body(
            **{keyword: getattr(self, keyword) for keyword, _ in parameters.GENERATION_FIELDS.values()},
            folder_ids=self.folder_ids,
            extra_body=self.extra_body,
        )


class GammaGenerateFromTemplateOperator(_GammaGenerationOperator):
    """Generate a new gamma from a one-page template gamma and a prompt (Gamma's "Remix").

    Waits, defers, pushes XCom and returns exactly like :class:`GammaGenerateOperator`.

    :param gamma_id: file id of the template gamma (it must contain exactly one page). Templated.
    :param prompt: what to generate: instructions, content, image URLs (1 to 400,000 chars). Templated.
    :param theme_id: a theme to apply instead of the template's.
    :param folder_id: the folder to file the gamma in (from :meth:`GammaHook.list_folders`).
    :param folder_ids: deprecated: Gamma files a gamma in one folder now. A one-item list is sent
        as ``folder_id`` (with a ``DeprecationWarning``); more items fail when the DAG is parsed.
    :param export_as: also export as ``pdf``, ``pptx`` or ``png``.
    :param image_options: ``{"model", "style"}`` for new AI images.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body as is.

    The remaining parameters are those of :class:`GammaGenerateOperator`.
    """

    template_fields: Sequence[str] = (
        "gamma_id",
        "prompt",
        "title",
        "theme_id",
        "folder_id",
        "folder_ids",
        "export_as",
        "image_options",
        "sharing_options",
        "extra_body",
        "gamma_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "prompt": "md",
        "image_options": "json",
        "sharing_options": "json",
        "extra_body": "json",
    }
    _submit_method = "submit_generation_from_template"

    def __init__(
        self,
        *,
        gamma_id: str,
        prompt: str,
        theme_id: str | None = None,
        folder_id: str | None = None,
        folder_ids: list[str] | None = None,
        export_as: str | None = None,
        image_options: dict[str, Any] | None = None,
        sharing_options: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gamma_id = gamma_id
        self.prompt = prompt
        self.theme_id = theme_id
        self.folder_id = folder_id
        self.folder_ids = folder_ids
        self.export_as = export_as
        self.image_options = image_options
        self.sharing_options = sharing_options
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.template_body(
            **{keyword: getattr(self, keyword) for keyword, _ in parameters.TEMPLATE_FIELDS.values()},
            folder_ids=self.folder_ids,
            extra_body=self.extra_body,
        )


#: An agent run plans, reads its sources and builds cards one by one: no sooner than this is it done.
AGENT_FIRST_POLL_DELAY = 30.0
AGENT_POLL_INTERVAL = 10.0
AGENT_TIMEOUT = timedelta(minutes=60)


class GammaAgentGenerateOperator(_GammaGenerationOperator):
    """Have the Gamma 5 agent plan, write and design a presentation, document or social post.

    Gamma's docs call ``POST /v1.0/generations`` "classic" and recommend the agent for new decks: it
    takes a brief rather than text-handling settings, may read ``source_urls`` and the workspace's
    connectors, and picks a design (or starts from ``template_id``). Submits once, waits (deferred
    when ``deferrable``), re-attaches on retries, settles an uncertain POST by its reference and
    returns like :class:`GammaGenerateOperator`; the result also holds the agent's ``summary`` of what
    it made. Its generation id starts with ``gen_``, which is how the trigger, the sensor and the
    export operator know to poll the agent endpoint.

    Gamma 5's schema is younger than the classic one: the fields below are validated as Gamma's
    documents and its own n8n node describe them; anything newer goes through ``extra_body``.

    :param prompt: the brief: what to make, for whom, from which figures (1 to 400,000 chars).
        Templated.
    :param format: ``presentation`` (default), ``document`` or ``social``; Gamma 5 makes no webpages.
    :param additional_instructions: tone, audience, language or style guidance (up to 5,000 chars).
    :param num_cards: target number of cards, 1 to 100 (10 on the Free plan); the agent may land a
        card either side.
    :param quality: ``lite``, ``standard`` or ``max`` (plan permitting); Gamma's workspace default
        when not given.
    :param source_urls: up to 10 http(s) pages for the agent to read; one it cannot read is skipped.
    :param template_id: a template (or any gamma of the workspace) to start from.
    :param disable_connectors: stop the agent reading workspace connectors (Notion, Slack, ...).
    :param folder_id: the folder to file the gamma in.
    :param export_as: also export as ``pdf``, ``pptx`` or ``png``.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body as is.
    :param poll_interval: seconds between polls; 10 by default, as agent runs last minutes.
    :param timeout: how long to wait; 60 minutes by default (Gamma documents no typical duration
        for the agent; its runs read sources and build card by card, several times a classic run).
    :param first_poll_delay: seconds before the first poll when deferred; 30 by default.

    The remaining parameters (``title``, ``reconcile``, ``deferrable`` ...) are those of
    :class:`GammaGenerateOperator`. The reference for settling a lost POST's answer rides in
    ``title`` as for the classic engine; should Gamma refuse a title on agent runs, the deck is still
    made, without one, and an uncertain POST then fails the task with the evidence instead.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "title",
        "format",
        "additional_instructions",
        "num_cards",
        "quality",
        "source_urls",
        "template_id",
        "folder_id",
        "export_as",
        "sharing_options",
        "extra_body",
        "gamma_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "prompt": "md",
        "sharing_options": "json",
        "extra_body": "json",
    }
    _submit_method = "submit_agent_generation"

    def __init__(
        self,
        *,
        prompt: str,
        format: str | None = None,
        additional_instructions: str | None = None,
        num_cards: int | str | None = None,
        quality: str | None = None,
        source_urls: list[str] | None = None,
        template_id: str | None = None,
        disable_connectors: bool | None = None,
        folder_id: str | None = None,
        export_as: str | None = None,
        sharing_options: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        poll_interval: float | timedelta = AGENT_POLL_INTERVAL,
        timeout: float | timedelta = AGENT_TIMEOUT,
        first_poll_delay: float | timedelta = AGENT_FIRST_POLL_DELAY,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval, timeout=timeout, first_poll_delay=first_poll_delay, **kwargs
        )
        self.prompt = prompt
        self.format = format
        self.additional_instructions = additional_instructions
        self.num_cards = num_cards
        self.quality = quality
        self.source_urls = source_urls
        self.template_id = template_id
        self.disable_connectors = disable_connectors
        self.folder_id = folder_id
        self.export_as = export_as
        self.sharing_options = sharing_options
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.agent_body(
            **{keyword: getattr(self, keyword) for keyword, _ in parameters.AGENT_FIELDS.values()},
            extra_body=self.extra_body,
        )
