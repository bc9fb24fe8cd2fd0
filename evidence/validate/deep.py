"""--deep: render the pages, OCR them (all packages' pages in one batch), and confirm
the `fields` check by what is legible on the page; `card-numbers`: no page shows a
full card number."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .common import int_or_none, list_of_dicts, str_or_none
from .fields import required
from .render import render_for_ocr
from .results import Check, PackageReport, ValidateOptions


@dataclass
class DeepPlan:
    """What --deep needs about one package, decided while it is inspected (the OCR runs
    later, batched over every package)."""

    deep_pages: list[tuple[int, bool]] = field(default_factory=list)  # (page, crop to image)
    client: tuple[str, str] | None = None


def client_for(options: ValidateOptions, case, manifest: dict | None) -> tuple[str, str] | None:
    """The client name and email to look for: the options', else the case's, else the
    manifest's; None unless both are known."""
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
