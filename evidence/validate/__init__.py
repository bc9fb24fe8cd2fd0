"""Validate finished packages before they are uploaded (`evidence validate`).

    report = validate([Path("evidence.pdf")], ValidateOptions(deep=True))
    report.ok, report.exit_code, report.to_json()

Checks, each with an id, a status (pass / warn / fail / skip) and a one-line detail:

- `readable`: the file is a PDF that opens without repair (any qpdf warning means qpdf
  had to repair something), is not encrypted, and its page tree is sane. Files that cannot
  be read at all (missing, not a PDF, over MAX_FILE_BYTES, a password, a page tree that
  loops or holds more than MAX_PAGES pages) stop here: `PackageReport.unreadable`.
- `limits`: bytes and pages against the processor preset (`--processor`, else the
  manifest's dispute processor) or the explicit caps; PDF/A-2b markers when the preset
  requires PDF/A; the total of several packages of one dispute against the total cap.
- `active-content`: no JavaScript, OpenAction, additional actions (AA), Launch and other
  dangerous actions, no forms, no embedded files but the evidence manifest.
- `manifest`: the manifest is there and reads; the page count and the SHA-256 of every
  exhibit page's image stream match it, so a page removed, added, replaced or moved after
  the build is named. A PDF without a manifest gets a warning (not built by evidence).
- `order`: exhibits in chronological order of their `when`.
- `fields`: date, client name and email were found in every exhibit (site captures need
  only a date); with `deep`, confirmed again by OCR of the rendered pages.
- `case`: with a case folder, every source still has the SHA-256 in the manifest and no
  screenshot of the case is missing from the package.
- `deadline`: the respond-by date: fail when past, warn within DEADLINE_WARN_DAYS days.

Hostile input: the file size is checked before parsing; the page tree is walked by hand
(bounded, loop-proof) before qpdf builds its page list; the object graph is walked
iteratively from the trailer with a node budget; Flate streams are inflated with an
output budget (decompression bombs) and never kept. Everything is opened read-only.
The library raises only project errors (CaseError for a bad case folder or processor,
EngineError when OCR cannot run); a package that cannot be read is reported, not raised.
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import json
import math
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pikepdf
from pikepdf import Name

from .. import presets
from ..errors import CaseError, EvidenceError, PackageError
from ..imageio import sniff
from ..manifest import INFO_PREFIX, MANIFEST_NAME, content_digests_from_pdf, digests_from_pdf
from ..units import format_size
from .bounds import (MAX_FILE_BYTES, MAX_MANIFEST_BYTES, MAX_NODES, MAX_OTHER_FILTER_RAW,
                     MAX_PAGES, MAX_RENDER_PIXELS, MAX_STREAM_OUT, MAX_THUMBNAILS,
                     MAX_TOTAL_OUT, MAX_TREE_DEPTH, MAX_XMP_BYTES)
from .common import dispute, first_line, int_or_none, list_of_dicts, str_or_none
from .results import (CHECK_IDS, Check, PackageReport, PageFinding, ValidateOptions,
                      ValidationReport)
from .schema import manifest_problem

THUMB_WIDTH = 170  # px, thumbnails in the HTML report
DEEP_MIN_DPI = 150  # layout draws text at >= 10 pt: >= ~21 px rendered
DEEP_MAX_DPI = 400
DEADLINE_WARN_DAYS = 3
DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES = presets.DEFAULT_MAX_BYTES, presets.DEFAULT_MAX_PAGES


# Actions that run something, reach outside the document or submit data.
_DANGEROUS_ACTIONS = {
    "/JavaScript": "JavaScript action", "/Launch": "Launch action (runs a program)",
    "/SubmitForm": "SubmitForm action", "/ImportData": "ImportData action",
    "/GoToR": "GoToR action (opens another file)", "/GoToE": "GoToE action (opens an embedded file)",
    "/Rendition": "Rendition action (media)", "/RichMediaExecute": "RichMediaExecute action",
    "/Movie": "Movie action", "/Sound": "Sound action", "/ResetForm": "ResetForm action",
    "/SetOCGState": "SetOCGState action", "/Hide": "Hide action",
}
_MEDIA_ANNOTS = {"/FileAttachment": "file attachment annotation",
                 "/RichMedia": "rich media annotation", "/Screen": "screen (media) annotation",
                 "/Movie": "movie annotation", "/Sound": "sound annotation",
                 "/3D": "3D annotation"}


class _Unreadable(Exception):
    """This file cannot be read at all (internal: becomes a failed `readable` check)."""


# --- entry points --------------------------------------------------------------------

def validate(paths: Iterable[Path | str], options: ValidateOptions | None = None) -> ValidationReport:
    """Validate each package; see the module docstring. Raises CaseError for a bad
    --case folder or an unknown --processor, EngineError if --deep OCR cannot run."""
    options = options or ValidateOptions()
    paths = [Path(p) for p in paths]
    if options.processor:
        _preset(options.processor)  # an unknown processor is a usage error, raised now
    case = None
    if options.case_dir is not None:
        from ..case import load_case
        case = load_case(options.case_dir)
    inspected = [_inspect(p, options, case, paths) for p in paths]
    _group_totals([r for r, _ in inspected])
    if options.deep:
        _deep(inspected, options, case)
    if options.thumbnails:
        for report, _ in inspected:
            if _renderable(report):
                _thumbnails(report)
    for report, ctx in inspected:
        report.checks.sort(key=lambda c: CHECK_IDS.index(c.id) if c.id in CHECK_IDS else 99)
    return ValidationReport([r for r, _ in inspected])


def validate_package(path: Path | str, options: ValidateOptions | None = None) -> PackageReport:
    return validate([path], options).packages[0]


def screen_document(path: Path | str) -> str | None:
    """Why a PDF may not go into a package as a document exhibit, or None: the `readable`
    and `active-content` checks a package must pass, with the same bounds."""
    report = validate_package(path)
    bad = [c.detail for c in report.checks
           if c.id in ("readable", "active-content") and c.status == "fail"]
    return "; ".join(bad) or None


# --- per package -------------------------------------------------------------------

@dataclass
class _Ctx:
    """What the later (batched) stages need about one package."""

    deep_pages: list[tuple[int, bool]] = field(default_factory=list)  # (page, crop to image)
    client: tuple[str, str] | None = None


def _inspect(path: Path, options: ValidateOptions, case, all_paths: list[Path]
             ) -> tuple[PackageReport, _Ctx]:
    report = PackageReport(path)
    ctx = _Ctx()
    try:
        _inspect_file(path, report, ctx, options, case, all_paths)
    except _Unreadable as e:
        report.unreadable = True
        report.checks = [c for c in report.checks if c.id != "readable"]
        report.checks.insert(0, Check("readable", "fail", str(e)))
    except EvidenceError:
        raise
    except (pikepdf.PdfError, RuntimeError, ValueError, IndexError, KeyError, OverflowError,
            RecursionError, MemoryError, OSError, zlib.error) as e:
        # qpdf raises these for damage it cannot repair, at any access
        report.unreadable = True
        report.checks = [c for c in report.checks if c.id != "readable"]
        report.checks.insert(0, Check("readable", "fail",
                                      f"cannot be read: {first_line(e) or type(e).__name__}"))
    return report, ctx


def _inspect_file(path: Path, report: PackageReport, ctx: _Ctx, options: ValidateOptions,
                  case, all_paths: list[Path]) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _Unreadable("file not found") from None
    except OSError as e:
        raise _Unreadable(f"cannot read: {e.strerror or e}") from None
    if not path.is_file():
        raise _Unreadable("not a regular file")
    report.size = st.st_size
    if st.st_size == 0:
        raise _Unreadable("empty file (0 bytes)")
    if st.st_size > MAX_FILE_BYTES:
        raise _Unreadable(f"{format_size(st.st_size)}, over the {format_size(MAX_FILE_BYTES)} "
                          "this validator reads (no processor accepts a file this large); not opened")
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise _Unreadable(f"cannot read: {e.strerror or e}") from None
    if b"%PDF-" not in head:
        what = sniff(head)
        raise _Unreadable("not a PDF (no %PDF- header)" +
                          ("" if what.startswith("not ") else f": it is {what}"))
    try:
        # inherit_page_attributes=False: qpdf would walk the whole page tree while
        # opening; we walk it ourselves first, with bounds.
        pdf = pikepdf.open(path, inherit_page_attributes=False)
    except pikepdf.PasswordError:
        raise _Unreadable("encrypted: it needs a password to open "
                          "(processors refuse encrypted PDFs)") from None
    except (pikepdf.PdfError, RuntimeError, ValueError, OSError) as e:
        raise _Unreadable(f"not a readable PDF: {_strip_file(first_line(e), path)}") from None
    with pdf:
        _inspect_pdf(pdf, path, report, ctx, options, case, all_paths)


def _inspect_pdf(pdf: pikepdf.Pdf, path: Path, report: PackageReport, ctx: _Ctx,
                 options: ValidateOptions, case, all_paths: list[Path]) -> None:
    problems: list[str] = []  # readable findings
    leaves, tree_problems = _walk_page_tree(pdf)
    problems += tree_problems
    pages = pdf.pages
    n = len(pages)
    if n != leaves:
        problems.append(f"qpdf sees {n} pages, the page tree {leaves}")
    report.page_count = n
    if n == 0:
        problems.append("the document has no pages")
    if pdf.is_encrypted:
        problems.append("encrypted (processors refuse encrypted PDFs; PDF/A forbids it)")
    scan = _Scan(pdf)
    scan.run()
    problems += scan.damage
    manifest, manifest_error, manifest_spec = _read_manifest(pdf, scan)
    if manifest is not None and (bad := manifest_problem(manifest, n)) is not None:
        manifest, manifest_error = None, f"the manifest is damaged: {bad}"  # trust none of it
    digests = digests_from_pdf(pdf)
    warnings = [_strip_file(first_line(w), path) for w in pdf.get_warnings() if w]
    if warnings:
        more = f" (+{len(warnings) - 2} more)" if len(warnings) > 2 else ""
        problems.insert(0, f"repaired while reading: {'; '.join(warnings[:2])}{more}")
    notes = []  # readable, with a warning
    trailing = _after_last_eof(path)
    if trailing is not None:
        (problems if trailing[0] == "fail" else notes).append(trailing[1])
    if path.suffix.lower() != ".pdf":
        notes.append(f"named {path.suffix or 'without an extension'} but it is a PDF: "
                     "name it .pdf before uploading")
    if problems:
        report.checks.append(Check("readable", "fail", "; ".join(problems[:3]) +
                                   (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
                                   findings=problems + notes + [f"qpdf: {w}" for w in warnings[:50]]))
    elif notes:
        report.checks.append(Check("readable", "warn", "; ".join(notes), findings=notes))
    else:
        report.checks.append(Check("readable", "pass",
                                   f"PDF {pdf.pdf_version}, {n} page(s), opens without repair"))

    report.manifest = manifest
    preset_name = options.processor or dispute(manifest).get("processor") or (
        case.dispute.processor if case is not None else None)
    report.dispute_id = str_or_none(dispute(manifest).get("id")) or (
        case.dispute.id if case is not None else None)
    report.checks.append(_check_limits(pdf, report, options, preset_name, scan))
    report.checks.append(_check_active(scan, manifest_spec))

    report.pages = [PageFinding(page=i + 1, image="no image" if d is None else "-")
                    for i, d in enumerate(digests)]
    if manifest_error is not None:
        report.checks.append(Check("manifest", "fail", manifest_error))
    elif manifest is None:
        report.checks.append(Check("manifest", "warn", "no manifest (not built by evidence): "
                                   "page integrity, order and recorded fields cannot be checked"))
    else:
        check = _check_manifest(manifest, digests, report, content_digests_from_pdf(pdf))
        revisions = _revisions(path) - (1 if pdf.is_linearized else 0)
        if revisions > 1:  # pikepdf writes a package in one piece
            note = (f"the file was changed after the build ({revisions - 1} incremental "
                    "update(s)): the images still match, but changed text or drawings on a page "
                    "cannot be detected")
            check.findings.append(note)
            if check.status == "pass":
                check.status, check.detail = "warn", note
        report.checks.append(check)
        report.checks.append(_check_order(manifest))
        report.checks.append(_check_fields(manifest))
    if case is not None:
        report.checks.append(_check_case(manifest, case, all_paths))
    deadline = _check_deadline(manifest, case, options.today)
    if deadline is not None:
        report.checks.append(deadline)

    if options.deep:
        ctx.client = _client_for(options, case, manifest)
        ctx.deep_pages = _deep_plan(report, manifest)


def _revisions(path: Path, limit: int = 1000) -> int:
    """How many times the file was written: one `startxref` per revision (bounded scan)."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            count, pos = 0, mm.find(b"startxref")
            while pos != -1 and count < limit:
                count += 1
                pos = mm.find(b"startxref", pos + 9)
            return count
    except (OSError, ValueError):
        return 1


def _after_last_eof(path: Path) -> tuple[str, str] | None:
    """Bytes after the last %%EOF: none in a package this tool writes. Another file's
    signature there (a ZIP appended: a polyglot) fails; other stray bytes warn."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = mm.rfind(b"%%EOF")
            if pos < 0:
                return "warn", "no %%EOF marker at the end of the file (truncated?)"
            tail = mm[pos + 5: pos + 5 + 4096].lstrip(b"\r\n\t \x00\x0c")
            extra = len(mm) - (pos + 5)
    except (OSError, ValueError):
        return None
    if not tail:
        return None
    what = sniff(tail[:64])
    if what.startswith("not ") or what == "a text file":
        return "warn", (f"{format_size(extra)} after the last %%EOF: data a PDF reader "
                        "ignores (a processor may reject the file)")
    return "fail", (f"a polyglot: {what} is appended after the last %%EOF "
                    f"({format_size(extra)}); rebuild the package or remove the extra data")


def _strip_file(text: str, path: Path) -> str:
    """qpdf's message without the file name it starts with (the report names the file)."""
    if text.startswith(str(path)):
        return text[len(str(path)):].lstrip(", :")
    return text


# --- readable: page tree -------------------------------------------------------------

def _walk_page_tree(pdf: pikepdf.Pdf) -> tuple[int, list[str]]:
    """Count the leaves of the page tree without trusting it; raise _Unreadable if qpdf
    must not be let loose on it (loops, too many pages, too deep)."""
    root = pdf.Root
    if not isinstance(root, pikepdf.Dictionary):
        raise _Unreadable("no document catalog (/Root)")
    top = root.get("/Pages")
    if not isinstance(top, pikepdf.Dictionary):
        raise _Unreadable("no page tree (/Root /Pages)")
    problems: list[str] = []
    claimed = top.get("/Count")
    leaves = 0
    seen: set[tuple[int, int]] = set()
    path: list[tuple[int, int]] = []
    # iterative depth-first walk; a node seen before is a loop or a shared node
    stack: list[tuple[object, int]] = [(top, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise _Unreadable(f"page tree nests more than {MAX_TREE_DEPTH} levels deep")
        if not isinstance(node, pikepdf.Dictionary):
            problems.append("page tree holds something that is not a page")
            continue
        og = node.objgen
        if og != (0, 0):
            if og in seen:
                if node.get("/Kids") is not None:
                    raise _Unreadable("page tree loops back on itself")
                problems.append(f"page object {og[0]} appears more than once in the page tree")
                leaves += 1
                continue
            seen.add(og)
        kids = node.get("/Kids")
        if kids is None or node.get("/Type") == Name.Page:
            leaves += 1
            if leaves > MAX_PAGES:
                raise _Unreadable(f"more than {MAX_PAGES} pages (no processor accepts over 100); "
                                  "not read")
            continue
        if not isinstance(kids, pikepdf.Array):
            problems.append("page tree node with /Kids that is not an array")
            continue
        if len(kids) > MAX_PAGES:
            raise _Unreadable(f"page tree lists {len(kids)} pages, over the {MAX_PAGES} this "
                              "validator reads (no processor accepts over 100); not read")
        stack.extend((k, depth + 1) for k in reversed(list(kids)))
    del path
    if isinstance(claimed, int) and int(claimed) != leaves:
        problems.append(f"page tree claims {int(claimed)} pages but holds {leaves}")
    elif not isinstance(claimed, int):
        problems.append("page tree has no valid /Count")
    return leaves, problems


# --- readable + active content: the object walk --------------------------------------

class _Scan:
    """One bounded walk of every object reachable from the trailer."""

    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.found: list[tuple[str, tuple[int, int] | None]] = []  # (finding, owner objgen)
        self.warnings: list[str] = []  # active content that is allowed but worth saying
        self.damage: list[str] = []  # readable problems
        self.filespecs: list[tuple[str, pikepdf.Object]] = []  # (name, filespec dict)
        self.embedded_streams = 0
        self.inflated = 0
        self.nodes = 0
        self.page_of: dict[tuple[int, int], int] = {}
        self.xmp: bytes | None = None

    def run(self) -> None:
        pdf = self.pdf
        self._map_pages()
        root = pdf.Root
        if root.get("/OpenAction") is not None:
            self.found.append(("OpenAction (runs when the file opens)", None))
        if root.get("/AcroForm") is not None:
            form = root.AcroForm
            fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
            n = len(fields) if isinstance(fields, pikepdf.Array) else 0
            xfa = " with XFA" if isinstance(form, pikepdf.Dictionary) and "/XFA" in form else ""
            self.found.append((f"interactive form (AcroForm{xfa}, {n} field(s))", None))
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and names.get("/JavaScript") is not None:
            self.found.append(("document-level JavaScript (Names/JavaScript)", None))
        self._walk()

    def _map_pages(self) -> None:
        for i, page in enumerate(self.pdf.pages, 1):
            obj = page.obj
            if obj.is_indirect:
                self.page_of.setdefault(obj.objgen, i)
            annots = obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                for a in list(annots)[:10_000]:
                    if isinstance(a, pikepdf.Dictionary) and a.is_indirect:
                        self.page_of.setdefault(a.objgen, i)
                        act = a.get("/A")
                        if isinstance(act, pikepdf.Dictionary) and act.is_indirect:
                            self.page_of.setdefault(act.objgen, i)

    def where(self, owner: tuple[int, int] | None) -> str:
        if owner is None:
            return ""
        page = self.page_of.get(owner)
        return f" on page {page}" if page else f" (object {owner[0]})"

    def _walk(self) -> None:
        seen: set[tuple[int, int]] = set()
        stack: list[tuple[object, tuple[int, int] | None]] = [(self.pdf.trailer, None)]
        while stack:
            obj, owner = stack.pop()
            if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                continue
            if obj.is_indirect:
                og = obj.objgen
                if og in seen:
                    continue
                seen.add(og)
                owner = og
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.damage.append(f"more than {MAX_NODES} objects reachable; not all were checked")
                return
            if isinstance(obj, pikepdf.Array):
                children = list(obj)
            else:
                children = [v for _, v in obj.items()]
                self._look(obj, owner)
            self.nodes += len(children) // 16  # huge arrays count against the budget too
            for child in children:
                if isinstance(child, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                    if child.is_indirect and child.objgen in seen:
                        continue
                    stack.append((child, owner))

    def _look(self, d: pikepdf.Object, owner: tuple[int, int] | None) -> None:
        where = self.where(owner)
        s = d.get("/S")
        if "/JS" in d or s == Name("/JavaScript"):
            self.found.append((f"JavaScript{where}", owner))
        elif isinstance(s, pikepdf.Name) and str(s) in _DANGEROUS_ACTIONS and str(s) != "/JavaScript":
            self.found.append((f"{_DANGEROUS_ACTIONS[str(s)]}{where}", owner))
        elif s == Name("/URI") and "/URI" in d:
            uri = d.get("/URI")
            self.warnings.append(f"link to {_short(str(uri)) if uri is not None else '?'}{where}")
        aa = d.get("/AA")
        if isinstance(aa, pikepdf.Dictionary) and len(aa.keys()) > 0:
            self.found.append((f"additional actions (AA: {', '.join(sorted(str(k)[1:] for k in aa.keys())[:5])}){where}",
                               owner))
        sub = d.get("/Subtype")
        if sub == Name.Widget:
            self.found.append((f"form field widget{where}", owner))
        elif isinstance(sub, pikepdf.Name) and str(sub) in _MEDIA_ANNOTS and "/Rect" in d:
            self.found.append((f"{_MEDIA_ANNOTS[str(sub)]}{where}", owner))
        if "/EF" in d:
            name = _filespec_name(d)
            self.filespecs.append((name, d))
        if d.get("/Type") == Name("/EmbeddedFile") and isinstance(d, pikepdf.Stream):
            self.embedded_streams += 1
        if isinstance(d, pikepdf.Stream):
            self._inflate(d, owner)

    def _inflate(self, stream: pikepdf.Object, owner) -> None:
        """Check that a Flate stream decodes to its end (a flipped byte breaks the zlib
        checksum), within the output budgets. Other filters are left to the renderer."""
        filters = _filters(stream)
        if filters != ["/FlateDecode"]:
            return
        try:
            raw = stream.read_raw_bytes()
        except (pikepdf.PdfError, RuntimeError, ValueError) as e:
            self.damage.append(f"object {owner[0] if owner else '?'}: stream cannot be read: {first_line(e)}")
            return
        if not raw.strip():
            return  # an empty stream is empty whatever its filter says
        budget = min(MAX_STREAM_OUT, MAX_TOTAL_OUT - self.inflated)
        if budget <= 0:
            if not any("expand" in d for d in self.damage):
                self.damage.append(f"streams expand to more than {format_size(MAX_TOTAL_OUT)} "
                                   "(a decompression bomb?); not all were checked")
            return
        try:
            n, complete = _inflate_size(raw, budget)
        except zlib.error as e:
            self.damage.append(f"object {owner[0] if owner else '?'}: compressed stream is damaged ({e})")
            return
        self.inflated += n
        if n > budget:
            self.damage.append(f"object {owner[0] if owner else '?'}: a stream expands to more than "
                               f"{format_size(budget)} (a decompression bomb?)")
        elif not complete:
            self.damage.append(f"object {owner[0] if owner else '?'}: compressed stream ends early")


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _filters(stream: pikepdf.Object) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    if isinstance(f, pikepdf.Name):
        return [str(f)]
    if isinstance(f, pikepdf.Array):
        return [str(x) for x in f]
    return ["?"]


def _inflate_size(raw: bytes, limit: int) -> tuple[int, bool]:
    """(bytes out, reached the end) of inflating `raw`, stopping after limit+1 bytes."""
    d = zlib.decompressobj()
    total = 0
    data = raw
    chunk = 1 << 22
    while True:
        out = d.decompress(data, chunk)
        total += len(out)
        if total > limit:
            return total, False
        data = d.unconsumed_tail
        if not data:
            break
    if not d.eof:
        out = d.flush()
        total += len(out)
    return total, d.eof


def _inflate(raw: bytes, limit: int) -> bytes | None:
    """Inflate `raw` fully, or None if it is over `limit` or damaged."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or d.unconsumed_tail:
        return None
    return out


def _stream_data(stream: pikepdf.Object, limit: int) -> bytes | None:
    """A stream's decoded bytes, bounded; None if it is too big, damaged or exotic."""
    try:
        filters = _filters(stream)
        raw = stream.read_raw_bytes()
        if not filters:
            return raw if len(raw) <= limit else None
        if filters == ["/FlateDecode"]:
            parms = stream.get("/DecodeParms")
            if isinstance(parms, pikepdf.Dictionary) and int(parms.get("/Predictor", 1)) > 1:
                return stream.read_bytes() if len(raw) <= MAX_OTHER_FILTER_RAW else None
            return _inflate(raw, limit)
        if len(raw) <= MAX_OTHER_FILTER_RAW:
            data = stream.read_bytes()
            return data if len(data) <= limit else None
    except (pikepdf.PdfError, RuntimeError, ValueError):
        return None
    return None


def _filespec_name(d: pikepdf.Object) -> str:
    for key in ("/UF", "/F"):
        v = d.get(key)
        if isinstance(v, pikepdf.String):
            return str(v)
    return "(unnamed)"


# --- manifest ------------------------------------------------------------------------

def _read_manifest(pdf: pikepdf.Pdf, scan: _Scan) -> tuple[dict | None, str | None, object]:
    """(manifest, error, the filespec it came from) — wherever it travels; bounded."""
    specs = [d for name, d in scan.filespecs if name == MANIFEST_NAME]
    text: str | None = None
    spec = None
    if specs:
        spec = specs[0]
        ef = spec.get("/EF")
        stream = None
        if isinstance(ef, pikepdf.Dictionary):
            stream = ef.get("/UF") if isinstance(ef.get("/UF"), pikepdf.Stream) else ef.get("/F")
        if not isinstance(stream, pikepdf.Stream):
            return None, "the manifest attachment has no file stream", spec
        data = _stream_data(stream, MAX_MANIFEST_BYTES)
        if data is None:
            return None, "the manifest attachment cannot be decoded (damaged or too large)", spec
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "the manifest attachment is not UTF-8 text", spec
    else:
        info = pdf.trailer.get("/Info")
        if isinstance(info, pikepdf.Dictionary):
            chunks = []
            for k in info.keys():
                m = re.match(rf"^/{INFO_PREFIX}(\d+)$", str(k))
                if m:
                    v = info.get(k)
                    chunks.append((int(m.group(1)), str(v) if isinstance(v, pikepdf.String) else ""))
            if chunks:
                chunks.sort()
                if [c for c, _ in chunks] != list(range(1, len(chunks) + 1)):
                    return None, "the manifest chunks in the document info are incomplete", None
                text = "".join(v for _, v in chunks)
    if text is None:
        return None, None, None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        return None, f"the manifest is not valid JSON: {first_line(e)}", spec
    if not isinstance(value, dict):
        return None, "the manifest is not a JSON object", spec
    if value.get("tool") != "evidence":
        return None, "the manifest was not written by evidence (no \"tool\": \"evidence\")", spec
    return value, None, spec


def _label(row: dict) -> str:
    ex = int_or_none(row.get("exhibit"))
    src = row.get("source") if isinstance(row.get("source"), str) else "?"
    parts = int_or_none(row.get("parts")) or 1
    part = f", part {int_or_none(row.get('part'))}/{parts}" if parts > 1 and int_or_none(row.get("part")) else ""
    return f"exhibit {ex if ex is not None else '?'}, {src}{part}"


def _check_manifest(manifest: dict, digests: list[str | None], report: PackageReport,
                    content: list[str | None] | None = None) -> Check:
    rows = list_of_dicts(manifest.get("pages"))
    cover = int_or_none(manifest.get("cover_pages"))
    count = int_or_none(manifest.get("page_count"))
    exhibits = {int_or_none(e.get("exhibit")): e for e in list_of_dicts(manifest.get("exhibits"))}
    if cover is None or count is None or not rows:
        return Check("manifest", "fail", "the manifest has no page list (cover_pages, page_count, "
                     "pages): the pages cannot be checked")
    findings: list[str] = []
    named: set[int] = set()
    rows = sorted(rows, key=lambda r: int_or_none(r.get("page")) or 0)
    if [int_or_none(r.get("page")) for r in rows] != list(range(cover + 1, cover + len(rows) + 1)) \
            or count != cover + len(rows):
        findings.append("the manifest's page list is inconsistent (page numbers or page_count)")
    n = len(digests)
    if count != n:
        what = "removed" if n < count else "added"
        findings.append(f"the package has {n} pages, the manifest {count}: "
                        f"{abs(count - n)} page(s) {what}")
    expected: list[str | None] = [None] * cover + [
        r.get("image_sha256") if isinstance(r.get("image_sha256"), str) else "?" for r in rows]
    labels = ["cover page"] * cover + [_label(r) for r in rows]
    m = len(expected)
    for f in report.pages:  # what each page of the document should be
        i = f.page - 1
        if i < min(cover, m):
            f.image = "cover" if digests[i] is None else "added"
        elif i < m:
            r = rows[i - cover]
            f.exhibit, f.source = int_or_none(r.get("exhibit")), str_or_none(r.get("source"))
            f.part, f.parts = int_or_none(r.get("part")), int_or_none(r.get("parts"))
            e = exhibits.get(f.exhibit) or {}
            f.kind = str_or_none(e.get("kind"))
            f.date = str_or_none(e.get("date_text"))
            w = e.get("when")
            f.date_source = str_or_none(w.get("source")) if isinstance(w, dict) else None
            f.name = None if f.kind == "site" else _found(e, "name")
            f.email = None if f.kind == "site" else _found(e, "email")

    def mark(j: int, image: str, problem: str) -> None:
        report.pages[j].image = image
        report.pages[j].problems.append(problem)
        named.add(j + 1)

    known = set(x for x in expected if x is not None)
    where_now: dict[str, list[int]] = {}
    for j, d in enumerate(digests):
        if d is not None:
            where_now.setdefault(d, []).append(j)
    sm = difflib.SequenceMatcher(a=expected, b=digests, autojunk=False)
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op == "equal":
            for j in range(b0, b1):
                if digests[j] is not None:
                    report.pages[j].image = "ok"
            if a0 != b0:  # a whole run of pages sits elsewhere
                if n != m:
                    span = (f"pages {a0 + 1}-{a1}" if a1 - a0 > 1 else f"page {a0 + 1}")
                    now = (f"{b0 + 1}-{b1}" if b1 - b0 > 1 else f"{b0 + 1}")
                    findings.append(f"{span} ({labels[a0]}{' …' if a1 - a0 > 1 else ''}) "
                                    f"are now {now}, shifted by the pages removed or added")
                    for j in range(b0, b1):
                        report.pages[j].image = "moved"
                        report.pages[j].problems.append(f"was page {j - b0 + a0 + 1}")
                else:
                    for i in range(a0, a1):
                        j = i - a0 + b0
                        findings.append(f"page {i + 1} ({labels[i]}) is now page {j + 1}: "
                                        "pages were reordered")
                        mark(j, "moved", f"should be page {i + 1} ({labels[i]})")
                        named.add(i + 1)
            continue
        replaced: set[int] = set()
        for i in range(a0, a1):
            want = expected[i]
            if want is None:
                findings.append(f"page {i + 1} ({labels[i]}): missing")
                named.add(i + 1)
                continue
            now = where_now.get(want, [])
            if now:
                j = now[0]
                findings.append(f"page {i + 1} ({labels[i]}) is now page {j + 1}: "
                                "pages were moved or reordered")
                mark(j, "moved", f"should be page {i + 1} ({labels[i]})")
                named.add(i + 1)
                continue
            j = i - a0 + b0  # the page of the document in its place, if any
            if op == "replace" and j < b1 and digests[j] is not None and digests[j] not in known:
                findings.append(f"page {i + 1} ({labels[i]}): the image was replaced")
                mark(j, "changed", f"image differs from the build ({labels[i]})")
                replaced.add(j)
            elif op == "replace" and j < b1 and digests[j] is None:
                findings.append(f"page {i + 1} ({labels[i]}): the exhibit image is gone from the page")
                mark(j, "changed", f"no exhibit image ({labels[i]})")
                replaced.add(j)
            else:
                findings.append(f"page {i + 1} ({labels[i]}): removed")
                named.add(i + 1)
        for j in range(b0, b1):
            d = digests[j]
            if j in replaced or (d is not None and d in known):
                continue
            if d is None:
                findings.append(f"page {j + 1}: a page the manifest does not list (added)")
            else:
                findings.append(f"page {j + 1}: an image the manifest does not list "
                                "(page added or image replaced)")
            mark(j, "added", "not in the manifest")
    for ex, e in exhibits.items():  # the exhibit and page lists must agree
        listed = e.get("pages")
        rows_of = [int_or_none(r.get("page")) for r in rows if int_or_none(r.get("exhibit")) == ex]
        if isinstance(listed, list) and listed != rows_of:
            findings.append(f"exhibit {ex}: the manifest's exhibit and page lists disagree")
    contents = manifest.get("page_content_sha256")
    if isinstance(contents, list) and len(contents) == n == m and content is not None:
        for j, (want, got) in enumerate(zip(contents, content)):
            if isinstance(want, str) and want != got and j + 1 not in named:
                findings.append(f"page {j + 1} ({labels[j]}): its text or drawings were "
                                "changed after the build")
                mark(j, "changed", "text or drawings differ from the build")
    findings = list(dict.fromkeys(findings))
    if findings:
        return Check("manifest", "fail", "; ".join(findings[:4]) +
                     (f" (+{len(findings) - 4} more)" if len(findings) > 4 else ""),
                     findings=findings, pages=sorted(named))
    return Check("manifest", "pass", f"{len(rows)} exhibit page(s) match the manifest's image "
                 f"digests; {cover} cover page(s); built "
                 f"{str_or_none(manifest.get('built_at')) or '?'}")


def _when(e: dict) -> dt.datetime | None:
    w = e.get("when")
    v = w.get("value") if isinstance(w, dict) else None
    if not isinstance(v, str):
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return t.replace(tzinfo=None)


def _far_dates(exhibits: list[dict]) -> list[str]:
    """Exhibits dated far outside the case's other dates, unless dated by hand."""
    from ..dates.span import outliers

    dated = [(k, t) for k, e in enumerate(exhibits) if (t := _when(e)) is not None
             and e.get("kind", "conversation") in ("conversation", "site")]  # not documents
    out = []
    for k, mid in outliers(dated).items():
        e = exhibits[k]
        when = e.get("when") if isinstance(e.get("when"), dict) else {}
        if when.get("source") != "manual":
            out.append(f"exhibit {e.get('exhibit')} ({e.get('source')}) is dated "
                       f"{_when(e):%Y-%m-%d}, far from the case's other dates (around "
                       f"{mid:%Y-%m-%d}): a misread date? set it by hand if it is right")
    return out


def _check_order(manifest: dict) -> Check:
    exhibits = sorted(list_of_dicts(manifest.get("exhibits")),
                      key=lambda e: int_or_none(e.get("exhibit")) or 0)
    if not exhibits:
        return Check("order", "fail", "the manifest lists no exhibits")
    findings, pages = [], []
    # Exhibits grouped by type (documents.py, reasons.toml [groups]) are chronological
    # within their group, and each group's exhibits stand together.
    last: dict[str, tuple] = {}
    seen_groups: list[str] = []
    for e in exhibits:
        group = e.get("group") if isinstance(e.get("group"), str) else ""
        if group in seen_groups and seen_groups[-1] != group:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}) stands apart from "
                            f"the rest of its group {group!r}")
        if not seen_groups or seen_groups[-1] != group:
            seen_groups.append(group)
        t = _when(e)
        if t is None:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}): no valid date "
                            "(when) in the manifest")
            continue
        prev = last.get(group)
        if prev is not None and t < prev[0]:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}, {t:%Y-%m-%d %H:%M}) "
                            f"is dated before exhibit {prev[1].get('exhibit')} "
                            f"({prev[1].get('source')}, {prev[0]:%Y-%m-%d %H:%M})"
                            + (f" in group {group!r}" if group else ""))
            pages += [p for p in (e.get("pages") or []) if isinstance(p, int)][:1]
        last[group] = (t, e)
    findings += _far_dates(exhibits)
    if findings:
        return Check("order", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    first, last_t = min(filter(None, map(_when, exhibits))), max(filter(None, map(_when, exhibits)))
    groups = f" within {len(seen_groups)} group(s)" if any(seen_groups) else ""
    # say which dates the order rests on that the screenshots do not show
    weak = [f"exhibit {e.get('exhibit')} ({e.get('source')}): dated from "
            f"{_WHEN_FROM.get(str(e['when'].get('source')), e['when'].get('source'))}"
            for e in exhibits if isinstance(e.get("when"), dict)
            and e["when"].get("source") in _WHEN_FROM]
    note = f"; {len(weak)} dated from file names, EXIF, file times or by hand" if weak else ""
    return Check("order", "pass", f"{len(exhibits)} exhibit(s) in date order{groups}, "
                 f"{first:%Y-%m-%d} to {last_t:%Y-%m-%d}{note}", findings=weak)


_WHEN_FROM = {"mtime": "the file's modified time", "filename": "the file name",
              "exif": "EXIF", "manual": "a date set by hand"}


def _found(e: dict, key: str) -> bool:
    f = e.get("fields")
    v = f.get(key) if isinstance(f, dict) else None
    return bool(v.get("found")) if isinstance(v, dict) else False


def _check_fields(manifest: dict) -> Check:
    findings, pages = [], []
    exhibits = list_of_dicts(manifest.get("exhibits"))
    for e in exhibits:
        missing = [k for k in ("date", "name", "email") if _required(e, k) and not _found(e, k)]
        if missing:
            first = next((p for p in (e.get("pages") or []) if isinstance(p, int)), None)
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}"
                            f"{f', page {first}' if first else ''}): "
                            f"{', '.join(missing)} not found at build time")
            if first:
                pages.append(first)
    if manifest.get("draft") is True:
        findings.insert(0, f"DRAFT package: {manifest.get('failed_checks', '?')} check(s) "
                        "failed at build time")
    if findings:
        return Check("fields", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    return Check("fields", "pass", f"date, client name and email found in all {len(exhibits)} "
                 "exhibit(s) at build time")


def _required(e: dict, key: str) -> bool:
    """Must this exhibit show `key`? A site capture (the client's website) shows no name
    or email, and is dated by its capture time when it shows no date (as `check` rules)."""
    if e.get("kind") in (None, "conversation"):
        return True
    if key != "date":
        return False
    w = e.get("when")
    return not (isinstance(w, dict) and w.get("value") and w.get("source") != "image")


# --- limits --------------------------------------------------------------------------

def _preset(name: str):
    from ..presets import get_preset
    return get_preset(name)


def _check_limits(pdf: pikepdf.Pdf, report: PackageReport, options: ValidateOptions,
                  preset_name: str | None, scan: _Scan) -> Check:
    preset = None
    notes: list[str] = []
    if preset_name:
        try:
            preset = _preset(preset_name)
        except CaseError:
            if options.processor:
                raise
            notes.append(f"unknown processor {preset_name!r} in the manifest; default caps used")
    report.processor = preset.name if preset else None
    if options.max_size:
        cap, cap_from = options.max_size, "--max-size"
    elif preset and preset.max_bytes:
        cap, cap_from = preset.max_bytes, preset.label
    else:
        cap, cap_from = DEFAULT_MAX_BYTES, "default"
    if options.max_pages:
        page_cap, pages_from = options.max_pages, "--max-pages"
    elif preset and preset.max_pages:
        page_cap, pages_from = preset.max_pages, preset.label
    else:
        page_cap, pages_from = DEFAULT_MAX_PAGES, "default"
    findings: list[str] = []
    size = report.size or 0
    if size > cap:
        findings.append(f"{format_size(size)}, over the {format_size(cap)} cap ({cap_from}) "
                        f"by {format_size(size - cap)}")
    n = report.page_count or 0
    if n > page_cap:
        findings.append(f"{n} pages, over the {page_cap}-page cap ({pages_from})")
    if preset is not None and preset.pdfa:
        findings += [f"PDF/A-2b required by {preset.label}: {p}" for p in _pdfa_problems(pdf, scan)]
    if not preset_name and not options.max_size and not options.max_pages:
        notes.append("no processor named (use --processor)")
    detail = (f"{format_size(size)} of {format_size(cap)} ({cap_from}); {n} of {page_cap} pages"
              + (f" ({pages_from})" if pages_from != cap_from else "")
              + ("; PDF/A-2b" if preset is not None and preset.pdfa else ""))
    if notes:
        detail += "; " + "; ".join(notes)
    if findings:
        return Check("limits", "fail", "; ".join(findings), findings=findings)
    return Check("limits", "pass", detail)


def _pdfa_problems(pdf: pikepdf.Pdf, scan: _Scan) -> list[str]:
    problems = []
    meta = pdf.Root.get("/Metadata")
    xmp = _stream_data(meta, MAX_XMP_BYTES) if isinstance(meta, pikepdf.Stream) else None
    if xmp is None:
        problems.append("no readable XMP metadata")
    else:
        text = xmp.decode("utf-8", "replace")
        # attribute form (pdfaid:part="2") or element form (<pdfaid:part ...>2</pdfaid:part>)
        part = re.search(r"pdfaid:part\s*=\s*[\"']\s*(\d+)|<pdfaid:part\b[^>]*>\s*(\d+)\s*<", text)
        conf = re.search(r"pdfaid:conformance\s*=\s*[\"']\s*(\w+)"
                         r"|<pdfaid:conformance\b[^>]*>\s*(\w+)\s*<", text)
        p = (part.group(1) or part.group(2)) if part else None
        c = (conf.group(1) or conf.group(2)) if conf else None
        if p != "2" or (c or "").upper() != "B":
            problems.append(f"XMP declares PDF/A part {p or 'none'} conformance {c or 'none'}, "
                            "not 2B")
    intents = pdf.Root.get("/OutputIntents")
    ok = False
    if isinstance(intents, pikepdf.Array):
        for oi in intents:
            if isinstance(oi, pikepdf.Dictionary) and oi.get("/S") == Name("/GTS_PDFA1") \
                    and isinstance(oi.get("/DestOutputProfile"), pikepdf.Stream):
                ok = True
    if not ok:
        problems.append("no PDF/A output intent (GTS_PDFA1 with an ICC profile)")
    if scan.filespecs:
        problems.append("has embedded files, which PDF/A-2 forbids unless they are PDF/A")
    return problems


def _group_totals(reports: list[PackageReport]) -> None:
    """Several packages of one dispute are uploaded together: their total against the cap."""
    groups: dict[tuple[str, str], list[PackageReport]] = {}
    for r in reports:
        if r.unreadable or not r.dispute_id or not r.processor:
            continue
        groups.setdefault((r.processor, r.dispute_id), []).append(r)
    for (proc, dispute), members in groups.items():
        if len(members) < 2:
            continue
        preset = _preset(proc)
        if not preset.max_total_bytes:
            continue
        total = sum(m.size or 0 for m in members)
        if total > preset.max_total_bytes:
            msg = (f"with the other {len(members) - 1} package(s) of dispute {dispute}, "
                   f"{format_size(total)}, over {preset.label}'s total cap of "
                   f"{format_size(preset.max_total_bytes)}")
            for m in members:
                c = m.check("limits")
                if c is not None:
                    c.findings.append(msg)
                    c.detail = msg if c.status == "pass" else f"{c.detail}; {msg}"
                    c.status = "fail"


# --- active content ------------------------------------------------------------------

def _check_active(scan: _Scan, manifest_spec) -> Check:
    findings = [f for f, _ in scan.found]
    allowed = 0
    for name, spec in scan.filespecs:
        if name == MANIFEST_NAME and manifest_spec is not None and allowed == 0:
            allowed += 1
            continue
        findings.append(f"embedded file {name!r}")
    if scan.embedded_streams > len(scan.filespecs):
        findings.append(f"{scan.embedded_streams - len(scan.filespecs)} embedded file stream(s) "
                        "without a file specification")
    findings = list(dict.fromkeys(findings))
    pages = sorted({int(m.group(1)) for f in findings if (m := re.search(r" on page (\d+)", f))})
    if findings:
        return Check("active-content", "fail", "; ".join(findings[:4]) +
                     (f" (+{len(findings) - 4} more)" if len(findings) > 4 else ""),
                     findings=findings, pages=pages)
    extra = f"; {len(scan.warnings)} link(s) to outside addresses" if scan.warnings else ""
    att = "; the only attachment is the evidence manifest" if allowed else ""
    return Check("active-content", "pass", "no JavaScript, actions, forms or foreign attachments"
                 + att + extra, findings=list(scan.warnings))


# --- case ----------------------------------------------------------------------------

def _check_case(manifest: dict | None, case, all_paths: list[Path]) -> Check:
    from .. import ingest
    from ..imageio import sha256_file

    if manifest is None:
        return Check("case", "warn", f"no manifest to compare with the case {case.root}")
    findings, pages = [], []
    client = (manifest.get("case") or {}).get("client") if isinstance(manifest.get("case"), dict) else None
    if isinstance(client, dict) and (client.get("name"), client.get("email")) != \
            (case.client.name, case.client.email):
        findings.append(f"the package is for {client.get('name')} <{client.get('email')}>, the case "
                        f"for {case.client.name} <{case.client.email}>")
    dispute_id = str_or_none(dispute(manifest).get("id"))
    if dispute_id and case.dispute.id and dispute_id != case.dispute.id:
        findings.append(f"the package is for dispute {dispute_id}, the case for {case.dispute.id}")
    exhibits = list_of_dicts(manifest.get("exhibits"))
    in_package = set()
    for e in exhibits:
        src = e.get("source")
        if not isinstance(src, str):
            continue
        in_package.add(src)
        first = next((p for p in (e.get("pages") or []) if isinstance(p, int)), None)
        where = f"exhibit {e.get('exhibit')} ({src}{f', page {first}' if first else ''})"
        path = case.root / src
        try:
            digest = sha256_file(path)
        except FileNotFoundError:
            findings.append(f"{where}: the source is no longer in the case folder")
            continue
        except OSError as ex:
            findings.append(f"{where}: the source cannot be read: {ex.strerror or ex}")
            continue
        if digest != e.get("source_sha256"):
            findings.append(f"{where}: the source was changed after the build (SHA-256 differs)")
            if first:
                pages.append(first)
    left_out = {x.get("source") for x in list_of_dicts(manifest.get("left_out"))}
    found = ingest.discover(case, exclude=set(all_paths))
    missing = [s.rel for s in found.screenshots if s.rel not in in_package and s.rel not in left_out]
    for rel in missing:
        findings.append(f"{rel}: a screenshot of the case that is not in the package")
    if findings:
        return Check("case", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    return Check("case", "pass", f"all {len(in_package)} source(s) unchanged since the build; "
                 f"every screenshot of {case.root.name} is in the package"
                 + (f" or was left out ({len(left_out)})" if left_out else ""))


# --- deadline ------------------------------------------------------------------------

def _check_deadline(manifest: dict | None, case, today: dt.date | None) -> Check | None:
    today = today or dt.date.today()
    raw = dispute(manifest).get("respond_by") if manifest is not None else None
    respond_by: dt.date | None = None
    if manifest is not None and raw is not None:
        try:
            respond_by = dt.date.fromisoformat(str(raw)[:10])
        except ValueError:
            return Check("deadline", "warn", f"the manifest's respond-by date {raw!r} is not a date")
    elif manifest is None and case is not None:
        respond_by = case.dispute.respond_by
    if respond_by is None:
        if manifest is None and case is None:
            return None
        return Check("deadline", "skip", "no respond-by date recorded")
    days = (respond_by - today).days
    if days < 0:
        return Check("deadline", "fail", f"the respond-by date {respond_by} passed {-days} "
                     f"day(s) ago (today is {today})")
    if days == 0:
        return Check("deadline", "warn", f"respond by today ({respond_by})")
    if days <= DEADLINE_WARN_DAYS:
        return Check("deadline", "warn", f"only {days} day(s) left: respond by {respond_by}")
    return Check("deadline", "pass", f"respond by {respond_by} ({days} days left)")


# --- deep: render every page and OCR it ----------------------------------------------

def _client_for(options: ValidateOptions, case, manifest: dict | None) -> tuple[str, str] | None:
    name, email = options.client_name, options.client_email
    if case is not None:
        name, email = name or case.client.name, email or case.client.email
    if manifest is not None:
        c = (manifest.get("case") or {}).get("client") if isinstance(manifest.get("case"), dict) else None
        if isinstance(c, dict):
            name = name or str_or_none(c.get("name"))
            email = email or str_or_none(c.get("email"))
    if name and email:
        return name, email
    return None


def _deep_plan(report: PackageReport, manifest: dict | None) -> list[tuple[int, bool]]:
    """The pages to OCR and whether to crop them to the screenshot: exhibit pages of a
    package built by evidence (cropped: the header repeats the date), every page of a
    foreign one (whole)."""
    if manifest is not None:  # a document's pages carry their own text: nothing to OCR
        documents = {int_or_none(e.get("exhibit")) for e in list_of_dicts(manifest.get("exhibits"))
                     if e.get("document") is True}
        return [(p.page, True) for p in report.pages
                if p.exhibit is not None and p.exhibit not in documents]
    return [(p.page, False) for p in report.pages]


def _render_for_ocr(pdf_path: Path, plan: list[tuple[int, bool]], folder: Path, tag: str
                    ) -> dict[int, tuple[Path, str] | str]:
    """Render the planned pages to PNG files; {page: (path, sha256) or an error}."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    out: dict[int, tuple[Path, str] | str] = {}
    try:
        doc = pdfium.PdfDocument(str(pdf_path))
    except (pdfium.PdfiumError, OSError, ValueError) as e:
        return {page: f"cannot be rendered: {first_line(e)}" for page, _ in plan}
    try:
        for page_no, crop_to_image in plan:
            try:
                page = doc[page_no - 1]
                w, h = page.get_size()
                crop = (0.0, 0.0, 0.0, 0.0)
                scale = DEEP_MIN_DPI / 72
                if crop_to_image:
                    best = None
                    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
                        l, b, r, t = obj.get_bounds()
                        area = (r - l) * (t - b)
                        if best is None or area > best[0]:
                            best = (area, (l, b, r, t), obj.get_px_size()[0])
                    if best is not None:
                        (l, b, r, t), pw = best[1], best[2]
                        l, b, r, t = max(0.0, l), max(0.0, b), min(w, r), min(h, t)
                        if r - l > 1 and t - b > 1:
                            crop = (l, b, w - r, h - t)
                            native = pw / (r - l) if pw else 0.0
                            scale = min(max(scale, native), DEEP_MAX_DPI / 72)
                cw, ch = w - crop[0] - crop[2], h - crop[1] - crop[3]
                if cw * ch * scale * scale > MAX_RENDER_PIXELS:
                    scale = math.sqrt(MAX_RENDER_PIXELS / max(cw * ch, 1.0))
                image = page.render(scale=scale, crop=crop).to_pil()
                target = folder / f"{tag}-p{page_no:05d}.png"
                buf = io.BytesIO()
                image.convert("RGB").save(buf, "PNG", compress_level=1)
                data = buf.getvalue()
                target.write_bytes(data)
                out[page_no] = (target, hashlib.sha256(data).hexdigest())
                page.close()
            except (pdfium.PdfiumError, ValueError, OSError, MemoryError) as e:
                out[page_no] = f"cannot be rendered: {first_line(e)}"
    finally:
        doc.close()
    return out


def _renderable(report: PackageReport) -> bool:
    """Only a file that reads without repair goes to the renderer: a damaged one (a
    decompression bomb, an object graph over the budget) could take it anywhere."""
    c = report.check("readable")
    return not report.unreadable and c is not None and c.status == "pass"


def _not_rendered(report: PackageReport) -> None:
    note = "--deep: pages not rendered, the file needs repair (see readable)"
    check = report.check("fields")
    if check is None:
        report.checks.append(Check("fields", "fail", note, findings=[note]))
    else:
        check.findings.append(note)
        check.detail = note if check.status == "pass" else f"{check.detail}; {note}"
        check.status = "fail"


def _deep(inspected: list[tuple[PackageReport, _Ctx]], options: ValidateOptions, case) -> None:
    from ..errors import InputError
    from ..fields import check_fields, find_dates
    from ..ocr import run_ocr

    with tempfile.TemporaryDirectory(prefix="evidence-validate-") as tmp:
        folder = Path(tmp)
        rendered: list[tuple[PackageReport, _Ctx, dict]] = []
        jobs: list[tuple[Path, str]] = []
        for k, (report, ctx) in enumerate(inspected):
            if report.unreadable:
                continue
            if not _renderable(report):
                _not_rendered(report)
                continue
            done = _render_for_ocr(report.file, ctx.deep_pages, folder, f"{k:04d}")
            rendered.append((report, ctx, done))
            jobs += [v for v in done.values() if isinstance(v, tuple)]
        results = run_ocr(jobs, options.engine, cache=None, workers=options.workers,
                          progress=options.progress) if jobs else {}
        for report, ctx, done in rendered:
            per_page = {}
            for page_no, v in done.items():
                if isinstance(v, str):
                    per_page[page_no] = v
                    continue
                r = results.get(v[0])
                if isinstance(r, InputError) or r is None:
                    per_page[page_no] = f"OCR failed: {r.message if r else 'not read'}"
                    continue
                per_page[page_no] = r.lines
            _apply_deep(report, ctx, per_page, check_fields, find_dates)


def _apply_deep(report: PackageReport, ctx: _Ctx, per_page: dict, check_fields, find_dates) -> None:
    client = ctx.client
    exhibits = {int_or_none(e.get("exhibit")): e for e in list_of_dicts((report.manifest or {}).get("exhibits"))}
    findings: list[str] = []
    pages: list[int] = []
    by_exhibit: dict[int, dict] = {}
    for f in report.pages:
        if f.page not in per_page:
            continue
        v = per_page[f.page]
        f.ocr = True
        if isinstance(v, str):
            f.problems.append(v)
            findings.append(f"page {f.page}: {v}")
            pages.append(f.page)
            continue
        if client:
            r = check_fields(v, *client)
            dates = r.dates
            f.name, f.email = r.name.found, r.email.found
            if f.kind == "site":  # a website shows no client name or email
                f.name = f.email = None
        else:
            dates = find_dates(v)
        f.date = dates[0].text if dates else None
        if f.exhibit is not None:
            agg = by_exhibit.setdefault(f.exhibit, {"date": False, "name": False, "email": False,
                                                    "pages": [], "source": f.source,
                                                    "entry": exhibits.get(f.exhibit, {})})
            agg["date"] |= bool(dates)
            agg["name"] |= bool(f.name)
            agg["email"] |= bool(f.email)
            agg["pages"].append(f.page)
        else:  # a foreign package: every page on its own
            missing = [k for k, ok in (("date", bool(dates)), ("name", f.name), ("email", f.email))
                       if ok is False]
            if missing:
                findings.append(f"page {f.page}: {', '.join(missing)} not found by OCR")
                f.problems.append(f"{', '.join(missing)} not found by OCR")
                pages.append(f.page)
    for ex, agg in sorted(by_exhibit.items()):
        missing = [k for k in ("date", "name", "email") if not agg[k]
                   and _required(agg["entry"], k) and (k == "date" or client)]
        if missing:
            span = agg["pages"]
            where = f"page {span[0]}" if len(span) == 1 else f"pages {span[0]}-{span[-1]}"
            findings.append(f"exhibit {ex} ({agg['source']}, {where}): {', '.join(missing)} "
                            "not legible on the page (OCR)")
            for p in span:
                report.pages[p - 1].problems.append(f"{', '.join(missing)} not found by OCR")
            pages += span
    note = "" if client else ("; client name and email not checked: give --client-name and "
                              "--client-email or --case")
    check = report.check("fields")
    n_pages = len(per_page)
    if check is None:
        check = Check("fields", "pass", "")
        report.checks.append(check)
        check.detail = f"OCR of {n_pages} rendered page(s): date" + (
            ", client name and email found on every page" if client else " found on every page")
    else:
        check.detail += f"; confirmed by OCR of {n_pages} rendered page(s)" if check.status == "pass" \
            else f"; OCR of {n_pages} rendered page(s) done"
    if findings:
        check.findings += findings
        check.pages = sorted(set(check.pages) | set(pages))
        text = "; ".join(findings[:3]) + (f" (+{len(findings) - 3} more)" if len(findings) > 3 else "")
        check.detail = text if check.status == "pass" else f"{check.detail}; {text}"
        check.status = "fail"
    elif not client:
        check.detail += note
        if check.status == "pass":
            check.status = "warn"
    report.checks.append(_check_card_numbers(per_page))


def _check_card_numbers(per_page: dict) -> Check:
    """--deep: no page may still show a full card number (processors refuse them). What
    is reported names the page and the last four digits, never the number."""
    from ..redact import find_redactions

    findings, pages = [], []
    for page_no, lines in sorted(per_page.items()):
        if isinstance(lines, str):
            continue
        labels = sorted({r.label for r in find_redactions(lines) if r.kind == "card"})
        if labels:
            findings.append(f"page {page_no}: a full card number is readable ({', '.join(labels)})")
            pages.append(page_no)
    if findings:
        return Check("card-numbers", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    return Check("card-numbers", "pass",
                 f"no full card number read by OCR on {len(per_page)} rendered page(s)")


# --- thumbnails ----------------------------------------------------------------------

def _thumbnails(report: PackageReport) -> None:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(report.file))
    except (pdfium.PdfiumError, OSError, ValueError):
        return
    try:
        for f in report.pages[:MAX_THUMBNAILS]:
            try:
                page = doc[f.page - 1]
                w, h = page.get_size()
                scale = min(THUMB_WIDTH / max(w, 1.0), 4 * THUMB_WIDTH / max(h, 1.0))
                image = page.render(scale=scale).to_pil().convert("RGB")
                buf = io.BytesIO()
                image.save(buf, "PNG", optimize=True)
                f.thumbnail = buf.getvalue()
                page.close()
            except (pdfium.PdfiumError, ValueError, OSError, MemoryError):
                f.thumbnail = None
    finally:
        doc.close()


__all__ = ["validate", "validate_package", "ValidateOptions", "ValidationReport",
           "PackageReport", "PageFinding", "Check", "CHECK_IDS", "MAX_FILE_BYTES", "MAX_PAGES",
           "PackageError"]
