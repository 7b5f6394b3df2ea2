# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""Real, tiny export files (PDF, PPTX, ZIP of PNGs) for the Gamma emulator.

Every builder is a pure function of its arguments, so the bytes for one generation are the same
on every download and can be compared byte-for-byte in tests.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from typing import Final
from xml.sax.saxutils import escape

__all__ = [
    "CONTENT_TYPES",
    "FILE_EXTENSIONS",
    "build_export",
    "build_pdf",
    "build_png",
    "build_png_zip",
    "build_pptx",
]

#: ``exportAs`` value -> file extension used in the export URL.
FILE_EXTENSIONS: Final[dict[str, str]] = {"pdf": "pdf", "pptx": "pptx", "png": "zip"}

#: ``exportAs`` value -> ``Content-Type`` served by the export host.
CONTENT_TYPES: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "png": "application/zip",
}

# A fixed timestamp keeps the ZIP containers (PPTX, PNG zip) deterministic.
_ZIP_DATE: Final = (2026, 1, 1, 0, 0, 0)

_PALETTE: Final[tuple[tuple[int, int, int], ...]] = (
    (0x2D, 0x3A, 0x8C),
    (0xE0, 0x6C, 0x3C),
    (0x3C, 0x9D, 0x5D),
    (0x8E, 0x44, 0xAD),
    (0xF1, 0xC4, 0x0F),
    (0x16, 0xA0, 0x85),
)


def card_titles(title: str, num_cards: int) -> list[str]:
    """Return the visible title of each card: the deck title on card 1, then numbered cards."""
    return [title if i == 1 else f"{title} - card {i} of {num_cards}" for i in range(1, num_cards + 1)]


# --------------------------------------------------------------------------------------------- PDF


def _pdf_text(value: str) -> bytes:
    """Encode ``value`` as a PDF literal string (Latin-1, unknown characters replaced by ``?``)."""
    raw = value.encode("latin-1", errors="replace")
    raw = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + raw + b")"


def build_pdf(
    title: str, num_cards: int, *, page_size: tuple[int, int] = (960, 540), notes: Sequence[str] = ()
) -> bytes:
    """Build a valid PDF with one page per card; every page shows its card title in Helvetica.

    Args:
        title: Deck title; appears on every page (so text extraction finds it).
        num_cards: Number of pages.
        page_size: Page width and height in PDF points.
        notes: Lines written under the title of page 1 (the agent edits the deck went through).
    """
    width, height = page_size
    titles = card_titles(title, num_cards)
    # Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
    objects: list[bytes] = []
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(num_cards))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {num_cards} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Title " + _pdf_text(title) + b" /Producer (Gamma emulator) >>")
    for index, card_title in enumerate(titles):
        page_obj = 5 + 2 * index
        stream = (
            b"BT /F1 28 Tf 48 "
            + str(height - 96).encode()
            + b" Td "
            + _pdf_text(card_title)
            + b" Tj ET\nBT /F1 14 Tf 48 48 Td "
            + _pdf_text(f"Card {index + 1} / {num_cards}")
            + b" Tj ET\n"
        )
        for line, note in enumerate(notes if index == 0 else ()):
            position = f"48 {height - 140 - 20 * line}".encode()
            stream += b"BT /F1 12 Tf " + position + b" Td " + _pdf_text(note[:200]) + b" Tj ET\n"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_obj + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream")

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n".encode())
    out.write(b"0000000000 65535 f \n")
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    )
    return out.getvalue()


# --------------------------------------------------------------------------------------------- PNG


def build_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Build a valid solid-colour 8-bit RGB PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def build_png_zip(title: str, num_cards: int, *, shift: int = 0) -> bytes:
    """Build a ZIP holding ``card-01.png`` ... one 64x36 PNG per card (like Gamma's PNG export);
    ``shift`` moves the colours along the palette (each edited revision looks different)."""
    del title  # The images are plain colour swatches; the title does not change them.
    return _zip(
        [
            (f"card-{i:02d}.png", build_png(64, 36, _PALETTE[(i - 1 + shift) % len(_PALETTE)]))
            for i in range(1, num_cards + 1)
        ]
    )


# -------------------------------------------------------------------------------------------- PPTX

_NS_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PR = "http://schemas.openxmlformats.org/package/2006/relationships"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT_PRES = "application/vnd.openxmlformats-officedocument.presentationml"

_THEME = (
    _XML + f'<a:theme xmlns:a="{_NS_A}" name="Emulator">'
    "<a:themeElements>"
    '<a:clrScheme name="Emulator">'
    '<a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>'
    '<a:dk2><a:srgbClr val="1F2937"/></a:dk2><a:lt2><a:srgbClr val="F3F4F6"/></a:lt2>'
    '<a:accent1><a:srgbClr val="2D3A8C"/></a:accent1><a:accent2><a:srgbClr val="E06C3C"/></a:accent2>'
    '<a:accent3><a:srgbClr val="3C9D5D"/></a:accent3><a:accent4><a:srgbClr val="8E44AD"/></a:accent4>'
    '<a:accent5><a:srgbClr val="F1C40F"/></a:accent5><a:accent6><a:srgbClr val="16A085"/></a:accent6>'
    '<a:hlink><a:srgbClr val="0563C1"/></a:hlink><a:folHlink><a:srgbClr val="954F72"/></a:folHlink>'
    "</a:clrScheme>"
    '<a:fontScheme name="Emulator">'
    '<a:majorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont>'
    '<a:minorFont><a:latin typeface="Arial"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont>'
    "</a:fontScheme>"
    '<a:fmtScheme name="Emulator">'
    "<a:fillStyleLst>" + '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>' * 3 + "</a:fillStyleLst>"
    "<a:lnStyleLst>"
    + '<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>'
    * 3
    + "</a:lnStyleLst>"
    "<a:effectStyleLst>" + "<a:effectStyle><a:effectLst/></a:effectStyle>" * 3 + "</a:effectStyleLst>"
    "<a:bgFillStyleLst>" + '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>' * 3 + "</a:bgFillStyleLst>"
    "</a:fmtScheme>"
    "</a:themeElements>"
    "</a:theme>"
)

_EMPTY_TREE = (
    '<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
    '<p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
    '<a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>'
)

_MASTER = (
    _XML + f'<p:sldMaster xmlns:a="{_NS_A}" xmlns:r="{_NS_R}" xmlns:p="{_NS_P}">'
    '<p:cSld><p:bg><p:bgRef idx="1001"><a:schemeClr val="bg1"/></p:bgRef></p:bg>'
    f"<p:spTree>{_EMPTY_TREE}</p:spTree></p:cSld>"
    '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
    'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
    'folHlink="folHlink"/>'
    '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst>'
    "<p:txStyles><p:titleStyle/><p:bodyStyle/><p:otherStyle/></p:txStyles>"
    "</p:sldMaster>"
)

_LAYOUT = (
    _XML + f'<p:sldLayout xmlns:a="{_NS_A}" xmlns:r="{_NS_R}" xmlns:p="{_NS_P}" type="blank" preserve="1">'
    f'<p:cSld name="Blank"><p:spTree>{_EMPTY_TREE}</p:spTree></p:cSld>'
    "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr>"
    "</p:sldLayout>"
)


def _rels(entries: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in entries
    )
    return _XML + f'<Relationships xmlns="{_NS_PR}">{body}</Relationships>'


def _slide(title: str, number: int, total: int, size: tuple[int, int], notes: Sequence[str] = ()) -> str:
    cx, cy = size
    margin = cx // 16
    footer = "".join(
        f'<a:p><a:r><a:rPr lang="en-US" sz="1200"/><a:t>{escape(note)}</a:t></a:r></a:p>' for note in notes
    )
    return (
        _XML + f'<p:sld xmlns:a="{_NS_A}" xmlns:r="{_NS_R}" xmlns:p="{_NS_P}">'
        f"<p:cSld><p:spTree>{_EMPTY_TREE}"
        "<p:sp>"
        '<p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
        f'<p:spPr><a:xfrm><a:off x="{margin}" y="{cy // 8}"/><a:ext cx="{cx - 2 * margin}" cy="{cy // 4}"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>'
        '<p:txBody><a:bodyPr wrap="square"/><a:lstStyle/>'
        f'<a:p><a:r><a:rPr lang="en-US" sz="3600" b="1"/><a:t>{escape(title)}</a:t></a:r></a:p>'
        "</p:txBody></p:sp>"
        "<p:sp>"
        '<p:nvSpPr><p:cNvPr id="3" name="Footer"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
        f'<p:spPr><a:xfrm><a:off x="{margin}" y="{cy - cy // 6}"/><a:ext cx="{cx - 2 * margin}" cy="{cy // 10}"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>'
        '<p:txBody><a:bodyPr wrap="square"/><a:lstStyle/>'
        f'<a:p><a:r><a:rPr lang="en-US" sz="1400"/><a:t>Card {number} / {total}</a:t></a:r></a:p>'
        f"{footer}</p:txBody></p:sp>"
        "</p:spTree></p:cSld>"
        "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr>"
        "</p:sld>"
    )


def build_pptx(
    title: str,
    num_cards: int,
    *,
    slide_size: tuple[int, int] = (12192000, 6858000),
    notes: Sequence[str] = (),
) -> bytes:
    """Build a valid PPTX with one slide per card, each holding a title text box.

    Args:
        title: Deck title (slide 1 title and document title).
        num_cards: Number of slides.
        slide_size: Slide width and height in EMU (default 16:9, 13.333 x 7.5 in).
        notes: Lines added to slide 1's footer (the agent edits the deck went through).
    """
    cx, cy = slide_size
    titles = card_titles(title, num_cards)
    slide_overrides = "".join(
        f'<Override PartName="/ppt/slides/slide{i}.xml" ContentType="{_CT_PRES}.slide+xml"/>'
        for i in range(1, num_cards + 1)
    )
    content_types = (
        _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/ppt/presentation.xml" ContentType="{_CT_PRES}.presentation.main+xml"/>'
        f'<Override PartName="/ppt/slideMasters/slideMaster1.xml" ContentType="{_CT_PRES}.slideMaster+xml"/>'
        f'<Override PartName="/ppt/slideLayouts/slideLayout1.xml" ContentType="{_CT_PRES}.slideLayout+xml"/>'
        '<Override PartName="/ppt/theme/theme1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{slide_overrides}</Types>"
    )
    root_rels = _rels(
        [
            ("rId1", f"{_REL}/officeDocument", "ppt/presentation.xml"),
            (
                "rId2",
                "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
                "docProps/core.xml",
            ),
            ("rId3", f"{_REL}/extended-properties", "docProps/app.xml"),
        ]
    )
    slide_ids = "".join(f'<p:sldId id="{255 + i}" r:id="rId{i + 2}"/>' for i in range(1, num_cards + 1))
    presentation = (
        _XML + f'<p:presentation xmlns:a="{_NS_A}" xmlns:r="{_NS_R}" xmlns:p="{_NS_P}" saveSubsetFonts="1">'
        '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
        f"<p:sldIdLst>{slide_ids}</p:sldIdLst>"
        f'<p:sldSz cx="{cx}" cy="{cy}"/><p:notesSz cx="6858000" cy="9144000"/>'
        "</p:presentation>"
    )
    presentation_rels = _rels(
        [
            ("rId1", f"{_REL}/slideMaster", "slideMasters/slideMaster1.xml"),
            ("rId2", f"{_REL}/theme", "theme/theme1.xml"),
        ]
        + [(f"rId{i + 2}", f"{_REL}/slide", f"slides/slide{i}.xml") for i in range(1, num_cards + 1)]
    )
    core = (
        _XML
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>Gamma emulator</dc:creator>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2026-01-01T00:00:00Z</dcterms:created>'
        "</cp:coreProperties>"
    )
    app = (
        _XML
        + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>Gamma emulator</Application><Slides>{num_cards}</Slides></Properties>"
    )
    entries: list[tuple[str, bytes]] = [
        ("[Content_Types].xml", content_types.encode()),
        ("_rels/.rels", root_rels.encode()),
        ("docProps/core.xml", core.encode()),
        ("docProps/app.xml", app.encode()),
        ("ppt/presentation.xml", presentation.encode()),
        ("ppt/_rels/presentation.xml.rels", presentation_rels.encode()),
        ("ppt/theme/theme1.xml", _THEME.encode()),
        ("ppt/slideMasters/slideMaster1.xml", _MASTER.encode()),
        (
            "ppt/slideMasters/_rels/slideMaster1.xml.rels",
            _rels(
                [
                    ("rId1", f"{_REL}/slideLayout", "../slideLayouts/slideLayout1.xml"),
                    ("rId2", f"{_REL}/theme", "../theme/theme1.xml"),
                ]
            ).encode(),
        ),
        ("ppt/slideLayouts/slideLayout1.xml", _LAYOUT.encode()),
        (
            "ppt/slideLayouts/_rels/slideLayout1.xml.rels",
            _rels([("rId1", f"{_REL}/slideMaster", "../slideMasters/slideMaster1.xml")]).encode(),
        ),
    ]
    slide_rels = _rels([("rId1", f"{_REL}/slideLayout", "../slideLayouts/slideLayout1.xml")]).encode()
    for number, card_title in enumerate(titles, start=1):
        entries.append(
            (
                f"ppt/slides/slide{number}.xml",
                _slide(card_title, number, num_cards, (cx, cy), notes if number == 1 else ()).encode(),
            )
        )
        entries.append((f"ppt/slides/_rels/slide{number}.xml.rels", slide_rels))
    return _zip(entries)


# --------------------------------------------------------------------------------------- dispatcher

# Page sizes per cardOptions.dimensions: (PDF points, PPTX EMU).
_SIZES: Final[dict[str, tuple[tuple[int, int], tuple[int, int]]]] = {
    "16x9": ((960, 540), (12192000, 6858000)),
    "4x3": ((960, 720), (9144000, 6858000)),
    "letter": ((612, 792), (7772400, 10058400)),
    "a4": ((595, 842), (7560310, 10692130)),
    "pageless": ((612, 792), (7772400, 10058400)),
    "1x1": ((540, 540), (6858000, 6858000)),
    "4x5": ((540, 675), (6858000, 8572500)),
    "9x16": ((540, 960), (6858000, 12192000)),
}


def build_export(
    export_as: str, title: str, num_cards: int, dimensions: str = "16x9", *, notes: Sequence[str] = ()
) -> bytes:
    """Build the export file for ``export_as`` (``pdf``, ``pptx`` or ``png``).

    Args:
        export_as: The generation's ``exportAs`` value.
        title: Deck title shown on the cards.
        num_cards: Number of pages / slides / images.
        dimensions: ``cardOptions.dimensions`` actually used (``fluid`` is rendered as 16x9).
        notes: The agent edits the gamma went through, one line each: written on the first card
            (PDF, PPTX); the PNGs' colours shift by their number.
    """
    pdf_size, pptx_size = _SIZES.get(dimensions, _SIZES["16x9"])
    if export_as == "pdf":
        return build_pdf(title, num_cards, page_size=pdf_size, notes=notes)
    if export_as == "pptx":
        return build_pptx(title, num_cards, slide_size=pptx_size, notes=notes)
    if export_as == "png":
        return build_png_zip(title, num_cards, shift=len(notes))
    raise ValueError(f"unsupported export format: {export_as!r}")
