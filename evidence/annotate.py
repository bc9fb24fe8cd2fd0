"""Drawing helpers for exhibit and cover pages: fonts, text clean-up, wrapping, the note
callout, the highlight rectangle and arrow, the invisible OCR layer, header, footer and
the draft stamp.

Everything is drawn with reportlab as vector graphics and text. Fonts are TrueType and
get embedded (subset) in the PDF, as PDF/A requires: DejaVu Sans when the system has it
(wide coverage: accents, Greek, Cyrillic), else the Bitstream Vera that ships inside
reportlab. The non-embedded base-14 Helvetica is never used.

Text that the font cannot show never crashes and never reaches the PDF as a missing
glyph (PDF/A forbids references to .notdef, even in invisible text):
- visible text (`displayable`): a run of emoji becomes "[emoji]", a run of right-to-left
  script (we do no bidi reordering or Arabic shaping) becomes "[Hebrew text]",
  "[Arabic text]", …, any other missing glyph becomes "?";
- invisible OCR text (`searchable`): only the missing glyphs become "?", so Hebrew or
  Arabic that the font has stays searchable in logical order.

No transparency anywhere (no alpha, no soft masks): PDF/A-2b and black-and-white printing
both prefer opaque fills. Nothing is drawn over a word of the screenshot: the highlight
sits in the blank space around its words, the leader is routed around text (see
highlight.py and leader.py), and the draft marks stay in the page margins.

The measuring functions (`wrap`, `callout_height`) are pure and used by `layout` to plan
pages; the `draw_*` functions take a reportlab canvas.
"""
from __future__ import annotations

import math
import os
import unicodedata
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "EvidenceSans"
FONT_BOLD = "EvidenceSans-Bold"

# The note callout. Reviewers' guides ask for 12 pt text; the floor is 11 pt.
NOTE_SIZE = 12.0
NOTE_LEADING = 15.0
NOTE_LABEL_SIZE = 10.0
NOTE_LABEL_LEADING = 14.0
NOTE_PAD = 8.0
NOTE_FILL = HexColor("#FFF4C2")  # light yellow: prints as a very light grey
NOTE_BORDER = black
MARK = HexColor("#C00000")  # highlight box and arrow: dark red, prints dark grey
DRAFT = HexColor("#C00000")
HEADER_SIZE = 11.0
FOOTER_SIZE = 9.0

_DEJAVU_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)


def _font_files() -> tuple[Path, Path]:
    """(regular, bold) TTF files: DejaVu Sans if present, else reportlab's Vera."""
    dirs = [Path(d) for d in _DEJAVU_DIRS]
    if find_spec("matplotlib") is not None:  # matplotlib ships DejaVu Sans too
        spec = find_spec("matplotlib")
        if spec and spec.origin:
            dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for d in dirs:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    import reportlab

    fonts = Path(os.path.dirname(reportlab.__file__)) / "fonts"
    return fonts / "Vera.ttf", fonts / "VeraBd.ttf"


_registered: dict[str, TTFont] = {}


def register_fonts() -> tuple[str, str]:
    """Register the regular and bold fonts with reportlab once; return their names."""
    if not _registered:
        regular, bold = _font_files()
        for name, path in ((FONT, regular), (FONT_BOLD, bold)):
            font = TTFont(name, str(path))
            pdfmetrics.registerFont(font)
            _registered[name] = font
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD,
                                      italic=FONT, boldItalic=FONT_BOLD)
    return FONT, FONT_BOLD


def font_file(name: str = FONT) -> str:
    register_fonts()
    return _registered[name].face.filename


def has_glyph(ch: str, font: str = FONT) -> bool:
    register_fonts()
    return ord(ch) in _registered[font].face.charToGlyph


def text_width(text: str, font: str = FONT, size: float = NOTE_SIZE) -> float:
    register_fonts()
    return pdfmetrics.stringWidth(text, font, size)


# --- text clean-up -------------------------------------------------------------------

def _is_emoji(cp: int) -> bool:
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF
            or 0x2300 <= cp <= 0x23FF or 0xE0020 <= cp <= 0xE007F)


def _emoji_joiner(cp: int) -> bool:
    # zero-width joiner, variation selectors, combining keycap, skin tones, tags
    return cp in (0x200D, 0xFE0E, 0xFE0F, 0x20E3) or 0x1F3FB <= cp <= 0x1F3FF \
        or 0xE0020 <= cp <= 0xE007F


def _is_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def _script(ch: str) -> str:
    try:
        word = unicodedata.name(ch).split()[0]
    except ValueError:
        return "right-to-left"
    return {"NKO": "N'Ko"}.get(word, word.title())


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    return text.replace("\t", " ")


def displayable(text: str, font: str = FONT) -> str:
    """`text` made safe to draw visibly in `font` (see the module docstring)."""
    register_fonts()
    glyphs = _registered[font].face.charToGlyph
    text = _normalise(text)
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        cp = ord(ch)
        if ch == "\n":
            out.append(ch)
            i += 1
        elif _is_emoji(cp) and not (cp < 0x1F000 and cp in glyphs):
            # one placeholder for a whole run: 👍🏽, 👨‍👩‍👧 or 🎉🎉🎉 all become "[emoji]"
            i += 1
            while i < n and (_is_emoji(ord(text[i])) or _emoji_joiner(ord(text[i]))):
                i += 1
            out.append("[emoji]")
        elif _is_rtl(ch):
            script = _script(ch)
            i += 1
            while i < n:
                if _is_rtl(text[i]) or unicodedata.category(text[i]).startswith("M"):
                    i += 1
                    continue
                # neutral characters (spaces, punctuation) between two RTL runs join them
                j = i
                while j < n and unicodedata.bidirectional(text[j]) in ("WS", "ON", "CS", "AN",
                                                                       "EN", "ET", "BN"):
                    if text[j] == "\n":
                        break
                    j += 1
                if j < n and j > i and _is_rtl(text[j]):
                    i = j
                    continue
                break
            out.append(f"[{script} text]")
        elif _emoji_joiner(cp) or unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co"):
            i += 1  # invisible or unassigned: drop
        elif unicodedata.category(ch) == "Cs":
            out.append("?")
            i += 1
        elif cp in glyphs:
            out.append(ch)
            i += 1
        elif unicodedata.category(ch).startswith("M"):
            i += 1  # a combining mark the font lacks: the base letter still shows
        else:
            out.append("?")
            i += 1
    return "".join(out)


def searchable(text: str, font: str = FONT) -> str:
    """`text` for the invisible OCR layer: only glyphs missing from `font` become "?"."""
    register_fonts()
    glyphs = _registered[font].face.charToGlyph
    out = []
    for ch in _normalise(text).replace("\n", " "):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cn", "Co"):
            continue
        if ord(ch) in glyphs:
            out.append(ch)
        elif not cat.startswith("M"):
            out.append("?")
    return "".join(out)


def ellipsize(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)].rstrip() + "…"


# --- wrapping and measuring ----------------------------------------------------------

def wrap(text: str, width: float, font: str = FONT, size: float = NOTE_SIZE) -> list[str]:
    """Greedy word wrap of already-displayable `text` into lines at most `width` pt wide.

    Newlines start new lines; a word wider than the line (a URL, an order number) is
    broken between characters.
    """
    register_fonts()
    width = max(width, size)  # at least one character per line, whatever happens

    def fits(s: str) -> bool:
        return pdfmetrics.stringWidth(s, font, size) <= width

    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            candidate = f"{line} {word}" if line else word
            if fits(candidate):
                line = candidate
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and not fits(word):
                lo, hi = 1, len(word) - 1  # the longest prefix that fits (at least 1 char)
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if fits(word[:mid]):
                        lo = mid
                    else:
                        hi = mid - 1
                lines.append(word[:lo])
                word = word[lo:]
            line = word
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


@dataclass(frozen=True)
class CalloutText:
    label: str
    lines: tuple[str, ...]
    height: float  # of the whole callout box, padding included


def callout_text(note: str, width: float, label: str = "Note",
                 max_height: float | None = None) -> CalloutText:
    """Wrap `note` for a callout box `width` pt wide; cut (with "…") to fit `max_height`."""
    inner = width - 2 * NOTE_PAD
    lines = wrap(displayable(note), inner)
    label = displayable(label).strip()
    head = NOTE_LABEL_LEADING if label else 0.0

    def height(k: int) -> float:
        return 2 * NOTE_PAD + head + k * NOTE_LEADING - (NOTE_LEADING - NOTE_SIZE)

    if max_height is not None and len(lines) > 1 and height(len(lines)) > max_height:
        k = max(1, int((max_height - 2 * NOTE_PAD - head + (NOTE_LEADING - NOTE_SIZE))
                       // NOTE_LEADING))
        if k < len(lines):
            last = lines[k - 1]
            while last and text_width(last + " …") > inner:
                last = last[:-1]
            lines = lines[: k - 1] + [last.rstrip() + " …"]
    return CalloutText(label, tuple(lines), height(max(1, len(lines))))


def callout_height(note: str, width: float, label: str = "Note",
                   max_height: float | None = None) -> float:
    return callout_text(note, width, label, max_height).height


# --- drawing -------------------------------------------------------------------------

Rectish = tuple[float, float, float, float]  # x, y (bottom), width, height in pt


def draw_callout(c, rect: Rectish, note: str, label: str = "Note") -> None:
    """The note in a black-bordered, light-filled box; text black, top-aligned."""
    register_fonts()
    x, y, w, h = rect
    text = callout_text(note, w, label, max_height=h)
    c.saveState()
    c.setFillColor(NOTE_FILL)
    c.setStrokeColor(NOTE_BORDER)
    c.setLineWidth(1.25)
    c.rect(x, y, w, h, stroke=1, fill=1)
    c.setFillColor(black)
    cursor = y + h - NOTE_PAD
    if text.label:
        cursor -= NOTE_LABEL_SIZE
        c.setFont(FONT_BOLD, NOTE_LABEL_SIZE)
        c.drawString(x + NOTE_PAD, cursor, text.label)
        cursor -= NOTE_LABEL_LEADING - NOTE_LABEL_SIZE
    c.setFont(FONT, NOTE_SIZE)
    cursor -= NOTE_SIZE
    for line in text.lines:
        c.drawString(x + NOTE_PAD, cursor, line)
        cursor -= NOTE_LEADING
    c.restoreState()


def draw_outline(c, rects: list[Rectish], stroke: float,
                 rows: list[Rectish | None] | None = None,
                 tight: list[tuple[bool, bool]] | None = None) -> None:
    """The highlight: rectangles stroked `stroke` pt wide, drawn in the blank space
    around the words (see highlight.outline): a white band with a dark red line in its
    middle, so it shows on light and dark screenshots and in black and white. A side
    marked tight (a word close by on the same row) is drawn only as ticks from the top
    and bottom edges down to the text row (`rows`), never through the word gap."""
    if stroke <= 0:
        return
    c.saveState()
    c.setLineJoin(0)
    c.setLineCap(0)
    for colour, width in ((white, stroke), (MARK, stroke * 0.6)):
        c.setStrokeColor(colour)
        c.setLineWidth(width)
        for k, (x, y, w, h) in enumerate(rects):
            row = rows[k] if rows and k < len(rows) else None
            lt, rt = tight[k] if tight and k < len(tight) else (False, False)
            top, bottom = y + h, y
            c.line(x, top, x + w, top)
            c.line(x, bottom, x + w, bottom)
            for side_x, is_tight in ((x, lt), (x + w, rt)):
                if not is_tight or row is None:
                    c.line(side_x, bottom, side_x, top)
                    continue
                _rx, ry, _rw, rh = row
                keep = 1.0  # pt off the row, anti-aliasing included
                if top - (ry + rh + keep) > 0:
                    c.line(side_x, top, side_x, ry + rh + keep)
                if ry - keep - bottom > 0:
                    c.line(side_x, bottom, side_x, ry - keep)
    c.restoreState()


LEADER_WIDTH = 1.5  # pt, the dark line
LEADER_HALO = 1.0  # pt of white on each side
HEAD_LENGTH = 6.0
HEAD_HALF = 2.75


def leader_clearance() -> float:
    """How far the leader's centre line must keep from any word."""
    return LEADER_WIDTH / 2 + LEADER_HALO + 0.5


def head_clearance() -> float:
    return HEAD_HALF + LEADER_HALO + 0.5


def draw_leader(c, points: list[tuple[float, float]]) -> None:
    """A polyline from the note to the highlight with an arrow head at its end."""
    if len(points) < 2:
        return
    (ax, ay), (ex, ey) = points[-2], points[-1]
    length = math.hypot(ex - ax, ey - ay)
    if length <= 0:
        return
    ux, uy = (ex - ax) / length, (ey - ay) / length
    head = min(HEAD_LENGTH, length)
    hx, hy = ex - ux * head, ey - uy * head  # base of the head
    body = list(points[:-1]) + [(hx, hy)]
    c.saveState()
    c.setLineJoin(1)
    c.setLineCap(1)
    for colour, width, grow in ((white, LEADER_WIDTH + 2 * LEADER_HALO, LEADER_HALO),
                                (MARK, LEADER_WIDTH, 0.0)):
        c.setStrokeColor(colour)
        c.setFillColor(colour)
        c.setLineWidth(width)
        p = c.beginPath()
        p.moveTo(*body[0])
        for pt in body[1:]:
            p.lineTo(*pt)
        c.drawPath(p, stroke=1, fill=0)
        half = HEAD_HALF + grow
        p = c.beginPath()
        p.moveTo(ex, ey)
        p.lineTo(hx - uy * half - ux * grow, hy + ux * half - uy * grow)
        p.lineTo(hx + uy * half - ux * grow, hy - ux * half - uy * grow)
        p.close()
        c.drawPath(p, stroke=0, fill=1)
    c.restoreState()


def fit_line(text: str, width: float, font: str = FONT_BOLD, size: float = HEADER_SIZE,
             min_size: float = 8.0) -> tuple[str, float]:
    """Shrink `text` down to `min_size` to fit `width`, then cut it with "…"."""
    text = " ".join(displayable(text).split())
    while size > min_size and text_width(text, font, size) > width:
        size -= 0.5
    if text_width(text, font, size) > width:
        while text and text_width(text + "…", font, size) > width:
            text = text[:-1]
        text += "…"
    return text, size


def draw_header(c, x: float, y: float, width: float, text: str) -> None:
    """Header text with its baseline at `y`, and a rule under it."""
    line, size = fit_line(text, width)
    c.saveState()
    c.setFillColor(black)
    c.setFont(FONT_BOLD, size)
    c.drawString(x, y, line)
    c.setStrokeColor(Color(0.55, 0.55, 0.55))
    c.setLineWidth(0.75)
    c.line(x, y - 7, x + width, y - 7)
    c.restoreState()


def draw_footer(c, x: float, y: float, width: float, text: str) -> None:
    line, size = fit_line(text, width, FONT, FOOTER_SIZE, 7.0)
    c.saveState()
    c.setFillColor(Color(0.2, 0.2, 0.2))
    c.setFont(FONT, size)
    c.drawCentredString(x + width / 2, y, line)
    c.restoreState()


DRAFT_BAND_H = 20.0  # the band at the top of the page, inside the 36 pt margin
DRAFT_STRIPE_W = 16.0  # the stripe down the left edge, inside the margin


def draft_margins(page_w: float, page_h: float) -> list[Rectish]:
    """Where the draft marks go: a band across the top, a stripe down the left side."""
    return [(0.0, page_h - 6 - DRAFT_BAND_H, page_w, DRAFT_BAND_H + 6),
            (0.0, 0.0, 6 + DRAFT_STRIPE_W, page_h)]


def draw_draft_stamp(c, page_w: float, page_h: float, text: str,
                     watermark: str = "DRAFT") -> None:
    """Draft marks in the margins only: `text` in a band at the top, and a stripe with
    `watermark` down the left side, so nothing on the page is covered."""
    register_fonts()
    line, size = fit_line(text, page_w - 80, FONT_BOLD, 11.0, 8.0)
    tw = text_width(line, FONT_BOLD, size)
    bw, bh = tw + 20, DRAFT_BAND_H
    bx, by = (page_w - bw) / 2, page_h - 6 - bh
    c.saveState()
    c.setFillColor(white)
    c.setStrokeColor(DRAFT)
    c.setLineWidth(1.5)
    c.roundRect(bx, by, bw, bh, 3, stroke=1, fill=1)
    c.setFillColor(DRAFT)
    c.setFont(FONT_BOLD, size)
    c.drawCentredString(page_w / 2, by + (bh - size) / 2 + 1.5, line)
    c.restoreState()
    mark = displayable(watermark).strip()
    if not mark:
        return
    c.saveState()
    c.setFillColor(DRAFT)
    c.rect(6, 0, 2, page_h, stroke=0, fill=1)  # the stripe down the left margin
    c.translate(6 + DRAFT_STRIPE_W - 4, page_h / 2)
    c.rotate(90)
    c.setFont(FONT_BOLD, 10)
    c.drawCentredString(0, 0, mark)  # once: it reads as one word in extracted text
    c.restoreState()


def draw_invisible_text(c, items: list[tuple[str, Rectish]]) -> None:
    """Invisible (render mode 3) text, each string stretched over its box.

    As OCRmyPDF's hOCR transform does: the font size follows the box height and the
    horizontal scaling (Tz) makes the string exactly as wide as the box, so selecting
    and searching land on the words in the picture.
    """
    register_fonts()
    c.saveState()  # the text render mode is graphics state: restore it afterwards
    for raw, (x, y, w, h) in items:
        text = searchable(raw).strip()
        if not text or w <= 0 or h <= 0:
            continue
        size = max(1.0, h * 0.8)
        natural = pdfmetrics.stringWidth(text, FONT, size)
        if natural <= 0:
            continue
        t = c.beginText()
        t.setTextRenderMode(3)
        t.setFont(FONT, size)
        t.setHorizScale(min(1000.0, max(1.0, 100.0 * w / natural)))
        t.setTextOrigin(x, y + h * 0.22)
        t.textOut(text)
        c.drawText(t)
    c.restoreState()
