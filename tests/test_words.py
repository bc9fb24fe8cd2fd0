"""Word boxes: rapidocr's, fitted to the ink, cached, and estimated for other engines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from evidence.ocr import OcrCache, run_ocr
from evidence.ocr.base import Box, OcrLine, OcrResult
from evidence.ocr.words import estimate_words, fit_words, grey_array

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample-case" / "screenshots"


def _font(size: int) -> ImageFont.FreeTypeFont:
    import reportlab

    return ImageFont.truetype(str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"), size)


def _ink_columns(img: Image.Image, box: Box) -> np.ndarray:
    g = grey_array(img)[int(box.y0):int(box.y1)]
    return (np.abs(g - 255) > 40).any(axis=0)  # visibly inked columns


def test_words_round_trip_through_cache_json():
    line = OcrLine("looks great", Box(1, 2, 90, 20), 0.9,
                   (("looks", Box(1, 2, 40, 20)), ("great", Box(48, 2, 90, 20))))
    result = OcrResult((line, OcrLine("no words", Box(0, 30, 50, 40), 0.8)), 100, 50, "k")
    back = OcrResult.from_json(result.to_json())
    assert back == result
    assert "words" not in result.to_json()["lines"][1]  # old entries (no words) still load


def test_fitted_words_cover_every_glyph_and_leave_gaps_blank():
    img = Image.new("RGB", (520, 60), "white")
    ImageDraw.Draw(img).text((10, 12), "Wow, it looks great!", font=_font(30), fill="black")
    ink = _ink_columns(img, Box(0, 0, 520, 60))
    right = int(np.flatnonzero(ink)[-1]) + 1
    # a line box as a detector gives it, and word boxes estimated from character counts
    line = OcrLine("Wow, it looks great!", Box(6, 8, right + 4, 52), 0.9)
    words = fit_words(grey_array(img), line)
    assert [t for t, _ in words] == ["Wow,", "it", "looks", "great!"]
    covered = np.zeros(img.width, bool)
    for _t, b in words:
        covered[int(b.x0):int(b.x1)] = True
    assert not (ink & ~covered).any(), "a glyph column lies outside every word box"
    for (_t, a), (_u, b) in zip(words, words[1:]):
        assert a.x1 < b.x0 and not ink[int(a.x1):int(b.x0)].any()  # a blank gap between
    assert all(b.y0 >= 8 and b.y1 <= 52 and b.height > 15 for _t, b in words)


def test_estimate_splits_the_line_by_character_share():
    words = estimate_words(OcrLine("ab  cdef", Box(0, 0, 80, 10), 1.0))
    assert [(t, b.x0, b.x1) for t, b in words] == [("ab", 0, 20), ("cdef", 40, 80)]


def test_rapidocr_gives_word_boxes_that_hug_the_words(tmp_path):
    path = SAMPLE / "IMG_4471.png"
    if not path.is_file():
        pytest.skip("sample case missing")
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    res = run_ocr([(path, sha)], "rapidocr", cache=OcrCache(tmp_path), workers=1)[path]
    line = next(ln for ln in res.lines if "looks great" in ln.text)
    assert [t for t, _ in line.words] == line.text.split()
    img = Image.open(path).convert("RGB")
    for _t, b in line.words:
        assert line.box.x0 - 1 <= b.x0 < b.x1 <= line.box.x1 + 1
        # the columns just outside each word are background: no letter is cut
        g = grey_array(img)[int(b.y0):int(b.y1)]
        bg = np.bincount(g[:, int(line.box.x0):int(line.box.x1)].ravel()).argmax()
        for x in (int(b.x0) - 1, int(b.x1)):
            assert (np.abs(g[:, x] - bg) < 24).all()
    # cached with its words
    again = run_ocr([(path, sha)], "rapidocr", cache=OcrCache(tmp_path), workers=1)[path]
    assert again == res
