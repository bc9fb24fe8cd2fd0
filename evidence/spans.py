"""Where a part of an OCR line is: engines give one box per line, not per character."""
from __future__ import annotations

from .ocr.base import Box


def sub_box(box: Box | None, n: int, start: int, end: int) -> Box | None:
    """The part of `box` holding characters [start, end) of an n-character line,
    estimated proportionally by character position."""
    if box is None or n <= 0:
        return box
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    w = box.width
    return Box(box.x0 + w * start / n, box.y0, box.x0 + w * end / n, box.y1)
