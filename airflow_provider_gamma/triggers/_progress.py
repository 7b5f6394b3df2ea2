# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What a watching trigger writes to the task's log while the task is deferred.

The triggerer writes a trigger's log lines into the log of the task it watches for, so a deferred
task shows them in the UI as they come. A line is written when the watch starts, on every change of
state (the first answer, the deck appearing, the job ending) and, between them, at a steady rhythm
(:data:`PROGRESS_EVERY`): time elapsed since the task deferred, the deadline, the next poll and, when
Gamma sends one, its ``progress``. Polls are not changed by any of this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Seconds between two progress lines while nothing changes.
PROGRESS_EVERY = 60.0
#: Most entries of Gamma's ``progress`` shown in one line.
_MAX_PROGRESS_ITEMS = 8


def duration(seconds: float) -> str:
    """``seconds`` for a person: ``45 s``, ``2 min 05 s``, ``1 min``, ``1 h 02 min``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def progress_text(progress: Any) -> str:
    """Gamma's ``progress`` as ``key=value`` pairs, one level of nesting flattened (``cards.done=3``).

    Gamma documents what it reports (card counts, an estimated completion) but not its key names, so
    whatever numbers and short words it sends are shown under its own names; anything else (lists,
    long text, anything that looks like a URL) is left out."""
    if not isinstance(progress, Mapping):
        return ""
    items: list[str] = []
    for key, value in progress.items():
        nested = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, item in nested:
            if isinstance(item, bool | int | float) or (
                isinstance(item, str) and len(item) <= 40 and "://" not in item
            ):
                items.append(f"{key}.{sub}={item}" if sub is not None else f"{key}={item}")
    return ", ".join(items[:_MAX_PROGRESS_ITEMS])


@dataclass
class WatchLog:
    """The progress lines of one watch: ``what`` names the job (``Gamma generation gen_1``),
    ``started_at`` is when the task deferred and ``end_time`` the deadline (epoch seconds)."""

    what: str
    started_at: float
    end_time: float | None
    log: Any
    every: float = PROGRESS_EVERY
    status: str | None = None
    progress: Any = None
    gamma_id: str | None = None
    polls: int = 0
    #: When the next poll is due (epoch seconds); ``None`` while one is in flight.
    next_poll_at: float | None = None
    _last_line: float = field(default_factory=time.monotonic)

    def _say(self, message: str, *args: Any) -> None:
        self._last_line = time.monotonic()
        self.log.info(message, *args)

    def _deadline(self, now: float) -> str:
        if self.end_time is None:
            return "no deadline"
        at = datetime.fromtimestamp(self.end_time, UTC).strftime("%H:%M:%S UTC")
        left = self.end_time - now
        return f"deadline {at} (in {duration(left)})" if left > 0 else f"deadline {at} (passed)"

    def started(self, first_poll_in: float) -> None:
        """The watch began (or carried on after a restart of the triggerer)."""
        now = time.time()
        self.next_poll_at = now + first_poll_in
        self._say(
            "Watching %s from the triggerer: %s elapsed; %s; first poll in %s; a line every %s until it ends",
            self.what,
            duration(now - self.started_at),
            self._deadline(now),
            duration(first_poll_in),
            duration(self.every),
        )

    def polling(self) -> None:
        self.next_poll_at = None

    def waiting(self, seconds: float) -> None:
        self.next_poll_at = time.time() + seconds

    def seen(self, job: Mapping[str, Any]) -> None:
        """An answered poll: a line when the job's status changed or its deck appeared."""
        self.polls += 1
        self.progress = job.get("progress")
        status = str(job.get("status"))
        if status != self.status:
            self.status = status
            self._say(
                "%s is %s: %s elapsed, %d poll%s",
                self.what,
                status,
                duration(time.time() - self.started_at),
                self.polls,
                "" if self.polls == 1 else "s",
            )
        gamma_id = job.get("gammaId")
        if gamma_id and gamma_id != self.gamma_id:
            self.gamma_id = str(gamma_id)
            if status == "pending":
                self._say(
                    "%s: the deck exists and is being written: gamma %s %s",
                    self.what,
                    gamma_id,
                    job.get("gammaUrl") or "",
                )

    def line(self) -> str:
        """Where the watch stands now."""
        now = time.time()
        parts = [
            f"{self.what} is {self.status or 'not polled yet'}: {duration(now - self.started_at)} elapsed",
            self._deadline(now),
            "polling now"
            if self.next_poll_at is None
            else f"next poll in {duration(max(0.0, self.next_poll_at - now))}",
            f"{self.polls} poll{'' if self.polls == 1 else 's'} so far",
        ]
        if progress := progress_text(self.progress):
            parts.append(f"progress from Gamma: {progress}")
        return "; ".join(parts)

    async def beat(self) -> None:
        """Write :meth:`line` whenever ``every`` seconds passed without a line; runs until cancelled."""
        while True:
            wait = self._last_line + self.every - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._say("%s", self.line())
