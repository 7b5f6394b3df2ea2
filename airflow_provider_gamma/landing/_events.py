# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a landing task tells the rest of Airflow: asset events for its outlets, OpenLineage outputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_gamma.landing._paths import openlineage_name


def emit_asset_events(
    outlets: Iterable[Any] | None, outlet_events: Any, uris: list[str], extra: Mapping[str, Any]
) -> None:
    """Each :class:`Asset` outlet's event carries ``extra``; each :class:`AssetAlias` outlet gets one
    event per landed URI (an asset named by its URI), so a DAG can schedule on the landed files."""
    for outlet in outlets or ():
        if isinstance(outlet, AssetAlias):
            for uri in uris:
                outlet_events[outlet].add(Asset(uri), extra=dict(extra))
        elif isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(extra)


def openlineage_outputs(paths: Iterable[ObjectStoragePath]) -> Any:
    """OpenLineage's view of a task that landed ``paths``: one output dataset each; ``None`` without
    the OpenLineage provider."""
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(outputs=[Dataset(*openlineage_name(path)) for path in paths])
