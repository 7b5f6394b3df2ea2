# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaHook: the Gamma API's table of contents, sync (``requests``) for workers and async
(``aiohttp``) for triggers.

Every endpoint is a few lines over one chokepoint per colour (``_call``, ``_acall``, inherited from
``hooks/_base.py``), which run the protocol's one attempt flow through the transport drivers of
``hooks/_transport.py``: a request is retried, paced, bounded and classified the same from a worker
and from the triggerer.

Here: generations, agent edits, gammas, themes, folders, exports and the two searches. Inherited, each
group with its own machinery: uploads (``hooks/_upload.py``), a deck's analytics
(``hooks/_analytics.py``) and export downloads (``hooks/_download.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from airflow_provider_gamma import parameters, protocol
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaError,
    GammaExportError,
    GammaGenerationTimeoutError,
    GammaSearchNotEnabledError,
)
from airflow_provider_gamma.get_provider_info import CONN_TYPE
from airflow_provider_gamma.hooks._analytics import AnalyticsEndpoints
from airflow_provider_gamma.hooks._download import EXPORT_CHUNK_SIZE, ExportDownload, ExportDownloads
from airflow_provider_gamma.hooks._upload import UploadEndpoints
from airflow_provider_gamma.protocol import (
    ApiRequest,
    ArchiveResult,
    DeleteResult,
    Edit,
    EditCreated,
    Export,
    Folder,
    Gamma,
    GammaHit,
    Generation,
    GenerationCreated,
    TemplateSearch,
    Theme,
)

__all__ = ["EXPORT_CHUNK_SIZE", "ExportDownload", "GammaHook"]


class GammaHook(UploadEndpoints, AnalyticsEndpoints, ExportDownloads):
    """Talks to the Gamma API with the key of a ``gamma`` connection.

    Reads are retried on 429 (honouring ``Retry-After``), 5xx and network failures. The calls that
    start a paid generation are retried only when Gamma certainly did not act on them (a 429, or a
    request that never left this machine: refused connection, failed TLS handshake, refused proxy
    tunnel); when an answer is lost after the request may have arrived,
    :class:`GammaSubmissionUncertainError` is raised so no deck is paid for twice.

    :param gamma_conn_id: the ``gamma`` connection: API key in the password field, base URL in the host
        field (default ``https://public-api.gamma.app``); extras ``timeout`` (seconds one attempt may
        take in all), ``proxy``, ``ca_bundle`` and ``verify`` (see :mod:`airflow_provider_gamma.connection`).
    :param timeout: seconds one attempt may take in all; overrides the connection's ``timeout``.
    :param retry_policy: how many attempts and how long to back off between them.
    """

    conn_name_attr = "gamma_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Gamma"

    # --- generations --------------------------------------------------------------------------------

    def submit_generation(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/generations`` with a ready body (see :func:`parameters.generation_body`).

        :param timeout: seconds the POST may take at most, if less than the connection's timeout.
        :raises GammaSubmissionUncertainError: the POST may have started a generation whose id never
            arrived (5xx, timeout, dropped connection, unreadable 2xx answer); never retried here.
        """
        return self._submit(protocol.create_generation_request(body, timeout=timeout))

    def submit_generation_from_template(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/generations/from-template`` with a ready body (see :func:`parameters.template_body`);
        ``timeout`` and errors as for :meth:`submit_generation`."""
        return self._submit(protocol.create_generation_from_template_request(body, timeout=timeout))

    def submit_agent_generation(
        self, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> GenerationCreated:
        """``POST /v1.0/agent/generations`` (Gamma 5) with a ready body (see
        :func:`parameters.agent_body`); ``timeout`` and errors as for :meth:`submit_generation`."""
        return self._submit(protocol.create_agent_generation_request(body, timeout=timeout))

    def _submit(self, request: ApiRequest) -> GenerationCreated:
        created = protocol.read_generation_created(request, self._call(request))
        self.log.info("Gamma accepted the generation: %s", created["generationId"])
        if created.get("warnings"):
            self.log.warning(
                "Gamma warnings for generation %s: %s", created["generationId"], created["warnings"]
            )
        for warning in protocol.page_warnings(created):
            self.log.warning("Gamma warning for generation %s: %s", created["generationId"], warning)
        return created

    def create_generation(self, input_text: str | None = None, **options: Any) -> str:
        """Start a generation from text and return its id. Each call is billed by Gamma.

        ``options`` are the generate operator's snake_case keywords (``format``, ``num_cards``,
        ``text_mode``, ``theme_id``, ``export_as``, ``text_options`` ..., ``extra_body``; see
        :func:`parameters.generation_body`); an unknown one raises :class:`GammaParameterError`.
        Option dicts use Gamma's own camelCase keys, e.g. ``text_options={"amount": "brief"}``. A
        multi-page file takes ``pages`` (1 to 50 dicts, each with its own ``inputText``) instead of
        ``input_text``.
        """
        body = parameters.generation_body(input_text=input_text, **options)
        return self.submit_generation(body)["generationId"]

    def create_generation_from_template(self, gamma_id: str, prompt: str, **options: Any) -> str:
        """Start a generation from a one-page template gamma (``gamma_id``) and return its id; ``options``
        as :func:`parameters.template_body` takes them (``title``, ``theme_id``, ``export_as`` ...)."""
        body = parameters.template_body(gamma_id=gamma_id, prompt=prompt, **options)
        return self.submit_generation_from_template(body)["generationId"]

    def create_agent_generation(self, prompt: str, **options: Any) -> str:
        """Start a Gamma 5 agent generation from a brief and return its id (``gen_...``). Billed.
        ``options`` as :func:`parameters.agent_body` takes them (``format``, ``quality``,
        ``source_urls`` ...)."""
        return self.submit_agent_generation(parameters.agent_body(prompt=prompt, **options))["generationId"]

    def get_generation(self, generation_id: str) -> Generation:
        """The generation's current status (``pending``, ``completed`` or ``failed``) and results.

        Classic and agent (``gen_...``) generations alike: the id says which endpoint to poll.
        """
        request = protocol.get_generation_request(generation_id)
        return protocol.read_generation(request, self._call(request))

    async def aget_generation(self, generation_id: str) -> Generation:
        """:meth:`get_generation` for the event loop (uses the shared async session)."""
        request = protocol.get_generation_request(generation_id)
        return protocol.read_generation(request, await self._acall(request))

    def wait_for_generation(
        self,
        generation_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        deadline: float | None = None,
    ) -> Generation:
        """Poll until the generation is ``completed`` or ``failed`` and return it (a failure is returned,
        not raised). Raises :class:`GammaGenerationTimeoutError` when still pending at the deadline.

        :param poll_interval: seconds between polls; stretched to 15 s when the rate budget runs low.
        :param timeout: seconds to wait, counted from now.
        :param deadline: absolute wall-clock end (epoch seconds); wins over ``timeout`` when given.
        """
        generation = self._wait(
            lambda: self.get_generation(generation_id),
            poll_interval,
            deadline if deadline is not None else time.time() + timeout,
        )
        if generation is None:
            raise GammaGenerationTimeoutError(
                f"generation {generation_id} was still pending at the deadline", generation_id=generation_id
            )
        return generation

    # --- agent edits (one deck kept current: same gamma, same link) -----------------------------------

    def submit_edit(
        self, gamma_id: str, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> EditCreated:
        """``POST /v1.0/agent/gammas/{gammaId}/edits`` with a ready body (see
        :func:`parameters.edit_body`): the agent edits an existing gamma in place. Billed, so sent
        like a generation: retried only when Gamma certainly did not act on it.

        :param gamma_id: the gamma's file id, or the doc id of its ``gamma.app/docs`` URL.
        :param timeout: seconds the POST may take at most, if less than the connection's timeout.
        :raises GammaEditInProgressError: another edit of this gamma is running (Gamma runs one at a
            time); this one was not started.
        :raises GammaPermissionError: the key has no edit permission on the gamma.
        :raises GammaSubmissionUncertainError: the POST may have started an edit whose id never
            arrived; never retried here.
        """
        request = protocol.create_edit_request(gamma_id, body, timeout=timeout)
        created = protocol.read_edit_created(request, self._call(request))
        self.log.info("Gamma accepted an edit of gamma %s: %s", gamma_id, created["editId"])
        if created.get("warnings"):
            self.log.warning("Gamma warnings for edit %s: %s", created["editId"], created["warnings"])
        return created

    def create_edit(self, gamma_id: str, prompt: str, **options: Any) -> str:
        """Start an agent edit of ``gamma_id`` and return its id. Billed. ``options`` as
        :func:`parameters.edit_body` takes them (``files`` as upload ids, ``quality`` ...)."""
        return self.submit_edit(gamma_id, parameters.edit_body(prompt=prompt, **options))["editId"]

    def get_edit(self, edit_id: str) -> Edit:
        """An edit's status (``pending``, ``completed`` or ``failed``), with the gamma's id and URL and,
        once it ended, ``summary``, ``credits`` or ``error``."""
        request = protocol.get_edit_request(edit_id)
        return protocol.read_edit(request, self._call(request))

    async def aget_edit(self, edit_id: str) -> Edit:
        """:meth:`get_edit` for the event loop (uses the shared async session)."""
        request = protocol.get_edit_request(edit_id)
        return protocol.read_edit(request, await self._acall(request))

    def wait_for_edit(
        self,
        edit_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
        deadline: float | None = None,
    ) -> Edit:
        """Poll until the edit is ``completed`` or ``failed`` and return it (a failure is returned, not
        raised; see :func:`protocol.edit_failure_reason`). Raises :class:`GammaGenerationTimeoutError`
        naming the edit when it is still pending at the deadline.

        :param poll_interval: seconds between polls; stretched to 15 s when the rate budget runs low.
        :param timeout: seconds to wait, counted from now.
        :param deadline: absolute wall-clock end (epoch seconds); wins over ``timeout`` when given.
        """
        edit = self._wait(
            lambda: self.get_edit(edit_id),
            poll_interval,
            deadline if deadline is not None else time.time() + timeout,
        )
        if edit is None:
            raise GammaGenerationTimeoutError(
                f"edit {edit_id} was still pending at the deadline", generation_id=edit_id
            )
        return edit

    # --- themes, folders, gammas ---------------------------------------------------------------------

    def search_gammas(
        self,
        query: str | None = None,
        *,
        created_by: str | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
        include_archived: bool = False,
        limit: int = protocol.MAX_SEARCH_LIMIT,
    ) -> list[GammaHit]:
        """Gammas whose title or text matches ``query`` (by relevance), or without a query those the
        filters keep (newest update first): one request, as Gamma documents no further pages.

        A hit is a gamma, not a generation: it has no status, and may be a deck still being written.

        :param query: words to match in titles and text; may be left out when a filter is given.
        :param created_by: only gammas this user created: ``"me"`` (the key's user), an email or a
            user id.
        :param updated_after: only gammas last updated at or after this moment (naive = UTC).
        :param updated_before: only gammas last updated at or before this moment (naive = UTC).
        :param include_archived: include archived gammas.
        :param limit: most hits, 1 to 25 (Gamma's ceiling).
        :raises GammaSearchNotEnabledError: search is not enabled for this workspace yet (Gamma
            rolls it out gradually and answers 403 until then).
        :raises GammaParameterError: ``limit`` out of range, or neither a query nor a filter given.
        """
        request = protocol.search_gammas_request(
            query,
            created_by=created_by,
            updated_after=updated_after,
            updated_before=updated_before,
            include_archived=include_archived,
            limit=limit,
        )
        return protocol.read_search(request, self._call(request))

    def search_templates(
        self, query: str | None = None, *, limit: int = protocol.MAX_TEMPLATE_LIMIT
    ) -> TemplateSearch:
        """The workspace's templates and Gamma's official ones matching ``query`` (by relevance; without
        a query, most recently edited first): one request, as Gamma documents no further pages.

        A ``workspaceTemplates`` id may start a from-template generation (``gamma_id``);
        ``exploreTemplates`` (Gamma's official ones) may not.

        :param query: words to match in titles and text.
        :param limit: most templates per list, 1 to 25 (Gamma's ceiling).
        """
        request = protocol.search_templates_request(query, limit=limit)
        return protocol.read_template_search(request, self._call(request))

    def get_gamma(self, gamma_id: str) -> Gamma:
        """A gamma's metadata (title, URL, type, archived, times, author, theme) by its file id or the
        doc id of its ``gamma.app/docs`` URL."""
        request = protocol.get_gamma_request(gamma_id)
        return protocol.read_gamma(request, self._call(request))

    def export_gamma(self, gamma_id: str, export_as: str) -> str:
        """Start an export of an existing gamma as ``pdf``, ``pptx`` or ``png``; returns the export id.

        :raises GammaArchivedError: the gamma is archived; Gamma exports no archived gamma.
        """
        request = protocol.export_gamma_request(gamma_id, export_as)
        return protocol.read_export_created(request, self._call(request))

    def get_export(self, export_id: str) -> Export:
        """An export's status (``pending``, ``completed`` or ``failed``) and, once done, ``exportUrl``."""
        request = protocol.get_export_request(export_id)
        return protocol.read_export(request, self._call(request))

    async def aget_export(self, export_id: str) -> Export:
        """:meth:`get_export` for the event loop (uses the shared async session)."""
        request = protocol.get_export_request(export_id)
        return protocol.read_export(request, await self._acall(request))

    def wait_for_export(
        self, export_id: str, *, poll_interval: float = 2.0, timeout: float = 600.0
    ) -> Export:
        """Poll an export until it ends and return it; raises :class:`GammaExportError` on failure or
        when it is still pending after ``timeout`` seconds."""
        export = self._wait(lambda: self.get_export(export_id), poll_interval, time.time() + timeout)
        if export is None:
            raise GammaExportError(f"Gamma export {export_id} was still pending after {timeout:.0f} s")
        if export["status"] == "failed" or not export.get("exportUrl"):
            raise GammaExportError(
                f"Gamma export {export_id} failed: {protocol.export_failure_reason(export)}"
            )
        return export

    def list_themes(self, query: str | None = None) -> list[Theme]:
        """Every theme of the workspace (all pages), optionally filtered by name."""
        return cast(list[Theme], self._list_all("themes", query))

    def list_folders(self, query: str | None = None) -> list[Folder]:
        """Every folder the key's user is a member of (all pages), optionally filtered by name."""
        return cast(list[Folder], self._list_all("folders", query))

    async def alist_themes(self, query: str | None = None) -> list[Theme]:
        """:meth:`list_themes` for the event loop."""
        return cast(list[Theme], await self._alist_all("themes", query))

    async def alist_folders(self, query: str | None = None) -> list[Folder]:
        """:meth:`list_folders` for the event loop."""
        return cast(list[Folder], await self._alist_all("folders", query))

    def _list_all(self, collection: str, query: str | None) -> list[dict[str, Any]]:
        return self._all_pages(
            f"GET /v1.0/{collection}",
            lambda cursor: protocol.list_request(collection, query, cursor),  # type: ignore[arg-type]
            protocol.read_page,
        )

    async def _alist_all(self, collection: str, query: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pages, cursor = protocol.Pagination(f"GET /v1.0/{collection}"), None
        while True:
            request = protocol.list_request(collection, query, cursor)  # type: ignore[arg-type]
            page = protocol.read_page(request, await self._acall(request))
            items.extend(page["data"])
            if (cursor := pages.follow(protocol.next_page_cursor(page))) is None:
                return items

    def archive_gamma(self, gamma_id: str) -> ArchiveResult:
        """Archive a gamma by its file id (``gammaId`` of a completed generation). Idempotent, free."""
        return cast(ArchiveResult, self._call(protocol.archive_gamma_request(gamma_id)))

    def delete_gamma(self, gamma_id: str) -> DeleteResult:
        """Delete a gamma by its file id; needs the workspace admin role."""
        return cast(DeleteResult, self._call(protocol.delete_gamma_request(gamma_id)))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key with one cheap read (``GET /v1.0/themes``), then whether the workspace has
        search (one search, ``createdBy=me``), which settles a POST whose answer was lost; used by the
        UI's Test button. A workspace without search passes, with a warning in the message."""
        try:
            request = protocol.list_request("themes", None, None)
            page = protocol.read_page(request, self._call(request))
        except Exception as error:
            return False, str(error)
        message = f"Connected to Gamma at {self.settings.base_url} ({len(page['data'])} themes visible)"
        try:
            self.search_gammas(created_by="me", limit=1)
        except GammaSearchNotEnabledError:
            return True, (
                f"{message}. Warning: search is not enabled for this workspace yet (Gamma rolls it out "
                "gradually), so a lost POST answer cannot be settled automatically: a generate task "
                "whose POST meets a 5xx or a timeout fails without a retry, for you to check the "
                "workspace, rather than risk paying twice."
            )
        except GammaError as error:
            return True, f"{message}. Search could not be checked: {error}"
        return True, f"{message}; search is enabled, so a lost POST answer can be settled"
