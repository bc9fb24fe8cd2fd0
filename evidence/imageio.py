"""Opening screenshots safely: one place decides what counts as a readable image.

Every stage that needs pixels (OCR workers, the page builder, the size fitter) opens
the source through `open_image`, so they all see the same pixels and the same boxes.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

# Pillow's own bomb guard warns at 89 Mpx and raises at twice that. We refuse earlier:
# no real screenshot has 50 million pixels, and decoding one costs 150 MB of memory.
MAX_PIXELS = 50_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def probe_image(path: Path) -> tuple[int, int]:
    """Check that `path` is a complete, decodable image of sane size; return (w, h).

    Raises InputError with a one-line reason otherwise. Cheap for the header checks,
    a full decode for completeness (a truncated PNG passes the header but not this).
    """
    image = open_image(path)
    size = image.size
    image.close()
    return size


def open_image(path: Path) -> Image.Image:
    """Decode `path` fully into an RGB image, upright (EXIF orientation applied).

    Metadata (EXIF, ICC, GPS) is dropped here, so nothing downstream can carry it on.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise InputError(
                        f"image is {w}x{h} pixels, over the {MAX_PIXELS // 1_000_000} Mpx limit",
                        path)
                im.load()
                if im.getexif().get(0x0112, 1) != 1:  # rotated by EXIF: a copy, upright
                    im = ImageOps.exif_transpose(im)
                if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, "white")
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                    return flat
                out = im.convert("RGB")  # a copy that outlives the closed file
                out.info = {}  # no ICC, EXIF, XMP or text chunks travel further
                return out
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an image", path) from None
    except UnidentifiedImageError:
        raise InputError("not an image Pillow can read (wrong extension or damaged)", path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError("image is too large (decompression bomb guard)", path) from None
    except OSError as e:
        msg = str(e) or e.__class__.__name__
        if "truncated" in msg.lower():
            msg = "image file is truncated"
        raise InputError(f"cannot decode image: {msg}", path) from None
    except (ValueError, SyntaxError, EOFError) as e:
        raise InputError(f"cannot decode image: {e}", path) from None
