"""Where a note's highlight phrase is, word by word, and the outline that marks it.

Pure functions over OCR lines (source px, origin top-left); no drawing.

`locate(lines, phrase)` finds the phrase in the screenshot's text, within one line or
running on into the next line of the same bubble, and returns the words it covers:
whole words, from the OCR's word boxes (`OcrLine.words`, fitted to the ink), never a
guess of where a character sits inside a line.

`outline(hl, lines)` gives one rectangle per line of the phrase, drawn in the blank
space around its words: each edge sits in the middle of the gap to the nearest word
beside, above or below it (or a little out from the words where nothing is near), so
a stroke narrower than the gap crosses no glyph. `stroke_px` says how wide a stroke
that gap allows.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence


from .ocr.base import Box, OcrLine
from .spans import align_phrase
from .ocr.words import estimate_words

MIN_SCORE = 90.0  # rapidfuzz partial ratio for a phrase with a misread letter
TIGHT = 0.9  # a neighbour closer than this x the text height: a word gap, not free space


@dataclass(frozen=True)
class Highlight:
    phrase: str
    text: str  # the words as read on the screenshot
    parts: tuple[Box, ...]  # per line of the phrase: the union of its words (source px)
    lines: tuple[int, ...]  # index in the OCR lines of each part
    score: float

    @property
    def box(self) -> Box:
        out = self.parts[0]
        for b in self.parts[1:]:
            out = out.union(b)
        return out


def words_of(line: OcrLine) -> list[tuple[str, Box, int, int]]:
    """(word, box, start, end) with start/end the word's place in `line.text`."""
    words = list(line.words) or estimate_words(line)
    out, pos = [], 0
    for text, box in words:
        at = line.text.find(text, pos)
        if at < 0:  # the words do not spell the line (should not happen): estimate
            return [(t, b, s, s + len(t)) for (t, b), s in
                    zip(estimate_words(line), _starts(line.text))]
        out.append((text, box, at, at + len(text)))
        pos = at + len(text)
    return out


def _starts(text: str) -> list[int]:
    out, pos = [], 0
    for w in text.split():
        pos = text.index(w, pos)
        out.append(pos)
        pos += len(w)
    return out


def _fold(text: str) -> list[tuple[str, int]]:
    """Letters and digits only, lowercase and accent-free, each with its index in text."""
    out = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(c):
                continue
            for c2 in c.casefold():
                if c2.isalnum():
                    out.append((c2, i))
    return out


def _follows(a: OcrLine, b: OcrLine) -> bool:
    """Is `b` the next line of the same block as `a` (just below, overlapping in x)?"""
    h = max(1.0, min(a.box.height, b.box.height))
    gap = b.box.y0 - a.box.y1
    overlap = min(a.box.x1, b.box.x1) - max(a.box.x0, b.box.x0)
    return -0.5 * h <= gap <= 0.8 * h and overlap > 0


def locate(lines: Sequence[OcrLine], phrase: str) -> Highlight | None:
    """The phrase's words on the screenshot (module doc), or None if it is not there."""
    target = "".join(c for c, _ in _fold(phrase))
    if not target:
        return None
    best: tuple[float, int, list] | None = None
    for i in range(len(lines)):
        # the stream of this line and, if it follows on, the next one
        span = [i]
        if i + 1 < len(lines) and _follows(lines[i], lines[i + 1]):
            span.append(i + 1)
        chars = [(c, k, pos) for k in span for c, pos in _fold(lines[k].text)]
        folded = "".join(c for c, _, _ in chars)
        found = align_phrase(target, folded, MIN_SCORE)
        if found is None:
            continue
        score, start, end = found
        if chars[start][1] != i:  # found wholly in the next line: that line's own turn
            continue
        if best is None or score > best[0]:
            best = (score, i, chars[start:end])
            if score == 100.0:
                break
    if best is None:
        return None
    score, _i, hit = best
    parts, idx, texts = [], [], []
    for k in dict.fromkeys(k for _c, k, _p in hit):
        positions = [p for _c, kk, p in hit if kk == k]
        lo, hi = min(positions), max(positions) + 1
        words = [(t, b) for t, b, s, e in words_of(lines[k]) if s < hi and e > lo]
        if not words:
            continue
        box = words[0][1]
        for _t, b in words[1:]:
            box = box.union(b)
        parts.append(box)
        idx.append(k)
        texts.append(" ".join(t for t, _ in words))
    if not parts:
        return None
    return Highlight(phrase, " ".join(texts), tuple(parts), tuple(idx), score)


# --- the outline ---------------------------------------------------------------------

@dataclass(frozen=True)
class Outline:
    rects: tuple[Box, ...]  # source px; the stroke is centred on these edges
    stroke_px: float  # the widest stroke (source px) that stays inside every gap
    # per rect: the words it rings (its text row), and whether its left / right side
    # has a word close by on the same row. There the side is not drawn down the row
    # (a bar in a word gap glues the words together for a reader and for OCR): only
    # short ticks from the top and bottom edges down to the row.
    rows: tuple[Box, ...] = ()
    tight: tuple[tuple[bool, bool], ...] = ()


def all_word_boxes(lines: Sequence[OcrLine]) -> list[Box]:
    return [b for line in lines for _t, b, _s, _e in words_of(line)]


def text_blocks(lines: Sequence[OcrLine], parts: Sequence[Box]) -> list[Box]:
    """What a leader must go around: each line's words as one block (a leader in a word
    gap would cut a sentence in two), except that on a highlighted line the words left
    and right of the phrase are two blocks and the phrase itself is left to the outline."""
    out = []
    for line in lines:
        boxes = [b for _t, b, _s, _e in words_of(line)]
        if not boxes:
            continue
        mine = [p for p in parts if _rows_meet(p, line.box) and _cols_meet(p, line.box)]
        groups = [boxes]
        if mine:
            p = mine[0]
            groups = [[b for b in boxes if b.x1 <= p.x0 + 0.5],
                      [b for b in boxes if b.x0 >= p.x1 - 0.5]]
        for g in groups:
            if g:
                u = g[0]
                for b in g[1:]:
                    u = u.union(b)
                out.append(u)
    return out


def outline(hl: Highlight, lines: Sequence[OcrLine], *, pad: float | None = None,
            others: Sequence[Box] | None = None) -> Outline:
    """Rectangles around each part of `hl`, their edges in the gaps (module doc).

    `pad`: how far out from the words an edge goes where nothing is near (default: a
    third of the text height). `others`: the boxes to keep clear of (default: every
    word of `lines`).
    """
    boxes = list(others) if others is not None else all_word_boxes(lines)
    rects, gaps, tight = [], [], []
    for part in hl.parts:
        h = part.height
        p = h / 3 if pad is None else pad
        inside = [b for b in boxes if _inside(b, part)]
        rest = [b for b in boxes if b not in inside]
        left = [part.x0 - b.x1 for b in rest if _rows_meet(b, part) and b.x1 <= part.x0 + 0.5]
        right = [b.x0 - part.x1 for b in rest if _rows_meet(b, part) and b.x0 >= part.x1 - 0.5]
        near_l, near_r = _nearest(left), _nearest(right)
        tight_l = near_l is not None and near_l < TIGHT * h
        tight_r = near_r is not None and near_r < TIGHT * h
        # beside a close word the side is at the word's own edge and drawn only above
        # and below the row (ticks): the word gap stays empty
        x0 = part.x0 - (0.0 if tight_l else _half(left, p))
        x1 = part.x1 + (0.0 if tight_r else _half(right, p))
        span = Box(x0, part.y0, x1, part.y1)
        above = [part.y0 - b.y1 for b in rest if _cols_meet(b, span) and b.y1 <= part.y0 + 0.5]
        below = [b.y0 - part.y1 for b in rest if _cols_meet(b, span) and b.y0 >= part.y1 - 0.5]
        y0 = part.y0 - _half(above, p)
        y1 = part.y1 + _half(below, p)
        rects.append(Box(x0, y0, x1, y1))
        tight.append((tight_l, tight_r))
        # an edge sits mid-gap (or p out): a stroke up to the gap's width stays in it
        gaps += [min(g, 2 * p) for g in (_nearest(left), _nearest(right), _nearest(above),
                                          _nearest(below)) if g is not None]
        gaps.append(2 * p)
    return Outline(tuple(rects), 0.8 * max(0.0, min(gaps)), tuple(hl.parts), tuple(tight))


def _nearest(gaps: list[float]) -> float | None:
    near = [g for g in gaps if g >= 0]
    return min(near) if near else None


def _half(gaps: list[float], pad: float) -> float:
    near = [g for g in gaps if g >= 0]
    return min(pad, min(near) / 2) if near else pad


def _inside(b: Box, part: Box) -> bool:
    return b.x0 >= part.x0 - 0.5 and b.x1 <= part.x1 + 0.5 and \
        b.y0 >= part.y0 - 0.5 and b.y1 <= part.y1 + 0.5


def _rows_meet(a: Box, b: Box) -> bool:
    return min(a.y1, b.y1) > max(a.y0, b.y0)


def _cols_meet(a: Box, b: Box) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0)
