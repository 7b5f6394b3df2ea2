# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Land a Gamma generation's export (PDF, PPTX or PNG zip) in any object storage Airflow can open.

The operator resolves the source (a generation, or a gamma by its id), gets the export's URL from Gamma
(waiting for a new export in the triggerer when deferrable), hands both to
:func:`airflow_provider_gamma.landing.land`, which owns file names, ``if_exists`` and all-or-nothing
writes, and records asset events and lineage for what landed.
"""

from __future__ import annotations

import ast
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_gamma import landing, parameters, reconcile
from airflow_provider_gamma._compat import AirflowFailException, conf
from airflow_provider_gamma._signed_urls import has_signed_url
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import (
    GammaExportError,
    GammaParameterError,
    error_from_event,
)
from airflow_provider_gamma.hooks.gamma import ExportDownload, GammaHook
from airflow_provider_gamma.landing import (
    IF_EXISTS_MODES,
    ExportFile,
    GammaExportExistsError,
    IfExists,
    LandedObject,
    Sink,
    UnpackLimits,
)
from airflow_provider_gamma.operators.gamma import generation_failure
from airflow_provider_gamma.parameters import EXPORT_FORMATS, is_unresolved
from airflow_provider_gamma.protocol import ApiRequest, Export, Generation, RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

__all__ = [
    "IF_EXISTS_MODES",
    "GammaExportExistsError",
    "GammaExportNotRequestedError",
    "GammaExportToObjectStorageOperator",
    "IfExists",
]

_EXPORT_REQUEST = ApiRequest("GET", "export")


class GammaExportNotRequestedError(GammaExportError, AirflowFailException):
    """The generation has no export: it was started without ``export_as``. Retrying cannot help."""


def _check_gamma_export(gamma_id: Any, export_as: Any) -> None:
    """``gamma_id`` and ``export_as`` as given, or as rendered; a template not yet rendered passes."""
    literal = gamma_id is not None and not is_unresolved(gamma_id)
    if literal and (not isinstance(gamma_id, str) or not gamma_id.strip()):
        raise GammaParameterError(f"Invalid Gamma parameter gamma_id={gamma_id!r}: must be a gamma id")
    if gamma_id is not None and export_as is None:
        raise GammaParameterError(
            "Invalid Gamma parameter export_as=None: exporting an existing gamma (gamma_id) needs "
            f"export_as, one of {', '.join(EXPORT_FORMATS)}"
        )
    if export_as is not None and not is_unresolved(export_as) and export_as not in EXPORT_FORMATS:
        raise GammaParameterError(
            f"Invalid Gamma parameter export_as={export_as!r}: must be one of {', '.join(EXPORT_FORMATS)}"
        )


def _check_generation_id(value: Any) -> None:
    """``generation_id`` as given: an id, or a dict holding a ``generationId`` or a ``gammaId``."""
    if value is None or is_unresolved(value):
        return
    ids = (value.get("generationId"), value.get("gammaId")) if isinstance(value, Mapping) else (value,)
    if not any((isinstance(id_, str) and id_.strip()) or is_unresolved(id_) for id_ in ids):
        raise GammaParameterError(
            f"Invalid Gamma parameter generation_id={value!r}: must be a generation id or the dict "
            "GammaGenerateOperator returns (with its generationId or gammaId)"
        )


@dataclass(frozen=True)
class _Deck:
    """What to export: a generation (by its id), or a gamma found by its reference (by its file id)."""

    generation_id: str | None
    gamma_id: str | None
    export_as: str | None
    #: a new export of the gamma is wanted (``export_as`` differs from the generation's own)
    fresh: bool = False

    @property
    def label(self) -> str:
        return f"generation {self.generation_id}" if self.generation_id else f"gamma {self.gamma_id}"


class GammaExportToObjectStorageOperator(BaseOperator):
    """Download a Gamma generation's export and land it in object storage (S3, GCS, Azure Blob, local files, ...).

    The generation's current status is fetched first, so an export URL that expired since the
    generate task ran is replaced by a fresh one. The file is streamed straight into the destination
    in chunks (memory stays flat whatever its size) and appears there all at once: a download that
    fails or arrives cut short leaves nothing at ``dest``. Network failures, 5xx answers and
    truncated downloads are retried with backoff; a 403 from the export host (an expired or bad
    signature) makes the task fetch a fresh URL once.

    Returns (as XCom) one dict per landed object: ``{"uri", "size", "sha256", "content_type"}``.

    Each ``Asset`` in ``outlets`` gets the landed URIs, the generation id and the gamma's URL in its
    asset event's ``extra``; each ``AssetAlias`` gets one ``Asset`` per landed URI.

    :param generation_id: the generation to export: its id, or the dict a
        :class:`~airflow_provider_gamma.operators.gamma.GammaGenerateOperator` returns (e.g.
        ``generate.output``). Its own export is landed when it was started with ``export_as``;
        with ``export_as`` given here, a new export of its gamma in that format. Templated.
    :param dest: where to land the export: a URL (``s3://bucket/decks/{{ ds }}/deck.pptx``,
        ``gs://...``, ``abfs://container/...``, ``file:///...``: any scheme ``ObjectStoragePath``
        knows), an absolute path, or an
        :class:`~airflow.sdk.ObjectStoragePath`. A string ending in ``/`` names a folder: the file is
        then called ``<gammaId>.<pdf|pptx|zip>``. Templated.
    :param dest_conn_id: Airflow connection for the destination's filesystem (e.g. ``aws_default``,
        ``google_cloud_default``, an ``adls`` connection);
        wins over a connection in the URL (``s3://conn@bucket/key``). Templated.
    :param gamma_conn_id: the ``gamma`` connection. Templated.
    :param if_exists: what to do when the destination already holds the file: ``"overwrite"``
        (default), ``"skip"`` (return what is there, without downloading) or ``"fail"``.
    :param unpack_png: for PNG exports (a zip of one PNG per card): land each card as
        ``card-01.png``, ``card-02.png``, ... under ``dest`` (then always a folder), all or nothing,
        instead of the zip itself. Unsafe zips (``..`` or absolute names, non-PNG members, too many
        members, decompression bombs) are refused.
    :param download_retry_policy: attempts and backoff for the download and the status reads
        (default: :class:`~airflow_provider_gamma.protocol.RetryPolicy`'s, 5 attempts from 1 s).
    :param gamma_id: instead of ``generation_id``: an existing gamma (its file id, or the doc id of a
        gamma.app/docs URL) to export anew, e.g. a template deck re-exported weekly. Needs
        ``export_as``. Templated.
    :param export_as: ``pdf``, ``pptx`` or ``png``: request a new export of the gamma in this format
        (``POST /v1.0/gammas/{id}/export``) and land that, e.g. a PDF next to the PPTX the generation
        was started with. Without it, the generation's own export is landed. Templated.
    :param deferrable: wait for a new export (``gamma_id`` or ``export_as``) in the triggerer instead
        of a worker slot; the download itself always runs in the worker. Default: ``[operators]
        default_deferrable``.
    :param poll_interval: seconds between polls of a new export (default 2).
    :param export_timeout: how long to wait for a new export (seconds or timedelta; default 10 min).
    """

    template_fields: Sequence[str] = (
        "generation_id",
        "gamma_id",
        "export_as",
        "dest",
        "dest_conn_id",
        "gamma_conn_id",
    )
    ui_color = "#e9e1fb"
    #: Limits applied when ``unpack_png=True``.
    unpack_limits: ClassVar[UnpackLimits] = UnpackLimits()

    def __init__(
        self,
        *,
        generation_id: str | Mapping[str, Any] | XComArg | None = None,
        dest: str | ObjectStoragePath,
        dest_conn_id: str | None = None,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        if_exists: IfExists = "overwrite",
        unpack_png: bool = False,
        download_retry_policy: RetryPolicy | None = None,
        gamma_id: str | None = None,
        export_as: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | timedelta = 2.0,
        export_timeout: float | timedelta = timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(deferrable, bool):
            raise GammaParameterError(
                f"Invalid Gamma parameter deferrable={deferrable!r}: must be True or False"
            )
        self.deferrable = deferrable
        self.poll_interval = parameters.seconds(
            poll_interval, "poll_interval", maximum=parameters.MAX_POLL_INTERVAL
        )
        self.export_timeout = parameters.seconds(export_timeout, "export_timeout")
        if (generation_id is None) == (gamma_id is None):
            raise GammaParameterError(
                f"Invalid Gamma parameters generation_id={generation_id!r}, gamma_id={gamma_id!r}: give "
                "exactly one of them"
            )
        _check_gamma_export(gamma_id, export_as)
        landing.validate_if_exists(if_exists)
        if not isinstance(unpack_png, bool):
            raise GammaParameterError(
                f"Invalid Gamma parameter unpack_png={unpack_png!r}: must be True or False"
            )
        landing.validate_dest(dest, "dest")
        _check_generation_id(generation_id)
        parameters.check_conn_id(gamma_conn_id)
        if download_retry_policy is not None and not isinstance(download_retry_policy, RetryPolicy):
            raise GammaParameterError(
                f"Invalid Gamma parameter download_retry_policy={download_retry_policy!r}: must be a "
                "RetryPolicy (airflow_provider_gamma.protocol) or None"
            )
        self.generation_id = generation_id
        self.gamma_id = gamma_id
        self.export_as = export_as
        self.dest = dest
        self.dest_conn_id = dest_conn_id
        self.gamma_conn_id = gamma_conn_id
        self.if_exists = if_exists
        self.unpack_png = unpack_png
        self.download_retry_policy = download_retry_policy
        self._landed_paths: list[ObjectStoragePath] = []
        self._generation: Generation | None = None

    @cached_property
    def hook(self) -> GammaHook:
        return GammaHook(self.gamma_conn_id, retry_policy=self.download_retry_policy)

    # --- execute ----------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[LandedObject]:
        return self._land(context, None)

    def execute_complete(
        self, context: Context, event: Mapping[str, Any] | None = None
    ) -> list[LandedObject]:
        """Resume once the triggerer saw the new export end: land it (or fail with Gamma's reason).
        The event carries no URL: the export is read again for it when the file is needed."""
        from airflow_provider_gamma.triggers.gamma import checked_event

        event = checked_event(event, "GammaExportTrigger")
        export = event.get("export")
        if event["status"] == "error":
            raise error_from_event(event, f"{event.get('message')}; nothing was landed")
        ready = event.get("has_export_url") or has_signed_url(export)  # the latter: an older triggerer's
        if event["status"] != "success" or not isinstance(export, Mapping) or not ready:
            raise GammaExportError(f"{event.get('message')}; nothing was landed")
        return self._land(context, str(event.get("export_id") or export.get("exportId")))

    def _land(self, context: Context, export_id: str | None) -> list[LandedObject]:
        """Land the deck; ``export_id``: a finished export of the gamma, when the triggerer waited for it."""
        landing.validate_dest(self.dest, "dest")  # again, as rendered
        deck = self._deck = self._source()
        self._generation = None
        landed = landing.land(
            self.dest,
            resolve=lambda: self._export_file(export_id),
            download=self._download,
            conn_id=self.dest_conn_id,
            if_exists=self.if_exists,
            unpack_png=self.unpack_png,
            limits=self.unpack_limits,
        )
        self._landed_paths = landed.paths
        self._emit_lineage(context, landed.objects, deck.generation_id, self._generation)
        return landed.objects

    # --- the source: which deck, and the URL of its export ----------------------------------------

    def _source(self) -> _Deck:
        _check_gamma_export(self.gamma_id, self.export_as)  # again, as rendered
        deck = self._what_was_given()
        if self.export_as is not None and deck.generation_id is not None:
            return _Deck(deck.generation_id, deck.gamma_id, str(self.export_as), fresh=True)
        return deck

    def _what_was_given(self) -> _Deck:
        if self.gamma_id is not None:
            return _Deck(None, str(self.gamma_id).strip(), str(self.export_as))
        value: Any = self.generation_id
        if isinstance(value, str) and value.strip().startswith("{"):
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(value.strip())
        if settled := reconcile.referenced_gamma(value):  # the XCom generation_id of a settled deck
            value = {"gammaId": settled}
        if isinstance(value, Mapping) and not value.get("generationId") and value.get("gammaId"):
            # A deck the generate task found by its reference after an uncertain POST: Gamma gave no
            # generation id, so the export is asked of the gamma itself.
            export_as = self.export_as or value.get("exportAs")
            if not export_as:
                raise GammaExportNotRequestedError(
                    f"No export format is known for gamma {value['gammaId']} (settled by search, with "
                    "no generation id). Set export_as='pdf', 'pptx' or 'png' here or on the generate task."
                )
            return _Deck(None, str(value["gammaId"]), str(export_as))
        gamma_id = None
        if isinstance(value, Mapping):
            gamma_id = value.get("gammaId") or None
            value = value.get("generationId")
        if not isinstance(value, str) or not value.strip():
            raise GammaParameterError(
                f"Invalid Gamma parameter generation_id={self.generation_id!r}: must be a generation id or "
                "the dict GammaGenerateOperator returns"
            )
        return _Deck(value.strip(), gamma_id, None)

    def _completed_generation(self, deck: _Deck, *, may_defer: bool = False) -> Generation:
        if deck.generation_id is None:
            return self._exported_gamma(deck, may_defer=may_defer)
        generation_id = deck.generation_id
        if deck.fresh:
            if deck.gamma_id is None:  # the gamma of the generation, in another format
                gamma_id = _finished(self.hook.get_generation(generation_id)).get("gammaId", "")
                deck = self._deck = _Deck(generation_id, gamma_id, deck.export_as, fresh=True)
            return self._exported_gamma(deck, may_defer=may_defer)
        generation = _finished(self.hook.get_generation(generation_id))
        if not generation.get("exportUrl"):
            raise GammaExportNotRequestedError(
                f"Gamma generation {generation_id} has no export: it was started without export_as. Set "
                "export_as='pdf', 'pptx' or 'png' on the generate task."
            )
        return generation

    def _exported_gamma(self, deck: _Deck, *, may_defer: bool = False) -> Generation:
        """A fresh export of an existing gamma, shaped like a completed generation with ``exportUrl``.

        A retry or a refresh simply asks for another one: Gamma documents no charge for an export.
        """
        assert deck.gamma_id is not None
        assert deck.export_as is not None
        export_id = self.hook.export_gamma(deck.gamma_id, deck.export_as)
        if may_defer and self.deferrable:
            export = self.hook.get_export(export_id)
            if export["status"] == "pending":
                from airflow_provider_gamma.triggers.gamma import GammaExportTrigger

                self.defer(
                    trigger=GammaExportTrigger(
                        export_id,
                        self.gamma_conn_id,
                        poll_interval=self.poll_interval,
                        end_time=time.time() + self.export_timeout,
                        first_poll_delay=self.poll_interval,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.export_timeout + 120),
                )
        export = self.hook.wait_for_export(
            export_id, poll_interval=self.poll_interval, timeout=self.export_timeout
        )
        return self._as_generation(deck, export)

    def _as_generation(self, deck: _Deck, export: Export) -> Generation:
        gamma_id = export.get("gammaId") or deck.gamma_id
        if gamma_id and gamma_id != deck.gamma_id:  # Gamma answers with the canonical file id
            self._deck = replace(deck, gamma_id=gamma_id)
        result = {**export, "generationId": deck.generation_id, "status": "completed", "gammaId": gamma_id}
        return cast(Generation, result)

    def _export_file(self, export_id: str | None) -> ExportFile:
        """The export to download; called by landing only once the destination needs the file."""
        generation = self._generation = (
            self._completed_generation(self._deck, may_defer=True)
            if export_id is None
            # The export the triggerer saw finish, read once more (one GET) for its URL.
            else self._as_generation(self._deck, self.hook.wait_for_export(export_id, timeout=0))
        )
        name = generation.get("gammaId") or generation["generationId"]
        return ExportFile(url=generation["exportUrl"], name=name, label=self._deck.label)

    def _download(self, export: ExportFile, sink: Sink) -> ExportDownload:
        """Download the export into ``sink`` through the hook's retrying download (each failed attempt
        after ``sink.reset()``); a 403 from the export host (an expired signature) fetches a fresh URL."""
        return self.hook.fetch_export(
            export.url,
            sink.write,
            reset=sink.reset,
            refresh=lambda: self._completed_generation(self._deck)["exportUrl"],
            on_headers=sink.on_headers,
            views=True,
            what=f"the export of {export.label}",
        )

    # --- lineage ----------------------------------------------------------------------------------

    def _emit_lineage(
        self,
        context: Context,
        landed: list[LandedObject],
        generation_id: str | None,
        generation: Generation | None,
    ) -> None:
        uris = [item["uri"] for item in landed]
        extra: dict[str, Any] = {
            "uris": uris,
            "generation_id": generation_id,
            "gamma_url": generation.get("gammaUrl") if generation else None,
        }
        landing.emit_asset_events(self.outlets, context["outlet_events"], uris, extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage outputs: one dataset per landed object (needs the OpenLineage provider)."""
        return landing.openlineage_outputs(self._landed_paths)


def _finished(generation: Generation) -> Generation:
    """The generation, if it completed; its failure or a "still pending" error otherwise."""
    generation_id, status = generation["generationId"], generation["status"]
    if status == "failed":
        raise generation_failure(generation)
    if status != "completed":
        raise GammaExportError(
            f"Gamma generation {generation_id} is still {status}, so it has no export yet. Wait for it "
            f"first: GammaGenerateOperator(wait_for_completion=True) or "
            f"GammaGenerationSensor(generation_id={generation_id!r}) upstream of this task."
        )
    return generation
