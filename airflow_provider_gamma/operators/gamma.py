# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Operators that start a Gamma generation and (by default) wait for it, deferring to the triggerer.

Classic generation from text and generation from a template live here; the Gamma 5 agent's operator
is :mod:`airflow_provider_gamma.operators.agent` and the shared base :mod:`._generation`. Every
generate operator is importable from this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_gamma import parameters
from airflow_provider_gamma.operators._generation import (
    DEFAULT_FIRST_POLL_DELAY,
    GammaGenerationLink,
    _GammaGenerationOperator,
    generation_failure,
)
from airflow_provider_gamma.operators._settling import XCOM_GAMMA_URL, XCOM_GENERATION_ID, XCOM_SUBMISSION
from airflow_provider_gamma.operators.agent import (
    AGENT_FIRST_POLL_DELAY,
    AGENT_POLL_INTERVAL,
    AGENT_TIMEOUT,
    GammaAgentGenerateOperator,
)
from airflow_provider_gamma.protocol import Generation, GenerationCreated

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "AGENT_FIRST_POLL_DELAY",
    "AGENT_POLL_INTERVAL",
    "AGENT_TIMEOUT",
    "DEFAULT_FIRST_POLL_DELAY",
    "XCOM_GAMMA_URL",
    "XCOM_GENERATION_ID",
    "XCOM_SUBMISSION",
    "GammaAgentGenerateOperator",
    "GammaGenerateFromTemplateOperator",
    "GammaGenerateOperator",
    "GammaGenerationLink",
    "generation_failure",
]


class GammaGenerateOperator(_GammaGenerationOperator):
    """Generate a presentation, document, webpage or social post from text with Gamma.

    The request is sent once. With ``wait_for_completion`` (the default) the task then waits for the
    generation, in the triggerer when ``deferrable`` (no worker slot held), and returns Gamma's
    completed generation: ``generationId``, ``status``, ``gammaId``, ``gammaUrl``, ``credits``, the
    ``cost`` in words and the request's ``warnings``; never the signed ``exportUrl`` (a bearer link to
    the file for a week: :class:`GammaExportToObjectStorageOperator` fetches it when it lands the file). The generation id is pushed to XCom
    (key ``generation_id``) as soon as Gamma accepts it, and a "View in Gamma" link appears on the task.

    Every Gamma parameter is a keyword with Gamma's meaning; option dicts keep Gamma's camelCase keys so
    they can be copied from Gamma's docs. Invalid values fail when the DAG is parsed, naming the field
    (``text_options.language``); templated and XCom values are checked once rendered, before the POST.
    Leave out a key you do not set: a ``None`` inside an option dict would be sent as null.

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
    :param card_split: ``auto`` or ``inputTextBreaks`` (split on ``\\n---\\n``). A text with no
        ``\\n---\\n`` line then makes a single card whatever ``num_cards`` says: warned of
        (:class:`~airflow_provider_gamma.parameters.GammaCardSplitWarning`) when the DAG is parsed, and
        in the task log once the text is rendered.
    :param theme_id: a theme id from :meth:`GammaHook.list_themes` or the Gamma app.
    :param additional_instructions: free-text steering of layout, style and tone (up to 5,000 chars).
    :param export_as: also export as ``pdf``, ``pptx`` or ``png`` (a zip of one PNG per card); needed
        by :class:`~airflow_provider_gamma.operators.export.GammaExportToObjectStorageOperator`.
    :param folder_id: the folder to file the gamma in (from :meth:`GammaHook.list_folders`).
    :param folder_ids: deprecated, and Gamma plans to remove it: Gamma files a gamma in one folder
        now. A one-item list is sent as ``folder_id`` (with a ``DeprecationWarning``); more items, or
        anything but a list, fail when the DAG is parsed.
    :param text_options: ``{"amount", "tone", "audience", "language"}``.
    :param image_options: ``{"source", "model", "style"}``.
    :param card_options: ``{"dimensions", "headerFooter"}``.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body. Values
        must be JSON Gamma takes: no None (null), NaN, datetime, set or bytes, at any depth.
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
        It is the deck's name in the workspace, in search and in link previews, and Gamma cannot
        rename it afterwards. Unless ``title_reference`` is off, a six-symbol reference is appended
        to it, ``Weekly figures [k7q3m9]`` (without a title: to the input's first line). Templated.
    :param reconcile: settle a POST whose answer is lost (5xx, timeout, dropped connection,
        unreadable answer) instead of failing or paying twice. With the reference in the title, the
        one gamma carrying it is the deck: it is returned once it has stopped changing (``status:
        completed``, ``reconciled: True``, ``gammaId``, ``gammaUrl``, no ``generationId`` or
        ``credits``, which Gamma does not report for it; XCom ``generation_id`` is
        ``gamma:<gammaId>``, which ``GammaGenerationSensor`` takes; the export operator takes the
        result, ``generation_id=generate.output``). Without
        the reference, the gammas your key's user changed since the POST are the candidates: one or
        more fail the task without a retry, listing them (title, URL, time), since which is the deck
        cannot be told. Nothing found by the end of ``reconcile_window``: Gamma made nothing, and the
        request is sent again. Needs Gamma's search (a workspace without it fails at once, saying
        so). With ``False`` the title is left alone and such a POST fails the task without a retry.
    :param reconcile_window: how long after an uncertain POST its deck may still appear in search
        (seconds or timedelta); 10 minutes by default: Gamma documents that most generations complete
        within 1 to 3 minutes, and a POST Gamma never acted on is sent again once it closes. A deck
        that appears later would be paid for twice: raise it for decks known to be slow (many cards,
        video models). It also caps the minute a found deck must stay unchanged. Deferred tasks wait
        between lookups in the triggerer.
    :param title_reference: put the reference in the title: ``None`` (default) follows the
        connection's extra ``title_reference`` (on unless set to ``false``), ``True``/``False``
        decide for this task. Off, titles stay exactly as given and a lost answer is settled only
        when no gamma of your key's user changed since the POST.
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
    _endpoint = "POST /v1.0/generations"

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
        for message in parameters.card_split_warnings(self.build_body()):
            warnings.warn(message, parameters.GammaCardSplitWarning, stacklevel=2)

    def execute(self, context: Context) -> Generation:
        for message in parameters.card_split_warnings(self.build_body()):  # as rendered
            self.log.warning(message)
        return super().execute(context)

    def build_body(self) -> dict[str, Any]:
        return parameters.generation_body(
            **{keyword: getattr(self, keyword) for keyword, _ in parameters.GENERATION_FIELDS.values()},
            folder_ids=self.folder_ids,
            extra_body=self.extra_body,
        )

    def _send(self, body: Mapping[str, Any], *, timeout: float | None) -> GenerationCreated:
        return self.hook.submit_generation(body, timeout=timeout)


class GammaGenerateFromTemplateOperator(_GammaGenerationOperator):
    """Generate a new gamma from a one-page template gamma and a prompt (Gamma's "Remix").

    Waits, defers, pushes XCom and returns exactly like :class:`GammaGenerateOperator`.

    :param gamma_id: file id of the template gamma (it must contain exactly one page). Templated.
    :param prompt: what to generate: instructions, content, image URLs (1 to 400,000 chars). Templated.
    :param theme_id: a theme to apply instead of the template's.
    :param folder_id: the folder to file the gamma in (from :meth:`GammaHook.list_folders`).
    :param folder_ids: deprecated, and Gamma plans to remove it: Gamma files a gamma in one folder
        now. A one-item list is sent as ``folder_id`` (with a ``DeprecationWarning``); more items, or
        anything but a list, fail when the DAG is parsed.
    :param export_as: also export as ``pdf``, ``pptx`` or ``png``.
    :param image_options: ``{"model", "style"}`` for new AI images.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body. Values
        must be JSON Gamma takes: no None (null), NaN, datetime, set or bytes, at any depth.

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
    _endpoint = "POST /v1.0/generations/from-template"

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

    def _send(self, body: Mapping[str, Any], *, timeout: float | None) -> GenerationCreated:
        return self.hook.submit_generation_from_template(body, timeout=timeout)
