"""The quality ladder and per-image planning: the measured constants, the rungs, and
which encodings (specs) an image has at a rung. See the package docstring for the figures."""
from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

try:  # libimagequant (GPL-3.0-or-later): fewer-colour palettes; octree without it
    from imagequant import _libimagequant as imagequant
except ImportError:  # pragma: no cover - a dependency; only a stripped install lacks it
    imagequant = None




TEXT_FLOOR_PX = 12.0  # the smallest required field's OCR box, in embedded pixels


JPEG_FLOOR = 50  # never encode a JPEG below this quality...


JPEG_TEXT_PX = 19.0  # ...and never shrink a JPEG's text below this box height...


JPEG_SMALL_TEXT_QUALITY = 90  # ...unless it already is smaller: then keep q >= this


SAFETY = 0.02  # images get (budget - overhead) * (1 - SAFETY)


SNAP = 0.92  # a downscale by less than 8 % is not worth a resample: keep full size


RESAMPLE = Image.Resampling.BICUBIC


JPEG_SUBSAMPLING = 2  # 4:2:0; 4:4:4 read no better and cost 20-35 % more bytes


PNG_COMPRESS_LEVEL = 6  # grey PNGs (Pillow's adaptive row filters suit grey)


DEFLATE_TOP = 6  # palette PNGs at rung 0 (256 colours): the cap is not binding yet


DEFLATE_LOW = 9  # palette PNGs below it: the cap binds, bytes matter


# (levels of libdeflate when it is installed, else of zlib. Every 4th real screenshot
# (12), palette rows: zlib 6 942 kB in 0.20 s, libdeflate 6 918 kB in 0.09 s; at 32
# colours zlib 9 841 kB in 1.11 s, libdeflate 9 849 kB in 0.30 s, 10 813 kB in 1.8 s.)
PALETTE_FLOOR = 4  # fewest palette colours (libimagequant): chat text still reads


OCTREE_MIN_COLORS = 64  # from this many colours up the octree is as legible and smaller


QUANT_SPEED = 8  # libimagequant speed (1 best .. 10 fastest); see the docstring


FLAT_MAX_COLORS = 1 << 14  # more distinct colours than this: a photo, not a UI


# (a chat screenshot has ~1,000: anti-aliased text; getcolors costs 7x more at 1 << 16)
FLAT_COVERAGE = 0.95  # a UI screenshot: its 256 commonest colours cover 95 % of pixels


MOSTLY_FLAT = 0.7  # ...or 70 %: a palette PNG of few colours is still a candidate


GRAY_TOLERANCE = 12  # max channel spread (of 255) still counted as grey


GRAY_OUTLIERS = 0.001  # share of pixels allowed above that spread


SCHEMA = 3  # of the on-disk cache (2: palette colour counts, compact palettes; 3: libdeflate)


@dataclass(frozen=True)
class Level:
    """One rung of the quality ladder, applied to every image at once."""

    index: int
    dpi: float  # resolution cap, px per inch of the image's drawn width
    quality: int  # JPEG quality
    colors: int = 256  # palette PNG colours (256: lossless where the crop has <= 256)

    def describe(self) -> str:
        return (f"level {self.index} (<= {self.dpi:g} dpi, JPEG q{self.quality}, "
                f"{self.colors}-colour palette)")


LADDER: tuple[Level, ...] = tuple(Level(i, d, q, c) for i, (d, q, c) in enumerate([
    (300, 90, 256), (300, 85, 64), (300, 80, 32), (300, 70, 16), (300, 65, 8),
    (250, 60, 8), (200, JPEG_FLOOR, 8), (200, JPEG_FLOOR, PALETTE_FLOOR),
    (170, JPEG_FLOOR, PALETTE_FLOOR), (150, JPEG_FLOOR, PALETTE_FLOOR),
    (125, JPEG_FLOOR, PALETTE_FLOOR), (110, JPEG_FLOOR, PALETTE_FLOOR),
    (100, JPEG_FLOOR, PALETTE_FLOOR), (90, JPEG_FLOOR, PALETTE_FLOOR),
    (80, JPEG_FLOOR, PALETTE_FLOOR), (72, JPEG_FLOOR, PALETTE_FLOOR),
]))


BOTTOM = len(LADDER) - 1


# Relative JPEG size by quality (bytes at q / bytes at q90, a 1170x2532 chat screenshot,
# bench/fit_floor.py): only used to *predict* which level to try next.
_Q_FACTOR = {90: 1.0, 85: 0.88, 80: 0.78, 70: 0.66, 65: 0.62, 60: 0.59, 50: 0.53,
             40: 0.48, 30: 0.43}


# Relative palette PNG size by colours (total bytes / total bytes at rung 0, full size;
# the 47 real screenshots, libdeflate; 4 colours from rung 7 / 0.8 for its 200 dpi):
# only used to predict. Per image the ratio spreads (32 colours: 0.43..1.13, p10..p90).
_C_FACTOR = {256: 1.0, 64: 0.87, 32: 0.70, 16: 0.54, 8: 0.44, 4: 0.33}


PREDICTION_MARGIN = 0.05  # a predicted total this close to the target is measured


# bytes ~ pixels ** e when downscaling (same bench): JPEG 0.65, palette PNG 0.2-0.5 (bumpy)
_AREA_EXPONENT = {"jpeg": 0.65, "png": 0.35}


@dataclass(frozen=True)
class _Stats:
    width: int
    height: int
    gray: bool  # (nearly) grey: encode as "L"
    palette: bool  # flat UI (or <= 256 colours): a palette PNG is a candidate
    exact: bool  # <= 256 colours: the palette PNG at full size is lossless
    mostly_flat: bool = False  # a UI with some photo (avatars, wallpaper, a JPEG's noise):
    # a palette PNG is a candidate once the ladder is down to libimagequant's few colours


@dataclass(frozen=True)
class _Spec:
    """One encoding of one image: what the cache and the candidates are keyed by."""

    format: str  # "jpeg" | "png"
    mode: str  # "RGB" | "L" | "P"
    width: int
    height: int
    quality: int | None
    colors: int | None = None  # palette PNG: its colour count (256: octree, else imagequant)

    def name(self) -> str:
        q = (f"q{self.quality}" if self.quality is not None
             else f"c{self.colors}{_quantiser(self.colors)}" if self.colors else "lossless")
        return f"{self.format}-{self.mode}-{self.width}x{self.height}-{q}"


def _quantiser(colors: int) -> str:
    """"" or "o": which quantiser makes a palette of `colors` (octree or libimagequant),
    so that the cache never serves one's output for the other (the extra may be
    installed or removed between runs)."""
    return "o" if colors < OCTREE_MIN_COLORS and imagequant is None else ""


def text_floor_scale(min_text_px: float | None, floor_px: float = TEXT_FLOOR_PX) -> float:
    """The smallest scale that keeps the smallest required field >= floor_px tall."""
    if not min_text_px or min_text_px <= 0:
        return 0.0
    return min(1.0, floor_px / float(min_text_px))


def level_size(width: int, height: int, level: Level, display_width_pt: float,
               min_text_px: float | None, floor_px: float = TEXT_FLOOR_PX) -> tuple[int, int]:
    """Pixel size of an image at `level`: the level's dpi cap on the drawn width, never
    upscaled, never below the text floor, small downscales snapped to none."""
    native_dpi = width * 72.0 / display_width_pt
    scale = min(1.0, level.dpi / native_dpi)
    if scale > SNAP:
        scale = 1.0
    scale = min(1.0, max(scale, text_floor_scale(min_text_px, floor_px)))
    if scale >= 1.0:
        return width, height
    # ceil on both sides: rounding must never take the text below its floor
    return (max(1, math.ceil(width * scale - 1e-9)), max(1, math.ceil(height * scale - 1e-9)))


def _specs(stats: _Stats, level: Level, display_width_pt: float,
           min_text_px: float | None) -> list[_Spec]:
    """The candidates at one rung: a JPEG (text >= 19 px, or q >= 90 where the source
    text is smaller already) and, for flat or grey images, a PNG (text >= 12 px)."""
    w, h = level_size(stats.width, stats.height, level, display_width_pt, min_text_px)
    jw, jh = level_size(stats.width, stats.height, level, display_width_pt, min_text_px,
                        JPEG_TEXT_PX)
    q = level.quality
    if min_text_px and min_text_px * min(jw / stats.width, jh / stats.height) < JPEG_TEXT_PX:
        q = max(q, JPEG_SMALL_TEXT_QUALITY)
    specs = [_Spec("jpeg", "L" if stats.gray else "RGB", jw, jh, q)]
    if stats.gray and level.colors >= 256:
        specs.append(_Spec("png", "L", w, h, None))  # 8-bit grey PNG: lossless
    elif stats.palette or stats.gray or (stats.mostly_flat
                                         and level.colors < OCTREE_MIN_COLORS):
        specs.append(_Spec("png", "P", w, h, None, level.colors))
    return specs
