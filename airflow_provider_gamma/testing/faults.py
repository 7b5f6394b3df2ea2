# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Fault rules for the Gamma emulator: injected error statuses, slow answers, dropped connections
and truncated bodies."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any, Final, Literal, cast

__all__ = ["DEFAULT_FAULT_MESSAGES", "FaultRule", "FaultRules", "default_fault_message"]

Host = Literal["api", "export"]

#: The message Gamma documents for each error status (used for the default fault body).
DEFAULT_FAULT_MESSAGES: Final[dict[int, str]] = {
    400: "Input validation errors",
    401: "Invalid API key.",
    402: "Insufficient credits",
    403: "Forbidden",
    404: "Not Found",
    422: "Failed to generate text. Check your inputs and try again.",
    429: "Too many requests",
    500: "An error occurred while generating the gamma.",
    502: "Bad gateway",
}


def default_fault_message(status: int) -> str:
    """Return Gamma's documented message for ``status`` (or the HTTP reason phrase)."""
    if status in DEFAULT_FAULT_MESSAGES:
        return DEFAULT_FAULT_MESSAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass
class FaultRule:
    """One injected fault. Rules are tried in the order they were added; the first rule that
    matches a request (and still has ``times`` left) is used for that request.

    A rule's outcome is ``status`` (an error response), ``drop`` (close the connection with no
    response), ``truncate_at`` (send the real headers, then close after that many body bytes), or
    only ``delay`` (answer normally, but late). ``delay`` can also be combined with the others.

    Attributes:
        host: Which server the rule applies to: ``"api"`` (the Gamma API) or ``"export"`` (the
            host serving signed export URLs).
        method: HTTP method to match (case-insensitive); ``None`` matches any method.
        path_prefix: Match only paths starting with this (e.g. ``"/v1.0/generations"``);
            ``None`` matches any path.
        status: Send this HTTP status instead of the real answer.
        body: Body for ``status``: a dict/list (sent as JSON), str or bytes. ``None`` means Gamma's
            envelope ``{"message": <documented message>, "statusCode": status}`` on the API host
            and an S3-style XML error on the export host.
        retry_after: If set, add a ``Retry-After`` header (seconds) to the ``status`` response.
        delay: Seconds to wait before answering (or before dropping / truncating).
        drop: Close the TCP connection without sending any response.
        truncate_at: Send the full ``Content-Length`` header but close the connection after this
            many body bytes.
        created: Run the real handler first and throw its answer away, so side effects happen
            (e.g. ``POST /v1.0/generations`` really starts a billed generation) although the
            client sees the fault. Lets tests prove a client does not blindly retry such a POST.
        times: How many requests the rule applies to; ``None`` means forever.
        every: Apply to every n-th matching request only (``every=7``: the 7th, 14th, ...), for
            background noise such as "a 502 on every 7th request"; the others pass to later rules.
        hits: How many requests the rule has been applied to so far (updated by the emulator).
        seen: How many matching requests the rule has seen, applied or not (updated by the emulator).
    """

    host: Host = "api"
    method: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    body: Any = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    truncate_at: int | None = None
    created: bool = False
    times: int | None = 1
    every: int | None = None
    hits: int = field(default=0)
    seen: int = field(default=0)

    def __post_init__(self) -> None:
        if self.host not in ("api", "export"):
            raise ValueError(f"host must be 'api' or 'export', not {self.host!r}")
        if self.method is not None:
            self.method = self.method.upper()
        outcomes = sum([self.status is not None, self.drop, self.truncate_at is not None])
        if outcomes > 1:
            raise ValueError("a fault rule takes only one of status, drop and truncate_at")
        if outcomes == 0 and self.delay <= 0:
            raise ValueError("a fault rule needs status, drop, truncate_at or a positive delay")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")
        if self.truncate_at is not None and self.truncate_at < 0:
            raise ValueError("truncate_at must be >= 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be >= 1 or None")

    @property
    def remaining(self) -> int | None:
        """How many more requests the rule will apply to (``None`` = unlimited)."""
        return None if self.times is None else max(0, self.times - self.hits)

    def matches(self, host: str, method: str, path: str) -> bool:
        """Whether this rule applies to a request (ignoring how many ``times`` are left)."""
        return (
            host == self.host
            and (self.method is None or self.method == method.upper())
            and (self.path_prefix is None or path.startswith(self.path_prefix))
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as a JSON-friendly dict (``body`` bytes are decoded as Latin-1)."""
        data = asdict(self)
        if isinstance(self.body, bytes):
            data["body"] = self.body.decode("latin-1")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a JSON object (as posted to ``/_emulator/faults``)."""
        allowed = {f for f in cls.__dataclass_fields__ if f not in ("hits", "seen")}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
        return cls(**cast(dict[str, Any], dict(data)))


class FaultRules:
    """A thread-safe, ordered list of :class:`FaultRule` objects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Append ``rule`` (it is tried after all rules added earlier) and return it."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove all rules."""
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[FaultRule]:
        """The current rules (the live objects, so ``hits`` keeps updating)."""
        with self._lock:
            return list(self._rules)

    def take(self, host: str, method: str, path: str) -> FaultRule | None:
        """Find the first matching rule with uses left, count one use, and return it."""
        if not self._rules:  # Fast path without the lock; list reads are atomic.
            return None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(host, method, path) or (
                    rule.times is not None and rule.hits >= rule.times
                ):
                    continue
                rule.seen += 1
                if rule.every is None or rule.seen % rule.every == 0:
                    rule.hits += 1
                    return rule
        return None
