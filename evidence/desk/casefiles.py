"""A case row and its case folder: case.toml written from the database, uploads stored
under generated names, import of a case folder and export as a zip.

A case folder under DATA/cases/ is an ordinary case folder: `evidence build` works on it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import tempfile
import threading
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import tomli_w
from PIL import Image

from .. import documents, rebuttal
from ..case import CASE_FILE, load_case, parse_case
from ..errors import CaseError, InputError
from ..imageio import MAX_PIXELS, probe_image
from ..ingest import SCREENSHOT_DIR, discover
from ..output import atomic_write_bytes
from .models import Case, Document, Shot

MAX_FILE_BYTES = 25 * 1024 * 1024  # one screenshot
MAX_FILES_PER_UPLOAD = 50
MAX_SHOTS_PER_CASE = 300  # processors take at most 100 pages
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
APPROVED = "approved.pdf"
PACKAGE = "evidence.pdf"
MAX_LETTER_CHARS = 20_000  # Stripe's text field; the letter is meant to be 200-400 words
PDFIUM = threading.Lock()  # PDFium is not thread-safe; the desk's handlers run in threads


def lines(text: str | None) -> list[str]:
    """A one-a-line text column (aliases, proves) as a list, blanks left out."""
    return [x.strip() for x in (text or "").splitlines() if x.strip()]


def patterns(text: str | None) -> list[str]:
    """The [redact] patterns column (regexes, one a line) as a list: lines kept as typed,
    spaces included, since a space is part of a regex; blank lines left out."""
    return [x.rstrip("\r") for x in (text or "").split("\n") if x.strip()]


def new_folder_name() -> str:
    return "case-" + secrets.token_hex(6)


def _given(*pairs) -> dict:
    """A case.toml table from (key, value) pairs, empty values left out."""
    return {k: v for k, v in pairs if v}


def case_toml(case: Case, shots: list[Shot], docs: Iterable[Document] = ()) -> bytes:
    """The case.toml the library reads, from the desk's rows (empty fields left out)."""
    client = _given(("name", case.client_name), ("email", case.client_email),
                    ("aliases", lines(case.client_aliases)),
                    ("emails", lines(case.client_emails)))
    dispute = _given(("id", case.dispute_id), ("processor", case.processor),
                     ("amount", case.amount), ("reason", case.reason), ("ticket", case.ticket))
    if case.respond_by:
        dispute["respond_by"] = case.respond_by
    doc: dict = {"client": client}
    if dispute:
        doc["dispute"] = dispute
    package = _given(("output", case.package_output), ("page_size", case.page_size),
                     ("date_order", case.date_order), ("languages", lines(case.languages)))
    if package:
        doc["package"] = package
    if patterns(case.redact_patterns):
        doc["redact"] = {"patterns": patterns(case.redact_patterns)}
    entries = [_given(("file", s.file), ("note", s.note), ("highlight", s.highlight),
                      ("kind", s.kind), ("date", when(s.manual_date, s.manual_time)),
                      ("date_order", s.date_order),
                      ("proves", lines(s.proves)))
               for s in shots]
    if entries:
        doc["screenshot"] = entries
    papers = [_given(("file", d.file), ("title", d.title if d.title != d.file else ""),
                     ("kind", d.kind), ("note", d.note), ("highlight", d.highlight),
                     ("date", when(d.manual_date, d.manual_time)), ("proves", lines(d.proves)))
              for d in docs]
    if papers:
        doc["document"] = papers
    if (case.rebuttal_text or "").strip():
        doc["rebuttal"] = {"text": case.rebuttal_text.strip()}
    return tomli_w.dumps(doc).encode()


def write_case(folder: Path, case: Case, shots: list[Shot], docs: Iterable[Document] = ()) -> None:
    """Write case.toml, once the CLI's own parser accepts it (CaseError otherwise, and the
    file on disk is left as it was)."""
    data = case_toml(case, shots, docs)
    parse_case(tomllib.loads(data.decode()), root=folder.resolve(), path=folder / CASE_FILE)
    (folder / SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / CASE_FILE, data)


def safe_stem(name: str, default: str = "screenshot") -> str:
    """A display name reduced to a harmless file-name stem. Kept (after a generated
    prefix) because phones write the capture time into it, which `when` reads."""
    stem = Path(name.replace("\\", "/")).stem
    stem = re.sub(r"[^A-Za-z0-9 ._-]+", "_", stem).strip(" ._-")
    return stem[:80] or default


@dataclass
class Stored:
    rel: str
    original: str


@contextlib.contextmanager
def _received(tmp_dir: Path, original: str, source: BinaryIO, limit: int, what: str
              ) -> Iterator[Path]:
    """The upload's bytes in a temp file outside the case folder (at most `limit`), removed
    afterwards unless the caller renamed it into place."""
    fd, tmp_name = _mkstemp(tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            while chunk := source.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    mb = limit // 2**20 if limit % 2**20 == 0 else limit // 10**6
                    raise InputError(f"over the {mb} MB limit for one {what}", original)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise InputError("empty file", original)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _probe(tmp: Path, original: str, not_image: str) -> str:
    """The image's format after a full decode by the CLI's safe loader, or InputError."""
    fmt = _format(tmp, original, not_image)
    try:
        probe_image(tmp)  # full decode, pixel limit, truncation
    except InputError as e:
        raise InputError(e.message, original) from None
    return fmt


def _place(tmp: Path, folder: Path, sub: str, original: str, suffix: str) -> str:
    (folder / sub).mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(4)}-{safe_stem(original, sub.rstrip('s'))}{suffix}"
    os.replace(tmp, folder / sub / name)
    return f"{sub}/{name}"


def store_upload(folder: Path, tmp_dir: Path, original: str, source: BinaryIO) -> Stored:
    """Copy an uploaded image into folder/screenshots/ under a generated name, or raise
    InputError naming the upload. The bytes go to a temp file outside the case folder, are
    decoded by the CLI's safe loader, and only then renamed into place: a cut-off or bad
    upload leaves nothing in the case."""
    with _received(tmp_dir, original, source, MAX_FILE_BYTES, "screenshot") as tmp:
        fmt = _probe(tmp, original, "not an image (PNG, JPEG or WebP expected)")
        return Stored(_place(tmp, folder, SCREENSHOT_DIR, original, FORMATS[fmt]), original[:300])


@dataclass
class StoredDocument:
    rel: str
    original: str
    kind: str  # guessed from the name and text, as the CLI does for documents/
    pages: int


def store_document(folder: Path, tmp_dir: Path, original: str, source: BinaryIO) -> StoredDocument:
    """Copy an uploaded document (PDF, or a PNG/JPEG/WebP scan) into folder/documents/
    under a generated name, or raise InputError naming the upload. A PDF passes the very
    screening `evidence build` gives documents/ (validate's checks: no encryption,
    JavaScript, actions, forms or attachments; bounded bytes, pages and objects) before it
    is renamed into place; a scan is decoded by the CLI's safe image loader."""
    with _received(tmp_dir, original, source, documents.MAX_DOCUMENT_BYTES, "document") as tmp:
        with open(tmp, "rb") as f:
            is_pdf = f.read(1024).lstrip().startswith(b"%PDF-")
        if is_pdf:
            try:
                with PDFIUM:
                    doc = documents.read_pdf(tmp, original, None)
            except InputError as e:
                raise InputError(e.message, original) from None
            kind, pages, suffix = doc.kind, doc.pages, ".pdf"
        else:
            fmt = _probe(tmp, original, "not a PDF, PNG, JPEG or WebP document")
            kind, pages, suffix = documents.guess_kind(original, ""), 1, FORMATS[fmt]
        rel = _place(tmp, folder, documents.DOCUMENT_DIR, original, suffix)
        return StoredDocument(rel, original[:300], kind, pages)


def _mkstemp(tmp_dir: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix="upload-", suffix=".tmp", dir=tmp_dir)


def _format(path: Path, original: str, not_image: str) -> str:
    limit = f"over the {MAX_PIXELS // 1_000_000} Mpx limit"
    try:
        with Image.open(path) as im:
            fmt, (w, h) = im.format, im.size
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its warning size
        raise InputError(f"image is too large, {limit}", original) from None
    except Exception:
        raise InputError(not_image, original) from None
    if fmt not in FORMATS:
        raise InputError(f"{fmt} images are not supported (export it as PNG or JPEG)", original)
    if w * h > MAX_PIXELS:
        raise InputError(f"image is {w}x{h} pixels, {limit}", original)
    return fmt


def remove_file(folder: Path, rel: str) -> None:
    path = (folder / rel).resolve()
    if path.is_relative_to(folder.resolve()):
        path.unlink(missing_ok=True)


@dataclass
class Imported:
    fields: dict  # Case columns
    shots: list[dict] = field(default_factory=list)  # Shot columns
    documents: list[dict] = field(default_factory=list)  # Document columns
    problems: list[str] = field(default_factory=list)  # files left out, one line each


def import_folder(src: Path, dest: Path) -> Imported:
    """Read a case folder (as the CLI would) and copy its screenshots and documents into
    `dest`, each after the same screening a build gives it.

    Files keep their relative path: it is where `when` finds capture times, and case.toml's
    entries point at them. A rebuttal.md becomes the [rebuttal] text (a build reads both
    the same way)."""
    case = load_case(src)
    found = discover(case)
    with PDFIUM:  # documents are screened and read with PDFium
        papers = documents.discover(case)
    dest.mkdir(parents=True, exist_ok=True)
    out = Imported(_fields(case), problems=[f"{p.path.name}: {p.message}"
                                            for p in found.problems + papers.problems])

    def copy(path: Path, rel: str) -> None:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    for shot in found.screenshots[:MAX_SHOTS_PER_CASE]:
        try:
            probe_image(shot.path)
        except InputError as e:
            out.problems.append(f"{shot.rel}: {e.message}")
            continue
        copy(shot.path, shot.rel)
        entry = case.entries.get(shot.rel)
        out.shots.append({"file": shot.rel, "original_name": shot.rel, "note": shot.note or "",
                          "highlight": shot.highlight or "", "kind": shot.kind,
                          "manual_date": _day(shot.manual_date),
                          "manual_time": _time(shot.manual_date, shot.rel),
                          "date_order": (entry.date_order if entry else None) or "",
                          "proves": "\n".join(entry.proves if entry else ())})
    scans = []
    for scan in papers.scans:
        try:
            probe_image(scan.path)
        except InputError as e:
            out.problems.append(f"{scan.rel}: {e.message}")
            continue
        scans.append((scan.path, scan.rel, scan.note, 1))
    for path, rel, note, pages in sorted(
            [(d.path, d.rel, None, d.pages) for d in papers.pdfs] + scans, key=lambda x: x[1]
            )[:documents.MAX_DOCUMENTS]:
        copy(path, rel)
        entry = papers.entries[rel]
        out.documents.append({"file": rel, "title": (entry.title or rel)[:300], "kind": entry.kind,
                              "note": entry.note or note or "", "pages": pages,
                              "highlight": entry.highlight or "",
                              "manual_date": _day(entry.date), "manual_time": _time(entry.date, rel),
                              "proves": "\n".join(entry.proves)})
    letter = rebuttal.rebuttal_path(src)
    if letter.is_file():
        text = letter.read_bytes()[:rebuttal.MAX_FILE_BYTES].decode("utf-8-sig", errors="replace")
        out.fields["rebuttal_text"] = text.strip()[:MAX_LETTER_CHARS]
    return out


def _day(v: dt.datetime | None) -> dt.date | None:
    return v.date() if v else None


def _time(v: dt.datetime | None, rel: str) -> dt.time | None:
    """A date's time of day (None at midnight: a plain date). A UTC offset is refused,
    loudly, rather than dropped: the desk keeps times as written."""
    if v is None or v.time() == dt.time():
        return None
    if v.tzinfo is not None:
        raise CaseError(f"{rel}: its date {v.isoformat()} has a UTC offset, which the desk "
                        "does not keep; write the local time without it")
    return v.time()


def when(day: dt.date | None, time: dt.time | None) -> dt.date | dt.datetime | None:
    """case.toml's `date` from a date and an optional time of day."""
    return dt.datetime.combine(day, time) if day and time else day


def _fields(case) -> dict:
    d = case.dispute
    for p in case.redact_patterns:
        if "\n" in p or "\r" in p:
            raise CaseError(f"[redact] pattern {p!r} spans lines, and the desk keeps one a "
                            "line: write the line break as \\n", case.root / CASE_FILE)
    output = case.output
    if output is not None and output.is_relative_to(case.root):
        output = output.relative_to(case.root).as_posix()
    return {"client_name": case.client.name, "client_email": case.client.email,
            "client_aliases": "\n".join(case.client.aliases),
            "client_emails": "\n".join(case.client.emails),
            "package_output": str(output or "")[:300], "page_size": (case.page_size or "")[:50],
            "date_order": case.date_order or "", "languages": "\n".join(case.languages),
            "redact_patterns": "\n".join(case.redact_patterns),
            "dispute_id": d.id or "", "processor": d.processor or "", "amount": d.amount or "",
            "reason": d.reason or "", "respond_by": d.respond_by, "ticket": d.ticket or "",
            "rebuttal_text": (case.rebuttal or "")[:MAX_LETTER_CHARS]}


def export_zip(folder: Path, target: Path, papers: Iterable[str] = ()) -> None:
    """case.toml + screenshots/ + the documents (`papers`: their paths in the case folder)
    as a zip. The package is left out: the CLI rebuilds it."""
    root = folder.resolve()
    files = [p for p in sorted((folder / SCREENSHOT_DIR).rglob("*")) if p.is_file()]
    files += [folder / rel for rel in sorted(set(papers))
              if (folder / rel).is_file() and (folder / rel).resolve().is_relative_to(root)]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(folder / CASE_FILE, f"{folder.name}/{CASE_FILE}")
        for p in files:
            z.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")


def days_left(respond_by: dt.date | None, today: dt.date | None = None) -> int | None:
    if respond_by is None:
        return None
    return (respond_by - (today or dt.date.today())).days


MAX_ZIP_MEMBERS = MAX_SHOTS_PER_CASE + documents.MAX_DOCUMENTS + 50
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
