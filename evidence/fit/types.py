"""The public types (what `fit` takes and gives) and the worker task's messages."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from .. import redact
from ..errors import InputError
from ..imageio import open_image
from .ladder import Level, _Spec, _Stats


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


def _smaller(a: EncodedImage, b: EncodedImage) -> bool:
    return _order(a) < _order(b)


def _order(e: EncodedImage):
    # by size; ties go to the sharper (larger) image, then to PNG: deterministic
    return (e.size, -e.width, e.format != "png")


def _spec_of(e: EncodedImage) -> _Spec:
    return _Spec(e.format, e.mode, e.width, e.height, e.quality, e.colors)
