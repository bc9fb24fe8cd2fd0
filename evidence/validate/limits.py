"""Stage `limits`: bytes and pages against the processor's caps (the preset named by
--processor, else the manifest's), PDF/A-2b markers when the preset requires PDF/A,
and the total of several packages of one dispute against the total cap."""
from __future__ import annotations

import re

import pikepdf
from pikepdf import Name

from .. import presets
from ..errors import CaseError
from ..units import format_size
from .bounds import MAX_XMP_BYTES
from .results import Check, PackageReport, ValidateOptions
from .scan import Scan, stream_data


DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES = presets.DEFAULT_MAX_BYTES, presets.DEFAULT_MAX_PAGES


def preset_named(name: str):
    from ..presets import get_preset
    return get_preset(name)


def check_limits(pdf: pikepdf.Pdf, report: PackageReport, options: ValidateOptions,
                 preset_name: str | None, scan: Scan) -> Check:
    preset = None
    notes: list[str] = []
    if preset_name:
        try:
            preset = preset_named(preset_name)
        except CaseError:
            if options.processor:
                raise
            notes.append(f"unknown processor {preset_name!r} in the manifest; default caps used")
    report.processor = preset.name if preset else None
    cap, cap_from = presets.pick_cap(options.max_size, "--max-size", preset, "max_bytes",
                                     DEFAULT_MAX_BYTES)
    page_cap, pages_from = presets.pick_cap(options.max_pages, "--max-pages", preset,
                                            "max_pages", DEFAULT_MAX_PAGES)
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


def _pdfa_problems(pdf: pikepdf.Pdf, scan: Scan) -> list[str]:
    problems = []
    meta = pdf.Root.get("/Metadata")
    xmp = stream_data(meta, MAX_XMP_BYTES) if isinstance(meta, pikepdf.Stream) else None
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


def group_totals(reports: list[PackageReport]) -> None:
    """Several packages of one dispute are uploaded together: their total against the cap."""
    groups: dict[tuple[str, str], list[PackageReport]] = {}
    for r in reports:
        if r.unreadable or not r.dispute_id or not r.processor:
            continue
        groups.setdefault((r.processor, r.dispute_id), []).append(r)
    for (proc, dispute), members in groups.items():
        if len(members) < 2:
            continue
        preset = preset_named(proc)
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
