# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a deck cost, in words and in metrics: ``6 credits (8 cards asked for); 9,994 left in the workspace``.

Gamma reports ``credits: {deducted, remaining}`` with a generation that ended (completed or failed);
the agent only "when the lookups succeed". A deck settled by search after its POST's answer was lost
has no figure: Gamma reports credits only with a generation's status, read by the generation id that
answer held. Gamma does not say how many cards it made, so the words give the cards asked for.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_gamma import _metrics
from airflow_provider_gamma.protocol import is_agent_generation

#: Where a user reads what Gamma did not report.
_SEE_GAMMA = "see the workspace's credit usage in Gamma"


@dataclass(frozen=True)
class Cost:
    """What Gamma reported a deck cost, and the same in words."""

    words: str
    deducted: float | None = None
    remaining: float | None = None


def _figure(amount: float) -> str:
    return f"{int(amount):,}" if amount == int(amount) else f"{amount:,}"


def credits(amount: float) -> str:
    """``1 credit``, ``9,994 credits``, ``2.5 credits``."""
    return f"{_figure(amount)} credit{'' if amount == 1 else 's'}"


def _number(value: Any) -> float | None:
    """A finite figure, or ``None`` (JSON may carry NaN or 1e999, which no sentence can print)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


def cards_asked(body: Mapping[str, Any]) -> int | None:
    """The cards a request asked for: the ``\\n---\\n`` sections of a text split on them, else
    ``numCards``; ``None`` when the request leaves it to Gamma (a template, pages, no ``numCards``)."""
    if "pages" in body:
        return None
    if body.get("cardSplit") == "inputTextBreaks" and isinstance(body.get("inputText"), str):
        return int(body["inputText"].count("\n---\n")) + 1
    cards = body.get("numCards")
    if isinstance(cards, str) and cards.isdigit():
        return int(cards)
    return cards if isinstance(cards, int) and not isinstance(cards, bool) else None


def cost_of(generation: Mapping[str, Any], *, cards: int | None = None) -> Cost:
    """What ``generation`` (a finished one, or a deck settled by search) cost, as Gamma reported it."""
    if generation.get("reconciled"):
        return Cost(
            "cannot be told: the POST's answer, which held the generation id, was lost and the deck "
            "was found by search, while Gamma reports credits only with a generation's status (it "
            f"billed one generation; {_SEE_GAMMA})"
        )
    reported = generation.get("credits")
    reported = reported if isinstance(reported, Mapping) else {}
    deducted, remaining = _number(reported.get("deducted")), _number(reported.get("remaining"))
    left = "credits left not reported" if remaining is None else f"{_figure(remaining)} left in the workspace"
    if deducted is None:
        why = (
            "the agent reports credits only when its lookups succeed"
            if is_agent_generation(str(generation.get("generationId") or ""))
            else "Gamma sent no credits with this generation"
        )
        left = "" if remaining is None else f"; {left}"
        return Cost(f"not reported: {why} ({_SEE_GAMMA}){left}", None, remaining)
    words = credits(deducted)
    if cards is not None:
        words += f" ({cards} card{'' if cards == 1 else 's'} asked for)"
    return Cost(f"{words}; {left}", deducted, remaining)


def low_balance(remaining: float, threshold: float | None, conn_id: str) -> str | None:
    """The warning for a workspace left with fewer credits than the connection's threshold, if it is."""
    if threshold is None or remaining >= threshold:
        return None
    return (
        f"Only {credits(remaining)} left in the Gamma workspace, below the {threshold:,g} set by connection "
        f"{conn_id!r} (extra credits_warning_below): top up, or turn on auto-recharge in Gamma's billing "
        "settings, before generations fail with 'Insufficient credits'"
    )


def report(
    generation: Mapping[str, Any],
    *,
    cards: int | None,
    threshold: float | None,
    tags: dict[str, str],
    log: logging.Logger | Any,
) -> str:
    """Log what a finished deck cost, warn of a low balance, send the metrics; returns the words.

    :param cards: the cards the request asked for (:func:`cards_asked`), if known.
    :param threshold: the connection's ``credits_warning_below``.
    :param tags: the metrics' tags: ``dag_id``, ``task_id`` and ``conn_id``.
    """
    failed = generation.get("status") == "failed"
    cost = cost_of(generation, cards=cards)
    log.info("%s: %s", "Cost of the failed generation" if failed else "Cost", cost.words)
    _metrics.count(_metrics.DECKS_FAILED if failed else _metrics.DECKS_COMPLETED, **tags)
    if generation.get("reconciled"):
        _metrics.count(_metrics.SETTLEMENTS, **tags)
    if cost.deducted is not None:
        _metrics.count(_metrics.CREDITS_DEDUCTED, cost.deducted, **tags)
    if cost.remaining is not None:
        _metrics.gauge(_metrics.CREDITS_REMAINING, cost.remaining, **tags)
        warning = low_balance(cost.remaining, threshold, tags.get("conn_id", ""))
        if warning:
            log.warning(warning)
            _metrics.count(_metrics.CREDITS_LOW, **tags)
    return cost.words
