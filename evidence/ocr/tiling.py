"""Reading tall screenshots in strips, for any engine.

A scrolling screenshot can be 1170 x 20000 px. Every engine scales its input down to a
fixed size before detecting text (rapidocr caps the whole image at 4000 px and, with our
settings, the detector at 1280), so text on such an image shrinks to nothing. Images
taller than TALL_RATIO x their width are cut into overlapping horizontal strips about
STRIP_RATIO x the width tall; each strip is read on its own, its boxes are shifted back
into the image's coordinates, and the lines read twice in an overlap are dropped.

In an overlap, two lines from different strips are the same line when their boxes
overlap well (or they have the same text and their boxes touch). Of the two we keep the
one farther from its strip's cut edge: a line cut by a strip edge is read from the
strip that holds all of it (the overlap is taller than a line of text).
"""
from __future__ import annotations

import math

from PIL import Image

from .base import Engine, OcrLine
from .words import with_words

# Height/width above which an image is read in strips. Not lower: 20:9 and 21:9 phones
# (1080x2400 = 2.22, 1644x3840 = 2.34) give single-screen shots that read fine whole
# (bench/ocr_settings.py) and strips would cost them twice the time.
TALL_RATIO = 2.4
STRIP_RATIO = 1.5  # strip height / image width
MIN_OVERLAP = 120  # px; the overlap is max(MIN_OVERLAP, width / 8)
# Part of the OCR cache key: change it when tiling changes the output.
TILING_KEY = f"tiles={TALL_RATIO}/{STRIP_RATIO}/{MIN_OVERLAP}/w8"


def tile_spans(width: int, height: int, *, tall_ratio: float = TALL_RATIO,
               strip_ratio: float = STRIP_RATIO,
               min_overlap: int = MIN_OVERLAP) -> list[tuple[int, int]]:
    """The (top, bottom) rows of each strip; [(0, height)] when no tiling is needed.

    Strips all have the same height, cover the image, and each overlaps the next by at
    least the overlap; they are spread evenly, so the last one is not a sliver.
    """
    if width <= 0 or height <= tall_ratio * width:
        return [(0, height)]
    overlap = max(min_overlap, width // 8)
    strip = max(int(round(strip_ratio * width)), 2 * overlap + 1)
    if strip >= height:
        return [(0, height)]
    n = math.ceil((height - overlap) / (strip - overlap))
    step = (height - strip) / (n - 1)
    spans = [(int(round(i * step)), int(round(i * step)) + strip) for i in range(n)]
    spans[-1] = (height - strip, height)
    return spans


def recognize_tiled(engine: Engine, image: Image.Image) -> list[OcrLine]:
    """`engine.recognize`, strip by strip for a tall image; lines in reading order, with
    word boxes fitted to the ink (`words.with_words`)."""
    width, height = image.size
    spans = tile_spans(width, height)
    if len(spans) == 1:
        return with_words(image, reading_order(engine.recognize(image)))
    tiles = []
    for top, bottom in spans:
        strip = image.crop((0, top, width, bottom))
        lines = [line.shifted(0, top) for line in engine.recognize(strip)]
        tiles.append((top, bottom, lines))
    return with_words(image, reading_order(merge_tiles(tiles)))


def merge_tiles(tiles: list[tuple[int, int, list[OcrLine]]]) -> list[OcrLine]:
    """Lines from all strips (boxes already in image coordinates), each line once.

    `tiles` is [(top, bottom, lines)] in order, top to bottom.
    """
    candidates = []  # (margin, confidence, order, tile index, line)
    last = len(tiles) - 1
    for i, (top, bottom, lines) in enumerate(tiles):
        for line in lines:
            margin = math.inf
            if i > 0:
                margin = min(margin, line.box.y0 - top)
            if i < last:
                margin = min(margin, bottom - line.box.y1)
            candidates.append((margin, line.confidence, len(candidates), i, line))
    # Best first: farthest from a cut, then most confident, then first read.
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
    kept: list[tuple[int, int, OcrLine]] = []
    for _margin, _conf, order, i, line in candidates:
        if any(j != i and same_line(line, other) for _o, j, other in kept):
            continue
        kept.append((order, i, line))
    kept.sort(key=lambda k: k[0])
    return [line for _o, _i, line in kept]


def same_line(a: OcrLine, b: OcrLine) -> bool:
    """Do two lines read from different strips show the same text on the image?"""
    ix = min(a.box.x1, b.box.x1) - max(a.box.x0, b.box.x0)
    iy = min(a.box.y1, b.box.y1) - max(a.box.y0, b.box.y0)
    if ix <= 0 or iy <= 0:
        return False
    if _norm(a.text) == _norm(b.text):
        return True
    min_h = max(1e-6, min(a.box.height, b.box.height))
    min_w = max(1e-6, min(a.box.width, b.box.width))
    return iy / min_h >= 0.5 and ix / min_w >= 0.3


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom; left to right within a row (tops closer than half a line)."""
    out = sorted(lines, key=lambda line: (line.box.y0, line.box.x0))
    for i in range(1, len(out)):
        j = i
        while j > 0:
            a, b = out[j - 1], out[j]
            tol = max(4.0, 0.5 * min(a.box.height, b.box.height))
            if abs(b.box.y0 - a.box.y0) < tol and b.box.x0 < a.box.x0:
                out[j - 1], out[j] = b, a
                j -= 1
            else:
                break
    return out


__all__ = ["TALL_RATIO", "STRIP_RATIO", "MIN_OVERLAP", "TILING_KEY", "tile_spans",
           "recognize_tiled", "merge_tiles", "same_line", "reading_order"]
