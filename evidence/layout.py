"""Page geometry: where each screenshot (or each slice of a tall one) goes on a page.

Pure functions, no drawing. Units: source pixels (origin top-left, as OCR boxes) and PDF
points (1/72 in, origin bottom-left).

Every page has the same frame: 36 pt margins, a header band at the top (exhibit number,
date, source file), a footer band at the bottom (page X of Y · dispute id), and the
content area between them. On an exhibit page the content area holds the screenshot and,
on one page of the exhibit, the note callout:
- "side": the screenshot on the left, the callout in a column on its right. Chosen when
  the screenshot, shown big enough, leaves a column at least MIN_SIDE pt wide: portrait
  phone shots.
- "below": the callout under the screenshot, full width: landscape desktop shots.

Legibility comes before fitting on one page. The legibility floor is a scale (pt per
source px) at which a line of the screenshot's text is at least `min_text_pt` tall; the
text line height in px comes from the OCR boxes (`typical_text_px`) or, without them, is
estimated as 1/24 of the image width (body text on a phone screenshot). A screenshot that
fits on one page at or above that scale takes one page; a taller one (a scrolling capture,
1170×20000) is split across pages at blank rows (`find_cut_rows`) and drawn at the scale
where its text is `split_text_pt` tall (12 pt, what reviewers' guides ask), never shrunk
to a sliver. A screenshot wider than tall (a desktop capture) goes on the same paper
turned landscape when that shows it larger; the screenshot itself is never rotated.

Like img2pdf, absurd inputs (non-positive or gigantic sizes, pages smaller than 2 in or
larger than PDF's 200 in) are refused with LayoutError instead of producing garbage.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import EvidenceError
from .ocr.base import Box, OcrLine

PAGE_SIZES: dict[str, tuple[float, float]] = {
    "letter": (612.0, 792.0),
    "a4": (595.2756, 841.8898),
}

MARGIN = 36.0
HEADER_H = 30.0  # header text and its rule, above the content area
FOOTER_H = 22.0
GAP = 14.0  # between the screenshot and the callout
MIN_SIDE = 170.0  # narrowest callout column beside the screenshot
MAX_SIDE = 260.0  # widest callout column beside the screenshot
NOTE_MAX_FRACTION = 0.45  # of the content height, for a callout under the screenshot

DEFAULT_TEXT_FRACTION = 1 / 24  # text line height / image width, phone screenshots
MIN_TEXT_PT = 10.0
SPLIT_TEXT_PT = 12.0

MIN_PAGE_PT = 144.0  # 2 in
MAX_PAGE_PT = 14400.0  # 200 in, PDF's limit on page size
MAX_IMAGE_PX = 200_000  # on either side
MAX_SLICES = 100  # pages for one screenshot


class LayoutError(EvidenceError):
    """A page or image size that makes no sense (zero, negative, absurdly large)."""


@dataclass(frozen=True)
class Rect:
    """A rectangle on the page in points; (x, y) is the bottom-left corner."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> float:
        return self.y + self.height

    @property
    def right(self) -> float:
        return self.x + self.width

    def tuple(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.width, self.height)

    def contains(self, other: "Rect", tol: float = 0.01) -> bool:
        return (other.x >= self.x - tol and other.y >= self.y - tol
                and other.right <= self.right + tol and other.top <= self.top + tol)


@dataclass(frozen=True)
class Frame:
    """The fixed parts of every page."""

    page: tuple[float, float]
    content: Rect
    header_baseline: float
    footer_baseline: float

    @property
    def width(self) -> float:
        return self.page[0]

    @property
    def height(self) -> float:
        return self.page[1]


@dataclass(frozen=True)
class Slice:
    """One page's share of a screenshot, and where it goes on that page.

    Rows [top, bottom) of the source image (source px), drawn into `image_rect` at
    `scale` pt per source px. `note_rect` is where the note callout goes, on the one
    slice of the exhibit that carries it (None on the others, and when there is no note).
    """

    top: int
    bottom: int
    source_width: int
    image_rect: Rect
    scale: float
    note_rect: Rect | None = None
    index: int = 0  # 0-based position within the exhibit
    count: int = 1
    page: tuple[float, float] | None = None  # (w, h) pt of this page; None: the document's

    @property
    def height_px(self) -> int:
        return self.bottom - self.top

    def to_page(self, x_px: float, y_px: float) -> tuple[float, float]:
        """A source pixel position (x, y from top-left of the whole image) on the page."""
        r = self.image_rect
        return r.x + x_px * self.scale, r.top - (y_px - self.top) * self.scale

    def box_to_page(self, box: Box, clip: bool = True) -> Rect | None:
        """A source-px box on the page; clipped to this slice, None if outside it."""
        y0, y1 = box.y0, box.y1
        x0, x1 = box.x0, box.x1
        if clip:
            y0, y1 = max(y0, self.top), min(y1, self.bottom)
            x0, x1 = max(x0, 0.0), min(x1, float(self.source_width))
        if y1 <= y0 or x1 <= x0:
            return None
        left, top = self.to_page(x0, y0)
        right, bottom = self.to_page(x1, y1)
        return Rect(left, bottom, right - left, top - bottom)

    def line_on_page(self, line: OcrLine) -> Rect | None:
        """Where an OCR line's box goes; None unless most of it is on this slice."""
        mid = (line.box.y0 + line.box.y1) / 2
        if not (self.top <= mid < self.bottom):
            return None
        return self.box_to_page(line.box)


def _finite_positive(v: float) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def page_size(name: str) -> tuple[float, float]:
    """(width, height) in points of a portrait page named "letter" or "a4"."""
    key = str(name).strip().lower()
    if key not in PAGE_SIZES:
        raise LayoutError(f"unknown page size {name!r}; use one of: {', '.join(PAGE_SIZES)}")
    return PAGE_SIZES[key]


def check_page(page: tuple[float, float] | str) -> tuple[float, float]:
    """A page size as (w, h) points, refusing nonsense. Accepts a name too."""
    if isinstance(page, str):
        return page_size(page)
    try:
        w, h = (float(v) for v in page)
    except (TypeError, ValueError):
        raise LayoutError(f"page size must be a name or (width, height) in pt, not {page!r}") from None
    for v in (w, h):
        if not _finite_positive(v) or not (MIN_PAGE_PT <= v <= MAX_PAGE_PT):
            raise LayoutError(f"page size {w}x{h} pt is outside {MIN_PAGE_PT:g}..{MAX_PAGE_PT:g} pt")
    return w, h


def page_frame(page: tuple[float, float] | str = "letter") -> Frame:
    w, h = check_page(page)
    content = Rect(MARGIN, MARGIN + FOOTER_H, w - 2 * MARGIN, h - 2 * MARGIN - HEADER_H - FOOTER_H)
    return Frame((w, h), content, header_baseline=h - MARGIN - 14.0,
                 footer_baseline=MARGIN + 4.0)


def typical_text_px(lines: Iterable[OcrLine]) -> float | None:
    """The median OCR line height in source px, or None without lines."""
    heights = [ln.box.height for ln in lines if ln.box.height > 0 and ln.text.strip()]
    return float(statistics.median(heights)) if heights else None


# --- cut rows ------------------------------------------------------------------------

def find_cut_rows(image, tolerance: int = 6, edge: float = 0.02) -> list[int]:
    """Rows of `image` (a PIL image) that are blank: one uniform colour across the width.

    The leftmost and rightmost `edge` fraction of the width are ignored (scroll bars).
    `tolerance` is the largest spread of grey levels (0-255) a row may have. A tall
    screenshot can be cut at any of these rows without cutting through text.
    """
    import numpy as np

    grey = np.asarray(image.convert("L"), dtype=np.int16)
    if grey.ndim != 2 or grey.size == 0:
        return []
    w = grey.shape[1]
    lo, hi = int(w * edge), w - int(w * edge)
    if hi - lo < 1:
        lo, hi = 0, w
    band = grey[:, lo:hi]
    spread = band.max(axis=1) - band.min(axis=1)
    return [int(r) for r in np.flatnonzero(spread <= tolerance)]


def _best_cut(cuts: Sequence[int], lo: int, hi: int) -> int | None:
    """The row to cut at in (lo, hi]: the middle of the last blank run that ends there."""
    import bisect

    i = bisect.bisect_right(cuts, hi) - 1
    if i < 0 or cuts[i] <= lo:
        return None
    end = cuts[i]
    start = end
    while i > 0 and cuts[i - 1] == start - 1 and cuts[i - 1] > lo:
        i -= 1
        start = cuts[i]
    return (start + end + 1) // 2


# --- planning ------------------------------------------------------------------------

def _note_height(note: str, width: float, max_height: float, label: str) -> float:
    from .annotate import callout_height

    return callout_height(note, width, label, max_height=max_height)


def plan_exhibit(image_w: int, image_h: int, cut_rows: Sequence[int] = (),
                 page: tuple[float, float] | str = "letter", *, note: str | None = None,
                 highlight: Box | None = None, text_px: float | None = None,
                 min_text_pt: float = MIN_TEXT_PT, split_text_pt: float = SPLIT_TEXT_PT,
                 note_label: str = "Note", turn: bool = True) -> list[Slice]:
    """Plan the pages of one screenshot: one Slice per page.

    A screenshot wider than tall goes on the same paper turned landscape when that
    shows it larger without taking more pages (`turn=False` keeps the page as given);
    its slices then carry `page` = the landscape (w, h).
    """
    upright = _plan(image_w, image_h, cut_rows, page, note=note, highlight=highlight,
                    text_px=text_px, min_text_pt=min_text_pt, split_text_pt=split_text_pt,
                    note_label=note_label)
    w, h = check_page(page)
    if not turn or image_w <= image_h or w >= h:
        return upright
    # On the turned page one page is enough whenever it shows the text at least as large
    # as the upright page does (whose floor is its width).
    tp = text_px if text_px is not None and _finite_positive(text_px) \
        else image_w * DEFAULT_TEXT_FRACTION
    floor = min(min_text_pt, upright[0].scale * tp) if len(upright) == 1 else min_text_pt
    turned = _plan(image_w, image_h, cut_rows, (h, w), note=note, highlight=highlight,
                   text_px=text_px, min_text_pt=floor, split_text_pt=split_text_pt,
                   note_label=note_label)
    if len(turned) <= len(upright) and turned[0].scale > upright[0].scale * 1.02:
        return [dataclasses.replace(s, page=(h, w)) for s in turned]
    return upright


def _plan(image_w: int, image_h: int, cut_rows: Sequence[int] = (),
          page: tuple[float, float] | str = "letter", *, note: str | None = None,
          highlight: Box | None = None, text_px: float | None = None,
          min_text_pt: float = MIN_TEXT_PT, split_text_pt: float = SPLIT_TEXT_PT,
          note_label: str = "Note") -> list[Slice]:
    """`plan_exhibit` on a page of exactly this size (see there).

    `cut_rows`: blank rows from `find_cut_rows` (sorted). `note`: the exhibit's note, to
    leave room for its callout. `highlight`: a box (source px) to draw; the callout goes
    on the page that shows it. `text_px`: the screenshot's text line height in source px
    (`typical_text_px` of its OCR lines), if known.
    """
    if isinstance(image_w, bool) or isinstance(image_h, bool):
        raise LayoutError("image size must be whole numbers")
    try:
        iw, ih = int(image_w), int(image_h)
    except (TypeError, ValueError):
        raise LayoutError(f"image size must be whole numbers, not {image_w!r}x{image_h!r}") from None
    if iw != image_w or ih != image_h or iw < 1 or ih < 1 or iw > MAX_IMAGE_PX or ih > MAX_IMAGE_PX:
        raise LayoutError(f"image size {image_w}x{image_h} px is not a sane screenshot size")
    if not (_finite_positive(min_text_pt) and _finite_positive(split_text_pt)):
        raise LayoutError("text sizes must be positive")
    frame = page_frame(page)
    area = frame.content
    note = note if note and note.strip() else None

    if text_px is None or not _finite_positive(text_px):
        text_px = iw * DEFAULT_TEXT_FRACTION
    width_fit = area.width / iw
    floor = min(min_text_pt / text_px, width_fit)
    note_max = area.height * NOTE_MAX_FRACTION

    def side_width(scale: float) -> float:
        return min(MAX_SIDE, area.width - iw * scale - GAP)

    def below_height() -> float:
        return _note_height(note, area.width, note_max, note_label) + GAP if note else 0.0

    # One page?
    if note:
        side_scale = min(area.height / ih, (area.width - MIN_SIDE - GAP) / iw)
        below_scale = min((area.height - below_height()) / ih, width_fit)
    else:
        side_scale = -1.0
        below_scale = min(area.height / ih, width_fit)
    one_page = max(side_scale, below_scale)
    if one_page >= floor * 0.999:
        scale = one_page
        mode = "side" if note and side_scale >= below_scale else "below"
    else:
        scale = max(floor, min(split_text_pt / text_px, width_fit))
        mode = "side" if note and side_width(scale) >= MIN_SIDE else "below"

    note_h_below = below_height() if note and mode == "below" else 0.0
    cuts = sorted(set(int(r) for r in cut_rows if 0 < r < ih))
    cut_set = set(cuts)
    overlap = 0

    slices: list[tuple[int, int, bool]] = []  # top, bottom, carries the note
    note_placed = note is None
    top = 0
    while top < ih:
        if len(slices) >= MAX_SLICES:
            raise LayoutError(f"image {iw}x{ih} px would need more than {MAX_SLICES} pages")
        full_px = max(1, int(area.height / scale + 1e-6))
        with_note_px = max(1, int((area.height - note_h_below) / scale + 1e-6))
        # The note goes on the first page that reaches the highlight (or the first page).
        here = not note_placed and (highlight is None or highlight.y0 < top + full_px)
        avail = with_note_px if here else full_px
        if top + avail >= ih:
            bottom, overlap = ih, 0
        else:
            cut = _best_cut(cuts, top + avail // 2, top + avail)
            if cut is not None:
                bottom, overlap = cut, 0
            else:  # no blank row: cut through, and repeat a strip on the next page
                bottom, overlap = top + avail, min(avail // 20, 60)
        slices.append((top, bottom, here))
        note_placed = note_placed or here
        top = bottom - overlap if bottom < ih else ih
        # nothing but blank rows left: no page for them
        if top < ih and all(r in cut_set for r in range(top, ih)):
            break

    if not note_placed:  # the highlight lies in trailing blank rows: plan without it
        return _plan(iw, ih, cuts, page, note=note, highlight=None, text_px=text_px,
                     min_text_pt=min_text_pt, split_text_pt=split_text_pt,
                     note_label=note_label)
    out: list[Slice] = []
    count = len(slices)
    for index, (top, bottom, here) in enumerate(slices):
        w_pt, h_pt = iw * scale, (bottom - top) * scale
        if mode == "side" and note:
            x = area.x
        else:
            x = area.x + (area.width - w_pt) / 2
        image_rect = Rect(x, area.top - h_pt, w_pt, h_pt)
        note_rect = None
        if here and note:
            if mode == "side":
                col_x = image_rect.right + GAP
                col_w = min(MAX_SIDE, area.right - col_x)
                nh = _note_height(note, col_w, area.height, note_label)
                centre = area.top - nh / 2
                if highlight is not None:
                    hl = Slice(top, bottom, iw, image_rect, scale).box_to_page(highlight)
                    if hl is not None:
                        centre = hl.y + hl.height / 2
                ny = min(max(centre - nh / 2, area.y), area.top - nh)
                note_rect = Rect(col_x, ny, col_w, nh)
            else:
                nh = note_h_below - GAP
                note_rect = Rect(area.x, image_rect.y - GAP - nh, area.width, nh)
        out.append(Slice(top, bottom, iw, image_rect, scale, note_rect, index, count))
    return out
