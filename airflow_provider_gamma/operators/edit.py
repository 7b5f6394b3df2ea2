# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The Gamma 5 agent's edit of a standing deck: same gamma, same link, this week's content."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow_provider_gamma import parameters, reconcile
from airflow_provider_gamma.exceptions import GammaEditFailedError, GammaError, GammaParameterError
from airflow_provider_gamma.operators import _files
from airflow_provider_gamma.operators._generation import _GammaGenerationOperator
from airflow_provider_gamma.operators._settling import XCOM_GENERATION_ID
from airflow_provider_gamma.operators.agent import AGENT_FIRST_POLL_DELAY, AGENT_POLL_INTERVAL, AGENT_TIMEOUT
from airflow_provider_gamma.parameters import is_unresolved
from airflow_provider_gamma.protocol import Edit, Generation, GenerationCreated, edit_failure_reason

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

#: XCom key of the edit's id (Gamma's ``editId``), pushed as soon as Gamma accepts the edit.
XCOM_EDIT_ID = "edit_id"


def _as_job(edit: Edit) -> Generation:
    """An edit read as the generate machinery reads a job: its id under ``generationId``."""
    return cast(Generation, {**edit, "generationId": edit["editId"]})


def _gamma_id(value: Any) -> str:
    """The gamma to edit: an id, or ``gamma:<id>`` as a reconciled generate task's XCom names one."""
    return reconcile.referenced_gamma(value) or str(value).strip()


class GammaAgentEditOperator(_GammaGenerationOperator):
    """Have the Gamma 5 agent edit an existing gamma in place: the same deck, at the same link, for the
    same audience, with this week's figures (``POST /v1.0/agent/gammas/{id}/edits``).

    A weekly report then keeps one link instead of making 52 decks a year. The edit is billed like an
    agent run, so it is sent once and followed like a generation (deferred when ``deferrable``), and
    the never-pay-twice rules hold for it too:

    * **A lost answer** (5xx, timeout, dropped connection after the request went out) is settled, not
      resent: the task noted the gamma's ``updatedTime`` before the POST, and reads the gamma until the
      :attr:`reconcile_window` closes. Changed: the edit took effect; it is watched until it stops
      changing and returned (without an edit id or credits, which Gamma reports only with the edit's
      status; ``reconciled: true`` says so). Unchanged to the end: Gamma made no edit, and it is sent
      again. A resent edit that Gamma refuses because an edit of the gamma is running means the first
      one is running after all, and the task keeps watching. Someone else's change to the deck in that
      window cannot be told from the edit's.
    * **A retry re-attaches** to the edit its try started (Airflow >= 3.3, through the task state
      store); **a clear is a new edit**.
    * **Gamma runs one edit per gamma at a time**: an edit POST refused because another is running
      (another task's, or an earlier try's on Airflow < 3.3) fails the try with
      :class:`GammaEditInProgressError`; Airflow's retries send it again later.

    Returns Gamma's edit status: ``editId``, ``status``, ``gammaId``, ``gammaUrl`` (the same deck),
    ``credits`` (when Gamma reports them), the ``cost`` in words and the agent's ``summary``. XCom
    ``generation_id`` is ``gamma:<gammaId>``, so :class:`GammaExportToObjectStorageOperator` given it
    lands a fresh export of the edited deck; XCom ``edit_id`` is the edit.

    Gamma documents the edit's body as ``prompt`` and ``files``; ``quality`` and
    ``disable_connectors`` are what Gamma's own n8n node sends. The edit status's failure shape is
    not published: Gamma's ``error`` is passed through as sent. Anything newer goes through
    ``extra_body``.

    :param gamma_id: the gamma to edit: its file id, the doc id of its ``gamma.app/docs`` URL, or
        ``gamma:<id>`` (a generate task's XCom ``generation_id``). Templated, e.g.
        ``"{{ ti.xcom_pull('make_deck')['gammaId'] }}"`` or ``"{{ var.value.board_deck }}"``.
    :param prompt: what to change: ``"Replace the figures on the revenue card with ..."`` (1 to
        400,000 chars). Templated.
    :param files: files for the agent to read (this week's CSV): :class:`~airflow.sdk.ObjectStoragePath`
        values, URIs (``s3://...``) or local paths, each streamed to Gamma's uploads right before the
        POST (at most 250 MiB each, checked before sending). Templated.
    :param files_conn_id: the connection of the store that ``files`` given as URIs live in.
    :param quality: ``lite``, ``standard`` or ``max`` (plan permitting).
    :param disable_connectors: stop the agent reading workspace connectors (Notion, Slack, ...).
    :param extra_body: Gamma fields newer than this provider, merged into the request body.
    :param poll_interval: seconds between polls; 10 by default.
    :param timeout: how long to wait for the edit; 60 minutes by default.
    :param first_poll_delay: seconds before the first poll when deferred; 30 by default.
    :param reconcile: settle an edit POST whose answer is lost by reading the gamma (see above); with
        ``False`` such a POST fails at once.
    :param reconcile_window: how long after an uncertain POST the edit may still show on the gamma;
        20 minutes by default (an edit is an agent run).
    :param resubmit_failed: let a retry send a new (billed) edit when the earlier try's edit failed.

    ``gamma_conn_id`` and ``deferrable`` are those of :class:`GammaGenerateOperator`. The task always
    waits for its edit (``wait_for_completion=False`` fails when the DAG is parsed): a task after it would
    otherwise land the deck half-edited.
    """

    template_fields: Sequence[str] = (
        "gamma_id",
        "prompt",
        "files",
        "quality",
        "extra_body",
        "gamma_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "md", "extra_body": "json"}
    _endpoint = "POST /v1.0/agent/gammas/{gammaId}/edits"
    _takes_title = False
    _job = "edit"
    # An agent edit may pause between writes (planning, reading an upload) longer than a classic
    # generation: a lost answer's edit counts as finished only after five quiet minutes.
    _quiet_period = reconcile.EDIT_QUIET_PERIOD
    default_reconcile_window = reconcile.EDIT_WINDOW

    def __init__(
        self,
        *,
        gamma_id: str,
        prompt: str,
        files: Sequence[Any] | None = None,
        files_conn_id: str | None = None,
        quality: str | None = None,
        disable_connectors: bool | None = None,
        extra_body: dict[str, Any] | None = None,
        poll_interval: float | timedelta = AGENT_POLL_INTERVAL,
        timeout: float | timedelta = AGENT_TIMEOUT,
        first_poll_delay: float | timedelta = AGENT_FIRST_POLL_DELAY,
        **kwargs: Any,
    ) -> None:
        for name in ("title", "title_reference"):
            if kwargs.get(name) is not None:
                raise GammaParameterError(
                    f"Invalid Gamma parameter {name}={kwargs[name]!r}: an edit keeps the gamma's title "
                    "(say so in the prompt to rename it)"
                )
        if kwargs.get("wait_for_completion") is False:
            raise GammaParameterError(
                "Invalid Gamma parameter wait_for_completion=False: an edit task waits for its edit, since "
                "a task after it would otherwise land the deck half-edited (no sensor watches an edit)"
            )
        super().__init__(
            poll_interval=poll_interval, timeout=timeout, first_poll_delay=first_poll_delay, **kwargs
        )
        self.gamma_id = gamma_id
        if not is_unresolved(gamma_id):
            self._target()
        _files.check(files, files_conn_id)
        self.prompt = prompt
        self.files = files
        self.files_conn_id = files_conn_id
        self.quality = quality
        self.disable_connectors = disable_connectors
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.edit_body(
            prompt=self.prompt,
            quality=self.quality,
            disable_connectors=self.disable_connectors,
            extra_body=self.extra_body,
        )

    def _fingerprint_endpoint(self) -> str:
        # The same prompt for another deck is another edit.
        return self._endpoint.format(gammaId=self._target())

    def _unsettled_hint(self) -> str:
        return f"check in Gamma whether gamma {self._target()} was edited before re-running the task."

    def _target(self) -> str:
        """The rendered gamma id; raises :class:`GammaParameterError` for one that names no gamma."""
        target = _gamma_id(self.gamma_id) if isinstance(self.gamma_id, str) else ""
        if not target:
            raise GammaParameterError(
                f"Invalid Gamma parameter gamma_id={self.gamma_id!r}: must be a gamma id (or gamma:<id>)"
            )
        return target

    def _send(self, body: Mapping[str, Any], *, timeout: float | None) -> GenerationCreated:
        created = self.hook.submit_edit(self._target(), body, timeout=timeout)
        return cast(GenerationCreated, {**created, "generationId": created["editId"]})

    # --- the edit as the job the generate machinery follows --------------------------------------

    def _before_post(self, record: reconcile.Submission) -> reconcile.Submission:
        # Read before anything is paid: a gamma that cannot be read (deleted, a bad id, a refused key)
        # fails the task here, with the error's own class (a 404 or 401 is not retried).
        gamma_id = self._target()
        gamma = self.hook.get_gamma(gamma_id)
        updated = gamma.get("updatedTime")
        self.log.info("Editing gamma %s (%s), last updated %s", gamma_id, gamma.get("title", ""), updated)
        if not self.reconcile:  # nothing to settle by: a lost answer fails, now and in a retry (S5)
            return record
        return record.editing(gamma_id, updated if isinstance(updated, str) else None)

    def _lookup_description(self, marker: str | None) -> str:
        return f"reading gamma {self._target()}: a change since the POST is the edit's"

    def _read_job(self, job_id: str) -> Generation:
        return _as_job(self.hook.get_edit(job_id))

    def _wait_job(self, job_id: str, deadline: float) -> Generation:
        return _as_job(self.hook.wait_for_edit(job_id, poll_interval=self.poll_interval, deadline=deadline))

    def _job_trigger(self, job_id: str, deadline: float) -> BaseTrigger:
        from airflow_provider_gamma.triggers.gamma import GammaEditTrigger

        return GammaEditTrigger(
            edit_id=job_id,
            gamma_conn_id=self.gamma_conn_id,
            poll_interval=self.poll_interval,
            end_time=deadline,
            first_poll_delay=min(self.first_poll_delay, self.timeout),
        )

    def _after_timeout(self, job_id: str) -> str:
        return (
            f"Gamma keeps running edit {job_id} (it cannot cancel one): land the gamma once it is done, "
            f"e.g. GammaExportToObjectStorageOperator(generation_id='gamma:{self._target()}')"
        )

    def _job_from_event(self, job: Any, job_id: str) -> Generation:
        return super()._job_from_event(_as_job(cast(Edit, job)) if job else None, job_id)

    def _announce(self, context: Context, job_id: str) -> None:
        context["ti"].xcom_push(key=XCOM_EDIT_ID, value=job_id)
        # Downstream tasks export the gamma afresh: the edit changes it in place.
        context["ti"].xcom_push(key=XCOM_GENERATION_ID, value=reconcile.deck_reference(self._target()))

    def _finish(self, context: Context, generation: Generation) -> Generation:
        # The ids were published when Gamma accepted the edit (_announce), or as gamma:<id> when a lost
        # answer was settled; the result names the edit, not a generation.
        cast(dict[str, Any], generation).setdefault("gammaId", self._target())
        result = cast(dict[str, Any], super()._finish(context, generation))
        if edit_id := result.pop("generationId", None):
            result["editId"] = edit_id
        return cast(Generation, result)

    def _failed(self, generation: Generation) -> GammaError:
        return GammaEditFailedError(
            edit_failure_reason(cast(Edit, generation)),
            edit_id=str(generation.get("editId") or generation.get("generationId") or ""),
            gamma_id=str(generation.get("gammaId") or self._target()),
            http_status=generation.get("error", {}).get("statusCode"),
        )
