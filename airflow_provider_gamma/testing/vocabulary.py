# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""What Gamma's request bodies may hold: each endpoint's fields and each enum field's values, as the
emulator validates them (``validation.py``)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "AGENT_FIELDS",
    "AGENT_FORMATS",
    "AGENT_QUALITIES",
    "AGENT_REFUSED_FIELDS",
    "CARD_SPLITS",
    "DEFAULT_DIMENSIONS",
    "DIMENSIONS",
    "EMAIL_ACCESS",
    "EXPORT_AS",
    "EXTERNAL_ACCESS",
    "FORMATS",
    "GENERATION_FIELDS",
    "HF_IMAGE_SOURCES",
    "HF_POSITIONS",
    "HF_SIZES",
    "HF_TYPES",
    "IMAGE_MODELS",
    "IMAGE_SOURCES",
    "LANGUAGES",
    "MAX_INPUT_CHARS",
    "MAX_PAGES",
    "PAGE_FIELDS",
    "STYLE_PRESETS",
    "TEMPLATE_FIELDS",
    "TEXT_AMOUNTS",
    "TEXT_MODES",
    "VALID_DIMENSIONS",
    "WORKSPACE_ACCESS",
]

TEXT_MODES: Final = ("generate", "condense", "preserve")
FORMATS: Final = ("presentation", "document", "social", "webpage")
CARD_SPLITS: Final = ("auto", "inputTextBreaks")
EXPORT_AS: Final = ("pdf", "pptx", "png")
TEXT_AMOUNTS: Final = ("brief", "medium", "detailed", "extensive")
LANGUAGES: Final = [
    "en",
    "en-gb",
    "en-in",
    "es",
    "es-es",
    "es-mx",
    "es-419",
    "ca",
    "fr",
    "zh-cn",
    "zh-tw",
    "ko",
    "ja",
    "ja-da",
    "pt-br",
    "pt-pt",
    "de",
    "it",
    "ru",
    "pl",
    "uk",
    "ro",
    "hu",
    "cs",
    "el",
    "tr",
    "ar",
    "ar-sa",
    "he",
    "fa",
    "nl",
    "sv",
    "da",
    "nb",
    "fi",
    "id",
    "vi",
    "hi",
    "gu",
    "mr",
    "te",
    "bn",
    "ta",
    "ur",
    "kn",
    "ml",
    "th",
    "sr",
    "hr",
    "sq",
    "bg",
    "sl",
    "bs",
    "mk",
    "sw",
    "ha",
    "yo",
    "tl",
    "ms",
    "kk",
    "uz",
    "af",
    "lv",
    "lt",
    "et",
    "is",
    "cy",
]
IMAGE_SOURCES: Final = (
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
#: The spec's ``ImageModel`` enum without the four Imagen models Gamma retired on 2026-09-10
#: (``imagen-3-flash``, ``imagen-3-pro``, ``imagen-4-pro``, ``imagen-4-ultra``; gamma-api.md §18b).
IMAGE_MODELS: Final = [
    "dall-e-3",
    "ideogram-v3",
    "ideogram-v3-turbo",
    "ideogram-v3-quality",
    "flux-1-pro",
    "flux-1-quick",
    "flux-1-ultra",
    "flux-kontext-pro",
    "flux-kontext-max",
    "flux-kontext-fast",
    "leonardo-phoenix",
    "recraft-v3",
    "recraft-v3-svg",
    "recraft-v4",
    "recraft-v4-svg",
    "recraft-v4-pro",
    "luma-photon-1",
    "luma-photon-flash-1",
    "gpt-image-1-medium",
    "gpt-image-1-high",
    "gpt-image-1-mini-low",
    "gpt-image-1-mini-medium",
    "gpt-image-1-mini-high",
    "gpt-image-2-mini",
    "gpt-image-2",
    "gpt-image-2-hd",
    "gemini-2.5-flash-image",
    "veo-3.1-fast",
    "veo-3.1",
    "luma-ray-2-flash",
    "luma-ray-2",
    "leonardo-motion-2-fast",
    "leonardo-motion-2",
    "gemini-3-pro-image",
    "gemini-3-pro-image-hd",
    "gemini-3.1-flash-image-mini",
    "gemini-3.1-flash-image",
    "gemini-3.1-flash-image-hd",
    "flux-2-pro",
    "flux-2-flex",
    "flux-2-max",
    "flux-2-klein",
]
STYLE_PRESETS: Final = ("photorealistic", "illustration", "abstract", "3D", "lineArt", "custom")
DIMENSIONS: Final = ("fluid", "16x9", "4x3", "pageless", "letter", "a4", "1x1", "4x5", "9x16")
WORKSPACE_ACCESS: Final = ("noAccess", "view", "comment", "edit", "fullAccess")
EXTERNAL_ACCESS: Final = ("noAccess", "view", "comment", "edit")
EMAIL_ACCESS: Final = ("view", "comment", "edit", "fullAccess")
HF_POSITIONS: Final = ("topLeft", "topCenter", "topRight", "bottomLeft", "bottomCenter", "bottomRight")
HF_TYPES: Final = ("text", "image", "cardNumber")
HF_IMAGE_SOURCES: Final = ("themeLogo", "custom")
HF_SIZES: Final = ("sm", "md", "lg", "xl")

#: Valid ``cardOptions.dimensions`` per ``format``.
VALID_DIMENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "presentation": ("fluid", "16x9", "4x3"),
    "document": ("fluid", "pageless", "letter", "a4"),
    "social": ("1x1", "4x5", "9x16"),
    "webpage": ("fluid",),
}
#: Default ``cardOptions.dimensions`` per ``format``.
DEFAULT_DIMENSIONS: Final[dict[str, str]] = {
    "presentation": "fluid",
    "document": "fluid",
    "social": "4x5",
    "webpage": "fluid",
}

MAX_INPUT_CHARS: Final = 400_000

GENERATION_FIELDS: Final = (
    "inputText",
    "textMode",
    "format",
    "themeId",
    "numCards",
    "cardSplit",
    "additionalInstructions",
    "folderIds",
    "folderId",
    "exportAs",
    "textOptions",
    "imageOptions",
    "cardOptions",
    "sharingOptions",
    "title",
    "pages",
    "publish",
)
PAGE_FIELDS: Final = (
    "inputText",
    "title",
    "format",
    "textMode",
    "cardSplit",
    "numCards",
    "additionalInstructions",
    "path",
    "textOptions",
    "imageOptions",
)
MAX_PAGES: Final = 50
TEMPLATE_FIELDS: Final = (
    "gammaId",
    "prompt",
    "themeId",
    "folderIds",
    "folderId",
    "exportAs",
    "imageOptions",
    "sharingOptions",
    "title",
)
#: What the agent takes (gamma-api.md §18b); it answers 400 to any other key, ``title`` included.
AGENT_FIELDS: Final = (
    "prompt",
    "format",
    "additionalInstructions",
    "numCards",
    "quality",
    "sourceUrls",
    "templateId",
    "disableConnectors",
    "folderId",
    "exportAs",
    "sharingOptions",
    "files",
)
#: Classic fields the agent refuses rather than ignores, even where unknown keys are let through.
AGENT_REFUSED_FIELDS: Final = ("themeId", "folderIds", "textMode", "textOptions")
AGENT_FORMATS: Final = ("presentation", "document", "social")
AGENT_QUALITIES: Final = ("lite", "standard", "max")
