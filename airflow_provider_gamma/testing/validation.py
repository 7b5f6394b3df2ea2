# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Request-body validation for the emulator's generation endpoints, modelled on Gamma's
``Input validation errors: 1. ... 2. ...`` answers and its documented warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gamma.testing.vocabulary import (
    AGENT_FIELDS,
    AGENT_FORMATS,
    AGENT_QUALITIES,
    AGENT_REFUSED_FIELDS,
    CARD_SPLITS,
    DEFAULT_DIMENSIONS,
    DIMENSIONS,
    EMAIL_ACCESS,
    EXPORT_AS,
    EXTERNAL_ACCESS,
    FORMATS,
    GENERATION_FIELDS,
    HF_IMAGE_SOURCES,
    HF_POSITIONS,
    HF_SIZES,
    HF_TYPES,
    IMAGE_MODELS,
    IMAGE_SOURCES,
    LANGUAGES,
    MAX_INPUT_CHARS,
    MAX_PAGES,
    PAGE_FIELDS,
    STYLE_PRESETS,
    TEMPLATE_FIELDS,
    TEXT_AMOUNTS,
    TEXT_MODES,
    VALID_DIMENSIONS,
    WORKSPACE_ACCESS,
)

__all__ = [
    "DEFAULT_DIMENSIONS",
    "VALID_DIMENSIONS",
    "Validation",
    "validate_agent_generation",
    "validate_generation",
    "validate_template_generation",
]


@dataclass
class Validation:
    """Result of validating a request body.

    Attributes:
        errors: Validation error messages (empty when the body is valid).
        warnings: Gamma-style warnings (the job still runs).
        page_warnings: ``pageWarnings`` of a multi-page file: ``{"pageIndex", "message"}`` each (the
            shape is a guess: Gamma has not published it).
        dimensions: The card dimensions that will actually be used.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dimensions: str = "fluid"
    page_warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message(self) -> str:
        """Gamma's 400 message: ``Input validation errors: 1. ... 2. ...``."""
        return "Input validation errors: " + " ".join(f"{i}. {e}" for i, e in enumerate(self.errors, start=1))


class _Checker:
    def __init__(self, reject_unknown: bool) -> None:
        self.errors: list[str] = []
        self.reject_unknown = reject_unknown

    def unknown(self, obj: dict[str, Any], allowed: tuple[str, ...] | set[str], prefix: str = "") -> None:
        if self.reject_unknown:
            for key in obj:
                if key not in allowed:
                    self.errors.append(f"property {prefix}{key} should not exist")

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        name: str,
        *,
        required: bool = False,
        min_len: int = 0,
        max_len: int | None = None,
    ) -> str | None:
        if key not in obj or obj[key] is None:
            if required:
                self.errors.append(f"{name} should not be empty")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.errors.append(f"{name} must be a string")
            return None
        if len(value) < min_len:
            self.errors.append(
                f"{name} should not be empty"
                if min_len == 1
                else f"{name} must be longer than or equal to {min_len} characters"
            )
        elif max_len is not None and len(value) > max_len:
            self.errors.append(f"{name} must be shorter than or equal to {max_len} characters")
        return value

    def enum(
        self,
        obj: dict[str, Any],
        key: str,
        name: str,
        values: tuple[str, ...] | list[str],
        *,
        required: bool = False,
    ) -> str | None:
        if key not in obj or obj[key] is None:
            if required:
                self.errors.append(f"{name} must be one of: {', '.join(values)}")
            return None
        value = obj[key]
        if not isinstance(value, str) or value not in values:
            self.errors.append(f"{name} must be one of: {', '.join(values)}")
            return None
        return value

    def obj(self, obj: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
        if key not in obj or obj[key] is None:
            return None
        value = obj[key]
        if not isinstance(value, dict):
            self.errors.append(f"{name} must be an object")
            return None
        return value

    def boolean(self, obj: dict[str, Any], key: str, name: str) -> None:
        if key in obj and obj[key] is not None and not isinstance(obj[key], bool):
            self.errors.append(f"{name} must be a boolean value")

    def string_list(
        self, obj: dict[str, Any], key: str, name: str, *, max_items: int | None = None, min_items: int = 0
    ) -> list[str] | None:
        if key not in obj or obj[key] is None:
            return None
        value = obj[key]
        if not isinstance(value, list):
            self.errors.append(f"{name} must be an array")
            return None
        if not all(isinstance(item, str) for item in value):
            self.errors.append(f"each value in {name} must be a string")
        if len(value) < min_items:
            self.errors.append(f"{name} must contain at least {min_items} elements")
        if max_items is not None and len(value) > max_items:
            self.errors.append(f"{name} must contain no more than {max_items} elements")
        return value

    def num_cards(self, obj: dict[str, Any], key: str, max_cards: int, prefix: str = "") -> None:
        num = obj.get(key)
        if num is None:
            return
        if isinstance(num, bool) or not isinstance(num, int | float):
            self.errors.append(f"{prefix}numCards must be a number conforming to the specified constraints")
        elif num != int(num):
            self.errors.append(f"{prefix}numCards must be an integer number")
        elif num < 1:
            self.errors.append(f"{prefix}numCards must not be less than 1")
        elif num > max_cards:
            self.errors.append(f"{prefix}numCards must not be greater than {max_cards}")

    def pages(self, body: dict[str, Any], max_cards: int) -> list[dict[str, Any]]:
        """Check ``pages`` of a multi-page file; return its page warnings."""
        pages = body["pages"]
        if not isinstance(pages, list):
            self.errors.append("pages must be an array")
            return []
        if not 1 <= len(pages) <= MAX_PAGES:
            self.errors.append(f"pages must contain between 1 and {MAX_PAGES} elements")
        warnings: list[dict[str, Any]] = []
        for index, page in enumerate(pages):
            prefix = f"pages.{index}."
            if not isinstance(page, dict):
                self.errors.append(f"pages.{index} must be an object")
                continue
            self.unknown(page, PAGE_FIELDS, prefix)
            self.string(
                page, "inputText", f"{prefix}inputText", required=True, min_len=1, max_len=MAX_INPUT_CHARS
            )
            self.string(page, "title", f"{prefix}title", min_len=1, max_len=500)
            self.enum(page, "format", f"{prefix}format", FORMATS)
            self.enum(page, "textMode", f"{prefix}textMode", TEXT_MODES)
            self.enum(page, "cardSplit", f"{prefix}cardSplit", CARD_SPLITS)
            self.num_cards(page, "numCards", max_cards, prefix)
            self.string(page, "additionalInstructions", f"{prefix}additionalInstructions", max_len=5000)
            self.string(page, "path", f"{prefix}path", min_len=1, max_len=200)
            for key in ("textOptions", "imageOptions"):
                self.obj(page, key, f"{prefix}{key}")
            if index == 0 and page.get("path"):
                warnings.append(
                    {
                        "pageIndex": 0,
                        "message": "path is ignored on the first page: its path is the site root.",
                    }
                )
        if body.get("publish") is True and any(
            isinstance(page, dict) and not page.get("path") for page in pages[1:]
        ):
            warnings.append({"message": "pages without a path get one made from their title on the site."})
        return warnings

    # --------------------------------------------------------------------------- shared sub-objects

    def sharing_options(self, body: dict[str, Any]) -> None:
        sharing = self.obj(body, "sharingOptions", "sharingOptions")
        if sharing is None:
            return
        self.unknown(
            sharing,
            ("workspaceAccess", "externalAccess", "emailOptions", "enableSearchEngineIndexing"),
            "sharingOptions.",
        )
        self.enum(sharing, "workspaceAccess", "sharingOptions.workspaceAccess", WORKSPACE_ACCESS)
        self.enum(sharing, "externalAccess", "sharingOptions.externalAccess", EXTERNAL_ACCESS)
        self.boolean(sharing, "enableSearchEngineIndexing", "sharingOptions.enableSearchEngineIndexing")
        email = self.obj(sharing, "emailOptions", "sharingOptions.emailOptions")
        if email is not None:
            self.unknown(email, ("recipients", "access"), "sharingOptions.emailOptions.")
            name = "sharingOptions.emailOptions.recipients"
            if email.get("recipients") is None:
                self.errors.append(f"{name} should not be empty")
            recipients = self.string_list(email, "recipients", name, min_items=1)
            if recipients and any(isinstance(r, str) and "@" not in r for r in recipients):
                self.errors.append(f"each value in {name} must be an email")
            self.enum(email, "access", "sharingOptions.emailOptions.access", EMAIL_ACCESS)

    def folder_ids(self, body: dict[str, Any]) -> None:
        self.string_list(body, "folderIds", "folderIds", max_items=1)
        self.string(body, "folderId", "folderId", min_len=1)

    def header_footer(self, hf: dict[str, Any]) -> None:
        self.unknown(
            hf, (*HF_POSITIONS, "hideFromFirstCard", "hideFromLastCard"), "cardOptions.headerFooter."
        )
        self.boolean(hf, "hideFromFirstCard", "cardOptions.headerFooter.hideFromFirstCard")
        self.boolean(hf, "hideFromLastCard", "cardOptions.headerFooter.hideFromLastCard")
        for position in HF_POSITIONS:
            prefix = f"cardOptions.headerFooter.{position}"
            element = self.obj(hf, position, prefix)
            if element is None:
                continue
            self.unknown(element, ("type", "value", "source", "src", "size"), prefix + ".")
            kind = self.enum(element, "type", f"{prefix}.type", HF_TYPES, required=True)
            if kind == "text":
                self.string(element, "value", f"{prefix}.value", required=True, min_len=1, max_len=500)
            elif kind == "image":
                source = self.enum(element, "source", f"{prefix}.source", HF_IMAGE_SOURCES, required=True)
                if source == "custom":
                    src = self.string(element, "src", f"{prefix}.src", required=True, min_len=1, max_len=2048)
                    if src and not src.startswith(("https://", "http://")):
                        self.errors.append(f"{prefix}.src must be a URL address")
                self.enum(element, "size", f"{prefix}.size", HF_SIZES)


def _not_an_object(body: Any) -> Validation | None:
    if isinstance(body, dict):
        return None
    return Validation(errors=["request body must be a JSON object"])


def validate_generation(body: Any, *, max_cards: int = 60, reject_unknown: bool = True) -> Validation:
    """Validate a ``POST /v1.0/generations`` body.

    Args:
        body: The parsed JSON body.
        max_cards: Largest allowed ``numCards`` (60 on Pro/Teams/Business, 75 on Ultra).
        reject_unknown: Report properties that are not in Gamma's schema
            (``property foo should not exist``), like Gamma's NestJS validation pipe.
    """
    bad = _not_an_object(body)
    if bad is not None:
        return bad
    check = _Checker(reject_unknown)
    check.unknown(body, GENERATION_FIELDS)
    pages = body.get("pages")
    check.string(body, "inputText", "inputText", required=pages is None, min_len=1, max_len=MAX_INPUT_CHARS)
    text_mode = check.enum(body, "textMode", "textMode", TEXT_MODES, required=True)
    fmt = check.enum(body, "format", "format", FORMATS) or "presentation"
    check.string(body, "themeId", "themeId", min_len=1)
    check.string(body, "title", "title", min_len=1, max_len=500)
    check.num_cards(body, "numCards", max_cards)
    check.enum(body, "cardSplit", "cardSplit", CARD_SPLITS)
    check.string(body, "additionalInstructions", "additionalInstructions", max_len=5000)
    check.folder_ids(body)
    check.enum(body, "exportAs", "exportAs", EXPORT_AS)
    check.boolean(body, "publish", "publish")
    page_warnings = check.pages(body, max_cards) if pages is not None else []
    if pages is not None and "inputText" in body:
        check.errors.append("inputText should not be set when pages is set")

    warnings: list[str] = []
    text_options = check.obj(body, "textOptions", "textOptions")
    if text_options is not None:
        check.unknown(text_options, ("amount", "tone", "audience", "language"), "textOptions.")
        check.enum(text_options, "amount", "textOptions.amount", TEXT_AMOUNTS)
        check.string(text_options, "tone", "textOptions.tone", max_len=500)
        check.string(text_options, "audience", "textOptions.audience", max_len=500)
        check.enum(text_options, "language", "textOptions.language", LANGUAGES)
        if text_mode == "preserve" and any(
            text_options.get(k) is not None for k in ("amount", "tone", "audience")
        ):
            warnings.append("textOptions.amount and textOptions.tone are ignored when textMode is preserve.")

    image_options = check.obj(body, "imageOptions", "imageOptions")
    if image_options is not None:
        check.unknown(image_options, ("source", "model", "style", "stylePreset"), "imageOptions.")
        source = check.enum(image_options, "source", "imageOptions.source", IMAGE_SOURCES) or "aiGenerated"
        check.enum(image_options, "model", "imageOptions.model", IMAGE_MODELS)
        check.string(image_options, "style", "imageOptions.style", max_len=5000)
        preset = check.enum(image_options, "stylePreset", "imageOptions.stylePreset", STYLE_PRESETS)
        has_model_or_style = image_options.get("model") is not None or image_options.get("style") is not None
        if source != "aiGenerated" and has_model_or_style:
            warnings.append(
                "imageOptions.model and imageOptions.style are ignored when imageOptions.source is not aiGenerated."
            )
        elif preset not in (None, "custom") and image_options.get("style") is not None:
            warnings.append(f"imageOptions.style is ignored when imageOptions.stylePreset is {preset}.")

    dimensions = DEFAULT_DIMENSIONS[fmt]
    card_options = check.obj(body, "cardOptions", "cardOptions")
    if card_options is not None:
        check.unknown(card_options, ("dimensions", "headerFooter"), "cardOptions.")
        wanted = check.enum(card_options, "dimensions", "cardOptions.dimensions", DIMENSIONS)
        if wanted is not None:
            valid = VALID_DIMENSIONS[fmt]
            if wanted in valid:
                dimensions = wanted
            else:
                warnings.append(
                    f"cardOptions.dimensions {wanted} is not valid for format {fmt}. Valid dimensions are: "
                    f"[ {', '.join(sorted(valid))} ]. Using default: {DEFAULT_DIMENSIONS[fmt]}."
                )
        header_footer = check.obj(card_options, "headerFooter", "cardOptions.headerFooter")
        if header_footer is not None:
            check.header_footer(header_footer)

    check.sharing_options(body)
    return Validation(
        errors=check.errors, warnings=warnings, dimensions=dimensions, page_warnings=page_warnings
    )


def validate_template_generation(body: Any, *, reject_unknown: bool = True) -> Validation:
    """Validate a ``POST /v1.0/generations/from-template`` body (see :func:`validate_generation`)."""
    bad = _not_an_object(body)
    if bad is not None:
        return bad
    check = _Checker(reject_unknown)
    check.unknown(body, TEMPLATE_FIELDS)
    check.string(body, "gammaId", "gammaId", required=True, min_len=1)
    check.string(body, "prompt", "prompt", required=True, min_len=1, max_len=MAX_INPUT_CHARS)
    check.string(body, "themeId", "themeId", min_len=1)
    check.string(body, "title", "title", min_len=1, max_len=500)
    check.folder_ids(body)
    check.enum(body, "exportAs", "exportAs", EXPORT_AS)
    image_options = check.obj(body, "imageOptions", "imageOptions")
    if image_options is not None:
        # ``source`` is not in the template schema, but Gamma's own guide sends it: accept it.
        check.unknown(image_options, ("model", "style", "source"), "imageOptions.")
        check.enum(image_options, "model", "imageOptions.model", IMAGE_MODELS)
        check.string(image_options, "style", "imageOptions.style", max_len=5000)
    check.sharing_options(body)
    return Validation(errors=check.errors, dimensions="fluid")


def _nulls(value: Any, path: str = "") -> list[str]:
    """The paths of every ``null`` inside ``value`` (``sharingOptions.emailOptions``, ``sourceUrls.0``)."""
    if value is None:
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [found for key, item in items for found in _nulls(item, f"{path}.{key}" if path else str(key))]


def validate_agent_generation(body: Any, *, max_cards: int = 100, reject_unknown: bool = True) -> Validation:
    """Validate a ``POST /v1.0/agent/generations`` (Gamma 5) body. Like Gamma 5 it answers 400 to a
    ``null`` anywhere in the body and to a key it does not take (``title`` among them), and refuses
    the classic-only ``themeId``, ``folderIds``, ``textMode``, ``textOptions`` and ``webpage`` even
    when unknown keys are let through."""
    bad = _not_an_object(body)
    if bad is not None:
        return bad
    check = _Checker(reject_unknown)
    check.errors += [f"{path} should not be null" for path in _nulls(body)]
    check.unknown(body, AGENT_FIELDS)
    if not reject_unknown:
        check.errors += [f"property {key} should not exist" for key in AGENT_REFUSED_FIELDS if key in body]
    check.string(body, "prompt", "prompt", required=True, min_len=1, max_len=MAX_INPUT_CHARS)
    fmt = check.enum(body, "format", "format", AGENT_FORMATS) or "presentation"
    check.string(body, "additionalInstructions", "additionalInstructions", max_len=5000)
    num = body.get("numCards")
    if num is not None and (isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= max_cards):
        check.errors.append(f"numCards must be an integer from 1 to {max_cards}")
    check.enum(body, "quality", "quality", AGENT_QUALITIES)
    urls = check.string_list(body, "sourceUrls", "sourceUrls", max_items=10)
    if urls and any(not (isinstance(u, str) and u.startswith(("https://", "http://"))) for u in urls):
        check.errors.append("each value in sourceUrls must be a URL address")
    check.string(body, "templateId", "templateId", min_len=1)
    check.boolean(body, "disableConnectors", "disableConnectors")
    check.string(body, "folderId", "folderId", min_len=1)
    check.enum(body, "exportAs", "exportAs", EXPORT_AS)
    # ``files`` (upload ids, or objects with ``uploadId``) is checked against the uploads received.
    check.sharing_options(body)
    return Validation(errors=check.errors, dimensions=DEFAULT_DIMENSIONS[fmt])
