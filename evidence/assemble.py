"""Assemble the evidence PDF: cover pages, then one page per exhibit slice.

Input contract (the pipeline builds these):
- `CoverInfo`: the case identifiers for the cover page.
- `ExhibitPage`, one per output page, in order: which exhibit and which part of it, the
  source file, the date label and where the time came from, the note, the highlight box
  and the OCR lines (source px of the whole screenshot), the `layout.Slice` that
  `layout.plan_exhibit` returned for this page, and the `EncodedImage` the fit stage made
  of that slice (its pixel grid may be a downscaled version of the slice; it is drawn
  into `slice.image_rect`, and OCR boxes are mapped through the slice, not through the
  encoded pixels).

How images go in, without re-encoding (so the fit stage's size accounting is exact):
reportlab draws every page, and on exhibit pages it draws a 1×1 placeholder image, unique
to the page, in the screenshot's place. pikepdf then rewrites that placeholder's image
XObject with the fit stage's bytes, using its own API (`Stream.write` with a filter):
- JPEG: the file's bytes as they are, /DCTDecode (grey or RGB; CMYK is refused);
- PNG: the concatenated IDAT data as it is (it is a zlib stream of PNG-filtered rows),
  /FlateDecode with /Predictor 15, as img2pdf does. Palette PNGs stay /Indexed, grey
  PNGs /DeviceGray; no pixel is decoded or re-encoded. PNGs with alpha, transparency
  (tRNS) or interlacing cannot be carried that way and are refused (the fit stage makes
  opaque, non-interlaced PNGs).
Chosen over img2pdf + merging: one PDF, one font subset, no page merging; drawing order
(screenshot, invisible text, highlight, callout) stays with reportlab.

After writing, the file is reopened: page count, per-page image stream digests (equal to
`stream_digest` of each input image) and the manifest are checked before the file is
moved into place.

PDF/A-2b (`pdfa=True`): TrueType fonts embedded (see annotate), XMP metadata declaring
pdfaid:part 2 / conformance B (pikepdf `open_metadata`, synced from the document info),
an sRGB output intent (Pillow's sRGB profile), a document ID, no transparency, no
encryption, no JavaScript, no attachments (the manifest goes into the document info;
see manifest.py).

Atomic output: a temporary file in the destination folder, `os.replace`d over the target
only once complete and verified; on any error (Ctrl-C and a full disk included) the
temporary file is removed and a previous package is left as it was.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageCms
from reportlab.lib.colors import Color
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas as rl_canvas

from . import __version__, annotate, highlight, leader
from .annotate import FONT, FONT_BOLD
from .errors import EvidenceError
from .output import atomic_path, write_failed
from .layout import Frame, LayoutError, Rect, Slice, check_page, page_frame
from .manifest import attach, content_digests_from_pdf, digests_from_pdf, manifest_from_pdf
from .ocr.base import Box, OcrLine
from .fit import EncodedImage  # the fit stage's output, embedded as it is
from .cover import COVER_TEMPLATE, CoverInfo, IndexRow, Wording, draw_cover  # noqa: F401
from .cover import title as cover_title



class AssembleError(EvidenceError):
    """The written PDF did not read back as it was meant to (a bug, not a user error)."""


# --- the input contract --------------------------------------------------------------

@dataclass(frozen=True)
class ExhibitPage:
    exhibit: int  # exhibit number, 1-based
    source: str  # source file, relative to the case folder
    date_label: str  # as it should read, e.g. "2024-03-01 14:02"
    when_source: str | None  # "image" (or None), "filename", "exif", "mtime", "manual"
    note: str | None
    highlight: Box | None  # source px of the whole screenshot
    lines: Sequence[OcrLine]  # OCR lines on this slice, source px of the whole screenshot
    slice: Slice
    image: EncodedImage
    group: str = ""  # index group (templates/reasons.toml [groups]); "" for none
    failures: tuple[str, ...] = ()  # why its checks failed (marked in a draft's index)
    # the highlight per line of its phrase (word boxes, source px); () = just `highlight`
    highlight_parts: tuple[Box, ...] = ()

    @property
    def part(self) -> int:  # 1-based page within the exhibit
        return self.slice.index + 1

    @property
    def parts(self) -> int:
        return self.slice.count


@dataclass(frozen=True)
class AssembleResult:
    path: Path
    bytes: int
    pages: int
    cover_pages: int
    image_digests: list[str | None] = field(default_factory=list)  # per page; None: cover


# --- images --------------------------------------------------------------------------

@dataclass(frozen=True)
class PdfImage:
    """How one EncodedImage is carried in the PDF: `raw` is the stream's encoded data."""

    raw: bytes
    filter: str
    width: int
    height: int
    bits: int
    colour: str  # "gray" | "rgb" | "indexed"
    colors: int  # components per pixel in the stream
    palette: bytes = b""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(img: EncodedImage) -> PdfImage:
    data = img.data
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("PNG data does not start with the PNG signature")
    pos, idat, ihdr, palette = 8, [], None, b""
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError("PNG data is truncated")
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"PNG chunk {kind!r} is damaged (CRC mismatch)")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            raise ValueError("PNG has transparency (tRNS); give an opaque image")
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat:
        raise ValueError("PNG data has no IHDR or no IDAT")
    width, height, bits, colour_type, _, _, interlace = ihdr
    if interlace:
        raise ValueError("PNG is interlaced; give a non-interlaced PNG")
    if colour_type == 0 and bits in (1, 2, 4, 8, 16):
        colour, colors = "gray", 1
    elif colour_type == 2 and bits in (8, 16):
        colour, colors = "rgb", 3
    elif colour_type == 3 and bits in (1, 2, 4, 8):
        if not palette or len(palette) % 3 or len(palette) // 3 > 2 ** bits:
            raise ValueError("palette PNG has a missing or bad PLTE chunk")
        colour, colors = "indexed", 1
    elif colour_type in (4, 6):
        raise ValueError("PNG has an alpha channel; give an opaque image")
    else:
        raise ValueError(f"unsupported PNG colour type {colour_type} / bit depth {bits}")
    return PdfImage(b"".join(idat), "/FlateDecode", width, height, bits, colour, colors, palette)


def _jpeg(img: EncodedImage) -> PdfImage:
    try:
        with Image.open(io.BytesIO(img.data)) as im:
            fmt, mode, (w, h) = im.format, im.mode, im.size
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds
        raise ValueError(f"jpeg data cannot be read: {e}") from None
    if fmt != "JPEG":
        raise ValueError(f"data labelled jpeg is {fmt}")
    if mode == "L":
        return PdfImage(img.data, "/DCTDecode", w, h, 8, "gray", 1)
    if mode == "RGB":
        return PdfImage(img.data, "/DCTDecode", w, h, 8, "rgb", 3)
    raise ValueError(f"JPEG in mode {mode} is not supported (give greyscale or RGB)")


def pdf_image(img: EncodedImage) -> PdfImage:
    """Check an EncodedImage and work out how it is carried (ValueError if it cannot be).

    Memoised: the pipeline asks for the digest before assembling and assembly asks
    again, and the full decode below is the costly part."""
    return _pdf_image(img)


@functools.lru_cache(maxsize=1024)
def _pdf_image(img: EncodedImage) -> PdfImage:
    fmt = str(img.format).lower()
    if not isinstance(img.data, (bytes, bytearray)) or not img.data:
        raise ValueError("image data must be non-empty bytes")
    if fmt in ("jpeg", "jpg"):
        out = _jpeg(img)
    elif fmt == "png":
        out = _png(img)
    else:
        raise ValueError(f"image format must be 'jpeg' or 'png', not {img.format!r}")
    if (out.width, out.height) != (img.width, img.height):
        raise ValueError(f"{fmt} data is {out.width}x{out.height} px, "
                         f"not the {img.width}x{img.height} stated")
    try:  # a full decode: damaged data fails here, not in a reviewer's viewer
        with Image.open(io.BytesIO(img.data)) as im:
            im.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds
        raise ValueError(f"{fmt} data does not decode: {e}") from None
    return out


def stream_digest(img: EncodedImage) -> str:
    """The SHA-256 that `manifest.image_stream_digests` will report for `img`'s page."""
    return pdf_image(img).digest


def _write_image(pdf: pikepdf.Pdf, xobj: pikepdf.Stream, im: PdfImage) -> None:
    parms = None
    if im.filter == "/FlateDecode":
        parms = Dictionary(Predictor=15, Colors=im.colors, BitsPerComponent=im.bits,
                           Columns=im.width)
    xobj.write(im.raw, filter=Name(im.filter), decode_parms=parms)
    for key in ("/Decode", "/SMask", "/Mask", "/Interpolate", "/ImageMask", "/Intent"):
        if key in xobj:
            del xobj[key]
    xobj.Width = im.width
    xobj.Height = im.height
    xobj.BitsPerComponent = im.bits
    if im.colour == "gray":
        xobj.ColorSpace = Name.DeviceGray
    elif im.colour == "rgb":
        xobj.ColorSpace = Name.DeviceRGB
    else:
        xobj.ColorSpace = Array([Name.Indexed, Name.DeviceRGB, len(im.palette) // 3 - 1,
                                 pikepdf.String(im.palette)])


def _placeholder(serial: int) -> ImageReader:
    """A 1×1 image unique to `serial`, so reportlab gives each page its own XObject."""
    return ImageReader(Image.new("RGB", (1, 1), ((serial >> 16) & 255, (serial >> 8) & 255,
                                                 serial & 255)))


# --- wording -------------------------------------------------------------------------

def _dated(w: Wording, page: ExhibitPage) -> str:
    src = (page.when_source or "image").strip().lower()
    if src in ("", "image", "ocr", "screenshot"):
        return page.date_label
    when = w.get("exhibit.when")
    remark = w.fill(when[src]) if src in when and src != "other" else \
        w.fill(when.get("other", "from ${source}"), source=src)
    return w.say("exhibit.dated", date=page.date_label, when=remark)


def _draft_text(w: Wording, failures: int) -> str:
    return w.say("draft.one") if failures == 1 else w.say("draft.many", n=failures)


# --- drawing -------------------------------------------------------------------------

def _rows(w: Wording, pages: Sequence[ExhibitPage], cover_pages: int,
          draft: bool) -> list[IndexRow]:
    """The exhibit index: one row per exhibit, with its pages (and, in a draft, why it
    failed)."""
    out: list[IndexRow] = []
    for i, p in enumerate(pages):
        page_no = cover_pages + i + 1
        if out and out[-1].exhibit == str(p.exhibit) and p.part > 1:
            out[-1].last = page_no
            continue
        out.append(IndexRow(str(p.exhibit), _dated(w, p), p.source, p.note or "", page_no,
                            page_no, tuple(getattr(p, "failures", ())) if draft else (),
                            group=_group_label(getattr(p, "group", ""))))
    return out


def _group_label(group: str) -> str:
    if not group:
        return ""
    from .reasons import group_label
    return group_label(group)


def _furniture(c, w: Wording, frame: Frame, page_no: int, total: int, dispute_id: str,
               draft: str | None, header: str | None) -> None:
    area = frame.content
    if header:
        annotate.draw_header(c, area.x, frame.header_baseline, area.width, header)
    annotate.draw_footer(c, area.x, frame.footer_baseline, area.width,
                         w.say_parts("footer.text", page=page_no, pages=total,
                                     dispute_id=dispute_id))
    if draft:
        annotate.draw_draft_stamp(c, frame.width, frame.height, draft,
                                  str(w.data.get("draft", {}).get("watermark", "DRAFT")))


def _frame_of(frame: Frame, sl: Slice) -> Frame:
    """The frame of a slice's page: the document's, or the same paper turned."""
    return page_frame(sl.page) if sl.page is not None else frame


def _draw_exhibit(c, w: Wording, frame: Frame, page: ExhibitPage, serial: int,
                  page_no: int, total: int, dispute_id: str, draft: str | None) -> None:
    sl = page.slice
    frame = _frame_of(frame, sl)
    c.setPageSize(frame.page)
    r = sl.image_rect
    c.drawImage(_placeholder(serial), r.x, r.y, r.width, r.height)
    c.saveState()  # a hairline frame: a white screenshot on a white page still has edges
    c.setStrokeColor(Color(0.6, 0.6, 0.6))
    c.setLineWidth(0.5)
    c.rect(r.x, r.y, r.width, r.height, stroke=1, fill=0)
    c.restoreState()
    items = []
    for line in page.lines:
        rect = sl.line_on_page(line)
        if rect is not None:
            items.append((line.text, rect.tuple()))
    annotate.draw_invisible_text(c, items)
    _draw_marks(c, frame, page, draft is not None,
                str(w.data.get("exhibit", {}).get("note_label", "Note")))
    _furniture(c, w, frame, page_no, total, dispute_id, draft, _exhibit_header(w, page))
    c.showPage()


def _exhibit_header(w: Wording, page) -> str:
    """'Exhibit N · date · file', with '(part k of n)' on a split capture."""
    header = w.say("exhibit.header", number=page.exhibit, date=_dated(w, page),
                   source=page.source)
    if page.parts > 1:
        header += w.say("exhibit.continued", part=page.part, parts=page.parts)
    return header


def _is_document(page) -> bool:
    from .documents import DocumentPage
    return isinstance(page, DocumentPage)


def document_rect(frame: Frame) -> tuple[float, float, float, float]:
    """Where a document page is drawn: the content area (x0, y0, x1, y1)."""
    a = frame.content
    return (a.x, a.y, a.x + a.width, a.y + a.height)


def _draw_document(c, w: Wording, frame: Frame, page, page_no: int, total: int,
                   dispute_id: str, draft: str | None) -> None:
    """A document exhibit's page: header and footer; the page itself goes in later.
    The page size is set again: a landscape exhibit before it must not turn this page."""
    c.setPageSize(frame.page)
    _furniture(c, w, frame, page_no, total, dispute_id, draft, _exhibit_header(w, page))
    c.showPage()


def _draw_marks(c, frame: Frame, page: ExhibitPage, draft: bool, note_label: str) -> None:
    """The highlight outline, the note and the leader between them, none over a word."""
    sl = page.slice
    note = sl.note_rect if page.note and page.note.strip() else None
    parts = page.highlight_parts or ((page.highlight,) if page.highlight is not None else ())
    words = highlight.all_word_boxes(page.lines)
    target, others = None, []
    if parts:
        hl = highlight.Highlight("", "", tuple(parts), (), 100.0)
        shape = highlight.outline(hl, page.lines, others=words)
        stroke = min(2.5, shape.stroke_px * sl.scale)
        placed = [(sl.box_to_page(b), sl.box_to_page(row), t)
                  for b, row, t in zip(shape.rects, shape.rows, shape.tight)]
        placed = [p for p in placed if p[0] is not None]
        rects = [r for r, _row, _t in placed]
        if rects:
            annotate.draw_outline(c, [r.tuple() for r in rects], stroke,
                                  [row.tuple() if row else None for _r, row, _t in placed],
                                  [t for _r, _row, t in placed])
            g = stroke / 2
            target = Rect(rects[0].x - g, rects[0].y - g, rects[0].width + stroke,
                          rects[0].height + stroke)
            others = [Rect(r.x - g, r.y - g, r.width + stroke, r.height + stroke)
                      for r in rects[1:]]
            # a side beside a close word is no way in: the arrow would end in the word gap
            lt, rt = placed[0][2]
            r0 = rects[0]
            others += [Rect(x - 0.1, r0.y, 0.2, r0.height)
                       for x, t in ((r0.x, lt), (r0.right, rt)) if t]
    if note is None:
        return
    annotate.draw_callout(c, note.tuple(), page.note, note_label)
    if target is None:
        return
    # Around whole lines first (through margins and the gaps between lines), else
    # between words if it must, else just to the screenshot's edge at the row.
    blocks = highlight.text_blocks(page.lines, parts)
    area = frame.content
    left = annotate.draft_margins(frame.width, frame.height)[1][2] if draft else 6.0
    page_bounds = Rect(left, area.y, frame.width - 6.0 - left, area.top - area.y)
    r = sl.image_rect
    y = min(max(target.y + target.height / 2, r.y + 2), r.top - 2)
    edge = Rect(r.right, y - 1, 1, 2) if note.x >= r.right else Rect(r.x - 1, y - 1, 1, 2)
    way = None
    for boxes, goal in ((blocks, target), (words, target), (words, edge)):
        obstacles = [b for b in (sl.box_to_page(x) for x in boxes) if b is not None] + others
        way = leader.route(note, goal, obstacles, leader.window(page_bounds, note, goal),
                           clearance=annotate.leader_clearance(),
                           head_clearance=annotate.head_clearance())
        if way is not None:
            break
    if way is not None:
        annotate.draw_leader(c, list(way.points))


def _render(w: Wording, frame: Frame, cover: CoverInfo, pages: Sequence[ExhibitPage],
            draft: str | None, cover_pages: int) -> tuple[bytes, int]:
    """Draw the whole document with reportlab; return (pdf bytes, cover pages drawn)."""
    buf = io.BytesIO()
    annotate.register_fonts()
    c = rl_canvas.Canvas(buf, pagesize=frame.page, pageCompression=1, initialFontName=FONT,
                         initialFontSize=10, initialLeading=12)
    c.setTitle(annotate.displayable(cover_title(w, cover)))
    if cover.processor or cover.dispute_id:
        c.setSubject(annotate.displayable(" ".join(
            x for x in (cover.processor, "dispute", cover.dispute_id) if x)
            + (f": {cover.reason}" if cover.reason else "")))
    else:
        c.setSubject(annotate.displayable(f"Chargeback evidence: {cover.client_name}"))
    c.setCreator(f"evidence {__version__}")
    total = cover_pages + len(pages)
    drawn = draw_cover(c, w, frame, cover, _rows(w, pages, cover_pages, draft is not None),
                       lambda n: _furniture(c, w, frame, n, total, cover.dispute_id, draft,
                                            None))
    for i, page in enumerate(pages):
        if _is_document(page):  # its content is imported after drawing (build_pdf)
            _draw_document(c, w, frame, page, drawn + i + 1, total, cover.dispute_id, draft)
            continue
        _draw_exhibit(c, w, frame, page, i + 1, drawn + i + 1, total, cover.dispute_id, draft)
    c.save()
    return buf.getvalue(), drawn


# --- PDF/A ---------------------------------------------------------------------------

def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _make_pdfa(pdf: pikepdf.Pdf) -> None:
    icc = pikepdf.Stream(pdf, _srgb_icc())
    icc.N = 3
    pdf.Root.OutputIntents = Array([pdf.make_indirect(Dictionary(
        Type=Name.OutputIntent, S=Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB"),
        Info=pikepdf.String("sRGB IEC61966-2.1"),
        DestOutputProfile=icc))])
    with pdf.open_metadata() as meta:
        meta.load_from_docinfo(pdf.docinfo)
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"


# --- the whole thing -----------------------------------------------------------------

def _check_pages(pages: Sequence[ExhibitPage], frame: Frame) -> list[PdfImage]:
    images: list[PdfImage | None] = []
    for i, p in enumerate(pages):
        if _is_document(p):
            images.append(None)
            continue
        where = f"page {i + 1} (exhibit {p.exhibit}, {p.source})"
        if not isinstance(p.slice, Slice):
            raise ValueError(f"{where}: slice must be a layout.Slice")
        own = _frame_of(frame, p.slice)
        if sorted(own.page) != sorted(frame.page):
            raise ValueError(f"{where}: its slice was planned for another page size")
        page_rect = Rect(0, 0, own.width, own.height)
        if not own.content.contains(p.slice.image_rect) or \
                (p.slice.note_rect is not None and not page_rect.contains(p.slice.note_rect)):
            raise ValueError(f"{where}: its slice was planned for another page size")
        try:
            im = pdf_image(p.image)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        sw, sh = p.slice.source_width, p.slice.height_px
        expect_h = im.width * sh / sw
        if abs(im.height - expect_h) > max(2.0, 0.02 * im.height):
            raise ValueError(f"{where}: image is {im.width}x{im.height} px but its slice is "
                             f"{sw}x{sh} px (different shape)")
        images.append(im)
    return images


def cover_page_count(cover: CoverInfo, pages: Sequence[ExhibitPage], *,
                     page_size: tuple[float, float] | str = "letter",
                     wording: Wording | None = None) -> int:
    """How many pages the cover (with its exhibit index) takes, without building the PDF.

    Cover pages count against a processor's page cap, so the fit stage can budget them.
    """
    frame = page_frame(check_page(page_size))
    w = wording or Wording.load()
    annotate.register_fonts()
    c = rl_canvas.Canvas(io.BytesIO(), pagesize=frame.page, initialFontName=FONT)
    return draw_cover(c, w, frame, cover, _rows(w, pages, 1, True),
                      lambda n: _furniture(c, w, frame, n, len(pages) + 9, cover.dispute_id,
                                           None, None))


def _render_all(w: Wording, frame: Frame, cover: CoverInfo, pages: Sequence[ExhibitPage],
                draft: str | None) -> tuple[bytes, int]:
    # Guess from the cover alone (cheap) so the exhibits are usually drawn once; the index
    # names page numbers, which depend on the cover's length, so check and redraw if off.
    cover_pages = cover_page_count(cover, pages, page_size=frame.page, wording=w)
    for _ in range(4):
        data, drawn = _render(w, frame, cover, pages, draft, cover_pages)
        if drawn == cover_pages:
            return data, drawn
        cover_pages = drawn
    raise LayoutError("the cover page count does not settle")


def build_pdf(cover: CoverInfo, pages: Sequence[ExhibitPage], *,
              page_size: tuple[float, float] | str = "letter", draft_failures: int | None = None,
              manifest: dict, pdfa: bool = False, wording: Wording | None = None
              ) -> tuple[pikepdf.Pdf, int, list[str | None]]:
    """Build the document in memory: (pikepdf.Pdf, cover pages, expected digests)."""
    frame = page_frame(check_page(page_size))
    w = wording or Wording.load()
    if draft_failures is not None and (isinstance(draft_failures, bool) or draft_failures < 0):
        raise ValueError("draft_failures must be None or a count >= 0")
    images = _check_pages(pages, frame)
    draft = _draft_text(w, draft_failures) if draft_failures is not None else None
    data, cover_pages = _render_all(w, frame, cover, pages, draft)
    pdf = pikepdf.open(io.BytesIO(data))
    documents = {}
    for i, im in enumerate(images):
        page = pdf.pages[cover_pages + i]
        if im is None:  # a document page: the source page itself, kept as vector
            from .documents import place
            documents[i] = place(pdf, page, pages[i], document_rect(frame))
            continue
        xobjects = [x for _, x in page.obj.Resources.XObject.items()
                    if x.get("/Subtype") == Name.Image]
        if len(xobjects) != 1:
            raise AssembleError(f"page {cover_pages + i + 1}: expected one placeholder image, "
                                f"found {len(xobjects)}")
        _write_image(pdf, xobjects[0], im)
    for page in pdf.pages:  # reportlab writes an empty page transition; PDF/A has no use for it
        if "/Trans" in page.obj:
            del page.obj["/Trans"]
    if "/Trapped" in pdf.docinfo:  # no XMP equivalent under PDF/A-2
        del pdf.docinfo["/Trapped"]
    if str(pdf.docinfo.get("/Author", "")) in ("", "anonymous", "(anonymous)"):
        if "/Author" in pdf.docinfo:
            del pdf.docinfo["/Author"]
    if pdfa:
        _make_pdfa(pdf)
    # Page contents are final here: their digests let validate notice a page whose text
    # or drawings were edited after the build, which image digests alone cannot.
    manifest = {**manifest, "page_content_sha256": content_digests_from_pdf(pdf)}
    attach(pdf, manifest, pdfa=pdfa)
    expected: list[str | None] = [None] * cover_pages + [
        im.digest if im is not None else documents[i] for i, im in enumerate(images)]
    return pdf, cover_pages, expected


def non_image_bytes(cover: CoverInfo, pages: Sequence[ExhibitPage], *,
                    page_size: tuple[float, float] | str = "letter",
                    draft_failures: int | None = None, manifest: dict, pdfa: bool = False,
                    wording: Wording | None = None) -> int:
    """The bytes of everything in the package but the image data: the package is built
    in memory with `pages`' (tiny) images, saved as `assemble` saves it, and their
    bytes are taken off. A measurement, not an estimate; what the fit stage budgets."""
    pdf, _cover_pages, _expected = build_pdf(
        cover, pages, page_size=page_size, draft_failures=draft_failures, manifest=manifest,
        pdfa=pdfa, wording=wording)
    buf = io.BytesIO()
    with pdf:
        pdf.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return len(buf.getvalue()) - sum(p.image.size for p in pages
                                     if isinstance(getattr(p, "image", None), EncodedImage))


def _verify(tmp: Path, cover_pages: int, expected: list[str | None], manifest: dict) -> None:
    with pikepdf.open(tmp) as pdf:
        if len(pdf.pages) != len(expected):
            raise AssembleError(f"wrote {len(pdf.pages)} pages, meant {len(expected)}", tmp)
        got = digests_from_pdf(pdf)
        if got != expected:
            bad = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            raise AssembleError(f"page {bad + 1}: image stream differs from the input bytes", tmp)
        back = manifest_from_pdf(pdf, tmp) or {}
        contents = back.pop("page_content_sha256", None)
        if back != json.loads(json.dumps(manifest)):
            raise AssembleError("the manifest does not read back", tmp)
        if contents != content_digests_from_pdf(pdf):
            raise AssembleError("page contents changed while saving", tmp)


def assemble(out_path: Path | str, cover: CoverInfo, pages: Sequence[ExhibitPage], *,
             page_size: tuple[float, float] | str = "letter", draft_failures: int | None = None,
             manifest: dict, pdfa: bool = False,
             wording: Wording | None = None) -> AssembleResult:
    """Write the evidence PDF to `out_path` atomically; see the module docstring."""
    out = Path(out_path)
    with atomic_path(out) as tmp:
        pdf, cover_pages, expected = build_pdf(
            cover, pages, page_size=page_size, draft_failures=draft_failures,
            manifest=manifest, pdfa=pdfa, wording=wording)
        with pdf:
            try:
                with open(tmp, "wb") as f:
                    pdf.save(f, deterministic_id=True,
                             object_stream_mode=pikepdf.ObjectStreamMode.generate)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise write_failed(e, out) from None
        _verify(tmp, cover_pages, expected, manifest)  # before it may replace a good package
        size = tmp.stat().st_size
    return AssembleResult(out, size, len(expected), cover_pages, expected)
