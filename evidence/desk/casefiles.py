"""A case row and its case folder: case.toml written from the database, uploads stored
under generated names, import of a case folder and export as a zip.

A case folder under DATA/cases/ is an ordinary case folder: `evidence build` works on it.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import tomli_w
from PIL import Image

from ..case import CASE_FILE, load_case
from ..errors import InputError
from ..imageio import MAX_PIXELS, probe_image
from ..ingest import SCREENSHOT_DIR, discover
from ..output import atomic_write_bytes
from .models import Case, Shot

MAX_FILE_BYTES = 25 * 1024 * 1024  # one screenshot
MAX_FILES_PER_UPLOAD = 50
MAX_SHOTS_PER_CASE = 300  # processors take at most 100 pages
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
APPROVED = "approved.pdf"
PACKAGE = "evidence.pdf"


def new_folder_name() -> str:
    return "case-" + secrets.token_hex(6)


def case_toml(case: Case, shots: list[Shot]) -> bytes:
    """The case.toml the library reads, from the desk's rows (empty fields left out)."""
    client = {"name": case.client_name, "email": case.client_email}
    aliases = [a.strip() for a in (case.client_aliases or "").splitlines() if a.strip()]
    if aliases:
        client["aliases"] = aliases
    dispute = {k: v for k, v in (("id", case.dispute_id), ("processor", case.processor),
                                 ("amount", case.amount), ("reason", case.reason),
                                 ("ticket", case.ticket)) if v}
    if case.respond_by:
        dispute["respond_by"] = case.respond_by
    doc: dict = {"client": client}
    if dispute:
        doc["dispute"] = dispute
    entries = []
    for s in shots:
        e: dict = {"file": s.file}
        if s.note:
            e["note"] = s.note
        if s.highlight:
            e["highlight"] = s.highlight
        e["kind"] = s.kind
        if s.manual_date:
            e["date"] = s.manual_date
        entries.append(e)
    if entries:
        doc["screenshot"] = entries
    return tomli_w.dumps(doc).encode()


def write_case(folder: Path, case: Case, shots: list[Shot]) -> None:
    (folder / SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / CASE_FILE, case_toml(case, shots))


def safe_stem(name: str) -> str:
    """A display name reduced to a harmless file-name stem. Kept (after a generated
    prefix) because phones write the capture time into it, which `when` reads."""
    stem = Path(name.replace("\\", "/")).stem
    stem = re.sub(r"[^A-Za-z0-9 ._-]+", "_", stem).strip(" ._-")
    return stem[:80] or "screenshot"


@dataclass
class Stored:
    rel: str
    original: str


def store_upload(folder: Path, tmp_dir: Path, original: str, source: BinaryIO) -> Stored:
    """Copy an uploaded image into folder/screenshots/ under a generated name, or raise
    InputError naming the upload. The bytes go to a temp file outside the case folder, are
    decoded by the CLI's safe loader, and only then renamed into place: a cut-off or bad
    upload leaves nothing in the case."""
    fd, tmp_name = _mkstemp(tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            while chunk := source.read(1 << 20):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise InputError(f"over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for "
                                     "one screenshot", original)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise InputError("empty file", original)
        fmt = _format(tmp, original)
        try:
            probe_image(tmp)  # full decode, pixel limit, truncation
        except InputError as e:
            raise InputError(e.message, original) from None
        shots = folder / SCREENSHOT_DIR
        shots.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(4)}-{safe_stem(original)}{FORMATS[fmt]}"
        os.replace(tmp, shots / name)
        return Stored(f"{SCREENSHOT_DIR}/{name}", original[:300])
    finally:
        tmp.unlink(missing_ok=True)


def _mkstemp(tmp_dir: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix="upload-", suffix=".tmp", dir=tmp_dir)


def _format(path: Path, original: str) -> str:
    limit = f"over the {MAX_PIXELS // 1_000_000} Mpx limit"
    try:
        with Image.open(path) as im:
            fmt, (w, h) = im.format, im.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its warning size
        raise InputError(f"image is too large, {limit}", original) from None
    except Exception:
        raise InputError("not an image (PNG, JPEG or WebP expected)", original) from None
    if fmt not in FORMATS:
        raise InputError(f"{fmt} images are not supported (export it as PNG or JPEG)", original)
    if w * h > MAX_PIXELS:
        raise InputError(f"image is {w}x{h} pixels, {limit}", original)
    return fmt


def remove_shot_file(folder: Path, rel: str) -> None:
    path = (folder / rel).resolve()
    if path.is_relative_to(folder.resolve()):
        path.unlink(missing_ok=True)


def import_folder(src: Path, dest: Path) -> tuple[dict, list[dict], list[str]]:
    """Read a case folder (as the CLI would) and copy its images into `dest`.

    Returns (case fields, screenshot rows, problems). Files keep their relative path:
    it is where `when` finds capture times, and case.toml's entries point at them."""
    case = load_case(src)
    found = discover(case)
    dest.mkdir(parents=True, exist_ok=True)
    rows, problems = [], [f"{p.path.name}: {p.message}" for p in found.problems]
    for shot in found.screenshots[:MAX_SHOTS_PER_CASE]:
        try:
            probe_image(shot.path)
        except InputError as e:
            problems.append(f"{shot.rel}: {e.message}")
            continue
        target = dest / shot.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot.path, target)
        rows.append({"file": shot.rel, "original_name": shot.rel, "note": shot.note or "",
                     "highlight": shot.highlight or "", "kind": shot.kind,
                     "manual_date": shot.manual_date.date() if shot.manual_date else None})
    d = case.dispute
    fields = {"client_name": case.client.name, "client_email": case.client.email,
              "dispute_id": d.id or "", "processor": d.processor or "", "amount": d.amount or "",
              "reason": d.reason or "", "respond_by": d.respond_by, "ticket": d.ticket or ""}
    return fields, rows, problems


def export_zip(folder: Path, target: Path) -> None:
    """case.toml + screenshots/ as a zip (the package is left out: the CLI rebuilds it)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(folder / CASE_FILE, f"{folder.name}/{CASE_FILE}")
        for p in sorted((folder / SCREENSHOT_DIR).rglob("*")):
            if p.is_file():
                z.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")


def days_left(respond_by: dt.date | None, today: dt.date | None = None) -> int | None:
    if respond_by is None:
        return None
    return (respond_by - (today or dt.date.today())).days


MAX_ZIP_MEMBERS = MAX_SHOTS_PER_CASE + 50
MAX_ZIP_BYTES = 500 * 1024 * 1024  # uncompressed


def unpack_zip(source: BinaryIO, dest: Path) -> Path:
    """Unpack an uploaded case-folder zip into `dest` (an empty temp folder) and return the
    folder holding case.toml. Refuses paths leaving `dest`, links, and zip bombs."""
    try:
        z = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise InputError("not a zip file") from None
    with z:
        members = [m for m in z.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise InputError(f"over {MAX_ZIP_MEMBERS} files in the zip")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise InputError(f"over {MAX_ZIP_BYTES // (1024 * 1024)} MB unpacked")
        root = dest.resolve()
        for m in members:
            target = (root / m.filename).resolve()
            if not target.is_relative_to(root) or (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise InputError(f"{m.filename!r} points outside the case folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    tomls = sorted(root.rglob(CASE_FILE), key=lambda p: len(p.parts))
    if not tomls:
        raise InputError(f"no {CASE_FILE} in the zip")
    return tomls[0].parent
