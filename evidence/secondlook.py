"""A second look at a dark screenshot whose check failed: contrast-normalised, re-read.

Dark themes colour headers and dim dividers (a date at contrast 1.1:1, a From line in
grey on charcoal), which OCR misses at the image's own contrast. When a conversation
screenshot's name, email or message date is not found and the image is dark, it is read
once more: grey, enlarged up to 2x if narrower than 600 px, its contrast normalised locally
(see `normalised`). The lines found
are added to the first reading's for the field checks only (the package's text layer
keeps the first reading). Cost: one OCR call, only for a failing dark screenshot, and
cached like the first reading.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .errors import EngineError, InputError
from .imageio import open_image
from .ocr import make_engine, ocr_key
from .ocr.base import Box, OcrLine, OcrResult
from .ocr.cache import OcrCache

DARK_MEDIAN = 100  # median grey level (0-255) under which a screenshot counts as dark
MAX_SCALE = 2.0
SMALL_WIDTH = 600  # px: narrower captures are enlarged, wider ones read as they are
MAX_PIXELS = 6_000_000  # of the enlarged image: bounded work
_RADIUS = 12  # px of the enlarged image: about a line of small UI text
_KEY = "second-look-v3"

_engines: dict[str, object] = {}


def is_dark(image: Image.Image) -> bool:
    small = image.convert("L")
    small.thumbnail((200, 200))
    hist = small.histogram()
    half, acc = sum(hist) / 2, 0
    for level, n in enumerate(hist):
        acc += n
        if acc >= half:
            return level < DARK_MEDIAN
    return False


def normalised(image: Image.Image) -> tuple[Image.Image, float]:
    """The enlarged grey image with its contrast normalised locally, and its scale.

    Each pixel becomes its difference from the mean of its neighbourhood (a box about a
    line of text tall) over the neighbourhood's spread, so a divider at contrast 1.1:1
    under a translucent bar reads as plainly as the title beside it; light text on the
    dark background comes out dark on light, as OCR models read best.
    """
    w, h = image.size
    scale = 1.0
    if w < SMALL_WIDTH:  # a low-resolution capture: its small text needs enlarging
        scale = max(1.0, min(MAX_SCALE, (MAX_PIXELS / max(1, w * h)) ** 0.5))
    g = image.convert("L")
    if scale > 1.0:
        g = g.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    a = np.asarray(g, dtype=np.float32)
    mean = np.asarray(g.filter(ImageFilter.BoxBlur(_RADIUS)), dtype=np.float32)
    sq = Image.fromarray((a * a / 255.0).astype(np.uint8)).filter(ImageFilter.BoxBlur(_RADIUS))
    std = np.sqrt(np.maximum(np.asarray(sq, dtype=np.float32) * 255.0 - mean * mean, 0.0))
    out = np.clip(128.0 - (a - mean) / (std + 8.0) * 60.0, 0, 255).astype(np.uint8)
    return Image.fromarray(out).convert("RGB"), scale


def _engine(name: str):
    """This process's engine for second looks, built on first use; None if it cannot be."""
    if name not in _engines:
        try:
            _engines[name] = make_engine(name)
        except EngineError:
            _engines[name] = None
    return _engines[name]


def second_look(path: Path, sha256: str, engine: str = "rapidocr",
                cache: OcrCache | None = None) -> list[OcrLine]:
    """Lines read from the contrast-normalised image, in its own pixel coordinates;
    [] when the image is not dark, too big, or cannot be read."""
    try:
        key = f"{ocr_key(engine)}|{_KEY}"  # known without building the engine
    except EngineError:
        return []  # the first reading stands
    if cache is not None:
        hit = cache.get(sha256, key)
        if hit is not None:
            return list(hit.lines)
    try:
        with open_image(path) as image:
            if image.width * image.height > MAX_PIXELS or not is_dark(image):
                return []  # not cached: deciding this again costs a decode, not an OCR
            eng = _engine(engine)
            if eng is None:
                return []
            big, scale = normalised(image)
            size = image.size
            lines = [OcrLine(ln.text, Box(ln.box.x0 / scale, ln.box.y0 / scale,
                                          ln.box.x1 / scale, ln.box.y1 / scale),
                             ln.confidence) for ln in eng.recognize(big)]
    except InputError:
        return []
    if cache is not None:
        cache.put(sha256, key, OcrResult(tuple(lines), size[0], size[1], key))
    return lines
