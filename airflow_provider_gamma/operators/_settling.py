# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The part of a generate (or edit) task that settles a POST whose answer was lost: how its deck is
looked for, the waits between lookups (here or in the triggerer), and the deck found as the result.
The rules are :mod:`airflow_provider_gamma.reconcile`'s; this only carries them out."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator

from airflow_provider_gamma import reconcile
from airflow_provider_gamma._compat import task_state_store
from airflow_provider_gamma.connection import GammaSettings
from airflow_provider_gamma.exceptions import GammaError, GammaSubmissionUncertainError
from airflow_provider_gamma.protocol import GammaHit, Generation

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_gamma.hooks.gamma import GammaHook

XCOM_GENERATION_ID = "generation_id"
XCOM_GAMMA_URL = "gamma_url"
XCOM_SUBMISSION = "gamma_submission"


def _submission_record(value: Any) -> reconcile.Submission:
    record = reconcile.Submission.from_json(value)
    if record is None or not (record.marker or record.by_candidates or record.edit_of):
        raise GammaError(f"Cannot resume looking for an uncertain POST's deck: bad record {value!r}")
    return record


class _SettlesLostAnswers(BaseOperator):
    """Looking for the deck of a POST whose answer was lost; mixed into the generate operators' base."""

    _takes_title: ClassVar[bool]
    title_reference: bool | None
    deferrable: bool
    _started: float

    if TYPE_CHECKING:

        @property
        def hook(self) -> GammaHook: ...

        def build_body(self) -> dict[str, Any]: ...

        def _carry_out(
            self, context: Context, record: reconcile.Submission, decision: reconcile.Decision
        ) -> Generation: ...

        def _finish(self, context: Context, generation: Generation) -> Generation: ...

    def _unsettled_hint(self) -> str:
        """What the user checks about a lost answer the task does not settle (``reconcile=False``)."""
        return "check your Gamma workspace for a new gamma before re-running the task."

    def _lookup_description(self, marker: str | None) -> str:
        if marker:
            return f"its reference {marker}"
        return "the gammas your key's user changed since the POST (no reference in the title)"

    # --- the deck of a POST whose answer was lost ------------------------------------------------

    def _reference_in_title(self) -> bool:
        """Whether the request carries the reference: the endpoint takes a title, and neither the task
        (``title_reference``) nor the connection (extra ``title_reference``) switched it off."""
        if not self._takes_title:
            return False
        if self.title_reference is not None:
            return self.title_reference
        # A hook standing in for GammaHook (a test double) may carry no connection settings.
        settings: GammaSettings | None = getattr(self.hook, "settings", None)
        return settings is None or settings.title_reference

    def _wait_until(self, wake: float, record: reconcile.Submission, context: Context) -> None:
        """Wait for the next lookup: in the triggerer when deferrable, else here, within the try's time."""
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            # Also in XCom, which outlives the deferral: ``airflow dags test`` resumes a task with
            # the trigger's event only, dropping the kwargs below.
            context["ti"].xcom_push(key=XCOM_SUBMISSION, value=record.to_json())
            self.defer(
                trigger=DateTimeTrigger(moment=datetime.fromtimestamp(wake, UTC)),
                method_name="resume_reconciliation",
                kwargs={"submission": record.to_json()},
            )
        wait = max(0.0, wake - time.time())
        if self.execution_timeout is not None:
            left = self.execution_timeout.total_seconds() - (time.monotonic() - self._started) - 5.0
            if wait > left:
                message = (
                    f"execution_timeout leaves no time to look for the deck (or see it finished) again "
                    f"in {wait:.0f} s. {record.evidence()}"
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
        record = _submission_record(submission)
        return self._carry_out(context, record, reconcile.resume(record))

    def _reconciled(self, context: Context, deck: GammaHit, record: reconcile.Submission) -> Generation:
        """The finished deck of an uncertain POST, as the task's result. Its XCom ``generation_id`` is
        ``gamma:<gammaId>`` (Gamma gave no generation id), which :class:`GammaGenerationSensor` takes."""
        self.log.warning(
            "Found the deck of the uncertain POST by %s, finished: gamma %s. Gamma reports no job id "
            "or credits for it.",
            self._lookup_description(record.marker),
            deck["id"],
        )
        result = reconcile.reconciled_result(deck, self.build_body().get("exportAs"))
        context["ti"].xcom_push(key=XCOM_GENERATION_ID, value=reconcile.deck_reference(deck["id"]))
        return self._finish(context, cast(Generation, result))
