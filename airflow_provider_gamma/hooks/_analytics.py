# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""A deck's analytics (totals, cards, viewers) for :class:`~airflow_provider_gamma.hooks.gamma.GammaHook`.

Gamma computes them about hourly and needs at least edit permission on the gamma: with manage
permission they cover every viewer (``scope: "all"``), with edit permission only the key's own user
(``scope: "self"``). Field names past the documented few are passed through as Gamma sends them (see
:class:`~airflow_provider_gamma.protocol.GammaAnalytics`).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_gamma import protocol
from airflow_provider_gamma.hooks._base import GammaClient
from airflow_provider_gamma.protocol import CardAnalytics, GammaAnalytics


class AnalyticsEndpoints(GammaClient):
    """``GET /v1.0/gammas/{gammaId}/analytics[/cards|/viewers]``; each raises
    :class:`~airflow_provider_gamma.exceptions.GammaPermissionError` naming the gamma when the key has
    no edit permission on it."""

    def get_gamma_analytics(self, gamma_id: str) -> GammaAnalytics:
        """A gamma's totals: ``totalViews``, ``uniqueViewers``, ``uniqueEditors``, ``cardCount``,
        ``lastOpened`` and 30 days of ``dailyViews`` (read them with :func:`protocol.daily_views`).

        :param gamma_id: the gamma's file id, or the doc id of its ``gamma.app/docs`` URL.
        """
        request = protocol.gamma_analytics_request(gamma_id)
        return protocol.read_gamma_analytics(request, self._call(request))

    def get_card_analytics(self, gamma_id: str) -> CardAnalytics:
        """Every card of a gamma in ``cards``, by position: ``cardName``, ``cardPosition``,
        ``viewTimeSeconds``, ``viewersPercent`` (zeroed for a card nobody saw)."""
        request = protocol.card_analytics_request(gamma_id)
        return protocol.read_card_analytics(request, self._call(request))

    def list_viewer_analytics(
        self, gamma_id: str, *, sort_direction: str | None = None
    ) -> list[dict[str, Any]]:
        """Every viewer of a gamma, all pages followed (Gamma lists at most 500): ``viewerId``,
        ``displayName``, ``email`` (``None`` for anonymous viewers), ``lastOpened``, ``cardsViewed``.
        With edit permission only, the list holds at most the key's own user.

        :param sort_direction: ``asc`` or ``desc`` by last open (Gamma's default: ``desc``).
        :raises GammaProtocolError: Gamma repeats a cursor, or sends empty pages without end.
        """
        return self._all_pages(
            f"GET /v1.0/gammas/{gamma_id}/analytics/viewers",
            lambda cursor: protocol.viewer_analytics_request(
                gamma_id, after=cursor, sort_direction=sort_direction
            ),
            protocol.read_viewer_page,
            most=protocol.MAX_VIEWERS,
        )
