# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The building blocks of parameter checks: each takes the path of a value as the user wrote it
(``text_options.language``, ``pages[1].inputText``) and raises :class:`GammaParameterError` naming it.

Values Airflow renders only when the task runs (:func:`is_unresolved`) pass until they are rendered.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any, NoReturn

from airflow_provider_gamma.exceptions import GammaParameterError

#: A check of one value: ``check(path, value)`` raises or returns nothing.
Check = Callable[[str, Any], None]


def is_unresolved(value: Any) -> bool:
    """True for a value Airflow renders when the task runs: a Jinja string, or an object it resolves
    then (an ``XComArg``, a mapped argument, ``literal(...)``). Anything else is judged as it is."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return not isinstance(value, os.PathLike) and callable(getattr(value, "resolve", None))


def fail(path: str, value: Any, expected: str) -> NoReturn:
    """Raise the one error a bad value gets: its path, the value and what is expected."""
    raise GammaParameterError(f"Invalid Gamma parameter {path}={value!r}: {expected}")


def as_json(path: str, value: Any) -> Any:
    """``value`` as the JSON Gamma receives (tuples as lists, mappings as dicts), values not rendered
    yet left as they are; raises :class:`GammaParameterError` naming the path of a value JSON cannot
    carry or Gamma does not take."""
    if isinstance(value, str | bool | int) or is_unresolved(value):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            fail(path, value, "must be a finite number (JSON has no NaN or infinity)")
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                fail(path, short(repr(value)), f"keys must be strings (got {key!r})")
        return {key: as_json(f"{path}.{key}", item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(f"{path}[{index}]", item) for index, item in enumerate(value)]
    if value is None:
        fail(path, value, "None would be sent as null, which Gamma does not take; leave the key out")
    if isinstance(value, date | time):
        hint = "pass value.isoformat()"
    elif isinstance(value, bytes | bytearray):
        hint = "decode it to a str"
    elif isinstance(value, set | frozenset):
        hint = "pass a list"
    else:
        hint = "pass a string, a number, True/False, a list or a dict"
    fail(path, value, f"a {type(value).__name__} is not JSON; {hint}")


def enum(*allowed: str) -> Check:
    """One of ``allowed``, with a "did you mean" for a near miss."""

    def check(path: str, value: Any) -> None:
        if value not in allowed:
            hint = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            fail(path, value, f"must be one of {', '.join(allowed)}{did_you_mean}")

    return check


def text(min_len: int = 1, max_len: int | None = None) -> Check:
    """A string of ``min_len`` (not counting blanks) to ``max_len`` characters."""

    def check(path: str, value: Any) -> None:
        if not isinstance(value, str):
            fail(path, value, "must be a string")
        length = len(value) if min_len == 0 else len(value.strip())
        if length < min_len or (max_len is not None and len(value) > max_len):
            bound = f"{min_len} to {max_len:,}" if max_len is not None else f"at least {min_len}"
            fail(path, short(value), f"must be {bound} characters long (got {len(value):,})")

    return check


def short(value: str) -> str:
    """``value`` cut to fit in an error message."""
    return value if len(value) <= 60 else f"{value[:57]}..."


def digits(value: Any) -> bool:
    """A string of ASCII digits, such as a templated number renders to (not ``'²'`` or ``'٣'``)."""
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()


def integer(minimum: int, maximum: int, note: str = "") -> Check:
    """A whole number (or a string of digits) from ``minimum`` to ``maximum``."""

    def check(path: str, value: Any) -> None:
        number = int(value) if digits(value) else value
        if isinstance(number, bool) or not isinstance(number, int) or not minimum <= number <= maximum:
            fail(path, value, f"must be a whole number from {minimum} to {maximum}{note}")

    return check


def boolean(path: str, value: Any) -> None:
    """``True`` or ``False`` (not a string such as ``"false"``)."""
    if not isinstance(value, bool):
        fail(path, value, "must be true or false")


def strings(min_items: int = 0, max_items: int | None = None) -> Check:
    """A list of ``min_items`` to ``max_items`` non-empty strings."""

    def check(path: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            fail(path, value, "must be a list of non-empty strings")
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            most = f" and at most {max_items}" if max_items is not None else ""
            fail(path, value, f"must hold at least {min_items}{most} items")

    return check


def urls(max_items: int) -> Check:
    """A list of 1 to ``max_items`` http(s) URLs."""

    def check(path: str, value: Any) -> None:
        strings(min_items=1, max_items=max_items)(path, value)
        for url in value:
            if not url.strip().lower().startswith(("https://", "http://")):
                fail(path, url, "each item must be an http(s) URL")

    return check


def list_of(check_item: Check, min_items: int, max_items: int) -> Check:
    """A list of ``min_items`` to ``max_items`` items, each passing ``check_item``."""

    def check(path: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not min_items <= len(value) <= max_items:
            fail(path, short(repr(value)), f"must be a list of {min_items} to {max_items} items")
        for index, item in enumerate(value):
            check_value(f"{path}[{index}]", item, check_item)

    return check


def mapping(fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A dict whose keys are among ``fields`` (each value passing its check) and hold ``required``."""

    def check(path: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            fail(path, value, f"must be a dict with keys among {', '.join(fields)}")
        for key in value:
            if key not in fields:
                hint = difflib.get_close_matches(str(key), fields, n=1)
                did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
                raise GammaParameterError(
                    f"Invalid Gamma parameter {path}: unknown key {key!r}; {did_you_mean}allowed keys: "
                    f"{', '.join(fields)}. A field newer than this provider can be sent through extra_body."
                )
        for key in required:
            if key not in value:
                fail(f"{path}.{key}", None, "is required")
        for key, item in value.items():
            check_value(f"{path}.{key}", item, fields[key])

    return check


def check_value(path: str, value: Any, check: Check) -> None:
    """Run ``check`` unless ``value`` is absent (``None``) or not rendered yet."""
    if value is not None and not is_unresolved(value):
        check(path, value)
