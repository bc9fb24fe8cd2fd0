"""The validation report as one self-contained HTML file (`evidence validate --html`).

Everything is inline: the CSS in a <style> element, each page's thumbnail as a base64
PNG data URI beside that page's findings. No script, no external address (a Content
Security Policy forbids both, in case a viewer is asked to fetch anything), and every
text that came from a package (file names, manifest fields) is escaped: a package is
untrusted input. Written atomically (`output.atomic_write_bytes`).
"""
from __future__ import annotations

import base64
import datetime as dt
from html import escape
from pathlib import Path

from ..output import atomic_write_bytes
from ..units import format_size
from . import Check, PackageReport, PageFinding, ValidationReport

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; margin: 0; }
.file { overflow-wrap: normal; word-break: normal; }
h3 { font-size: 1.05em; margin: 1.2em 0 .5em; }
.meta { color: #555; margin-top: 0; }
.package { border: 1px solid #ccc; border-radius: 8px; padding: 1em 1.2em; margin: 1.5em 0; }
.package.fail { border-color: #c62828; }
.package.pass { border-color: #2e7d32; }
.badge { display: inline-block; padding: .05em .55em; border-radius: 4px; font-weight: 600;
         font-size: .85em; vertical-align: middle; margin-left: .4em; color: #fff; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; }
.badge.warn, .badge.skip { background: #ef6c00; } .badge.unreadable { background: #6a1b9a; }
table.checks { border-collapse: collapse; width: 100%; margin-top: .8em; }
table.checks th, table.checks td { text-align: left; vertical-align: top; padding: .35em .5em;
         border-bottom: 1px solid #e3e3e3; }
table.checks th { background: #f4f4f4; }
td.id { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
td.status { font-weight: 600; white-space: nowrap; }
td.status.fail { color: #c62828; } td.status.pass { color: #2e7d32; }
td.status.warn, td.status.skip { color: #ef6c00; }
ul.findings { margin: .3em 0 0 1.1em; padding: 0; }
.pages { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: .8em; }
.page { display: flex; gap: .8em; border: 1px solid #ddd; border-radius: 6px; padding: .6em; }
.page.problem { border-color: #c62828; background: #fff6f6; }
.page img { width: 170px; height: auto; border: 1px solid #bbb; flex: none; background: #fff; }
.page .nothumb { width: 170px; height: 220px; flex: none; border: 1px dashed #bbb; color: #888;
         display: flex; align-items: center; justify-content: center; font-size: .85em; }
.page dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: .1em .6em; }
.page dt { color: #666; } .page dd { margin: 0; }
.page h4 { margin: 0 0 .3em; }
.yes { color: #2e7d32; font-weight: 600; } .no { color: #c62828; font-weight: 600; }
.na { color: #888; } .weak { color: #ef6c00; font-weight: 600; }
"""


def _file(name: str) -> str:
    """A file name that may wrap only after / _ - . (a <wbr> there), never mid-word."""
    out = escape(name)
    for sep in ("/", "_", "-", "."):
        out = out.replace(sep, sep + "<wbr>")
    return f'<span class="file">{out}</span>'


# where an exhibit's time came from, when the screenshot does not show it
WHEN_FROM = {"mtime": "file modified time", "filename": "from file name", "exif": "from EXIF",
             "manual": "set by hand"}
IMAGE_STATE = {"ok": ("yes", "unchanged"), "changed": ("no", "CHANGED since the build"),
               "moved": ("no", "MOVED"), "added": ("no", "ADDED (not in the manifest)"),
               "no image": ("no", "MISSING")}


def _badge(kind: str, text: str) -> str:
    return f'<span class="badge {escape(kind)}">{escape(text)}</span>'


def _flag(value: bool | None, ocr: bool) -> str:
    if value is None:
        return '<span class="na">n/a</span>'
    word = ("yes" if value else "NO") + (" (OCR)" if ocr else "")
    return f'<span class="{"yes" if value else "no"}">{escape(word)}</span>'


def _check_row(c: Check, anchor: str) -> str:
    findings, detail = "", c.detail
    if len(c.findings) > 1 or (c.findings and c.findings[0] != c.detail):
        items = "".join(f"<li>{escape(f)}</li>" for f in c.findings)
        findings = f'<ul class="findings">{items}</ul>'
        if c.findings[0] in c.detail:  # the detail only strings the findings together
            detail = f"{len(c.findings)} finding(s):"
    links = ""
    if c.pages:
        links = " — " + ", ".join(f'<a href="#{anchor}-page-{p}">page {p}</a>' for p in c.pages[:50])
    return (f'<tr class="check" data-check="{escape(c.id)}"><td class="id">{escape(c.id)}</td>'
            f'<td class="status {escape(c.status)}">{escape(c.status.upper())}</td>'
            f"<td>{escape(detail)}{links}{findings}</td></tr>")


def _page_card(p: PageFinding, anchor: str) -> str:
    if p.thumbnail:
        data = base64.b64encode(p.thumbnail).decode("ascii")
        thumb = f'<img alt="page {p.page}" src="data:image/png;base64,{data}">'
    else:
        thumb = '<div class="nothumb">no preview</div>'
    title = f"Page {p.page}" + (" · cover" if p.image == "cover" else "")
    rows = []
    if p.image in IMAGE_STATE:
        cls, word = IMAGE_STATE[p.image]
        rows.append(("image", f'<span class="{cls}">{escape(word)}</span>'))
    if p.exhibit is not None:
        part = f" (part {p.part} of {p.parts})" if p.parts and p.parts > 1 else ""
        rows.append(("exhibit", f"{p.exhibit}{escape(part)}"))
    if p.source:
        rows.append(("source", _file(p.source)))
    if p.kind:
        rows.append(("kind", escape(p.kind)))
    if p.exhibit is not None or p.ocr:
        suffix = " (OCR)" if p.ocr else ""
        if p.date:
            date = escape(p.date + suffix)
            if p.date_source in WHEN_FROM:
                date += f' <span class="weak">({escape(WHEN_FROM[p.date_source])}, not ' \
                        f'shown on the screenshot)</span>'
        else:
            date = f'<span class="no">{escape("NONE FOUND" + suffix)}</span>'
        rows.append(("date", date))
        rows.append(("name", _flag(p.name, p.ocr)))
        rows.append(("email", _flag(p.email, p.ocr)))
    for problem in p.problems:
        rows.append(("problem", f'<span class="no">{escape(problem)}</span>'))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    cls = "page problem" if p.problems else "page"
    return (f'<div class="{cls}" id="{anchor}-page-{p.page}" data-page="{p.page}">{thumb}'
            f"<div><h4>{escape(title)}</h4><dl>{dl}</dl></div></div>")


def _package(r: PackageReport, k: int) -> str:
    anchor = f"pkg{k}"
    if r.unreadable:
        status, label = "fail", "UNREADABLE"
        badge = _badge("unreadable", label)
    else:
        status = "pass" if r.ok else "fail"
        badge = _badge(status, "PASS" if r.ok else "FAIL")
    meta = []
    if r.size is not None:
        meta.append(format_size(r.size))
    if r.page_count is not None:
        meta.append(f"{r.page_count} page(s)")
    meta.append("built by evidence" if r.manifest is not None else "no evidence manifest")
    rows = "".join(_check_row(c, anchor) for c in r.checks)
    pages = "".join(_page_card(p, anchor) for p in r.pages)
    pages_html = f'<h3>Pages</h3><div class="pages">{pages}</div>' if pages else ""
    return (f'<section class="package {status}" id="{anchor}">'
            f"<h2>{_file(r.file.name)}{badge}</h2>"
            f'<p class="meta">{_file(str(r.file))} · {escape(" · ".join(meta))}</p>'
            f'<table class="checks"><thead><tr><th>check</th><th>verdict</th><th>detail</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>{pages_html}</section>")


def render_html(report: ValidationReport, *, generated: dt.datetime | None = None) -> str:
    generated = generated or dt.datetime.now().replace(microsecond=0)
    n = len(report.packages)
    passed = sum(p.ok for p in report.packages)
    summary = f"{n} package(s): {passed} pass, {n - passed} fail"
    body = "".join(_package(p, k) for k, p in enumerate(report.packages, 1))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Evidence package validation</title>"
            f"<style>{STYLE}</style></head><body>"
            f"<h1>Evidence package validation {_badge('pass' if report.ok else 'fail', 'PASS' if report.ok else 'FAIL')}</h1>"
            f'<p class="meta">{escape(summary)} · generated {escape(generated.isoformat(sep=" "))}</p>'
            f"{body}</body></html>\n")


def write_html(path: Path | str, report: ValidationReport) -> None:
    """Write the report to `path` atomically (OutputError if it cannot be written)."""
    atomic_write_bytes(Path(path), render_html(report).encode("utf-8"))
