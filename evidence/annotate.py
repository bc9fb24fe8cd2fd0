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
both prefer opaque fills, and the stamp is an outline so it hides nothing.

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
DRAFT_WATERMARK = HexColor("#E6A3A3")
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


def draw_highlight(c, rect: Rectish, pad: float = 3.0) -> None:
    """A bold rectangle around `rect`, with a white halo so it shows on dark screenshots."""
    x, y, w, h = rect
    c.saveState()
    for colour, width in ((white, 6.0), (MARK, 3.0)):
        c.setStrokeColor(colour)
        c.setLineWidth(width)
        c.rect(x - pad, y - pad, w + 2 * pad, h + 2 * pad, stroke=1, fill=0)
    c.restoreState()


def _nearest(px: float, py: float, rect: Rectish) -> tuple[float, float]:
    x, y, w, h = rect
    return min(max(px, x), x + w), min(max(py, y), y + h)


def draw_arrow(c, source: Rectish, target: Rectish, pad: float = 3.0) -> None:
    """An arrow from the edge of `source` (the callout) to the edge of `target`."""
    tx, ty, tw, th = target
    target = (tx - pad - 2, ty - pad - 2, tw + 2 * pad + 4, th + 2 * pad + 4)
    sx, sy, sw, sh = source
    ex, ey = _nearest(sx + sw / 2, sy + sh / 2, target)
    bx, by = _nearest(ex, ey, source)
    length = math.hypot(ex - bx, ey - by)
    if length < 12:
        return
    ux, uy = (ex - bx) / length, (ey - by) / length
    head, half = 13.0, 6.0
    hx, hy = ex - ux * head, ey - uy * head  # base of the arrow head
    c.saveState()
    for colour, width, grow in ((white, 6.0, 2.0), (MARK, 3.0, 0.0)):
        c.setStrokeColor(colour)
        c.setFillColor(colour)
        c.setLineWidth(width)
        c.line(bx, by, hx, hy)
        p = c.beginPath()
        p.moveTo(ex + ux * grow, ey + uy * grow)
        p.lineTo(hx - uy * (half + grow) - ux * grow, hy + ux * (half + grow) - uy * grow)
        p.lineTo(hx + uy * (half + grow) - ux * grow, hy - ux * (half + grow) - uy * grow)
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


def draw_draft_stamp(c, page_w: float, page_h: float, text: str,
                     watermark: str = "DRAFT") -> None:
    """A banner in the top margin with `text`, and a large outlined diagonal watermark.

    The watermark is stroked, not filled (text render mode 1), so it hides nothing and
    needs no transparency.
    """
    register_fonts()
    line, size = fit_line(text, page_w - 80, FONT_BOLD, 11.0, 8.0)
    tw = text_width(line, FONT_BOLD, size)
    bw, bh = tw + 20, size + 9
    bx, by = (page_w - bw) / 2, page_h - 10 - bh
    c.saveState()
    mark = displayable(watermark).strip()
    if mark:
        big = min(130.0, 0.8 * math.hypot(page_w, page_h) / max(1.0, text_width(mark, FONT_BOLD, 1.0)))
        t = c.beginText()
        t.setTextRenderMode(1)
        t.setFont(FONT_BOLD, big)
        c.setStrokeColor(DRAFT_WATERMARK)
        c.setLineWidth(1.5)
        c.translate(page_w / 2, page_h / 2)
        c.rotate(math.degrees(math.atan2(page_h, page_w)))
        t.setTextOrigin(-text_width(mark, FONT_BOLD, big) / 2, -big * 0.35)
        t.textOut(mark)
        c.drawText(t)
    c.restoreState()
    c.saveState()
    c.setFillColor(white)
    c.setStrokeColor(DRAFT)
    c.setLineWidth(1.5)
    c.roundRect(bx, by, bw, bh, 3, stroke=1, fill=1)
    c.setFillColor(DRAFT)
    c.setFont(FONT_BOLD, size)
    c.drawCentredString(page_w / 2, by + 5.5, line)
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
