# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""The shape of a JSON answer: its keys and the JSON types of their values, with every value left out.

Two answers agree "key for key" when their shapes are equal. The contract fixtures (Gamma's documented
examples), the emulator's answers and a live check's transcript are compared through this one
function, so a divergence reads the same wherever it is found, and a transcript holds no value of a
real workspace (no ids, URLs, titles, signed links).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: The shape of a value: a JSON type name, or for an object a dict of key -> shape, or for an array a
#: one-item list with the shape of its items (``[]`` when it was empty).
Shape = str | dict[str, Any] | list[Any]


def shape(value: Any) -> Shape:
    """The shape of a decoded JSON value: ``{"id": "string", "credits": {"deducted": "number"}}``."""
    if isinstance(value, dict):
        return {str(key): shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        shapes = [shape(item) for item in value]
        merged = shapes[0] if shapes else None
        for other in shapes[1:]:
            merged = _merge(merged, other)
        return [] if merged is None else [merged]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _merge(left: Any, right: Any) -> Any:
    """The shape of items seen in one array: objects' keys united (items of one array vary in optional
    fields); different scalar types joined as ``"number|string"``."""
    if isinstance(left, dict) and isinstance(right, dict):
        return {key: _merge(left.get(key), right.get(key)) for key in sorted(left.keys() | right.keys())}
    if left is None or left == right:
        return right
    if right is None:
        return left
    if isinstance(left, str) and isinstance(right, str):
        return "|".join(sorted(set(left.split("|")) | set(right.split("|"))))
    return left


def differences(expected: Shape, actual: Shape, path: str = "$") -> list[str]:
    """Every place where ``actual`` differs from ``expected``, one line each (empty: they agree)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for key in sorted(expected.keys() | actual.keys()):
            where = f"{path}.{key}"
            if key not in actual:
                lines.append(f"{where}: missing (expected {_brief(expected[key])})")
            elif key not in expected:
                lines.append(f"{where}: unexpected ({_brief(actual[key])})")
            else:
                lines.extend(differences(expected[key], actual[key], where))
        return lines
    if isinstance(expected, list) and isinstance(actual, list):
        if expected and actual:
            return differences(expected[0], actual[0], f"{path}[]")
        return []
    if expected != actual:
        return [f"{path}: expected {_brief(expected)}, got {_brief(actual)}"]
    return []


#: The type names a shape's leaves are made of (``"number|string"`` joins several).
TYPE_NAMES = frozenset({"string", "number", "boolean", "null"})
#: What a shape holds where no source settles a value's type or keys (see :func:`relaxed`).
ANY = "any"


def is_shape(value: Any) -> bool:
    """Whether ``value`` is already a shape (every leaf a type name, as a live transcript holds) rather
    than a sample answer with values; one without any leaf (``{}``) counts as a sample."""
    leaves = list(_leaves(value))
    return bool(leaves) and all(
        isinstance(leaf, str) and set(leaf.split("|")) <= TYPE_NAMES | {ANY} for leaf in leaves
    )


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _leaves(item)
    else:
        yield value


def relaxed(tree: Shape, *, loose: Iterable[str] = (), optional: Iterable[str] = ()) -> Shape:
    """``tree`` with what no source settles taken out of the comparison, by path (``$.progress``,
    ``$.hits[].createdBy``): a ``loose`` value's type and keys become :data:`ANY` (its presence is still
    compared); an ``optional`` one is removed (Gamma sends it only sometimes)."""
    tree = copy.deepcopy(tree)
    for paths, settle in ((loose, _loosen), (optional, _remove)):
        for path in paths:
            _visit(tree, _tokens(path), settle)
    return tree


def _tokens(path: str) -> list[str]:
    """``$.hits[].createdBy`` -> ``["hits", "[]", "createdBy"]``."""
    if not path.startswith("$."):
        raise ValueError(f"a shape path starts with '$.', got {path!r}")
    tokens: list[str] = []
    for part in path[2:].split("."):
        tokens.append(part.removesuffix("[]"))
        if part.endswith("[]"):
            tokens.append("[]")
    return tokens


def _visit(tree: Any, tokens: list[str], settle: Callable[[dict[str, Any], str], None]) -> None:
    head, rest = tokens[0], tokens[1:]
    if head == "[]":
        if isinstance(tree, list) and tree and rest:
            _visit(tree[0], rest, settle)
    elif isinstance(tree, dict) and head in tree:
        if rest:
            _visit(tree[head], rest, settle)
        else:
            settle(tree, head)


def _loosen(parent: dict[str, Any], key: str) -> None:
    parent[key] = ANY


def _remove(parent: dict[str, Any], key: str) -> None:
    del parent[key]


def _brief(value: Shape) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return value
