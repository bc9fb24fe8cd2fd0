"""Word boxes that hug the ink, for every engine.

A highlight must outline a phrase without crossing a glyph, so it needs each word's
extent on the image, not an estimate from character counts. rapidocr gives word boxes
from the recogniser's character positions (good to a few pixels); easyocr gives none,
so a word's place is first estimated from its share of the line's characters. Either
way the estimate is then fitted to the pixels of the line:

- columns of the line box that hold ink (pixels far from the line's background colour)
  are found; an estimated edge that falls inside a run of ink columns is moved out to
  the end of that run, so a word never ends in the middle of a letter;
- the box is then shrunk to the ink it holds, and grown up or down while the rows just
  outside it still hold ink in the word's columns (ascenders and descenders that the
  line box clipped), by at most half a line.

Pure numpy over a greyscale copy; no model runs. Lines keep their own boxes.
"""
from __future__ import annotations

import numpy as np

from .base import Box, OcrLine

# Part of the OCR cache key: change it when word fitting changes the output.
WORDS_KEY = "words=ink1"
MIN_CONTRAST = 24  # grey levels; a pixel this far from the background is ink


def grey_array(image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.int16)


def estimate_words(line: OcrLine) -> list[tuple[str, Box]]:
    """Words of `line.text`, each given its share of the line box by character count."""
    text = line.text
    n = max(1, len(text))
    out, pos = [], 0
    for word in text.split():
        start = text.index(word, pos)
        pos = start + len(word)
        b = line.box
        out.append((word, Box(b.x0 + b.width * start / n, b.y0,
                              b.x0 + b.width * pos / n, b.y1)))
    return out


def _ink(crop: np.ndarray) -> np.ndarray:
    """Which pixels of a line's crop are ink: far from its commonest grey level."""
    values, counts = np.unique(crop, return_counts=True)
    background = int(values[np.argmax(counts)])
    diff = np.abs(crop - background)
    threshold = max(MIN_CONTRAST, int(diff.max()) // 8)  # anti-aliased edges are ink too
    return diff >= threshold


def fit_words(grey: np.ndarray, line: OcrLine) -> tuple[tuple[str, Box], ...]:
    """`line`'s words (the engine's, else estimated) fitted to the ink (module doc).

    Letters always have ink in the middle of the line (x-height), so which columns hold
    letters is read from the middle half of the line box: a bubble's edge or another
    line that the box overlaps at its top or bottom does not count. Rows that are ink
    almost all the way across the word are such edges, not letters, and stop growth.
    """
    words = list(line.words)
    if not words:
        words = estimate_words(line)
        if not words:
            return ()
    h_img, w_img = grey.shape
    lx0, ly0 = max(0, int(line.box.x0)), max(0, int(line.box.y0))
    lx1, ly1 = min(w_img, int(np.ceil(line.box.x1))), min(h_img, int(np.ceil(line.box.y1)))
    if lx1 - lx0 < 2 or ly1 - ly0 < 4:
        return tuple(words)
    lh = ly1 - ly0
    reach = max(2, lh // 3)
    ey0, ey1 = max(0, ly0 - reach), min(h_img, ly1 + reach)
    ink = _ink(grey[ey0:ey1, lx0:lx1])  # rows ey0.., columns lx0..
    m0, m1 = ly0 - ey0 + lh // 4, ly0 - ey0 + lh - lh // 4
    cols = ink[m0:m1].any(axis=0)
    core_cols = ink[ly0 - ey0:ly1 - ey0].any(axis=0)
    width = len(cols)
    tail = max(1, lh // 4)  # punctuation beside a word: ink outside the middle rows
    if not line.words:
        words = _split_at_spaces(words, cols, lx0) or words
    out = []
    for text, b in words:
        x0 = min(max(int(round(b.x0)) - lx0, 0), width - 1)
        x1 = min(max(int(round(b.x1)) - lx0, x0 + 1), width)
        while x0 > 0 and cols[x0] and cols[x0 - 1]:
            x0 -= 1
        while x1 < width and cols[x1 - 1] and cols[x1]:
            x1 += 1
        span = np.flatnonzero(cols[x0:x1])
        if span.size == 0:
            out.append((text, b))
            continue
        x0, x1 = x0 + int(span[0]), x0 + int(span[-1]) + 1
        # a "." or "," just after the word: ink below the middle rows, then a blank column
        k, last = x1, None
        while k < min(width, x1 + tail) and not cols[k]:
            if core_cols[k]:
                last = k
            k += 1
        if last is not None and (last + 1 >= width or not core_cols[last + 1]):
            x1 = last + 1
        block = ink[:, x0:x1]
        frac = block.mean(axis=1)
        letter = block.any(axis=1) & (frac < 0.9)
        rows = np.flatnonzero(letter[m0:m1])
        if rows.size == 0:
            out.append((text, b))
            continue
        y0, y1 = m0 + int(rows[0]), m0 + int(rows[-1]) + 1
        while y0 > 0 and letter[y0 - 1]:
            y0 -= 1
        while y1 < len(letter) and letter[y1]:
            y1 += 1
        out.append((text, Box(float(lx0 + x0), float(ey0 + y0),
                              float(lx0 + x1), float(ey0 + y1))))
    return tuple(out)


def _split_at_spaces(words, cols: np.ndarray, x_origin: int):
    """Estimated words placed on the ink: the n-1 widest gaps between ink runs are the
    spaces, if they are clearly wider than the gaps between letters; else None."""
    n = len(words)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], cols.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    if len(starts) < n:
        return None
    if n == 1:
        return [(words[0][0], Box(x_origin + starts[0], words[0][1].y0,
                                  x_origin + ends[-1], words[0][1].y1))]
    gaps = starts[1:] - ends[:-1]
    order = np.argsort(-gaps, kind="stable")
    spaces, rest = order[:n - 1], order[n - 1:]
    if rest.size and gaps[spaces].min() < 1.5 * gaps[rest].max():
        return None
    cut = sorted(int(i) for i in spaces)
    bounds = [0] + [i + 1 for i in cut] + [len(starts)]
    return [(t, Box(x_origin + starts[a], b.y0, x_origin + ends[z - 1], b.y1))
            for (t, b), a, z in zip(words, bounds, bounds[1:])]


def with_words(image, lines: list[OcrLine]) -> list[OcrLine]:
    """`lines` with word boxes fitted to `image`'s ink."""
    if not lines:
        return lines
    grey = grey_array(image)
    return [OcrLine(ln.text, ln.box, ln.confidence, fit_words(grey, ln)) for ln in lines]
