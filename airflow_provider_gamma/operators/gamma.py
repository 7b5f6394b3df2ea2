# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Operators that start a Gamma generation and (by default) wait for it, deferring to the triggerer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_gamma import parameters
from airflow_provider_gamma._compat import AirflowFailException, conf, task_state_store
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaGenerationFailedError,
    GammaGenerationTimeoutError,
    GammaParameterError,
)
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.protocol import Generation, GenerationCreated

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

XCOM_GENERATION_ID = "generation_id"
XCOM_GAMMA_URL = "gamma_url"
#: No Gamma generation completes in under ten seconds, so the trigger spends no poll before then.
DEFAULT_FIRST_POLL_DELAY = 10.0
#: task state store key (Airflow >= 3.3) under which a try leaves its generation id for the next try.
STATE_GENERATION_ID = "gamma_generation_id"


class GammaGenerationLink(BaseOperatorLink):
    """ "View in Gamma": opens the generated gamma (its ``gammaUrl``) once the generation completed."""

    name = "View in Gamma"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(key=XCOM_GAMMA_URL, ti_key=ti_key) or "")


def generation_failure(generation: Generation) -> GammaGenerationFailedError:
    """The error for a generation Gamma reported as failed, with Gamma's message and the generation id."""
    error: dict[str, Any] = dict(generation.get("error") or {})
    return GammaGenerationFailedError(
        error.get("message", "no reason given"),
        generation_id=generation["generationId"],
        http_status=error.get("statusCode"),
    )


def _seconds(value: float | timedelta, name: str, *, allow_zero: bool = False) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    valid = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not valid or seconds < 0 or (seconds == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise GammaParameterError(
            f"Invalid Gamma parameter {name}={value!r}: must be {kind} number of seconds"
        )
    return float(seconds)


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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, flag in (
            ("wait_for_completion", wait_for_completion),
            ("deferrable", deferrable),
            ("resubmit_failed", resubmit_failed),
        ):
            if not isinstance(flag, bool):  # a string such as "False" would be truthy
                raise GammaParameterError(f"Invalid Gamma parameter {name}={flag!r}: must be True or False")
        self.first_poll_delay = _seconds(first_poll_delay, "first_poll_delay", allow_zero=True)
        self.gamma_conn_id = gamma_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = _seconds(poll_interval, "poll_interval")
        self.timeout = _seconds(timeout, "timeout")
        self.resubmit_failed = resubmit_failed

    @cached_property
    def hook(self) -> GammaHook:
        return GammaHook(self.gamma_conn_id)

    def build_body(self) -> dict[str, Any]:
        """The request body from the (rendered) parameters; raises :class:`GammaParameterError`."""
        raise NotImplementedError

    def execute(self, context: Context) -> Generation:
        body = self.build_body()
        store = task_state_store(context)
        generation = self._previous_generation(store)
        if generation is None:
            created: GenerationCreated = getattr(self.hook, self._submit_method)(body)
            if store is not None:
                store.set(STATE_GENERATION_ID, created["generationId"])
            generation = {"generationId": created["generationId"], "status": "pending"}
            if created.get("warnings"):
                generation["warnings"] = created["warnings"]
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
            kwargs={"warnings": generation.get("warnings")},
            # A backstop only: the trigger reports the deadline itself, with the generation id.
            timeout=self.execution_timeout or timedelta(seconds=self.timeout + self.poll_interval + 120),
        )

    def _previous_generation(self, store: Any) -> Generation | None:
        """The generation an earlier try of this task started, when it can still be used (Airflow >= 3.3).

        A pending one is re-attached to and a completed one returned, so a retry never pays again; a
        failed one is resubmitted only with ``resubmit_failed=True``.
        """
        if store is None:
            return None
        generation_id = store.get(STATE_GENERATION_ID)
        if not generation_id:
            return None
        generation = self.hook.get_generation(str(generation_id))
        if generation["status"] == "failed":
            if not self.resubmit_failed:
                raise AirflowFailException(
                    f"An earlier try's Gamma generation {generation_id} failed "
                    f"({generation.get('error', {}).get('message', 'no reason given')}); not starting a new, "
                    "billed one. Set resubmit_failed=True to let retries submit again."
                )
            self.log.info("Earlier try's generation %s failed; submitting a new one", generation_id)
            return None
        self.log.info("Re-attaching to generation %s started by an earlier try", generation_id)
        return generation

    def execute_complete(
        self, context: Context, event: Mapping[str, Any] | None = None, warnings: str | None = None
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
        if event["status"] == "timeout":
            raise GammaGenerationTimeoutError(
                f"{event['message']}; wait for it with GammaGenerationSensor(generation_id={generation_id!r})",
                generation_id=generation_id,
            )
        if event["status"] == "error":
            raise GammaError(f"Watching generation {generation_id} failed: {event['message']}")
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
                "Gamma generation %s is ready: %s", generation["generationId"], generation["gammaUrl"]
            )
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
    :param text_mode: ``generate`` (expand), ``condense`` (summarise) or ``preserve`` (keep the text).
    :param format: ``presentation`` (Gamma's default), ``document``, ``social`` or ``webpage``.
    :param num_cards: number of cards, 1 to 60 (75 on Ultra); used with ``card_split="auto"``.
    :param card_split: ``auto`` or ``inputTextBreaks`` (split on ``\\n---\\n``).
    :param theme_id: a theme id from :meth:`GammaHook.list_themes` or the Gamma app.
    :param additional_instructions: free-text steering of layout, style and tone (up to 5,000 chars).
    :param export_as: also export as ``pdf``, ``pptx`` or ``png`` (a zip of one PNG per card); needed
        by :class:`~airflow_provider_gamma.operators.export.GammaExportToObjectStorageOperator`.
    :param folder_ids: folder ids to file the gamma in (at most 10).
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
        Off by default: a failed generation fails the task without retries.
    """

    template_fields: Sequence[str] = (
        "input_text",
        "text_mode",
        "format",
        "num_cards",
        "card_split",
        "theme_id",
        "additional_instructions",
        "export_as",
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
        input_text: str,
        text_mode: str = "generate",
        format: str | None = None,
        num_cards: int | str | None = None,
        card_split: str | None = None,
        theme_id: str | None = None,
        additional_instructions: str | None = None,
        export_as: str | None = None,
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
        self.text_mode = text_mode
        self.format = format
        self.num_cards = num_cards
        self.card_split = card_split
        self.theme_id = theme_id
        self.additional_instructions = additional_instructions
        self.export_as = export_as
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
            extra_body=self.extra_body,
        )


class GammaGenerateFromTemplateOperator(_GammaGenerationOperator):
    """Generate a new gamma from a one-page template gamma and a prompt (Gamma's "Remix").

    Waits, defers, pushes XCom and returns exactly like :class:`GammaGenerateOperator`.

    :param gamma_id: file id of the template gamma (it must contain exactly one page). Templated.
    :param prompt: what to generate: instructions, content, image URLs (1 to 400,000 chars). Templated.
    :param theme_id: a theme to apply instead of the template's.
    :param folder_ids: folder ids to file the gamma in (at most 10).
    :param export_as: also export as ``pdf``, ``pptx`` or ``png``.
    :param image_options: ``{"model", "style"}`` for new AI images.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body as is.

    The remaining parameters are those of :class:`GammaGenerateOperator`.
    """

    template_fields: Sequence[str] = (
        "gamma_id",
        "prompt",
        "theme_id",
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
        self.folder_ids = folder_ids
        self.export_as = export_as
        self.image_options = image_options
        self.sharing_options = sharing_options
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.template_body(
            **{keyword: getattr(self, keyword) for keyword, _ in parameters.TEMPLATE_FIELDS.values()},
            extra_body=self.extra_body,
        )
