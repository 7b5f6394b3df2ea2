# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""One read of a connection per event loop, shared by every hook of that loop while it is fresh.

A triggerer starting a thousand triggers of one connection would otherwise make a thousand connection
lookups (each a round trip to the API server on Airflow 3). Hooks asking while a read is under way
wait for it; a read older than :data:`ASYNC_SETTINGS_TTL` is done again, so a changed connection
(key, host, proxy) reaches new triggers within a minute; a failed read is not kept.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from airflow_provider_gamma.connection import GammaSettings

#: Seconds an event loop reuses a connection it has read.
ASYNC_SETTINGS_TTL = 60.0

_Key = tuple[str, float | None]
_CACHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, _SettingsRead]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class _SettingsRead:
    started: float
    lookup: asyncio.Future[GammaSettings] | None
    settings: GammaSettings | None = None

    def finished(
        self, lookup: asyncio.Future[GammaSettings], cache: dict[_Key, _SettingsRead], key: _Key
    ) -> None:
        """Keep the result, not the future (it holds the event loop, the cache's weak key)."""
        self.lookup = None
        if not lookup.cancelled() and lookup.exception() is None:
            self.settings = lookup.result()
        elif cache.get(key) is self:
            del cache[key]


async def shared_read(
    key: _Key, read: Callable[[], Awaitable[GammaSettings]], *, newer_than: float | None
) -> tuple[GammaSettings, float]:
    """The loop's read of the connection ``key`` and when it started.

    :param newer_than: read again unless a read started after this moment (``None``: any fresh read).
    """
    cache = _CACHES.setdefault(asyncio.get_running_loop(), {})
    entry = cache.get(key)
    now = time.monotonic()
    stale = entry is None or (
        entry.started <= newer_than if newer_than is not None else now - entry.started >= ASYNC_SETTINGS_TTL
    )
    if stale:
        lookup: asyncio.Future[GammaSettings] = asyncio.ensure_future(read())
        entry = cache[key] = _SettingsRead(now, lookup)
        lookup.add_done_callback(functools.partial(entry.finished, cache=cache, key=key))
    assert entry is not None
    if entry.settings is not None:
        return entry.settings, entry.started
    assert entry.lookup is not None  # a read without settings is under way
    return await asyncio.shield(entry.lookup), entry.started


def clear() -> None:
    """Forget every connection read (e.g. between tests sharing an event loop)."""
    _CACHES.clear()
