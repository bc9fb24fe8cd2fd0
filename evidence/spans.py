"""Where a part of an OCR line is: engines give one box per line, not per character."""
from __future__ import annotations

from rapidfuzz import fuzz

from .ocr.base import Box


def align_phrase(target: str, folded: str, min_score: float) -> tuple[float, int, int] | None:
    """Where folded `target` stands in folded line text: (score, start, end), exactly
    (score 100) or by rapidfuzz's best partial alignment scoring at least `min_score`."""
    at = folded.find(target)
    if at >= 0:
        return 100.0, at, at + len(target)
    if len(folded) < len(target) - 1:
        return None
    al = fuzz.partial_ratio_alignment(target, folded)
    if al is None or al.score < min_score:
        return None
    return al.score, al.dest_start, al.dest_end


def sub_box(box: Box | None, n: int, start: int, end: int) -> Box | None:
    """The part of `box` holding characters [start, end) of an n-character line,
    estimated proportionally by character position."""
    if box is None or n <= 0:
        return box
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    w = box.width
    return Box(box.x0 + w * start / n, box.y0, box.x0 + w * end / n, box.y1)
