# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Generation parameters: snake_case keywords in, Gamma's JSON body out, every stable rule checked.

Validation runs twice: when the DAG is parsed (values still holding Jinja or an upstream XCom are
skipped then) and again right before the request, on the rendered values. Errors name the parameter as
the user wrote it (``text_options.language``, ``extra_body.x[0]``) and list what is allowed. Every value
must be JSON Gamma can take: no ``None`` inside a dict (it would be sent as null), no NaN, no datetime,
set or bytes. Fast-changing enums (image model, language) pass through as strings for Gamma to judge;
fields Gamma adds later go through ``extra_body``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow_provider_gamma._checks import (
    Check,
    as_json,
    boolean,
    check_value,
    digits,
    enum,
    fail,
    integer,
    list_of,
    mapping,
    strings,
    text,
    urls,
)
from airflow_provider_gamma._checks import is_unresolved as is_unresolved  # noqa: PLC0414 - public here
from airflow_provider_gamma._file_sources import MAX_FILES as MAX_FILES  # noqa: PLC0414 - public here
from airflow_provider_gamma._file_sources import check_files as check_files  # noqa: PLC0414 - public here
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


class GammaCardSplitWarning(UserWarning):
    """``card_split="inputTextBreaks"`` on a text holding no ``\\n---\\n``: Gamma makes one card of it
    and ignores ``num_cards``."""


#: The agent names its deck itself; its endpoint answers 400 to a ``title`` (gamma-api.md §18b).
AGENT_TAKES_NO_TITLE = (
    "the Gamma 5 agent names the deck itself and its endpoint takes no title (Gamma answers 400); say "
    "what the deck is about in the prompt, or use GammaGenerateOperator to set a title"
)


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
        fail(name, value, problem)
    return float(value.total_seconds() if isinstance(value, timedelta) else value)


_header_footer_element = mapping(
    {
        "type": enum("text", "image", "cardNumber"),
        "value": text(1, 500),
        "source": enum("themeLogo", "custom"),
        "src": text(1, 2048),
        "size": enum("sm", "md", "lg", "xl"),
    },
    required=("type",),
)
_sharing_options = mapping(
    {
        "workspaceAccess": enum(*WORKSPACE_ACCESS),
        "externalAccess": enum(*EXTERNAL_ACCESS),
        "emailOptions": mapping(
            {"recipients": strings(min_items=1), "access": enum(*EMAIL_ACCESS)}, required=("recipients",)
        ),
    }
)
_folder_ids = strings(min_items=1, max_items=1)
_upload_object = mapping({"uploadId": text(), "filename": text(1, 500)}, required=("uploadId",))


def _upload_ref(path: str, value: Any) -> None:
    """One entry of ``files``: an upload id (``uploadId`` of ``POST /v1.0/uploads``), or the
    ``{"uploadId": ..., "filename": ...}`` Gamma's import guide describes."""
    if isinstance(value, Mapping):
        _upload_object(path, value)
    elif not isinstance(value, str) or not value.strip():
        fail(
            path, value, "must be an upload id (a string from GammaHook.upload_file) or a dict with uploadId"
        )


_files = list_of(_upload_ref, 1, MAX_FILES)
_title = text(1, 500)
_export_as = enum(*EXPORT_FORMATS)
_image_style = text(0, 5000)
_text_mode = enum(*TEXT_MODES)
_num_cards = integer(1, MAX_CARDS, " (60 on Pro, Teams and Business plans)")
_text_options = mapping(
    {
        "amount": enum(*TEXT_AMOUNTS),
        "tone": text(1, 500),
        "audience": text(1, 500),
        "language": text(),
    }
)
_image_options = mapping(
    {
        "source": enum(*IMAGE_SOURCES),
        "model": text(),
        "style": _image_style,
        "stylePreset": text(),
    }
)
#: One entry of ``pages`` (a multi-page file): its own text and the per-page fields it overrides. The
#: list is what Gamma's n8n node sends plus ``textOptions``/``imageOptions`` from Gamma's plan; its
#: schema is not published yet, so a key newer than these goes through ``extra_body``.
_page = mapping(
    {
        "inputText": text(1, MAX_INPUT_CHARS),
        "title": _title,
        "format": enum(*FORMATS),
        "textMode": _text_mode,
        "cardSplit": enum(*CARD_SPLITS),
        "numCards": _num_cards,
        "additionalInstructions": text(0, 5000),
        "path": text(1, 200),
        "textOptions": _text_options,
        "imageOptions": _image_options,
    },
    required=("inputText",),
)

#: Body field -> (the keyword users write, its check). Order is the order of Gamma's docs.
GENERATION_FIELDS: dict[str, tuple[str, Check]] = {
    "inputText": ("input_text", text(1, MAX_INPUT_CHARS)),
    "pages": ("pages", list_of(_page, 1, MAX_PAGES)),
    "textMode": ("text_mode", _text_mode),
    "title": ("title", _title),
    "format": ("format", enum(*FORMATS)),
    "themeId": ("theme_id", text()),
    "numCards": ("num_cards", _num_cards),
    "cardSplit": ("card_split", enum(*CARD_SPLITS)),
    "additionalInstructions": ("additional_instructions", text(0, 5000)),
    "folderId": ("folder_id", text()),
    "exportAs": ("export_as", _export_as),
    "textOptions": ("text_options", _text_options),
    "imageOptions": ("image_options", _image_options),
    "cardOptions": (
        "card_options",
        mapping(
            {
                "dimensions": enum(*CARD_DIMENSIONS),
                "headerFooter": mapping(
                    {
                        **dict.fromkeys(HEADER_FOOTER_POSITIONS, _header_footer_element),
                        "hideFromFirstCard": boolean,
                        "hideFromLastCard": boolean,
                    }
                ),
            }
        ),
    ),
    "sharingOptions": ("sharing_options", _sharing_options),
    "publish": ("publish", boolean),
}

TEMPLATE_FIELDS: dict[str, tuple[str, Check]] = {
    "gammaId": ("gamma_id", text()),
    "prompt": ("prompt", text(1, MAX_INPUT_CHARS)),
    "title": ("title", _title),
    "themeId": ("theme_id", text()),
    "folderId": ("folder_id", text()),
    "exportAs": ("export_as", _export_as),
    "imageOptions": ("image_options", mapping({"model": text(), "style": _image_style})),
    "sharingOptions": ("sharing_options", _sharing_options),
}


#: ``POST /v1.0/agent/generations`` (Gamma 5). Its published schema is newer and thinner than the
#: classic one: these are the fields Gamma documents and its own n8n node sends. Gamma 5 answers 400 to
#: any other key (``title``, ``themeId``, ``folderIds`` ...) and to a null; fields it adds later go
#: through ``extra_body``.
AGENT_FIELDS: dict[str, tuple[str, Check]] = {
    "prompt": ("prompt", text(1, MAX_INPUT_CHARS)),
    "format": ("format", enum(*AGENT_FORMATS)),
    "additionalInstructions": ("additional_instructions", text(0, 5000)),
    "numCards": ("num_cards", integer(1, MAX_AGENT_CARDS, " (10 on the Free plan)")),
    "quality": ("quality", enum(*AGENT_QUALITIES)),
    "sourceUrls": ("source_urls", urls(MAX_SOURCE_URLS)),
    "files": ("files", _files),
    "templateId": ("template_id", text()),
    "disableConnectors": ("disable_connectors", boolean),
    "folderId": ("folder_id", text()),
    "exportAs": ("export_as", _export_as),
    "sharingOptions": ("sharing_options", _sharing_options),
}


#: ``POST /v1.0/agent/gammas/{gammaId}/edits``: an agent edit of an existing gamma (same deck, same
#: link). Gamma's page documents ``prompt`` and ``files``; its own n8n node also sends ``quality`` and
#: ``disableConnectors``. ``additionalInstructions`` and ``exportAs`` are the agent generation's and
#: are a guess here (the edit page's schema could not be read whole): Gamma answers 400 to a key it does
#: not take, which makes no edit and costs nothing. Fields it adds later go through ``extra_body``.
EDIT_FIELDS: dict[str, tuple[str, Check]] = {
    "prompt": ("prompt", text(1, MAX_INPUT_CHARS)),
    "additionalInstructions": ("additional_instructions", text(0, 5000)),
    "files": ("files", _files),
    "quality": ("quality", enum(*AGENT_QUALITIES)),
    "disableConnectors": ("disable_connectors", boolean),
    "exportAs": ("export_as", _export_as),
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
        check_value(keyword, value, check)
        if key == "numCards" and digits(value):
            value = int(value)  # a templated number renders as a string
        body[key] = as_json(keyword, value)
    if extra_body is not None and not is_unresolved(extra_body):
        if not isinstance(extra_body, Mapping):
            fail("extra_body", extra_body, "must be a dict of Gamma's own (camelCase) fields")
        body = _deep_merge(body, as_json("extra_body", extra_body))
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
        fail(
            "folder_ids",
            folder_ids,
            "Gamma now files a gamma in one folder only; pass folder_id='<id>' (folder_ids is deprecated)",
        )
    _folder_ids("folder_ids", folder_ids)
    if options.get("folder_id") not in (None, folder_ids[0]):
        fail("folder_ids", folder_ids, f"contradicts folder_id={options['folder_id']!r}; pass folder_id only")
    warnings.warn(
        "folder_ids is deprecated and Gamma plans to remove it: Gamma takes a single folderId now; "
        "pass folder_id instead",
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
    if "title" in options:
        raise GammaParameterError(f"Invalid Gamma parameter title: {AGENT_TAKES_NO_TITLE}")
    _reject_unknown(options, AGENT_FIELDS)
    return _build(AGENT_FIELDS, ("prompt",), {"prompt": prompt, **options}, extra_body)


def edit_body(*, prompt: Any, extra_body: Mapping[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """The JSON body of ``POST /v1.0/agent/gammas/{gammaId}/edits``; see :data:`EDIT_FIELDS`.

    :param prompt: what to change, in words (e.g. this week's figures and where they go).
    :param options: ``additional_instructions``, ``files`` (upload ids), ``quality``,
        ``disable_connectors``, ``export_as``.
    :raises GammaParameterError: a missing prompt, an unknown keyword or a bad value.
    """
    _reject_unknown(options, EDIT_FIELDS)
    return _build(EDIT_FIELDS, ("prompt",), {"prompt": prompt, **options}, extra_body)


def _reject_unknown(options: Mapping[str, Any], fields: Mapping[str, tuple[str, Check]]) -> None:
    known = [keyword for keyword, _ in fields.values()]
    for keyword in options:
        if keyword not in known:
            raise GammaParameterError(
                f"Unknown Gamma parameter {keyword!r}; allowed: {', '.join(known)}, extra_body"
            )


def card_split_warnings(body: Mapping[str, Any]) -> list[str]:
    """What Gamma will do unasked with a classic ``body``: a text split on ``inputTextBreaks`` that
    holds no ``\\n---\\n`` becomes one card, whatever ``num_cards`` says. Texts not rendered yet pass."""
    texts = [("input_text", body.get("inputText"), body.get("cardSplit"))]
    pages = body.get("pages")
    if isinstance(pages, list):
        texts += [
            (f"pages[{index}]", page.get("inputText"), page.get("cardSplit", body.get("cardSplit")))
            for index, page in enumerate(pages)
            if isinstance(page, Mapping)
        ]
    return [
        f"card_split='inputTextBreaks' but {where} holds no '\\n---\\n' line between cards: Gamma will "
        "make a single card of it and ignore num_cards. Separate the cards with '\\n---\\n', or use "
        "card_split='auto'."
        for where, words, split in texts
        if split == "inputTextBreaks" and isinstance(words, str) and not is_unresolved(words)
        if "\n---\n" not in words
    ]


def check_conn_id(value: Any, name: str = "gamma_conn_id") -> None:
    """Check a connection id as given (a template or XComArg passes until rendered).

    :raises GammaParameterError: naming ``name``.
    """
    if not is_unresolved(value) and (not isinstance(value, str) or not value.strip()):
        fail(name, value, "must be a connection id such as 'gamma_default'")
