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

import zlib
from pathlib import Path
from typing import Iterable

import pikepdf

from ..errors import EvidenceError, PackageError
from ..manifest import digests_from_pdf
from . import read
# the bounds, caps and results are also imported from here (evidence.validate.X)
from .active import check_active
from .bounds import (MAX_FILE_BYTES, MAX_MANIFEST_BYTES, MAX_NODES, MAX_OTHER_FILTER_RAW,
                     MAX_PAGES, MAX_RENDER_PIXELS, MAX_STREAM_OUT, MAX_THUMBNAILS,
                     MAX_TOTAL_OUT, MAX_TREE_DEPTH, MAX_XMP_BYTES)
from .case import DEADLINE_WARN_DAYS, check_case, check_deadline
from .common import dispute, first_line, str_or_none
from .deep import DeepPlan, client_for, deep_plan, renderable, run_deep
from .fields import check_fields
from .limits import (DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES, check_limits, group_totals,
                     preset_named)
from .manifest import check_manifest, read_manifest
from .order import check_order
from .render import DEEP_MAX_DPI, DEEP_MIN_DPI, THUMB_WIDTH, thumbnails
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


__all__ = ["validate", "validate_package", "ValidateOptions", "ValidationReport",
           "PackageReport", "PageFinding", "Check", "CHECK_IDS", "MAX_FILE_BYTES", "MAX_PAGES",
           "PackageError"]
