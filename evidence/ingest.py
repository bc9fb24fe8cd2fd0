"""Ingest: find the screenshots of a case and what the case says about each.

No pixels are decoded here (the OCR workers decode each image exactly once); a file that
cannot be used gets an InputError and the others go on. Source files are only read.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .case import Case, Entry
from .errors import InputError
from .imageio import IMAGE_SUFFIXES, sha256_file

SCREENSHOT_DIR = "screenshots"
NOTE_SUFFIX = ".txt"
MAX_NOTE_BYTES = 64 * 1024
# Files people's tools leave behind while copying or editing; never evidence.
IGNORED = ("._*", ".*", "Thumbs.db", "desktop.ini", "*.part", "*.crdownload", "*.tmp",
           "*.temp", "~$*", "*.swp", "*.swx", "*~", "#*#", "*.download")
UNSUPPORTED_IMAGES = {".heic", ".heif", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".avifs",
                      ".psd", ".eps", ".ps", ".dds", ".ico", ".icns", ".jp2", ".j2k", ".jxl",
                      ".svg", ".pcx", ".tga", ".xcf", ".dng", ".cr2", ".nef", ".raw"}
# Named like an image the decoder may read: decoded, and the content decides (an APNG is a
# PNG, an MPO a JPEG: their first frame is the screenshot).
CONTENT_DECIDES = IMAGE_SUFFIXES | {".apng", ".mpo", ".jfif", ".jpe"}
# No processor takes more than 100 pages; a folder with more images than this is a
# mistake (a whole photo library dropped in), and reading it all would take hours.
MAX_IMAGES = 1_000


@dataclass(frozen=True)
class Screenshot:
    path: Path  # absolute
    rel: str  # posix, relative to the case folder: the name used everywhere
    sha256: str
    size: int
    mtime: dt.datetime
    note: str | None
    highlight: str | None
    kind: str
    manual_date: dt.datetime | None


@dataclass
class Ingested:
    screenshots: list[Screenshot]
    problems: list[InputError]  # files meant as screenshots that cannot be used
    skipped: list[InputError] = field(default_factory=list)  # other files, named, not errors


def nfc(name: str) -> str:
    """File names compared in NFC: macOS writes NFD, a typed case.toml is NFC."""
    return unicodedata.normalize("NFC", name)


def is_ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in IGNORED)


def discover(case: Case, *, exclude: set[Path] = frozenset()) -> Ingested:
    """List the case's screenshots: every image under screenshots/ plus the files case.toml lists.

    `exclude` holds absolute paths never to take as input (the package itself).
    """
    root = case.root
    problems: list[InputError] = []
    skipped: list[InputError] = []
    found: dict[str, Path] = {}
    shot_dir = root / SCREENSHOT_DIR
    if shot_dir.is_dir():
        extra = 0
        texts: list[Path] = []
        for path in _walk(shot_dir, problems):
            rel = nfc(path.relative_to(root).as_posix())
            suffix = path.suffix.lower()
            if suffix in CONTENT_DECIDES:
                if len(found) < MAX_IMAGES:
                    found[rel] = path
                else:
                    extra += 1
            elif suffix in UNSUPPORTED_IMAGES:
                problems.append(InputError(
                    f"{suffix[1:].upper()} is not supported; export it as PNG or JPEG", path))
            elif suffix == NOTE_SUFFIX:
                texts.append(path)
            else:
                skipped.append(InputError(
                    f"not used: {'a ' + suffix + ' file' if suffix else 'a file without an extension'}"
                    ", not a screenshot (screenshots are PNG, JPEG or WebP)", path))
        images = {nfc(p.as_posix()) for p in found.values()}
        for t in texts:
            if nfc(t.as_posix()[:-len(NOTE_SUFFIX)]) not in images:
                skipped.append(InputError(
                    "not used: a text file that is no screenshot's note (a note is named like "
                    "its image plus .txt, e.g. IMG_1.png.txt)", t))
        if not found and not case.entries:
            problems.append(InputError(
                "no screenshots found here (looked for PNG, JPEG and WebP files, subfolders "
                "included)", shot_dir))
        if extra:
            problems.append(InputError(
                f"{MAX_IMAGES + extra} images, more than the {MAX_IMAGES} a case may hold; "
                f"the first {MAX_IMAGES} by path are used, {extra} ignored", shot_dir))
    elif not case.entries:
        problems.append(InputError(
            f"no {SCREENSHOT_DIR}/ folder in the case; create it and put the screenshots there",
            shot_dir))
    for rel in case.entries:
        if rel not in found:
            path = root / rel
            if not (path.exists() or path.is_symlink()):
                problems.append(InputError("listed in case.toml but not found", path))
                continue
            found[rel] = path
    excluded = {_real(p) for p in exclude}
    shots = []
    for rel in sorted(found):
        path = found[rel]
        if _real(path) in excluded:
            continue
        try:
            shots.append(_screenshot(path, rel, case.entries.get(rel)))
        except InputError as e:
            problems.append(e)
    return Ingested(shots, problems, skipped)


def _real(path: Path) -> Path:
    """Like Path.resolve, but a symlink loop yields a path instead of raising."""
    return Path(os.path.realpath(path))


def _walk(top: Path, problems: list[InputError]):
    """Files under `top`, sorted, following directory links once (a link loop is reported)."""
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            st = d.stat()
        except OSError as e:
            problems.append(InputError(f"cannot read folder: {e.strerror or e}", d))
            continue
        if (st.st_dev, st.st_ino) in seen:
            problems.append(InputError("folder link loops back; skipped", d))
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append(InputError(f"cannot read folder: {e.strerror or e}", d))
            continue
        subdirs = []
        for e in entries:
            if is_ignored(e.name):
                continue
            path = Path(e.path)
            try:
                if e.is_dir():
                    subdirs.append(path)
                elif e.is_file():
                    yield path
                elif e.is_symlink():
                    problems.append(InputError("broken or looping symbolic link", path))
                else:  # never opened: reading a FIFO would block the run
                    problems.append(InputError(
                        "not a regular file (a FIFO, socket or device); not a screenshot", path))
            except OSError as err:
                problems.append(InputError(f"cannot read: {err.strerror or err}", path))
        stack.extend(reversed(subdirs))


def _screenshot(path: Path, rel: str, entry: Entry | None) -> Screenshot:
    try:
        st = path.stat()
        if not path.is_file():
            raise InputError("not a regular file", path)
        if st.st_size == 0:
            raise InputError("empty file (0 bytes)", path)
        digest = sha256_file(path)
    except InputError:
        raise
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None
    entry = entry or Entry(file=rel)
    note = entry.note if entry.note is not None else read_sidecar_note(path)
    return Screenshot(path=path, rel=rel, sha256=digest, size=st.st_size,
                      mtime=dt.datetime.fromtimestamp(st.st_mtime).replace(microsecond=0),
                      note=(note or "").strip() or None, highlight=entry.highlight,
                      kind=entry.kind, manual_date=entry.date)


def sidecar_path(image: Path) -> Path:
    return image.with_name(image.name + NOTE_SUFFIX)


def read_sidecar_note(image: Path) -> str | None:
    side = sidecar_path(image)
    try:
        raw = side.read_bytes()[:MAX_NOTE_BYTES]
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"cannot read note: {e.strerror or e}", side) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
