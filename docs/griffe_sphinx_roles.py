# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Griffe extension for the docs build: the docstrings as an IDE shows them, rendered for the site.

* reST's ``text::`` before a literal block loses its second colon.
* Sphinx cross-reference roles (``:class:`~pkg.Name```) become optional autorefs links: a link when
  the target is rendered somewhere in the site, plain code otherwise (Airflow's classes, private
  helpers), so they never fail the strict build. mkdocstrings would print them verbatim.
* An ``__init__`` that passes ``**kwargs`` on to a base class of this package shows the base's
  keywords too (as Python would accept them), so the operators' signatures and parameter tables
  carry the keywords they share (``gamma_conn_id``, ``deferrable``, ``timeout`` ...).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|exc|data|obj|const):`(~?)([^`]+)`")
#: reST's "text::" before an indented literal block; Markdown shows the block as code already.
_LITERAL_MARKER = re.compile(r"(\S)::\n(?=\n[ ]{4})|^[ ]*::\n(?=\n[ ]{4})", re.MULTILINE)
_PACKAGE = "airflow_provider_gamma"


def _target(obj: griffe.Object, name: str, classes: dict[str, list[str]]) -> str | None:
    """The full path of ``name`` as written in ``obj``'s docstring, or None if it is not ours.

    A name the docstring's module does not import (``GammaHook.list_themes`` in a module that only
    mentions the hook) is looked up among the package's public classes, when one class has that name.
    """
    if name.startswith(_PACKAGE):
        return name
    if name.startswith("."):
        module = obj if obj.is_module else obj.module
        parts = module.path.split(".")
        up = len(name) - len(name.lstrip("."))
        base = parts[: len(parts) - up + (1 if module.is_package else 0)]
        return ".".join([*base, name.lstrip(".")])
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except (griffe.NameResolutionError, KeyError, ValueError):
        if len(classes.get(head, [])) != 1:
            return None
        resolved = classes[head][0]
    path = f"{resolved}.{rest}" if rest else resolved
    return path if path.startswith(_PACKAGE) else None


def _rewrite(obj: griffe.Object, text: str, classes: dict[str, list[str]]) -> str:
    def link(match: re.Match[str]) -> str:
        tilde, name = match.groups()
        name = name.strip()
        shown = name.lstrip(".").rsplit(".", 1)[-1] if tilde else name
        code = f"<code>{html.escape(shown)}</code>"
        target = _target(obj, name, classes)
        if target is None:
            return code
        return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'

    text = _LITERAL_MARKER.sub(lambda match: f"{match.group(1)}:\n" if match.group(1) else "", text)
    return _ROLE.sub(link, text)


def _inherit_keywords(pkg: griffe.Module, cls: griffe.Class) -> None:
    """Insert the keywords a package base class's ``__init__`` takes before ``cls.__init__``'s ``**kwargs``."""
    init = cls.members.get("__init__")
    if not isinstance(init, griffe.Function):
        return
    params = list(init.parameters)
    if not params or params[-1].kind is not griffe.ParameterKind.var_keyword:
        return
    for base in cls.bases:
        path = base if isinstance(base, str) else base.canonical_path
        if not path.startswith(_PACKAGE + "."):
            continue
        base_cls = pkg[path.removeprefix(_PACKAGE + ".")]
        if isinstance(base_cls, griffe.Class):
            _inherit_keywords(pkg, base_cls)
            base_init = base_cls.members.get("__init__")
            if isinstance(base_init, griffe.Function):
                have = {param.name for param in params}
                extra = [
                    param
                    for param in base_init.parameters
                    if param.kind is griffe.ParameterKind.keyword_only and param.name not in have
                ]
                params[-1:-1] = extra
    init.parameters = griffe.Parameters(*params)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the loaded package; show inherited keywords."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        objects: list[griffe.Object] = []
        pending: list[griffe.Object] = [pkg]
        while pending:
            obj = pending.pop()
            objects.append(obj)
            pending.extend(member for member in obj.members.values() if not member.is_alias)
        classes: dict[str, list[str]] = {}
        for obj in objects:
            if isinstance(obj, griffe.Class) and not obj.name.startswith("_"):
                classes.setdefault(obj.name, []).append(obj.path)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value, classes)
            if isinstance(obj, griffe.Class):
                _inherit_keywords(pkg, obj)
