"""Encoding one image (runs in the workers): JPEG, palette PNG (octree or libimagequant,
libdeflate), grey PNG; its colour statistics; the smallest candidate at a rung."""
from __future__ import annotations

import io
import math
import struct
import zlib

from PIL import Image, ImageChops

try:  # libdeflate: palette PNGs as small as zlib's at a quarter of its time
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - a dependency; only a stripped install lacks it
    _libdeflate = None

from . import ladder
from .ladder import (
    DEFLATE_LOW, DEFLATE_TOP, FLAT_COVERAGE, FLAT_MAX_COLORS, GRAY_OUTLIERS, GRAY_TOLERANCE,
    JPEG_SUBSAMPLING, MOSTLY_FLAT, OCTREE_MIN_COLORS, PNG_COMPRESS_LEVEL, QUANT_SPEED,
    RESAMPLE, _Spec, _Stats)
from .types import EncodedImage, _order


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
    if colors < OCTREE_MIN_COLORS and ladder.imagequant is not None:
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
    lib, ffi = ladder.imagequant.lib, ladder.imagequant.ffi
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
