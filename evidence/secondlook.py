"""A second look at a dark screenshot whose check failed: contrast-normalised, re-read.

Dark themes colour headers and dim dividers (a date at contrast 1.1:1, a From line in
grey on charcoal), which OCR misses at the image's own contrast. When a conversation
screenshot's name, email or message date is not found and the image is dark, it is read
once more: grey, enlarged up to 2x if narrower than 600 px, its contrast normalised locally
(see `normalised`). The lines found are added to the first reading's for the field
checks only (the package's text layer keeps the first reading). Cost: one OCR call, only
for a failing dark screenshot, and cached like the first reading.

`check` takes the looks it needs together (`second_looks`), in the OCR worker processes
that read the screenshots (`ocr.keep_pools`), so they run in parallel and this process
never loads the OCR models. Before, they ran one by one in the parent: on the 47 real
screenshots (bench/peer_bench.py's case, whose client is in none of them, so every dark
one is looked at) 10 looks took ~11 CPU s in series after the parallel OCR, and the
parent's engine (~300 MB with its buffers) was alive while the fitting pool ran.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .errors import EngineError, InputError
from .imageio import open_image
from .ocr import map_with_engine, ocr_key
from .ocr.base import Box, OcrLine, OcrResult
from .ocr.cache import OcrCache

DARK_MEDIAN = 100  # median grey level (0-255) under which a screenshot counts as dark
MAX_SCALE = 2.0
SMALL_WIDTH = 600  # px: narrower captures are enlarged, wider ones read as they are
MAX_PIXELS = 6_000_000  # of the enlarged image: bounded work
_RADIUS = 12  # px of the enlarged image: about a line of small UI text
_KEY = "second-look-v3"


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


def look_key(engine: str = "rapidocr") -> str:
    """The cache key of second looks with this engine (raises EngineError if unknown)."""
    return f"{ocr_key(engine)}|{_KEY}"  # known without building the engine


def read_normalised(engine, path) -> tuple[tuple[OcrLine, ...], int, int] | None:
    """The lines read from `path`'s contrast-normalised image, in the image's own pixel
    coordinates, with its size: no lines when it is not dark or too big; None when it
    cannot be opened. `engine` is an Engine, or a function building one (called only if
    needed), so this runs as it is in an OCR worker process (`ocr.map_with_engine`)."""
    try:
        with open_image(Path(path)) as image:
            if image.width * image.height > MAX_PIXELS or not is_dark(image):
                return (), image.width, image.height
            if not hasattr(engine, "recognize"):
                engine = engine()
            big, scale = normalised(image)
            size = image.size
    except InputError:
        return None
    lines = tuple(OcrLine(ln.text, Box(ln.box.x0 / scale, ln.box.y0 / scale,
                                       ln.box.x1 / scale, ln.box.y1 / scale), ln.confidence)
                  for ln in engine.recognize(big))
    return lines, size[0], size[1]


def second_looks(items: list[tuple[Path, str]], engine: str = "rapidocr",
                 cache: OcrCache | None = None, workers: int | None = None
                 ) -> dict[Path, list[OcrLine]]:
    """`second_look` for every (path, sha256), the uncached ones read in parallel in OCR
    worker processes (one per core, `ocr.map_with_engine`): {path: lines}."""
    try:
        key = look_key(engine)
    except EngineError:
        return {Path(p): [] for p, _sha in items}
    out: dict[Path, list[OcrLine]] = {}
    todo: dict[Path, tuple] = {}
    shas: dict[Path, str] = {}
    for path, sha in items:
        path = Path(path)
        hit = cache.get(sha, key) if cache is not None else None
        if hit is not None:
            out[path] = list(hit.lines)
        else:
            todo[path], shas[path] = (str(path),), sha
    if todo:
        try:
            found = map_with_engine(read_normalised, todo, engine, workers=workers)
        except EngineError:
            found = {}
        for path in todo:
            out[path] = _keep(found.get(path), shas[path], key, cache)
    return out


def _keep(found, sha256: str, key: str, cache: OcrCache | None) -> list[OcrLine]:
    """A second look's lines, cached. "Not dark: no look" is cached too: deciding it again
    would cost a worker pool in the next run, for a decode."""
    if found is None:
        return []
    lines, width, height = found
    if cache is not None:
        cache.put(sha256, key, OcrResult(tuple(lines), width, height, key))
    return list(lines)


def second_look(path: Path, sha256: str, engine: str = "rapidocr",
                cache: OcrCache | None = None) -> list[OcrLine]:
    """Lines read from the contrast-normalised image, in its own pixel coordinates;
    [] when the image is not dark, too big, or cannot be read. Read in this process,
    with its shared engine (`ocr.map_with_engine` with one worker)."""
    return second_looks([(path, sha256)], engine, cache, workers=1).get(Path(path), [])
