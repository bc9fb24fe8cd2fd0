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

The stages, one module each (this module composes them, in the order they run):

    read.py      readable: size and first bytes, open, the page tree by hand
    scan.py      the bounded walk of every object (damage, actions, attachments)
    manifest.py  manifest: read it back (schema.py: untrusted), compare every page
    limits.py    limits: bytes, pages, PDF/A against the processor's caps
    active.py    active-content
    order.py     order
    fields.py    fields, as recorded at build time
    case.py      case and deadline
    deep.py      --deep: OCR of the rendered pages (render.py: pages to pixels)
    results.py   what is returned (Check, PageFinding, PackageReport, ...)
    html.py      the report as one HTML file (--html)
    bounds.py    every bound on what is read
"""
from __future__ import annotations

import hashlib
import io
import math
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pikepdf

from ..errors import EvidenceError, PackageError
from ..manifest import digests_from_pdf
from . import read
from .active import check_active
from .bounds import (MAX_FILE_BYTES, MAX_MANIFEST_BYTES, MAX_NODES, MAX_OTHER_FILTER_RAW,
                     MAX_PAGES, MAX_RENDER_PIXELS, MAX_STREAM_OUT, MAX_THUMBNAILS,
                     MAX_TOTAL_OUT, MAX_TREE_DEPTH, MAX_XMP_BYTES)
from .case import DEADLINE_WARN_DAYS, check_case, check_deadline
from .common import dispute, first_line, int_or_none, list_of_dicts, str_or_none
from .fields import check_fields, required
from .limits import (DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES, check_limits, group_totals,
                     preset_named)
from .manifest import check_manifest, read_manifest
from .order import check_order
from .results import (CHECK_IDS, Check, PackageReport, PageFinding, ValidateOptions,
                      ValidationReport)
from .scan import Scan


# --- entry points --------------------------------------------------------------------

def validate(paths: Iterable[Path | str], options: ValidateOptions | None = None) -> ValidationReport:
    """Validate each package; see the module docstring. Raises CaseError for a bad
    --case folder or an unknown --processor, EngineError if --deep OCR cannot run."""
    options = options or ValidateOptions()
    paths = [Path(p) for p in paths]
    if options.processor:
        preset_named(options.processor)  # an unknown processor is a usage error, raised now
    case = None
    if options.case_dir is not None:
        from ..case import load_case
        case = load_case(options.case_dir)
    inspected = [_inspect(p, options, case, paths) for p in paths]
    group_totals([r for r, _ in inspected])
    if options.deep:
        run_deep(inspected, options, case)
    if options.thumbnails:
        for report, _ in inspected:
            if renderable(report):
                thumbnails(report)
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

def _inspect(path: Path, options: ValidateOptions, case, all_paths: list[Path]
             ) -> tuple[PackageReport, DeepPlan]:
    report = PackageReport(path)
    ctx = DeepPlan()
    try:
        pdf = read.open_pdf(path, report)
        with pdf:
            _inspect_pdf(pdf, path, report, ctx, options, case, all_paths)
    except read.Unreadable as e:
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


def _inspect_pdf(pdf: pikepdf.Pdf, path: Path, report: PackageReport, ctx: DeepPlan,
                 options: ValidateOptions, case, all_paths: list[Path]) -> None:
    n, problems = read.structure(pdf)  # readable findings
    report.page_count = n
    scan = Scan(pdf)
    scan.run()
    problems += scan.damage
    manifest, manifest_error, manifest_spec = read_manifest(pdf, scan, n)
    digests = digests_from_pdf(pdf)
    report.checks.append(read.check_readable(pdf, path, n, problems))

    report.manifest = manifest
    preset_name = options.processor or dispute(manifest).get("processor") or (
        case.dispute.processor if case is not None else None)
    report.dispute_id = str_or_none(dispute(manifest).get("id")) or (
        case.dispute.id if case is not None else None)
    report.checks.append(check_limits(pdf, report, options, preset_name, scan))
    report.checks.append(check_active(scan, manifest_spec))

    report.pages = [PageFinding(page=i + 1, image="no image" if d is None else "-")
                    for i, d in enumerate(digests)]
    report.checks.append(check_manifest(pdf, path, manifest, manifest_error, digests, report))
    if manifest is not None:
        report.checks.append(check_order(manifest))
        report.checks.append(check_fields(manifest))
    if case is not None:
        report.checks.append(check_case(manifest, case, all_paths))
    deadline = check_deadline(manifest, case, options.today)
    if deadline is not None:
        report.checks.append(deadline)

    if options.deep:
        ctx.client = client_for(options, case, manifest)
        ctx.deep_pages = deep_plan(report, manifest)


# --- deep: render every page and OCR it ----------------------------------------------

@dataclass
class DeepPlan:
    """What the later (batched) stages need about one package."""

    deep_pages: list[tuple[int, bool]] = field(default_factory=list)  # (page, crop to image)
    client: tuple[str, str] | None = None


def client_for(options: ValidateOptions, case, manifest: dict | None) -> tuple[str, str] | None:
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


def deep_plan(report: PackageReport, manifest: dict | None) -> list[tuple[int, bool]]:
    """The pages to OCR and whether to crop them to the screenshot: exhibit pages of a
    package built by evidence (cropped: the header repeats the date), every page of a
    foreign one (whole)."""
    if manifest is not None:  # a document's pages carry their own text: nothing to OCR
        documents = {int_or_none(e.get("exhibit")) for e in list_of_dicts(manifest.get("exhibits"))
                     if e.get("document") is True}
        return [(p.page, True) for p in report.pages
                if p.exhibit is not None and p.exhibit not in documents]
    return [(p.page, False) for p in report.pages]


def renderable(report: PackageReport) -> bool:
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


def run_deep(inspected: list[tuple[PackageReport, DeepPlan]], options: ValidateOptions, case) -> None:
    from ..errors import InputError
    from ..fields import check_fields, find_dates
    from ..ocr import run_ocr

    with tempfile.TemporaryDirectory(prefix="evidence-validate-") as tmp:
        folder = Path(tmp)
        rendered: list[tuple[PackageReport, DeepPlan, dict]] = []
        jobs: list[tuple[Path, str]] = []
        for k, (report, ctx) in enumerate(inspected):
            if report.unreadable:
                continue
            if not renderable(report):
                _not_rendered(report)
                continue
            done = render_for_ocr(report.file, ctx.deep_pages, folder, f"{k:04d}")
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


def _apply_deep(report: PackageReport, ctx: DeepPlan, per_page: dict, check_fields, find_dates) -> None:
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
                   and required(agg["entry"], k) and (k == "date" or client)]
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


# --- rendering ----------------------------------------------------------------------

THUMB_WIDTH = 170  # px, thumbnails in the HTML report
DEEP_MIN_DPI = 150  # layout draws text at >= 10 pt: >= ~21 px rendered
DEEP_MAX_DPI = 400


def render_for_ocr(pdf_path: Path, plan: list[tuple[int, bool]], folder: Path, tag: str
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


def thumbnails(report: PackageReport) -> None:
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
