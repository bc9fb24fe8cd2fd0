"""Documents as exhibits: invoices, terms, delivery receipts that are not screenshots.

    found = discover(case)     # documents/ plus case.toml [[document]] entries
    found.pdfs                 # Document: screened, text extracted, dated
    found.scans                # PNG/JPEG scans: ingest.Screenshot with kind = the document kind
    found.problems             # one InputError per refused file; the rest goes on

PDFs are screened with the very checks `evidence validate` runs on a package
(`validate.screen_document`: readable without repair, not encrypted, no JavaScript,
actions, forms or attachments, bounded in size, pages, objects and inflated bytes), so a
PDF that would make the package fail validation never gets in. Their text is extracted
with pypdfium2 (for the checklist and the letter; the pages keep their own text layer, so
they stay searchable), and they are dated by case.toml, else by the earliest full date
in their text, else by the file's modification time.

In the package each page is the source page itself, kept as vector: imported with pikepdf
as a form XObject named /EvidenceDocument and drawn into the content area under the
usual exhibit header and footer. The manifest records the SHA-256 of that form's decoded
content (`manifest.digests_from_pdf` reads it back), so validate notices a document page
that was replaced or edited.

Scans (PNG, JPEG, WebP) take the screenshot path (OCR, fitting, redaction) with the
document kind as their kind, exempt from the name/email/date checks.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from pikepdf import Name

from . import fields, ingest, when
from .case import Case, DocumentEntry
from .errors import InputError
from .imageio import IMAGE_SUFFIXES, sha256_file
from .manifest import DOCUMENT_FORM as FORM_NAME
from .ocr.base import Box, OcrLine

DOCUMENT_DIR = "documents"
MAX_DOCUMENTS = 50
MAX_DOCUMENT_BYTES = 20 * 10**6  # under the largest per-file cap; a package holds several
MAX_DOCUMENT_PAGES = 30  # processors cap whole packages at 19–100 pages
MAX_TEXT_CHARS = 200_000  # per document, for the checklist and search
# A document's kind from its file name or first lines, when case.toml does not say.
_KIND_WORDS = (("invoice", ("invoice", "receipt", "bill")),
               ("policy", ("terms", "policy", "agreement", "contract")),
               ("delivery", ("delivery", "delivered", "tracking", "shipping")))


@dataclass(frozen=True)
class Document:
    path: Path
    rel: str
    sha256: str
    size: int
    kind: str
    note: str | None
    proves: tuple[str, ...]
    pages: int
    text: str
    when: when.When
    date_text: str | None = None


@dataclass
class Found:
    pdfs: list[Document] = field(default_factory=list)
    scans: list[ingest.Screenshot] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)
    entries: dict[str, DocumentEntry] = field(default_factory=dict)  # rel -> what case.toml says


def discover(case: Case, *, exclude: set[Path] = frozenset()) -> Found:
    found = Found()
    files: dict[str, Path] = {}
    top = case.root / DOCUMENT_DIR
    if top.is_dir():
        for path in ingest._walk(top, found.problems):  # the one bounded, loop-proof walk
            files.setdefault(path.relative_to(case.root).as_posix(), path)
    for rel in case.documents:
        path = case.root / rel
        if not (path.exists() or path.is_symlink()):
            found.problems.append(InputError("listed in case.toml [[document]] but not found", path))
            continue
        files.setdefault(rel, path)
    excluded = {Path(ingest._real(p)) for p in exclude}
    kept = [(rel, p) for rel, p in sorted(files.items()) if ingest._real(p) not in excluded]
    if len(kept) > MAX_DOCUMENTS:
        found.problems.append(InputError(f"{len(kept)} documents, more than the {MAX_DOCUMENTS} "
                                         f"a case may hold; the first {MAX_DOCUMENTS} are used", top))
        kept = kept[:MAX_DOCUMENTS]
    for rel, path in kept:
        suffix = path.suffix.lower()
        entry = case.documents.get(rel)
        try:
            if suffix == ".pdf":
                doc = read_pdf(path, rel, entry)
                found.pdfs.append(doc)
                found.entries[rel] = entry or DocumentEntry(file=rel, kind=doc.kind)
            elif suffix in IMAGE_SUFFIXES:
                kind = entry.kind if entry else guess_kind(rel, "")
                entry = entry or DocumentEntry(file=rel, kind=kind)
                found.scans.append(_scan(path, rel, entry))
                found.entries[rel] = entry
            else:
                found.problems.append(InputError("not a PDF, PNG, JPEG or WebP document; left out",
                                                 path))
        except InputError as e:
            found.problems.append(e)
    return found


def guess_kind(rel: str, text: str) -> str:
    name = Path(rel).stem.lower()
    head = text[:600].lower()
    for kind, words in _KIND_WORDS:
        if any(w in name for w in words):
            return kind
    for kind, words in _KIND_WORDS:
        if any(w in head for w in words):
            return kind
    return "other"


def default_note(kind: str, text: str) -> str:
    """What the index and the letter say about a document case.toml gives no note for:
    its kind and its first line of text."""
    first = next((t.strip() for t in text.splitlines() if t.strip()), "")
    first = first if len(first) <= 80 else first[:79] + "…"
    return f"{kind.capitalize()}: {first}" if first else kind.capitalize()


def _scan(path: Path, rel: str, entry: DocumentEntry) -> ingest.Screenshot:
    shot = ingest._screenshot(path, rel, None)
    note = entry.note if entry.note is not None else shot.note
    return ingest.Screenshot(path=shot.path, rel=rel, sha256=shot.sha256, size=shot.size,
                             mtime=shot.mtime, note=note, highlight=None, kind=entry.kind,
                             manual_date=entry.date)


def read_pdf(path: Path, rel: str, entry: DocumentEntry | None) -> Document:
    """Screen, read and date one PDF; InputError (one line) when it may not go in."""
    from .validate import screen_document

    try:
        st = path.stat()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None
    if st.st_size > MAX_DOCUMENT_BYTES:
        raise InputError(f"{st.st_size} bytes, over the {MAX_DOCUMENT_BYTES} a document may "
                         "have; refused", path)
    problem = screen_document(path)
    if problem:
        raise InputError(f"PDF refused: {problem}", path)
    text, pages = extract_text(path)
    if pages == 0:
        raise InputError("PDF refused: it has no pages", path)
    if pages > MAX_DOCUMENT_PAGES:
        raise InputError(f"PDF refused: {pages} pages, over the {MAX_DOCUMENT_PAGES} a document "
                         "may have (no processor takes a package that long)", path)
    kind = entry.kind if entry else guess_kind(rel, text)
    mtime = dt.datetime.fromtimestamp(st.st_mtime).replace(microsecond=0)
    w, date_text = date_document(text, entry.date if entry else None, mtime)
    return Document(path=path, rel=rel, sha256=sha256_file(path), size=st.st_size, kind=kind,
                    note=entry.note if entry and entry.note else default_note(kind, text), proves=entry.proves if entry else (),
                    pages=pages, text=text, when=w, date_text=date_text)


def extract_text(path: Path) -> tuple[str, int]:
    """(text of every page, page count) with pypdfium2; bounded."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        raise InputError(f"PDF refused: cannot be read ({e})", path) from None
    try:
        n = len(pdf)
        parts, total = [], 0
        for i in range(min(n, MAX_DOCUMENT_PAGES)):
            page = pdf[i]
            tp = page.get_textpage()
            t = tp.get_text_range()
            tp.close()
            page.close()
            parts.append(t[:MAX_TEXT_CHARS - total])
            total += len(parts[-1])
            if total >= MAX_TEXT_CHARS:
                break
        return "\n".join(parts).replace("\r\n", "\n"), n
    finally:
        pdf.close()


def date_document(text: str, manual: dt.datetime | None, mtime: dt.datetime
                  ) -> tuple[when.When, str | None]:
    """case.toml's date, else the earliest full date in the text, else mtime."""
    if manual is not None:
        return when.When(manual, "manual"), None
    lines = [OcrLine(t, Box(0, i, 1, i + 1), 1.0)
             for i, t in enumerate(text.splitlines()[:2000]) if t.strip()]
    best = None
    for hit in fields.find_dates(lines):
        if hit.year and hit.month and hit.day:
            v = hit.resolve(None)
            if v is not None and (best is None or v < best[0]):
                best = (v, hit.text)
    if best:
        return when.When(best[0], "text", best[1]), best[1]
    return when.When(mtime, "mtime"), None


# --- in the package ------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentPage:
    """One page of a document exhibit, for assemble (beside assemble.ExhibitPage)."""

    exhibit: int
    source: str
    date_label: str
    when_source: str | None
    note: str | None
    path: Path
    index: int  # 0-based page of the source PDF
    count: int
    digest: str  # form_digest of that page
    group: str = ""  # index group (reasons.toml [groups])
    highlight: None = None

    @property
    def part(self) -> int:
        return self.index + 1

    @property
    def parts(self) -> int:
        return self.count


def _form(src: pikepdf.Pdf, index: int) -> pikepdf.Object:
    return src.pages[index].as_form_xobject()


def form_digest(form: pikepdf.Object) -> str:
    """SHA-256 of a document page's form XObject as decoded (what validate recomputes)."""
    return hashlib.sha256(form.read_bytes()).hexdigest()


def page_digests(path: Path) -> list[str]:
    with pikepdf.open(path) as src:
        return [form_digest(_form(src, i)) for i in range(len(src.pages))]


def pdfa_problem(path: Path) -> str | None:
    """Why the pages of `path` cannot go into a PDF/A package as they are (PDF/A needs
    every font embedded, and no transparency groups or encryption), or None."""
    try:
        with pikepdf.open(path) as src:
            seen: set = set()
            for page in src.pages:
                problem = _pdfa_resources(page.obj.get("/Resources"), seen, 0)
                if problem:
                    return problem
                if "/Group" in page.obj:
                    return "a page uses a transparency group"
    except (pikepdf.PdfError, ValueError) as e:
        return f"cannot be read ({e})"
    return None


def _pdfa_resources(res, seen: set, depth: int) -> str | None:
    if not isinstance(res, pikepdf.Dictionary) or depth > 8:
        return None
    fonts = res.get("/Font")
    for _, font in (fonts.items() if isinstance(fonts, pikepdf.Dictionary) else []):
        if not isinstance(font, pikepdf.Dictionary) or font.get("/Subtype") == Name.Type3:
            continue
        target = font
        if font.get("/Subtype") == Name.Type0 and isinstance(font.get("/DescendantFonts"),
                                                               pikepdf.Array):
            target = font.DescendantFonts[0]
        desc = target.get("/FontDescriptor")
        if not isinstance(desc, pikepdf.Dictionary) or not any(
                k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            return f"font {str(font.get('/BaseFont', '?'))[1:]} is not embedded"
    xobjects = res.get("/XObject")
    for _, x in (xobjects.items() if isinstance(xobjects, pikepdf.Dictionary) else []):
        if isinstance(x, pikepdf.Stream) and x.get("/Subtype") == Name.Form:
            if x.is_indirect and x.objgen in seen:
                continue
            seen.add(x.objgen)
            if "/Group" in x:
                return "a form uses a transparency group"
            problem = _pdfa_resources(x.get("/Resources"), seen, depth + 1)
            if problem:
                return problem
    return None


def place(pdf: pikepdf.Pdf, page: pikepdf.Page, doc: DocumentPage, rect: tuple) -> str:
    """Draw page `doc.index` of `doc.path` into `rect` (x0, y0, x1, y1) of `page`, as a
    vector form XObject; returns the form's digest."""
    with pikepdf.open(doc.path) as src:
        form = pdf.copy_foreign(_form(src, doc.index))
    resources = page.obj.get("/Resources")
    if resources is None:
        page.obj.Resources = resources = pikepdf.Dictionary()
    if "/XObject" not in resources:
        resources.XObject = pikepdf.Dictionary()
    resources.XObject[FORM_NAME] = form
    draw = page.calc_form_xobject_placement(form, Name(FORM_NAME), pikepdf.Rectangle(*rect),
                                            allow_expand=True)
    page.contents_add(pikepdf.Stream(pdf, draw), prepend=False)
    return form_digest(form)
