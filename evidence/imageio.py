"""Opening screenshots safely: one place decides what counts as a readable image.

Every stage that needs pixels (OCR workers, the page builder, the size fitter) opens
the source through `open_image`, so they all see the same pixels and the same boxes.
"""
from __future__ import annotations

import hashlib
import stat
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


# The only decoders a screenshot may reach. Pillow is told so (`formats=`), so content
# claiming to be EPS (Ghostscript, an external interpreter), PSD, TIFF (libtiff), DDS or
# any of Pillow's other plugins is never parsed, whatever the file is named.
FORMATS = ("PNG", "JPEG", "WEBP")

# What a refused file is, by its first bytes, so the one line can say so. Naming only:
# no decoder ever sees these files.
_SIGNATURES = (
    (b"%!PS-Adobe", "an EPS/PostScript file"), (b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (b"%!", "a PostScript file"), (b"%PDF-", "a PDF"), (b"8BPS", "a Photoshop (PSD) file"),
    (b"II*\x00", "a TIFF file"), (b"MM\x00*", "a TIFF file"), (b"BM", "a BMP file"),
    (b"GIF8", "a GIF file"), (b"DDS ", "a DDS texture"), (b"\x00\x00\x01\x00", "an icon (ICO)"),
    (b"icns", "an icon (ICNS)"), (b"PK\x03\x04", "a ZIP archive"), (b"\x97JB2", "a JBIG2 file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 file"), (b"\xff\x4f\xff\x51", "a JPEG 2000 file"),
    (b"\x76\x2f\x31\x01", "an OpenEXR file"), (b"#?RADIANCE", "an HDR file"),
    (b"gimp xcf", "a GIMP file"), (b"FORM", "an IFF file"), (b"\x0a", "a PCX file"),
    (b"qoif", "a QOI file"), (b"\x1a\x45\xdf\xa3", "a video (Matroska/WebM)"),
    (b"<svg", "an SVG drawing"), (b"<?xml", "an XML/SVG file"), (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"), (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"), (b"MZ", "a Windows program"), (b"\x7fELF", "a program (ELF)"),
)


def sniff(head: bytes) -> str:
    """A short name for what `head` (a file's first bytes) is, for messages only."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC file"
        if brand in (b"avif", b"avis"):
            return "an AVIF file"
        return "a video or MP4-family file"
    if head.startswith(b"RIFF"):
        return "a WebP image" if head[8:12] == b"WEBP" else "a RIFF file (AVI/WAV), not WebP"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head.lstrip()[:1] in (b"<", b"{", b"[") or (head and all(32 <= b < 127 or b in b"\r\n\t" for b in head[:256])):
        return "a text file"
    return "not a PNG, JPEG or WebP image"


def _refusal(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        head = b""
    what = sniff(head)
    if what in ("a PNG image", "a JPEG image", "a WebP image"):
        return f"{what} that cannot be decoded (damaged or an unsupported variant)"
    if what.startswith("not "):
        return f"{what}; export it as PNG or JPEG"
    if what == "a text file":
        return "is a text file, not an image (screenshots are PNG, JPEG or WebP)"
    return f"is {what}, not a screenshot (export it as PNG or JPEG)"


def _warning_text(caught) -> str:
    texts = [" ".join(str(w.message).split()) for w in caught
             if not issubclass(w.category, DeprecationWarning)]
    return f" ({'; '.join(dict.fromkeys(texts))[:200]})" if texts else ""


def open_image(path: Path) -> Image.Image:
    """Decode `path` fully into an RGB image, upright (EXIF orientation applied).

    Only PNG, JPEG and WebP content is decoded (see FORMATS); anything else, and every
    exception a decoder raises, is an InputError naming the file. Warnings Pillow raises
    while decoding are captured: they become part of the error when the image fails, and
    are dropped when it decodes (they tell a user nothing then).
    Metadata (EXIF, ICC, GPS) is dropped here, so nothing downstream can carry it on.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory, not an image", path)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the open forever
        raise InputError("is not a regular file (a FIFO, socket or device), not a screenshot", path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _decode(path)
        except InputError:
            raise
        except FileNotFoundError:
            raise InputError("file not found", path) from None
        except PermissionError:
            raise InputError("permission denied", path) from None
        except UnidentifiedImageError:
            raise InputError(_refusal(path), path) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError("image is too large (decompression bomb guard)", path) from None
        except MemoryError:
            raise InputError("cannot decode image: out of memory", path) from None
        except Exception as e:  # any decoder failure is this file's problem, never the run's
            msg = " ".join(str(e).split()) or e.__class__.__name__
            if "truncated" in msg.lower():
                msg = "image file is truncated"
            raise InputError(f"cannot decode image: {msg[:200]}{_warning_text(caught)}",
                             path) from None


def _decode(path: Path) -> Image.Image:
    with Image.open(path, formats=FORMATS) as im:
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
