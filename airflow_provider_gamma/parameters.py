# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Generation parameters: snake_case keywords in, Gamma's JSON body out, every stable rule checked.

Validation runs twice: when the DAG is parsed (values still holding Jinja or an upstream XCom are
skipped then) and again right before the request, on the rendered values. Errors name the parameter as
the user wrote it and list what is allowed. Fast-changing enums (image model, language) pass through as
strings for Gamma to judge; fields Gamma adds later go through ``extra_body``.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from airflow_provider_gamma.exceptions import GammaParameterError

TEXT_MODES = ("generate", "condense", "preserve")
FORMATS = ("presentation", "document", "social", "webpage")
CARD_SPLITS = ("auto", "inputTextBreaks")
EXPORT_FORMATS = ("pdf", "pptx", "png")
TEXT_AMOUNTS = ("brief", "medium", "detailed", "extensive")
IMAGE_SOURCES = (
    "aiGenerated",
    "pictographic",
    "pexels",
    "giphy",
    "webAllImages",
    "webFreeToUse",
    "webFreeToUseCommercially",
    "themeAccent",
    "placeholder",
    "noImages",
)
CARD_DIMENSIONS = ("fluid", "16x9", "4x3", "pageless", "letter", "a4", "1x1", "4x5", "9x16")
WORKSPACE_ACCESS = ("noAccess", "view", "comment", "edit", "fullAccess")
EXTERNAL_ACCESS = ("noAccess", "view", "comment", "edit")
EMAIL_ACCESS = ("view", "comment", "edit", "fullAccess")
HEADER_FOOTER_POSITIONS = ("topLeft", "topCenter", "topRight", "bottomLeft", "bottomCenter", "bottomRight")
AGENT_FORMATS = ("presentation", "document", "social")
AGENT_QUALITIES = ("lite", "standard", "max")
MAX_INPUT_CHARS = 400_000
#: Paid plans' ceiling for an agent deck (Free stops at 10).
MAX_AGENT_CARDS = 100
MAX_SOURCE_URLS = 10
MAX_PAGES = 50
#: Ultra's ceiling; Pro, Teams and Business stop at 60 and Gamma answers 400 above the plan's limit.
MAX_CARDS = 75

Check = Callable[[str, Any], None]


def is_unresolved(value: Any) -> bool:
    """True for a value Airflow has not rendered yet: a Jinja string or an object such as an XComArg."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return not isinstance(value, int | float | bool | list | tuple | dict | type(None))


def _fail(path: str, value: Any, expected: str) -> None:
    raise GammaParameterError(f"Invalid Gamma parameter {path}={value!r}: {expected}")


#: Ceiling of any wait the provider is given (timeouts, windows): a week, past any Gamma job and
#: well inside what ``time.time() + seconds`` and asyncio timers can represent.
MAX_WAIT_SECONDS = 7 * 24 * 3600.0
#: Ceiling of a poll interval: an hour between two looks at a job is already no watching at all.
MAX_POLL_INTERVAL = 3600.0


def seconds_problem(value: Any, *, allow_zero: bool = False, maximum: float = MAX_WAIT_SECONDS) -> str | None:
    """Why ``value`` (seconds, or a timedelta) is no usable duration, or ``None`` when it is.

    Rejects booleans, non-numbers, NaN, infinities, negatives (and zero unless allowed) and values
    above ``maximum``, all of which would otherwise pass ``<`` checks or overflow later.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    kind = "a non-negative" if allow_zero else "a positive"
    expected = f"must be {kind} number of seconds, at most {maximum:g}"
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return expected
    if seconds < 0 or (seconds == 0 and not allow_zero) or seconds > maximum:
        return expected
    return None


def seconds(value: Any, name: str, *, allow_zero: bool = False, maximum: float = MAX_WAIT_SECONDS) -> float:
    """``value`` as float seconds; raises :class:`GammaParameterError` naming ``name`` otherwise."""
    problem = seconds_problem(value, allow_zero=allow_zero, maximum=maximum)
    if problem is not None:
        _fail(name, value, problem)
    return float(value.total_seconds() if isinstance(value, timedelta) else value)


def _enum(*allowed: str) -> Check:
    def check(path: str, value: Any) -> None:
        if value not in allowed:
            hint = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            _fail(path, value, f"must be one of {', '.join(allowed)}{did_you_mean}")

    return check


def _text(min_len: int = 1, max_len: int | None = None) -> Check:
    def check(path: str, value: Any) -> None:
        if not isinstance(value, str):
            _fail(path, value, "must be a string")
        length = len(value) if min_len == 0 else len(value.strip())
        if length < min_len or (max_len is not None and len(value) > max_len):
            bound = f"{min_len} to {max_len:,}" if max_len is not None else f"at least {min_len}"
            _fail(path, _short(value), f"must be {bound} characters long (got {len(value):,})")

    return check


def _short(value: str) -> str:
    return value if len(value) <= 60 else f"{value[:57]}..."


def _integer(minimum: int, maximum: int, note: str = "") -> Check:
    def check(path: str, value: Any) -> None:
        number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
        if isinstance(number, bool) or not isinstance(number, int) or not minimum <= number <= maximum:
            _fail(path, value, f"must be a whole number from {minimum} to {maximum}{note}")

    return check


def _boolean(path: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(path, value, "must be true or false")


def _strings(min_items: int = 0, max_items: int | None = None) -> Check:
    def check(path: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            _fail(path, value, "must be a list of non-empty strings")
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            most = f" and at most {max_items}" if max_items is not None else ""
            _fail(path, value, f"must hold at least {min_items}{most} items")

    return check


def _urls(max_items: int) -> Check:
    def check(path: str, value: Any) -> None:
        _strings(min_items=1, max_items=max_items)(path, value)
        for url in value:
            if not url.strip().lower().startswith(("https://", "http://")):
                _fail(path, url, "each item must be an http(s) URL")

    return check


def _list_of(check_item: Check, min_items: int, max_items: int) -> Check:
    def check(path: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not min_items <= len(value) <= max_items:
            _fail(path, _short(repr(value)), f"must be a list of {min_items} to {max_items} items")
        for index, item in enumerate(value):
            _check(f"{path}[{index}]", item, check_item)

    return check


def _object(fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    def check(path: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            _fail(path, value, f"must be a dict with keys among {', '.join(fields)}")
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
                _fail(f"{path}.{key}", None, "is required")
        for key, item in value.items():
            _check(f"{path}.{key}", item, fields[key])

    return check


def _check(path: str, value: Any, check: Check) -> None:
    if value is not None and not is_unresolved(value):
        check(path, value)


_header_footer_element = _object(
    {
        "type": _enum("text", "image", "cardNumber"),
        "value": _text(1, 500),
        "source": _enum("themeLogo", "custom"),
        "src": _text(1, 2048),
        "size": _enum("sm", "md", "lg", "xl"),
    },
    required=("type",),
)
_sharing_options = _object(
    {
        "workspaceAccess": _enum(*WORKSPACE_ACCESS),
        "externalAccess": _enum(*EXTERNAL_ACCESS),
        "emailOptions": _object(
            {"recipients": _strings(min_items=1), "access": _enum(*EMAIL_ACCESS)}, required=("recipients",)
        ),
    }
)
_folder_ids = _strings(min_items=1, max_items=1)
_title = _text(1, 500)
_export_as = _enum(*EXPORT_FORMATS)
_image_style = _text(0, 5000)
_text_mode = _enum(*TEXT_MODES)
_num_cards = _integer(1, MAX_CARDS, " (60 on Pro, Teams and Business plans)")
_text_options = _object(
    {
        "amount": _enum(*TEXT_AMOUNTS),
        "tone": _text(1, 500),
        "audience": _text(1, 500),
        "language": _text(),
    }
)
_image_options = _object(
    {
        "source": _enum(*IMAGE_SOURCES),
        "model": _text(),
        "style": _image_style,
        "stylePreset": _text(),
    }
)
#: One entry of ``pages`` (a multi-page file): its own text and the per-page fields it overrides. The
#: list is what Gamma's n8n node sends plus ``textOptions``/``imageOptions`` from Gamma's plan; its
#: schema is not published yet, so a key newer than these goes through ``extra_body``.
_page = _object(
    {
        "inputText": _text(1, MAX_INPUT_CHARS),
        "title": _title,
        "format": _enum(*FORMATS),
        "textMode": _text_mode,
        "cardSplit": _enum(*CARD_SPLITS),
        "numCards": _num_cards,
        "additionalInstructions": _text(0, 5000),
        "path": _text(1, 200),
        "textOptions": _text_options,
        "imageOptions": _image_options,
    },
    required=("inputText",),
)

#: Body field -> (the keyword users write, its check). Order is the order of Gamma's docs.
GENERATION_FIELDS: dict[str, tuple[str, Check]] = {
    "inputText": ("input_text", _text(1, MAX_INPUT_CHARS)),
    "pages": ("pages", _list_of(_page, 1, MAX_PAGES)),
    "textMode": ("text_mode", _text_mode),
    "title": ("title", _title),
    "format": ("format", _enum(*FORMATS)),
    "themeId": ("theme_id", _text()),
    "numCards": ("num_cards", _num_cards),
    "cardSplit": ("card_split", _enum(*CARD_SPLITS)),
    "additionalInstructions": ("additional_instructions", _text(0, 5000)),
    "folderId": ("folder_id", _text()),
    "exportAs": ("export_as", _export_as),
    "textOptions": ("text_options", _text_options),
    "imageOptions": ("image_options", _image_options),
    "cardOptions": (
        "card_options",
        _object(
            {
                "dimensions": _enum(*CARD_DIMENSIONS),
                "headerFooter": _object(
                    {
                        **dict.fromkeys(HEADER_FOOTER_POSITIONS, _header_footer_element),
                        "hideFromFirstCard": _boolean,
                        "hideFromLastCard": _boolean,
                    }
                ),
            }
        ),
    ),
    "sharingOptions": ("sharing_options", _sharing_options),
    "publish": ("publish", _boolean),
}

TEMPLATE_FIELDS: dict[str, tuple[str, Check]] = {
    "gammaId": ("gamma_id", _text()),
    "prompt": ("prompt", _text(1, MAX_INPUT_CHARS)),
    "title": ("title", _title),
    "themeId": ("theme_id", _text()),
    "folderId": ("folder_id", _text()),
    "exportAs": ("export_as", _export_as),
    "imageOptions": ("image_options", _object({"model": _text(), "style": _image_style})),
    "sharingOptions": ("sharing_options", _sharing_options),
}


#: ``POST /v1.0/agent/generations`` (Gamma 5). Its published schema is newer and thinner than the
#: classic one: these are the fields Gamma's own n8n node sends. Gamma 5 refuses ``themeId``, the
#: ``webpage`` format and ``folderIds``; fields it adds later go through ``extra_body``.
AGENT_FIELDS: dict[str, tuple[str, Check]] = {
    "prompt": ("prompt", _text(1, MAX_INPUT_CHARS)),
    "title": ("title", _title),
    "format": ("format", _enum(*AGENT_FORMATS)),
    "additionalInstructions": ("additional_instructions", _text(0, 5000)),
    "numCards": ("num_cards", _integer(1, MAX_AGENT_CARDS, " (10 on the Free plan)")),
    "quality": ("quality", _enum(*AGENT_QUALITIES)),
    "sourceUrls": ("source_urls", _urls(MAX_SOURCE_URLS)),
    "templateId": ("template_id", _text()),
    "disableConnectors": ("disable_connectors", _boolean),
    "folderId": ("folder_id", _text()),
    "exportAs": ("export_as", _export_as),
    "sharingOptions": ("sharing_options", _sharing_options),
}


def _build(
    fields: Mapping[str, tuple[str, Check]],
    required: tuple[str, ...],
    values: Mapping[str, Any],
    extra_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, (keyword, check) in fields.items():
        value = values.get(keyword)
        if value is None:
            if key in required:
                raise GammaParameterError(f"Invalid Gamma parameter {keyword}: it is required")
            continue
        _check(keyword, value, check)
        if isinstance(value, tuple):
            value = list(value)
        elif key == "numCards" and isinstance(value, str) and not is_unresolved(value):
            value = int(value)  # a templated number renders as a string
        body[key] = value
    if extra_body is not None and not is_unresolved(extra_body):
        if not isinstance(extra_body, Mapping):
            _fail("extra_body", extra_body, "must be a dict of Gamma's own (camelCase) fields")
        body = _deep_merge(body, extra_body)
    return body


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _single_folder(options: dict[str, Any]) -> None:
    """Map the deprecated ``folder_ids`` (a one-item list) onto ``folder_id``, in place."""
    folder_ids = options.pop("folder_ids", None)
    if folder_ids is None or is_unresolved(folder_ids):
        return
    if isinstance(folder_ids, list | tuple) and len(folder_ids) > 1:
        _fail(
            "folder_ids",
            folder_ids,
            "Gamma now files a gamma in one folder only; pass folder_id='<id>' (folder_ids is deprecated)",
        )
    _folder_ids("folder_ids", folder_ids)
    if options.get("folder_id") not in (None, folder_ids[0]):
        _fail(
            "folder_ids", folder_ids, f"contradicts folder_id={options['folder_id']!r}; pass folder_id only"
        )
    warnings.warn(
        "folder_ids is deprecated: Gamma takes a single folderId now; pass folder_id instead",
        DeprecationWarning,
        stacklevel=4,
    )
    options["folder_id"] = folder_ids[0]


def generation_body(
    *,
    input_text: Any = None,
    text_mode: Any = "generate",
    pages: Any = None,
    extra_body: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1.0/generations``; raises :class:`GammaParameterError` on a bad value.

    ``options`` are the other snake_case keywords of :data:`GENERATION_FIELDS` (``format``,
    ``num_cards``, ``text_options`` ...). ``textMode`` is always sent: Gamma's docs require it even
    where its OpenAPI document does not. A multi-page file takes ``pages`` (1 to 50, each with its own
    ``inputText``) instead of ``input_text``.
    """
    if input_text is not None and pages is not None:
        raise GammaParameterError(
            "Invalid Gamma parameter pages: pass input_text for a single gamma or pages for a "
            "multi-page file, not both (each page carries its own inputText)"
        )
    if input_text is None and pages is None:
        raise GammaParameterError(
            "Invalid Gamma parameter input_text: it is required (or pages, for a multi-page file)"
        )
    _single_folder(options)
    _reject_unknown(options, GENERATION_FIELDS)
    values = {"input_text": input_text, "text_mode": text_mode, "pages": pages, **options}
    return _build(GENERATION_FIELDS, ("textMode",), values, extra_body)


def template_body(
    *,
    gamma_id: Any,
    prompt: Any,
    extra_body: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1.0/generations/from-template``; see :data:`TEMPLATE_FIELDS`."""
    _single_folder(options)
    _reject_unknown(options, TEMPLATE_FIELDS)
    values = {"gamma_id": gamma_id, "prompt": prompt, **options}
    return _build(TEMPLATE_FIELDS, ("gammaId", "prompt"), values, extra_body)


def agent_body(*, prompt: Any, extra_body: Mapping[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """The JSON body of ``POST /v1.0/agent/generations`` (Gamma 5); see :data:`AGENT_FIELDS`."""
    _reject_unknown(options, AGENT_FIELDS)
    return _build(AGENT_FIELDS, ("prompt",), {"prompt": prompt, **options}, extra_body)


def _reject_unknown(options: Mapping[str, Any], fields: Mapping[str, tuple[str, Check]]) -> None:
    known = [keyword for keyword, _ in fields.values()]
    for keyword in options:
        if keyword not in known:
            raise GammaParameterError(
                f"Unknown Gamma parameter {keyword!r}; allowed: {', '.join(known)}, extra_body"
            )
