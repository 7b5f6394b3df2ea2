# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The requests behind :mod:`~airflow_provider_gamma.reconcile`'s lookups: what the key's user changed
since an uncertain POST, and whether the deck found is still being written."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from airflow_provider_gamma import reconcile
from airflow_provider_gamma.exceptions import GammaError, GammaSearchNotEnabledError
from airflow_provider_gamma.protocol import is_transient

if TYPE_CHECKING:
    from airflow_provider_gamma.hooks.gamma import GammaHook

Seen = tuple[reconcile.Submission, reconcile.Outcome]


def look_up(hook: GammaHook, record: reconcile.Submission) -> Seen:
    """One lookup: the gammas the key's user changed since the POST (and, when that answer is full
    without the reference, a search for the reference itself); the record with what it saw noted.
    For an agent edit, the lookup is a read of the edited gamma (rules E1-E2)."""
    if record.edit_of:
        try:
            gamma = hook.get_gamma(record.edit_of)
        except GammaError as error:
            return reconcile.read_failed(record, str(error), transient=is_transient(error), now=time.time())
        return reconcile.edit_looked_up(record, gamma, time.time())
    search = partial(
        hook.search_gammas,
        created_by="me",
        updated_after=record.searched_since(),
        include_archived=True,
        limit=reconcile.SEARCH_LIMIT,
    )
    try:
        listing = search()
        hits = [*listing, *search(record.marker)] if reconcile.needs_query(record, listing) else listing
    except GammaSearchNotEnabledError as error:
        return reconcile.search_failed(record, str(error), transient=False, now=time.time(), not_enabled=True)
    except GammaError as error:
        return reconcile.search_failed(record, str(error), transient=is_transient(error), now=time.time())
    return reconcile.searched(record, hits, time.time(), complete=len(listing) < reconcile.SEARCH_LIMIT)


def check_deck(hook: GammaHook, record: reconcile.Submission, gamma_id: str) -> Seen:
    """Read the deck found (``GET /v1.0/gammas/{id}``): a finished deck stops changing."""
    try:
        gamma = hook.get_gamma(gamma_id)
    except GammaError as error:
        return reconcile.read_failed(record, str(error), transient=is_transient(error), now=time.time())
    return reconcile.deck_read(record, gamma, time.time())
