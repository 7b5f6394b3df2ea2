# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Land decks' analytics (views, cards, viewers) in object storage as one JSON-lines file per run,
for a warehouse load scheduled on the file's asset event."""

from __future__ import annotations

import ast
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_gamma import landing, parameters, reconcile
from airflow_provider_gamma._checks import boolean, enum, fail
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import GammaParameterError
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.landing import IfExists, LandedObject, StagedObject
from airflow_provider_gamma.operators._analytics_records import (
    RECORD_TYPES,
    VIEWER_IDENTITIES,
    ViewerIdentity,
    card_rows,
    deck_rows,
    json_line,
    viewer_rows,
)
from airflow_provider_gamma.parameters import is_unresolved
from airflow_provider_gamma.protocol import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

__all__ = ["CONTENT_TYPE", "GammaAnalyticsToObjectStorageOperator", "LandedAnalytics"]

log = logging.getLogger(__name__)

#: The landed file's content type (newline-delimited JSON).
CONTENT_TYPE = "application/x-ndjson"


class LandedAnalytics(LandedObject):
    """What the task returns: the file (as the export operator describes one), the gammas in it and
    how many rows of each ``record_type`` it holds (``None`` with ``if_exists="skip"`` on a file
    already there)."""

    gamma_ids: list[str]
    records: dict[str, int] | None


class GammaAnalyticsToObjectStorageOperator(BaseOperator):
    """Land decks' analytics, cards and viewers in object storage: one JSON-lines file per run.

    For each gamma, three reads (``GET /v1.0/gammas/{id}/analytics``, ``.../analytics/cards`` and
    every page of ``.../analytics/viewers``, up to Gamma's 500 viewers) become rows of one file, one
    JSON object per line with a ``record_type`` of ``deck``, ``daily_views``, ``card`` or ``viewer``,
    the ``gamma_id``, Gamma's ``scope`` of the answer, ``fetched_at``, the run's ``logical_date`` and
    ``run_id``, then Gamma's own fields under Gamma's own names (the layout:
    :mod:`airflow_provider_gamma.operators._analytics_records`). JSON lines, not Parquet: the
    provider ships no Parquet writer and adds no dependency for one; every warehouse loads JSON lines.

    The file appears at ``dest`` all at once, through the same staged writes as the export operator:
    a failure part-way (a 403 on the third gamma, a network failure on a viewers page) leaves nothing
    new at ``dest``, and an existing file as it was. Reads are retried (429, 5xx, network) by the hook.

    Gamma needs **edit permission** on a gamma to answer its analytics (a 403 otherwise, which fails
    the task at once naming the gamma); with edit but not manage permission the answers cover only
    the API key owner's own activity (``scope: self``), which the task logs as a warning and every
    row records. Gamma's analytics are eventually consistent (about hourly) and ``dailyViews`` covers
    30 days. Field names beyond ``scope``, ``gammaId`` and ``totalViews`` follow third-party clients
    of Gamma's API, not a schema Gamma publishes in full: they are passed through, never renamed, so
    whatever Gamma sends lands.

    Viewer rows name people (``displayName``, ``email``): ``viewer_identity`` keeps, hashes or drops
    them, and ``include_viewers=False`` leaves viewers out (and their requests unsent).

    Returns (as XCom) ``{"uri", "size", "sha256", "content_type", "gamma_ids", "records"}``, where
    ``records`` counts the rows of each ``record_type``. Each ``Asset`` in ``outlets`` gets an asset
    event whose ``extra`` is ``{"uris", "gamma_ids", "records", "scopes", "logical_date"}``
    (``scopes``: each gamma's analytics ``scope``), so a warehouse-load DAG can be scheduled on it;
    each ``AssetAlias`` gets one ``Asset`` for the landed URI.

    :param gamma_ids: the gammas: one id, a list, or comma-separated ids; each a file id, the doc id
        of a ``gamma.app/docs`` URL, ``gamma:<id>`` (a generate task's settled deck), a generate
        task's result dict (its ``gammaId``) or a search hit (its ``id``), e.g. a task returning
        ``hook.search_gammas(...)``. A string holding a list (``"['g1', 'g2']"``, as a template
        renders one) is read as that list. Duplicates are fetched once. Templated.
    :param dest: the file to land, e.g. ``s3://bucket/gamma/analytics/{{ ds }}/analytics.jsonl``: a
        URL of any scheme ``ObjectStoragePath`` knows, an absolute path, or an
        :class:`~airflow.sdk.ObjectStoragePath`; not a folder. Templated.
    :param dest_conn_id: Airflow connection for the destination's filesystem (e.g. ``aws_default``);
        wins over a connection in the URL. Templated.
    :param gamma_conn_id: the ``gamma`` connection. Templated.
    :param if_exists: when ``dest`` exists already: ``"overwrite"`` (default: a re-run of a day
        replaces its file), ``"skip"`` (fetch nothing, return what is there) or ``"fail"``.
    :param include_viewers: fetch the per-viewer rows (default ``True``).
    :param viewer_identity: what viewer rows say about the person: ``"keep"`` (default) Gamma's
        ``displayName`` and ``email``; ``"hash"`` neither, but ``emailSha256``, the SHA-256 of the
        trimmed, lower-cased address (joinable with a warehouse's own hashed addresses;
        pseudonymous, not anonymous); ``"drop"`` neither (``viewerId``, Gamma's opaque id, stays).
    :param api_retry_policy: attempts and backoff for Gamma's reads (default:
        :class:`~airflow_provider_gamma.protocol.RetryPolicy`'s).
    """

    template_fields: Sequence[str] = ("gamma_ids", "dest", "dest_conn_id", "gamma_conn_id")
    ui_color = "#e9e1fb"

    def __init__(
        self,
        *,
        gamma_ids: str | Sequence[str | Mapping[str, Any]] | Mapping[str, Any] | XComArg,
        dest: str | ObjectStoragePath,
        dest_conn_id: str | None = None,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        if_exists: IfExists = "overwrite",
        include_viewers: bool = True,
        viewer_identity: ViewerIdentity = "keep",
        api_retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not is_unresolved(gamma_ids) and not _items(gamma_ids):
            fail("gamma_ids", gamma_ids, "give at least one gamma id")
        if not is_unresolved(gamma_ids):
            gamma_ids_given(gamma_ids)
        _check_file_dest(dest)
        parameters.check_conn_id(gamma_conn_id)
        landing.validate_if_exists(if_exists)
        boolean("include_viewers", include_viewers)
        enum(*VIEWER_IDENTITIES)("viewer_identity", viewer_identity)
        if api_retry_policy is not None and not isinstance(api_retry_policy, RetryPolicy):
            fail(
                "api_retry_policy",
                api_retry_policy,
                "must be a RetryPolicy (airflow_provider_gamma.protocol) or None",
            )
        self.gamma_ids = gamma_ids
        self.dest = dest
        self.dest_conn_id = dest_conn_id
        self.gamma_conn_id = gamma_conn_id
        self.if_exists = if_exists
        self.include_viewers = include_viewers
        self.viewer_identity = viewer_identity
        self.api_retry_policy = api_retry_policy
        self._landed_path: ObjectStoragePath | None = None

    @cached_property
    def hook(self) -> GammaHook:
        return GammaHook(self.gamma_conn_id, retry_policy=self.api_retry_policy)

    def execute(self, context: Context) -> LandedAnalytics:
        _check_file_dest(self.dest)  # again, as rendered
        ids = gamma_ids_given(self.gamma_ids)
        if not ids:
            log.warning(
                "No gamma to fetch analytics for (gamma_ids=%r): landing an empty file", self.gamma_ids
            )
        path = self._landed_path = landing.to_path(self.dest, self.dest_conn_id)
        if self.if_exists != "overwrite" and path.exists():
            [there] = landing.existing([path], self.if_exists).objects  # raises for "fail"
            result = LandedAnalytics(**there, gamma_ids=ids, records=None)
            self._emit_asset_events(context, result, {})
            return result
        run = {"logical_date": _iso(context.get("logical_date")), "run_id": context.get("run_id")}
        counts: dict[str, int] = dict.fromkeys(RECORD_TYPES, 0)
        scopes: dict[str, Any] = {}
        stage, digest = StagedObject(path, content_type=CONTENT_TYPE), hashlib.sha256()
        try:
            for gamma_id in ids:
                lines = []
                for row in self._rows(gamma_id, run, scopes):
                    counts[row["record_type"]] += 1
                    lines.append(json_line(row))
                data = b"".join(lines)
                stage.write(data)
                digest.update(data)
            stage.commit()
        except BaseException:
            stage.discard()
            raise
        uri = landing.uri_of(path)
        log.info("Landed %s: %d gammas, %s rows (%d bytes)", uri, len(ids), counts, stage.size)
        result = LandedAnalytics(
            uri=uri,
            size=stage.size,
            sha256=digest.hexdigest(),
            content_type=CONTENT_TYPE,
            gamma_ids=ids,
            records=counts,
        )
        self._emit_asset_events(context, result, scopes)
        return result

    def _rows(
        self, gamma_id: str, run: Mapping[str, Any], scopes: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """One gamma's rows, in the file's order: deck, daily views, cards, viewers."""
        analytics = self.hook.get_gamma_analytics(gamma_id)
        canonical = str(analytics.get("gammaId") or gamma_id)
        scope = scopes[canonical] = analytics.get("scope")
        if scope == "self":
            log.warning(
                "Gamma answered scope 'self' for gamma %s: its analytics cover only the API key owner's own "
                "activity (the key's user has edit, not manage, permission on it). Give that user manage "
                "permission on the gamma for every viewer's.",
                canonical,
            )
        yield from deck_rows(canonical, analytics, _now(), run)
        cards = self.hook.get_card_analytics(gamma_id)
        yield from card_rows(canonical, cards, _now(), run)
        if self.include_viewers:
            viewers = self.hook.list_viewer_analytics(gamma_id)
            yield from viewer_rows(canonical, viewers, scope, _now(), run, self.viewer_identity)

    # --- lineage ----------------------------------------------------------------------------------

    def _emit_asset_events(
        self, context: Context, result: LandedAnalytics, scopes: Mapping[str, Any]
    ) -> None:
        extra: dict[str, Any] = {
            "uris": [result["uri"]],
            "gamma_ids": result["gamma_ids"],
            "records": result["records"],
            "scopes": dict(scopes),
            "logical_date": _iso(context.get("logical_date")),
        }
        landing.emit_asset_events(self.outlets, context["outlet_events"], [result["uri"]], extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage outputs: the landed file (needs the OpenLineage provider)."""
        return landing.openlineage_outputs([self._landed_path] if self._landed_path is not None else [])


# --- parameters -------------------------------------------------------------------------------------


def gamma_ids_given(value: Any) -> list[str]:
    """The gamma ids in ``gamma_ids`` as given or rendered, in order, each once (see the operator's
    ``gamma_ids``); raises :class:`GammaParameterError` naming the item that holds none."""
    ids: list[str] = []
    for index, item in enumerate(_items(value)):
        if is_unresolved(item):  # an XComArg or template in a list, while the DAG is parsed
            continue
        gamma_id = _one_id(item)
        if gamma_id is None:
            where = f"gamma_ids[{index}]" if isinstance(value, list | tuple) else "gamma_ids"
            fail(
                where,
                item,
                "must be a gamma id, 'gamma:<id>', a generate task's result (with gammaId) or a search "
                "hit (with id)",
            )
        if gamma_id not in ids:
            ids.append(gamma_id)
    return ids


def _items(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):  # a list, rendered by a template
            try:
                parsed = json.loads(text)
            except ValueError:
                try:
                    parsed = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    fail("gamma_ids", value, "looks like a list but is not one")
            return _items(parsed)
        return [part for part in (p.strip() for p in text.split(",")) if part]
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    fail("gamma_ids", value, "must be a gamma id, a list of them, or a template or XComArg giving them")


def _one_id(item: Any) -> str | None:
    if isinstance(item, Mapping):
        item = item.get("gammaId") or item.get("id")
    if not isinstance(item, str) or not item.strip():
        return None
    return reconcile.referenced_gamma(item) or item.strip()


def _check_file_dest(dest: Any) -> None:
    """``dest`` as the export operator checks it, and naming a file: one file lands per run."""
    landing.validate_dest(dest, "dest")
    if isinstance(dest, str) and not is_unresolved(dest) and dest.rstrip().endswith("/"):
        raise GammaParameterError(
            f"Invalid Gamma parameter dest={dest!r}: must name the file to land, not a folder, e.g. "
            "'s3://bucket/gamma/analytics/{{ ds }}/analytics.jsonl'"
        )


# --- helpers ----------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None
