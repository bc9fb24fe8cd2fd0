"""Fit the package under its byte cap: choose how each exhibit image is encoded.

`fit(items, budget, overhead=...)` encodes every exhibit image so that the images total
at most (budget - overhead) * 0.98, at the best rung of one quality ladder that fits,
the same rung for every image ("lower quality evenly, never ruin one page"). If even the
bottom rung (the legibility floor) is too big it raises TooBig (exit 3) with the overage
and the three heaviest exhibits, and nothing is written. The 2 % margin covers what we
cannot count here (PDF object headers around each image); the pipeline re-checks the
real file and may call again with a larger `overhead`.

The ladder (rung = a resolution cap in px per inch of the image's drawn width, a JPEG
quality and a palette's colour count; every image gets the same rung):

    rung    0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15
    dpi   300 300 300 300 300 250 200 200 170 150 125 110 100  90  80  72
    q      90  85  80  70  65  60  50  50  50  50  50  50  50  50  50  50
    colours 256 64 32  16   8   8   8   4   4   4   4   4   4   4   4   4

Colours first, at full resolution, then resolution: at OCRmyPDF's half on 60 generated
chats (bench/peer_bench.py --generated 60 --half), 4 colours at 125-150 dpi read the
e-mail on 12/12 sampled pages where 16 colours at 72 dpi (same bytes) read 8/12; on
the 20 real screenshots with an e-mail tesseract read 16/20 originals, 17/20 at 16
colours, 16/20 at 8 and 4. 72 dpi (one image px per pt: below it the image is blurrier
than the page at 100 %) and q50 are the bottom. Per image and rung the candidates are:

* JPEG at the rung's quality, baseline, Huffman-optimised, 4:2:0, from pixels only;
  "L" (grey) when the crop is grey (channel spread <= 12 for 99.9 % of pixels);
* for a flat UI crop (its 256 commonest colours cover >= 95 % of pixels; a chat
  screenshot is ~99.5 %: anti-aliased text), or a grey one below 256 colours, a
  palette PNG, no dither: 256 and 64 colours by Pillow's fast octree (lossless when the
  crop has that few), 32..4 by libimagequant (an octree of 16 loses thin strokes:
  13/20 e-mails against 17/20); for a grey crop at 256 an 8-bit grey PNG;
* for a mostly flat crop (>= 70 % of a 1-in-9 sample in 256 colours: a chat with
  avatars, wallpaper or a JPEG's noise; a photo ~1 %) a palette PNG at <= 32 colours.

Palette PNGs list only the colours used (the PDF repeats the palette in hex in each
image's dictionary; `EncodedImage.size` counts it), and their rows are unfiltered,
deflated at 6 on rung 0 and 9 below (10-25 % smaller than Pillow's adaptive filters).
zopfli was measured and left out: another 5-13 %, but 0.1-1.6 s CPU an image.

Each image takes the smallest candidate at its rung, or a smaller one from a better
rung already computed (a PNG can grow when downscaled by a little: 56 kB at 1170 px,
70 kB at 0.85x). Downscales smaller than 8 % are skipped for the same reason.

The floors (bench/fit_floor.py; rapidocr 3.x defaults, PP-OCRv6 small; Bitstream Vera
cards in four chat styles: black on white, on a grey bubble, white on a blue bubble,
grey caption; a name, two e-mails full of dots, a date; "exact" ignores whitespace):

* Text: a required field's OCR box is never taken below 12 px (`min_text_px * scale
  >= 12`; sizes are rounded up). Lossless and palette PNG read 8/8 e-mails down to a
  10.5 px box, so 12 px keeps a margin.
* JPEG quality >= 50, and a JPEG never takes that box below 19 px; where the source's
  text is under 19 px already, JPEG quality stays >= 90. E-mails read exactly, of 48
  (6 sub-pixel phases x 8), by box height:

      box px   q95  q90  q80  q60  q50  q40
      21.0            .    .   48   48   48
      18.9            .    .   48   48   48
      17.6            .    .   48   47   47
      16.4            .    .   46   46   44
      15.5      48   48   48
      13.9      48   48   47
      12.2      48   48   46          (q60 20/24, q50 21/24, q40 18/24 at 12.2 px)

  On cards of font 12..24 px (boxes 19..28 px) every field read at q >= 50 and q40
  lost e-mails first (7/8 at font 12). The misreads are the feared ones: "mail" ->
  "mall", "reilly" -> "rellly", "." -> ",". 4:4:4 chroma read no better than 4:2:0
  and cost 20-35 % more bytes. Palette PNG with 256..8 colours read everything.

What the candidates cost (one 1170x2532 chat screenshot, 17 pt text at 3x):

      scale               1.0   0.7   0.5   0.3
      palette PNG (256)    56    55    29    20  kB
      JPEG q90 4:2:0      242   156    98    50
      JPEG q50 4:2:0      129    79    49    24

So flat screenshots go palette PNG at every rung and shrink by resolution; 256 -> 16
colours saved only ~5 %, so colour count is not a rung. Optimised Huffman tables save
~15 % but take 6x the encode time: a quick JPEG is compared first and only a JPEG that
can win is optimised.

Search, cheapest first: one pass encodes every image at rung 0; if that fits, done
(one decode per image). Otherwise each pass predicts every image's size at the untried
rungs (pixels^0.65 x a per-quality factor, anchored on the sizes already measured),
encodes the first rung predicted to fit, plus the rung above or below it only when the
prediction is within 5 % of the target; the first such pass also encodes the bottom
rung, which settles TooBig without a pass of its own. Usually two passes (the 47 real
screenshots at 4.5 MB and at 3.65 MB: rung 0, then the chosen rung and the bottom). Nothing decoded is kept between passes; a worker holds one source
(and its crops) at a time, and the parent keeps only the best encoding per rung.

Work runs in a process pool (fork where safe: ~0.15 s to start against ~0.75 s for
spawn) when there are >= 4 sources; crops of one file are one task (one decode). An
optional on-disk cache (`cache_dir`, e.g. default_cache_dir()) keeps each rung's
winner keyed by (file sha256, crop rows, Pillow version, encoding); a rerun then
decodes nothing. Entries are written atomically; a bad entry is a miss.

Timings (bench/fit_bench.py on this 2-core box, shared with other jobs: CPU seconds of
all processes are the steady figure, wall time follows the load):

* 100 fixture phone screenshots (phone_series: 585x1266): rung 0 fits both 4.5 MB and
  2 MB (1.32 MB, 13 kB each, all palette PNG): one pass, 3.1-3.2 s CPU, 1.7 s wall
  (median of 5, load 2.5); with a warm encode cache 0.06 s.
* 200 of them: 6.2 s CPU, 4.8 s wall; under 2 MB TooBig after two passes (13.6 s CPU,
  7.3 s wall; warm 0.35 s). Peak RSS 39 MB here, 36 MB per worker.
* 100 renders at 1170x2532 under 4.5 MB: rung 7 (125 dpi), 3 passes (rungs 0; 4,5,6,12;
  7,8), 51-55 s CPU, ~170 ms per image and pass (decode 24 ms, imageio.open_image's two
  full copies ~20 ms, a resize 20-40 ms per rung, octree 30 ms, PNG 20 ms); warm 0.3 s.
  Peak RSS 69 MB here, 75 MB per worker.

Metadata: images are decoded to pixels by imageio.open_image and saved with no exif=,
no icc_profile=, and an empty .info (PNG save would otherwise copy an ICC profile and
dpi from .info), so no EXIF, GPS, ICC or text chunk reaches the package.

Embedding: `data` is the JPEG or PNG file; `pdf_image(enc)` gives the parts to embed it
as is (JPEG under /DCTDecode; PNG's IDAT under /FlateDecode with the PNG predictor and
its palette as /Indexed). Letting a PDF library decode and re-compress a PNG (reportlab
does) would undo the fit.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import struct
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import PIL
from PIL import Image, ImageChops

try:  # libdeflate: palette PNGs as small as zlib's at a quarter of its time
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - a dependency; only a stripped install lacks it
    _libdeflate = None

try:  # libimagequant (GPL-3.0-or-later): fewer-colour palettes; octree without it
    from imagequant import _libimagequant as imagequant
except ImportError:  # pragma: no cover - a dependency; only a stripped install lacks it
    imagequant = None

from .errors import InputError, TooBig
from . import redact
from .workers import pool_context
from .imageio import open_image, sha256_file

# --- the measured constants (see the module docstring for the figures) -----------------

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

# --- the ladder -----------------------------------------------------------------------


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

# --- the public types -----------------------------------------------------------------


@dataclass(frozen=True)
class EncodedImage:
    data: bytes  # the JPEG or PNG file: no EXIF, no ICC, no text chunks
    format: str  # "jpeg" | "png"
    width: int
    height: int
    mode: str = "RGB"  # "RGB" (JPEG), "L" (grey JPEG or PNG), "P" (palette PNG)
    scale: float = 1.0  # embedded px / source px (1.0 = not downscaled)
    quality: int | None = None  # JPEG quality, None for PNG
    colors: int | None = None  # palette PNG: the colours asked for (256: octree)

    @property
    def size(self) -> int:
        """Its bytes in the package: the file, plus a palette's bytes once more (the
        PDF carries the palette in hex in the image's dictionary, the PNG in binary)."""
        if self.mode != "P":
            return len(self.data)
        return len(self.data) + _palette_length(self.data)

    def __repr__(self) -> str:  # never dump the bytes
        q = f" q{self.quality}" if self.quality else ""
        return (f"EncodedImage({self.format}{q} {self.mode} {self.width}x{self.height} "
                f"scale={self.scale:.3f} {len(self.data)} bytes)")


def _palette_length(png: bytes) -> int:
    """The PLTE chunk's length in a PNG (0 if it has none)."""
    pos = 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        if kind == b"PLTE":
            return length
        if kind == b"IDAT":
            return 0
        pos += 12 + length
    return 0


@dataclass(frozen=True)
class CropSource:
    """Load rows [top, bottom) of a screenshot, full width. Picklable, so a worker
    process can load it; `sha256` (of the file) is optional and only keys the cache."""

    path: Path
    top: int
    bottom: int
    sha256: str | None = None
    redactions: tuple = ()  # redact.Redaction boxes burnt into the pixels before cropping

    def __call__(self) -> Image.Image:
        image = open_image(self.path)
        if self.redactions:
            image = redact.apply_to_image(image, self.redactions)
        return _crop(image, self)


@dataclass(frozen=True)
class FitItem:
    key: str  # a label for messages, e.g. "Exhibit 3 (screenshots/IMG_1.png)"
    load: Callable[[], Image.Image]  # returns the RGB crop to embed; picklable
    min_text_px: float | None  # smallest required field's box height, source px
    display_width_pt: float  # drawn width on the page


@dataclass(frozen=True)
class FitResult:
    images: list[EncodedImage]  # one per item, in order
    total: int  # sum of the image bytes
    level: Level  # the rung every image was encoded at (or better, where smaller)
    target: int  # the bytes the images were allowed
    passes: int  # how many times the images were decoded and encoded
    report: list[str] = field(default_factory=list)  # lines for the build log
    decoded: int = 0  # images decoded (0 when the encode cache had everything)
    overhead: int = 0  # the non-image bytes budgeted (measured, or the caller's guess)


# --- per-image planning ---------------------------------------------------------------


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


# --- encoding (runs in the workers) ---------------------------------------------------


def resample(image: Image.Image, scale: float) -> Image.Image:
    """Downscale by `scale` (never up); used by the bench with the same filter."""
    if scale >= 1.0:
        return image
    w, h = image.size
    return _resize(image, (max(1, math.ceil(w * scale - 1e-9)), max(1, math.ceil(h * scale - 1e-9))))


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if size == image.size:
        return image
    return image.resize(size, RESAMPLE, reducing_gap=2.0)


def encode_jpeg(image: Image.Image, quality: int, subsampling: int = JPEG_SUBSAMPLING) -> bytes:
    """Baseline JPEG from pixels only (no exif=, no icc_profile=, nothing from .info)."""
    image = _bare(image)
    out = io.BytesIO()
    kw = {} if image.mode == "L" else {"subsampling": subsampling}
    image.save(out, "JPEG", quality=int(quality), optimize=True, **kw)
    return out.getvalue()


def encode_palette(image: Image.Image, colors: int = 256) -> bytes:
    """Palette PNG, no dithering (dither noise costs bytes and blurs text), its palette
    only the colours used (a PDF carries the palette uncompressed in the image's
    dictionary, and fewer entries let PNG pack 4 or 2 bits a pixel).
    64 colours or more: Pillow's fast octree (lossless when the image has <= `colors`).
    Fewer: libimagequant (pngquant's quantiser), which keeps anti-aliased text crisp at
    16 colours where an octree of 16 loses thin strokes (see the module docstring)."""
    image = _bare(image)
    if colors < OCTREE_MIN_COLORS and imagequant is not None:
        p = quantize(image, colors)
    else:
        p = image.quantize(colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    return palette_png(compact_palette(p), DEFLATE_TOP if colors >= 256 else DEFLATE_LOW)


def palette_png(p: Image.Image, level: int = DEFLATE_LOW) -> bytes:
    """A "P" image as a PNG whose rows are not filtered, deflated at level 9, packed
    1, 2, 4 or 8 bits a pixel by its palette's length. Pillow filters each row
    adaptively, which suits photos and grey but costs a palette image 10-20 % (a
    palette index has no arithmetic neighbour); libpng and pngquant leave them
    unfiltered too. `level`: deflate 6 where speed matters more than bytes (rung 0, the
    cap not binding), 9 below it (5-10 % smaller, 4-10x the deflate time: 50 ms for a
    1170x2532 chat). Checked by decoding: assembly decodes every image before embedding."""
    w, h = p.size
    palette = bytes(p.getpalette("RGB") or b"\0\0\0")
    n = max(1, len(palette) // 3)
    bits = 1 if n <= 2 else 2 if n <= 4 else 4 if n <= 16 else 8
    raw = p.tobytes("raw", "P" if bits == 8 else f"P;{bits}")
    stride = (w * bits + 7) // 8
    rows = b"".join(b"\0" + raw[y * stride:(y + 1) * stride] for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 3, 0, 0, 0))
            + chunk(b"PLTE", palette[:3 * n]) + chunk(b"IDAT", _zlib_stream(rows, level))
            + chunk(b"IEND", b""))


_DEFLATER = "d" if _libdeflate is not None else "z"  # in the cache key: same pixels, other bytes


def _zlib_stream(data: bytes, level: int) -> bytes:
    """A zlib stream (what a PNG's IDAT and a PDF's /FlateDecode hold) of `data`."""
    if _libdeflate is not None:
        return _libdeflate.zlib_compress(data, level)
    return zlib.compress(data, level)


def quantize(image: Image.Image, colors: int, speed: int = QUANT_SPEED) -> Image.Image:
    """libimagequant, no dithering: a "P" image of at most `colors` colours."""
    w, h = image.size
    lib, ffi = imagequant.lib, imagequant.ffi
    attr = lib.liq_attr_create()
    if attr == ffi.NULL:
        raise MemoryError("libimagequant: cannot allocate")
    liq_image = result = ffi.NULL
    try:
        if (lib.liq_set_max_colors(attr, int(colors)) != lib.LIQ_OK
                or lib.liq_set_speed(attr, int(speed)) != lib.LIQ_OK):
            raise ValueError(f"libimagequant: bad colours {colors} or speed {speed}")
        rgba = image.convert("RGBA").tobytes()
        liq_image = lib.liq_image_create_rgba(attr, rgba, w, h, 0)
        out = ffi.new("liq_result**")
        if lib.liq_image_quantize(liq_image, attr, out) != lib.LIQ_OK:
            raise ValueError("libimagequant: quantisation failed")
        result = out[0]
        lib.liq_set_dithering_level(result, 0.0)
        pixels = ffi.new("char[]", w * h)
        if lib.liq_write_remapped_image(result, liq_image, pixels, w * h) != lib.LIQ_OK:
            raise ValueError("libimagequant: remapping failed")
        pal = lib.liq_get_palette(result)
        rgb = bytes(v for k in range(pal.count) for v in (pal.entries[k].r, pal.entries[k].g,
                                                          pal.entries[k].b))
        p = Image.frombytes("P", (w, h), ffi.buffer(pixels, w * h)[:])
        p.putpalette(rgb, "RGB")
        return p
    finally:
        if result != ffi.NULL:
            lib.liq_result_destroy(result)
        if liq_image != ffi.NULL:
            lib.liq_image_destroy(liq_image)
        lib.liq_attr_destroy(attr)


def compact_palette(p: Image.Image) -> Image.Image:
    """The same "P" image with only the palette entries it uses, commonest first."""
    used = p.getcolors(256)
    if used is None or len(used) * 3 >= len(p.getpalette() or ()):
        return p
    return p.remap_palette([i for _n, i in sorted(used, key=lambda c: (-c[0], c[1]))])


def encode_png(image: Image.Image) -> bytes:
    image = _bare(image)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def _bare(image: Image.Image) -> Image.Image:
    """The same pixels with no metadata: PNG save writes .info's icc_profile, dpi and
    text unless told otherwise, and convert/resize copy .info along."""
    if image.info:
        image.info = {}
    return image


class _Sized:
    """The crop at full size, and each downscale of it made once per job."""

    def __init__(self, image: Image.Image):
        self.image = image
        self.cache: dict[tuple[int, int], Image.Image] = {}

    def at(self, w: int, h: int) -> Image.Image:
        if (w, h) == self.image.size:
            return self.image
        if (w, h) not in self.cache:
            self.cache[(w, h)] = _bare(_resize(self.image, (w, h)))
        return self.cache[(w, h)]


def _encode(sized: _Sized, spec: _Spec, fast: bool = False) -> EncodedImage:
    """Encode the crop as `spec`. `fast`: a JPEG without Huffman optimisation, only to
    compare sizes (6x quicker to make, ~15 % bigger)."""
    small = sized.at(spec.width, spec.height)
    if spec.format == "jpeg":
        px = small.convert("L") if spec.mode == "L" else small
        if fast:
            out = io.BytesIO()
            kw = {} if px.mode == "L" else {"subsampling": JPEG_SUBSAMPLING}
            _bare(px).save(out, "JPEG", quality=int(spec.quality), **kw)
            data = out.getvalue()
        else:
            data = encode_jpeg(px, spec.quality)
    elif spec.mode == "L":
        data = encode_png(small.convert("L"))
    else:
        data = encode_palette(small, spec.colors or 256)
    return EncodedImage(data, spec.format, spec.width, spec.height, spec.mode,
                        spec.width / sized.image.width, spec.quality, spec.colors)


def _choose(sized: _Sized, specs: list[_Spec], made: dict) -> EncodedImage:
    """The smallest of `specs` (all at one rung). With one candidate, just encode it;
    with a PNG and a JPEG, compare against a quick JPEG and optimise the JPEG only
    when it can win (an optimised JPEG is ~15 % smaller: 0.8 leaves a margin)."""
    if len(specs) == 1:
        spec = specs[0]
        if spec not in made:
            made[spec] = _encode(sized, spec)
        return made[spec]
    pngs = [sp for sp in specs if sp.format == "png"]
    jpegs = [sp for sp in specs if sp.format == "jpeg"]
    best: EncodedImage | None = None
    for sp in pngs:
        if sp not in made:
            made[sp] = _encode(sized, sp)
        if best is None or _order(made[sp]) < _order(best):
            best = made[sp]
    for sp in jpegs:
        if sp not in made:
            quick = _encode(sized, sp, fast=True)
            if best is not None and len(quick.data) * 0.8 >= len(best.data):
                continue  # cannot win even once optimised
            made[sp] = _encode(sized, sp)
        if best is None or _order(made[sp]) < _order(best):
            best = made[sp]
    return best


def measure(image: Image.Image) -> _Stats:
    """Colour statistics of one RGB crop: grey? flat? how many colours?"""
    w, h = image.size
    total = w * h
    colors = image.getcolors(256)
    exact = colors is not None
    if colors is None:
        colors = image.getcolors(FLAT_MAX_COLORS)
    if colors is not None:
        counts = sorted((n for n, _ in colors), reverse=True) if not exact else []
        palette = exact or sum(counts[:256]) >= FLAT_COVERAGE * total
        gray = _few_colourful(colors, GRAY_OUTLIERS * total)
    else:
        palette = False
        gray = _grayish(image)
    return _Stats(w, h, gray, palette, exact, palette or _mostly_flat(image))


def _mostly_flat(image: Image.Image) -> bool:
    """Its 256 commonest colours cover >= MOSTLY_FLAT of a 1-in-9 pixel sample (nearest
    neighbour: no new colours). Real chat screenshots with avatars or a JPEG's noise
    cover 76-99 %; a photo ~1 %."""
    w, h = image.size
    sample = image.resize((max(1, w // 3), max(1, h // 3)), Image.Resampling.NEAREST)
    colors = sample.getcolors(FLAT_MAX_COLORS)
    if colors is None:
        return False
    counts = sorted((n for n, _ in colors), reverse=True)
    return sum(counts[:256]) >= MOSTLY_FLAT * sample.width * sample.height


def _few_colourful(colors: list, allowed: float) -> bool:
    """At most `allowed` pixels have a channel spread above GRAY_TOLERANCE."""
    seen = 0
    for n, c in colors:
        if max(c) - min(c) > GRAY_TOLERANCE:
            seen += n
            if seen > allowed:
                return False
    return True


def _grayish(image: Image.Image) -> bool:
    small = image.reduce(2) if min(image.size) >= 64 else image
    r, g, b = small.split()
    spread = ImageChops.lighter(ImageChops.lighter(ImageChops.difference(r, g),
                                                   ImageChops.difference(g, b)),
                                ImageChops.difference(r, b))
    hist = spread.histogram()
    return sum(hist[GRAY_TOLERANCE + 1:]) <= GRAY_OUTLIERS * small.width * small.height


def _crop(image: Image.Image, src: CropSource) -> Image.Image:
    top, bottom = int(src.top), int(src.bottom)
    if not 0 <= top < bottom <= image.height:
        raise InputError(f"crop rows {top}..{bottom} are outside the image's "
                         f"{image.height} rows", src.path)
    if top == 0 and bottom == image.height:
        return image
    return image.crop((0, top, image.width, bottom))


@dataclass(frozen=True)
class _Job:
    index: int
    load: Callable[[], Image.Image]
    min_text_px: float | None
    display_width_pt: float
    levels: tuple[int, ...]  # encode this image at these rungs...
    known: frozenset  # ...except the specs the parent already has
    stats: _Stats | None = None  # known from an earlier pass: no need to measure again


@dataclass(frozen=True)
class _Done:
    index: int
    stats: _Stats
    encoded: dict  # rung -> (the specs tried, the smallest as an EncodedImage)
    decoded: bool  # False when everything came from the cache


def _run_task(jobs: tuple[_Job, ...], cache_dir: str | None) -> list[_Done]:
    """One worker task: the jobs of one source file, so it is decoded once."""
    cache = _DiskCache(cache_dir) if cache_dir else None
    out: list[_Done] = []
    source: Image.Image | None = None
    pending = []
    for job in jobs:
        hit = cache.lookup(job) if cache else None
        if hit is not None:
            out.append(hit)
        else:
            pending.append(job)
    for job in pending:
        if isinstance(job.load, CropSource) and len(pending) > 1:
            if source is None:
                source = open_image(job.load.path)
            image = _crop(source, job.load)
        else:
            image = job.load()
            if image.info and image.mode == "RGB":
                image = image.copy()  # not ours: strip the metadata from a copy
        image = _bare(image if image.mode == "RGB" else image.convert("RGB"))
        stats = job.stats or measure(image)
        encoded: dict = {}
        made: dict[_Spec, EncodedImage] = {}
        sized = _Sized(image)
        for li in job.levels:
            specs = [sp for sp in _specs(stats, LADDER[li], job.display_width_pt,
                                         job.min_text_px) if sp not in job.known]
            if specs:
                encoded[li] = (tuple(specs), _choose(sized, specs, made))
        del image, sized
        done = _Done(job.index, stats, encoded, True)
        if cache:
            cache.store(job, done)
        out.append(done)
    return out


# --- the optional on-disk cache -------------------------------------------------------


def default_cache_dir() -> Path:
    """`<user cache dir>/evidence/fit`, next to the OCR cache."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("evidence", appauthor=False)) / "fit"


class _DiskCache:
    """Encoded images keyed by (file sha256, crop rows, encoding). One folder per crop:
    stats.json plus one file per encoding. Writes are atomic (temp file + os.replace);
    anything unreadable is a miss; a failed write turns the cache off for this task."""

    def __init__(self, directory: str):
        self.directory = Path(directory)
        self.disabled = False
        self.hashes: dict[Path, str] = {}  # crops of one file: hash it once

    def folder(self, src: CropSource) -> Path:
        sha = src.sha256 or self.hashes.get(src.path)
        if sha is None:
            sha = self.hashes[src.path] = sha256_file(src.path)
        boxes = ";".join(",".join(map(str, r.box.to_list())) for r in src.redactions)
        name = hashlib.sha256(f"{SCHEMA}{_DEFLATER}\0{PIL.__version__}\0{sha}\0{src.top}\0{src.bottom}"
                              f"\0{boxes}".encode()).hexdigest()[:40]
        return self.directory / name

    def lookup(self, job: _Job) -> _Done | None:
        if not isinstance(job.load, CropSource):
            return None
        try:
            folder = self.folder(job.load)
            d = json.loads((folder / "stats.json").read_text())
            stats = _Stats(int(d["width"]), int(d["height"]), bool(d["gray"]),
                           bool(d["palette"]), bool(d["exact"]), bool(d["mostly_flat"]))
            encoded: dict = {}
            for li in job.levels:
                specs = tuple(sp for sp in _specs(stats, LADDER[li], job.display_width_pt,
                                                  job.min_text_px) if sp not in job.known)
                if not specs:
                    continue
                c = json.loads((folder / self._choice(specs)).read_text())
                spec = _Spec(str(c["format"]), str(c["mode"]), int(c["width"]),
                             int(c["height"]), None if c["quality"] is None else int(c["quality"]),
                             None if c.get("colors") is None else int(c["colors"]))
                if spec not in specs:
                    return None
                data = (folder / spec.name()).read_bytes()
                if not data:
                    return None
                encoded[li] = (specs, EncodedImage(data, spec.format, spec.width, spec.height,
                                                   spec.mode, spec.width / stats.width,
                                                   spec.quality, spec.colors))
            return _Done(job.index, stats, encoded, False)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, job: _Job, done: _Done) -> None:
        if self.disabled or not isinstance(job.load, CropSource):
            return
        try:
            folder = self.folder(job.load)
            folder.mkdir(parents=True, exist_ok=True)
            s = done.stats
            self._write(folder / "stats.json", json.dumps(
                {"width": s.width, "height": s.height, "gray": s.gray,
                 "palette": s.palette, "exact": s.exact,
                 "mostly_flat": s.mostly_flat}).encode())
            for specs, enc in done.encoded.values():
                self._write(folder / _spec_of(enc).name(), enc.data)
                self._write(folder / self._choice(specs), json.dumps(
                    {"format": enc.format, "mode": enc.mode, "width": enc.width,
                     "height": enc.height, "quality": enc.quality,
                     "colors": enc.colors}).encode())
        except OSError:
            self.disabled = True

    @staticmethod
    def _choice(specs: tuple) -> str:
        """Which of these candidates won: one small file per candidate set."""
        key = "|".join(sorted(sp.name() for sp in specs))
        return "choice-" + hashlib.sha256(key.encode()).hexdigest()[:24] + ".json"

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


# --- running the tasks ----------------------------------------------------------------

PARALLEL_MIN_TASKS = 4  # fewer sources than this: encode in this process


class _Runner:
    """Runs tasks in this process or in a pool kept for the whole fit() call."""

    def __init__(self, workers: int | None, n_tasks: int, cache_dir: Path | None):
        cpus = os.cpu_count() or 1
        self.workers = max(1, min(workers if workers else cpus, n_tasks))
        if n_tasks < PARALLEL_MIN_TASKS and not workers:
            self.workers = 1
        self.cache_dir = str(cache_dir) if cache_dir else None
        self.pool: ProcessPoolExecutor | None = None

    def run(self, tasks: list[tuple[_Job, ...]]) -> list[_Done]:
        if self.workers > 1 and not _picklable(tasks[0][0].load):
            self.workers = 1  # a lambda or closure: it cannot go to another process
        if self.workers == 1 or len(tasks) < 2:
            return [d for t in tasks for d in _run_task(t, self.cache_dir)]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=pool_context())
        futures = [self.pool.submit(_run_task, t, self.cache_dir) for t in tasks]
        return [d for f in futures for d in f.result()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False


# --- the fit --------------------------------------------------------------------------


class _State:
    """What the parent knows about one item."""

    __slots__ = ("item", "stats", "by_level")

    def __init__(self, item: FitItem):
        self.item = item
        self.stats: _Stats | None = None
        self.by_level: dict[int, EncodedImage] = {}  # smallest candidate at that rung

    def add(self, li: int, candidates: Iterable[EncodedImage]) -> None:
        for enc in candidates:
            cur = self.by_level.get(li)
            if cur is None or _smaller(enc, cur):
                self.by_level[li] = enc

    def known(self) -> frozenset:
        return frozenset(_spec_of(e) for e in self.by_level.values())

    def best(self, li: int) -> EncodedImage:
        """The smallest encoding at rung `li` or any better rung already computed: a
        better rung's encoding that is also smaller is never a worse choice."""
        cands = [e for lv, e in self.by_level.items() if lv <= li]
        return min(cands, key=_order)


def _smaller(a: EncodedImage, b: EncodedImage) -> bool:
    return _order(a) < _order(b)


def _order(e: EncodedImage):
    # by size; ties go to the sharper (larger) image, then to PNG: deterministic
    return (e.size, -e.width, e.format != "png")


def _spec_of(e: EncodedImage) -> _Spec:
    return _Spec(e.format, e.mode, e.width, e.height, e.quality, e.colors)


def fit(items: list[FitItem], budget: int, *, overhead: int = 0, workers: int | None = None,
        cache_dir: Path | None = None,
        measure_overhead: Callable[[], int] | None = None) -> FitResult:
    """Encode every item so that the images total at most (budget - overhead) * 0.98,
    at the best rung of the ladder that fits (the same rung for every image). Raises
    TooBig when even the bottom rung is too big. `cache_dir`: an on-disk cache of
    encodings (CropSource items only); None means no cache. `measure_overhead`: returns
    the non-image bytes measured; called (once) only when `overhead`, a rough guess,
    leaves too little room for rung 0, before any lower rung is searched."""
    t0 = time.perf_counter()
    for it in items:
        if not it.display_width_pt or it.display_width_pt <= 0:
            raise ValueError(f"{it.key}: display_width_pt must be > 0")
    target = int((budget - overhead) * (1.0 - SAFETY))
    if not items:
        return FitResult([], 0, LADDER[0], target, 0, ["images: none to fit"],
                         overhead=overhead)
    if target <= 0 and measure_overhead is not None:
        overhead, measure_overhead = measure_overhead(), None
        target = int((budget - overhead) * (1.0 - SAFETY))
    if target <= 0:
        raise TooBig(f"the non-image part alone ({overhead:,} bytes) leaves no room under "
                     f"the {budget:,}-byte cap")
    states = [_State(it) for it in items]
    tasks = _group(items)
    runner = _Runner(workers, len(tasks), cache_dir)
    passes = decoded = 0
    path: list[list[int]] = []  # the rungs each pass encoded, for the report
    try:
        def run(levels: list[int]) -> None:
            nonlocal passes, decoded
            batch = []
            for group in tasks:
                jobs = []
                for i in group:
                    st = states[i]
                    want = tuple(li for li in levels if li not in st.by_level)
                    if want:
                        jobs.append(_Job(i, st.item.load, st.item.min_text_px,
                                         st.item.display_width_pt, want, st.known(),
                                         st.stats))
                if jobs:
                    batch.append(tuple(jobs))
            if not batch:
                return
            passes += 1
            path.append(sorted(levels))
            for done in runner.run(batch):
                st = states[done.index]
                st.stats = done.stats
                decoded += done.decoded
                for li in levels:
                    if li in done.encoded:
                        st.add(li, [done.encoded[li][1]])
                    # specs the worker skipped as known (same size and quality as at a
                    # rung computed earlier): reuse them at this rung too
                    specs = _specs(done.stats, LADDER[li], st.item.display_width_pt,
                                   st.item.min_text_px)
                    for lv, e in list(st.by_level.items()):
                        if lv != li and _spec_of(e) in specs:
                            st.add(li, [e])

        def total(li: int) -> int:
            return sum(st.best(li).size for st in states)

        run([0])  # the cheap thing first: one decode and encode per image
        if total(0) > target and measure_overhead is not None:
            overhead = measure_overhead()
            target = int((budget - overhead) * (1.0 - SAFETY))
            if target <= 0:
                raise TooBig(f"the non-image part alone ({overhead:,} bytes) leaves no room "
                             f"under the {budget:,}-byte cap")
        chosen = 0 if total(0) <= target else _search(states, target, budget, overhead,
                                                       run, total)
    finally:
        runner.close()
    images = [st.best(chosen) for st in states]
    size = sum(e.size for e in images)
    report = _report(images, size, LADDER[chosen], target, budget, overhead, path, decoded,
                     time.perf_counter() - t0)
    return FitResult(images, size, LADDER[chosen], target, passes, report, decoded, overhead)


def placeholder(width: int, height: int) -> EncodedImage:
    """A blank one-colour palette PNG of a crop's shape (64 px wide): stands in for an
    image when the rest of the package is measured (`width` x `height` are the crop's
    source pixels; only the shape matters to the page). What a real image's palette adds
    to its dictionary is counted in that image's `size`."""
    w = 64
    h = max(1, round(w * height / max(1, width)))
    im = Image.new("P", (w, h), 0)
    im.putpalette(b"\xff\xff\xff")
    return EncodedImage(palette_png(im), "png", w, h, mode="P", scale=w / max(1, width))


def encode_at(item: FitItem, level: int | Level) -> EncodedImage:
    """The smallest candidate for one item at one rung, encoded here (tests, benches).
    `fit` picks this or, where smaller, an encoding from a better rung."""
    li = level.index if isinstance(level, Level) else int(level)
    job = _Job(0, item.load, item.min_text_px, item.display_width_pt, (li,), frozenset())
    [done] = _run_task((job,), None)
    return done.encoded[li][1]


def _search(states: list[_State], target: int, budget: int, overhead: int, run,
            total) -> int:
    """The best rung whose total fits, knowing rung 0 does not.

    Each pass predicts every image's size at the untried rungs from its nearest measured
    rungs (a size model in pixels and JPEG quality, anchored on the measured sizes),
    then measures the first rung predicted to fit, and a neighbour where the prediction
    is within PREDICTION_MARGIN of the target (PNG sizes are bumpy). The first such pass also
    measures the bottom rung: that settles TooBig without a pass of its own, and gives
    every later prediction a second anchor."""
    hi, lo = 0, None  # hi: known not to fit; lo: known to fit
    while lo is None or lo - hi > 1:
        end = lo if lo is not None else BOTTOM + 1
        pred = {li: sum(_predict(st, li) for st in states) for li in range(hi + 1, end)}
        fitting = [li for li in range(hi + 1, end) if pred[li] <= target]
        if fitting:
            f = fitting[0]
        elif lo is not None and pred[lo - 1] > target * (1 + PREDICTION_MARGIN):
            break  # clearly nothing above `lo` fits: no pass to confirm it
        else:
            f = end - 1  # nothing predicted to fit: try the last rungs
        # f's neighbours only where the prediction is too close to call: each rung
        # probed is a quantise and a deflate of every image
        probe = [f]
        if f - 1 > hi and pred[f - 1] <= target * (1 + PREDICTION_MARGIN):
            probe.insert(0, f - 1)
        if f + 1 < end and pred[f] > target * (1 - PREDICTION_MARGIN):
            probe.append(f + 1)
        if lo is None and BOTTOM not in probe:
            probe.append(BOTTOM)
        run(probe)
        if lo is None and total(BOTTOM) > target:
            raise TooBig(_too_big_message(states, total(BOTTOM), target, budget, overhead))
        for li in probe:
            if total(li) <= target:
                lo = li if lo is None else min(lo, li)
            else:
                hi = max(hi, li)
    return lo


def _model(st: _State, li: int, fmt: str) -> float:
    """A rough relative size of this image at rung `li` in format `fmt` (only ratios
    matter): pixels ** e, times a quality factor for JPEG; PNG ignores quality."""
    specs = _specs(st.stats, LADDER[li], st.item.display_width_pt, st.item.min_text_px)
    spec = next((sp for sp in specs if sp.format == fmt), specs[0])
    m = (spec.width * spec.height) ** _AREA_EXPONENT[spec.format]
    if spec.colors:
        m *= _C_FACTOR.get(spec.colors, 1.0)
    if spec.format == "jpeg":
        q = spec.quality
        m *= _Q_FACTOR.get(q) or _Q_FACTOR[min(_Q_FACTOR, key=lambda k: abs(k - q))]
    return m


def _predict(st: _State, li: int) -> float:
    """Predicted bytes of this image at the untried rung `li`, from the measured rungs
    either side (or the one above, scaled by the model)."""
    a = max(lv for lv in st.by_level if lv <= li)  # nearest measured rung above (0 is)
    ea = st.best(a)
    sa = ea.size
    after = [lv for lv in st.by_level if lv >= li]
    if not after:
        return sa * min(1.0, _model(st, li, ea.format) / _model(st, a, ea.format))
    eb = st.best(min(after))
    sb = eb.size
    if sa <= sb:
        return sa
    # interpolate in log size, at where `li` sits between a and b in log model size
    fmt = eb.format
    ma, ml, mb = _model(st, a, fmt), _model(st, li, fmt), _model(st, min(after), fmt)
    if ma <= mb:
        return sa
    t = min(1.0, max(0.0, math.log(ma / ml) / math.log(ma / mb)))
    return math.exp(math.log(sa) + t * (math.log(sb) - math.log(sa)))


def _group(items: list[FitItem]) -> list[list[int]]:
    """Item indices grouped by source file (one decode per file), biggest first so
    the pool's last task is a small one."""
    groups: dict = {}
    for i, it in enumerate(items):
        key = it.load.path if isinstance(it.load, CropSource) else ("item", i)
        groups.setdefault(key, []).append(i)

    def weight(g: list[int]) -> int:
        load = items[g[0]].load
        if isinstance(load, CropSource):
            try:
                return os.stat(load.path).st_size
            except OSError:
                return 0
        return 0

    return sorted(groups.values(), key=lambda g: (-weight(g), g[0]))


def _too_big_message(states: list[_State], at_floor: int, target: int, budget: int,
                     overhead: int) -> str:
    heavy = sorted(states, key=lambda st: (-st.best(BOTTOM).size, st.item.key))[:3]
    names = ", ".join(f"{st.item.key} {_kb(st.best(BOTTOM).size)}" for st in heavy)
    bottom = LADDER[BOTTOM]
    return (f"the images need {_kb(at_floor)} even at the legibility floor (<= {bottom.dpi:g} "
            f"dpi, JPEG q >= {bottom.quality}, text >= {TEXT_FLOOR_PX:g} px) but only "
            f"{_kb(target)} is left (cap {_kb(budget)} - {_kb(overhead)} pages and text - "
            f"{SAFETY:.0%} margin): {at_floor - target:,} bytes over; heaviest: {names}")


def _report(images: list[EncodedImage], size: int, level: Level, target: int, budget: int,
            overhead: int, path: list[list[int]], decoded: int, seconds: float) -> list[str]:
    kinds: dict[str, int] = {}
    for e in images:
        k = (f"{e.colors or 256}-colour PNG" if e.mode == "P" else "grey PNG" if e.format == "png"
             else "grey JPEG" if e.mode == "L" else "JPEG")
        kinds[k] = kinds.get(k, 0) + 1
    scaled = sum(1 for e in images if e.scale < 1.0)
    return [
        f"images: {len(images)} at {level.describe()}: {_kb(size)} of {_kb(target)} allowed "
        f"(cap {_kb(budget)} - {_kb(overhead)} other - {SAFETY:.0%} margin)",
        "encodings: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f"; {scaled} downscaled",
        f"fit: {len(path)} pass{'es' if len(path) != 1 else ''} (rungs "
        + "; ".join(",".join(map(str, p)) for p in path) + f"), {decoded} decodes, {seconds:.2f} s",
    ]


def _kb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if abs(n) >= 1_000_000 else f"{n / 1000:.0f} kB"
