# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The Gamma 5 agent's operator: a brief in, a planned, written and designed deck out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow_provider_gamma import parameters, reconcile
from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.operators import _files
from airflow_provider_gamma.operators._generation import _GammaGenerationOperator
from airflow_provider_gamma.protocol import GenerationCreated

#: An agent run plans, reads its sources and builds cards one by one: no sooner than this is it done.
AGENT_FIRST_POLL_DELAY = 30.0
AGENT_POLL_INTERVAL = 10.0
AGENT_TIMEOUT = timedelta(minutes=60)


class GammaAgentGenerateOperator(_GammaGenerationOperator):
    """Have the Gamma 5 agent plan, write and design a presentation, document or social post.

    Gamma's docs call ``POST /v1.0/generations`` "classic" and recommend the agent for new decks: it
    takes a brief rather than text-handling settings, may read ``source_urls`` and the workspace's
    connectors, and picks a design (or starts from ``template_id``). Submits once, waits (deferred
    when ``deferrable``), re-attaches on retries and returns like :class:`GammaGenerateOperator`; the result also holds the agent's ``summary`` of what
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
    :param files: files for the agent to read as sources (this week's CSV, last quarter's PDF): each an
        :class:`~airflow.sdk.ObjectStoragePath`, a URI (``s3://bucket/figures.csv``, ``file:///...``) or
        a local path. Each is streamed to Gamma's ``POST /v1.0/uploads`` (never whole in memory; at most
        250 MiB, checked before any byte is sent) right before the POST, in the same try, since Gamma
        uses an upload once and drops an unused one after two days. Templated.
    :param files_conn_id: the connection of the store that ``files`` given as URIs live in (an
        ``ObjectStoragePath`` carries its own).
    :param template_id: a template (or any gamma of the workspace) to start from.
    :param disable_connectors: stop the agent reading workspace connectors (Notion, Slack, ...).
    :param folder_id: the folder to file the gamma in.
    :param export_as: also export as ``pdf``, ``pptx`` or ``png``.
    :param sharing_options: ``{"workspaceAccess", "externalAccess", "emailOptions"}``.
    :param extra_body: Gamma fields newer than this provider, merged into the request body. Values
        must be JSON Gamma takes: no None (null), NaN, datetime, set or bytes, at any depth.
    :param poll_interval: seconds between polls; 10 by default, as agent runs last minutes.
    :param timeout: how long to wait; 60 minutes by default (Gamma documents no typical duration
        for the agent; its runs read sources and build card by card, several times a classic run).
    :param first_poll_delay: seconds before the first poll when deferred; 30 by default.
    :param title: not taken: the agent names the deck itself, and Gamma's agent endpoint answers 400
        to a title. Giving one fails when the DAG is parsed.

    :param reconcile: settle a POST whose answer is lost (5xx, timeout, dropped connection). The
        agent takes no title, so no reference can mark its deck: the task looks at the gammas your
        key's user changed since the POST until ``reconcile_window`` closes. None: Gamma made nothing,
        and the request is sent again. One or more: the task cannot tell which (if any) is its deck,
        so it fails without a retry, listing them (title, URL, time) for you to pick from; it never
        picks one, nor pays again. Needs Gamma's search (a workspace without it fails at once,
        saying so). With ``False``, such a POST fails at once.
    :param reconcile_window: how long after an uncertain POST its deck may still appear; 20 minutes
        by default (Gamma documents no agent duration; twice the classic window, as the agent plans
        and reads its sources before it writes).

    The remaining parameters (``deferrable``, ``resubmit_failed`` ...) are those of
    :class:`GammaGenerateOperator`; ``title_reference`` has no effect here.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "format",
        "additional_instructions",
        "num_cards",
        "quality",
        "source_urls",
        "files",
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
    _endpoint = "POST /v1.0/agent/generations"
    _takes_title = False
    default_reconcile_window = reconcile.AGENT_WINDOW

    def __init__(
        self,
        *,
        prompt: str,
        format: str | None = None,
        additional_instructions: str | None = None,
        num_cards: int | str | None = None,
        quality: str | None = None,
        source_urls: list[str] | None = None,
        files: Sequence[Any] | None = None,
        files_conn_id: str | None = None,
        template_id: str | None = None,
        disable_connectors: bool | None = None,
        folder_id: str | None = None,
        export_as: str | None = None,
        sharing_options: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        poll_interval: float | timedelta = AGENT_POLL_INTERVAL,
        timeout: float | timedelta = AGENT_TIMEOUT,
        first_poll_delay: float | timedelta = AGENT_FIRST_POLL_DELAY,
        title: None = None,
        **kwargs: Any,
    ) -> None:
        if title is not None:
            raise GammaParameterError(
                f"Invalid Gamma parameter title={title!r}: {parameters.AGENT_TAKES_NO_TITLE}"
            )
        super().__init__(
            poll_interval=poll_interval, timeout=timeout, first_poll_delay=first_poll_delay, **kwargs
        )
        self.prompt = prompt
        self.format = format
        self.additional_instructions = additional_instructions
        self.num_cards = num_cards
        self.quality = quality
        self.source_urls = source_urls
        _files.check(files, files_conn_id)
        self.files = files
        self.files_conn_id = files_conn_id
        self.template_id = template_id
        self.disable_connectors = disable_connectors
        self.folder_id = folder_id
        self.export_as = export_as
        self.sharing_options = sharing_options
        self.extra_body = extra_body
        self.build_body()

    def build_body(self) -> dict[str, Any]:
        return parameters.agent_body(
            # ``files`` are sources here; their upload ids join the body at each POST (_attachments)
            **{
                keyword: getattr(self, keyword)
                for keyword, _ in parameters.AGENT_FIELDS.values()
                if keyword != "files"
            },
            extra_body=self.extra_body,
        )

    def _send(self, body: Mapping[str, Any], *, timeout: float | None) -> GenerationCreated:
        return self.hook.submit_agent_generation(body, timeout=timeout)
