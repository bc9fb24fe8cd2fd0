"""Human-readable tables for the terminal."""
from __future__ import annotations

import shutil
import sys

from .errors import one_line


def table(headers: list[str], rows: list[list[str]], max_width: int | None = None) -> str:
    """A plain aligned table; the last column is cut to fit the terminal."""
    if max_width is None:
        max_width = shutil.get_terminal_size((120, 20)).columns if sys.stdout.isatty() else 10_000
    rows = [[one_line(c) for c in r] for r in rows]  # a newline in a file name stays one row
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    fixed = sum(widths[:-1]) + 2 * (len(widths) - 1)
    widths[-1] = max(10, min(widths[-1], max_width - fixed))

    def fmt(cells: list[str]) -> str:
        out = []
        for cell, w in zip(cells, widths):
            cell = cell if len(cell) <= w else cell[: w - 1] + "…"
            out.append(cell.ljust(w))
        return "  ".join(out).rstrip()

    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def _mark(found: bool | None, exempt: bool = False) -> str:
    if exempt:
        return "n/a"
    return "yes" if found else "NO"


def check_table(result) -> str:
    rows = []
    for c in result.checks:
        r = c.report
        site = c.shot.kind != "conversation"  # sites and scanned documents show no name/email
        if c.error:
            rows.append([c.rel, "-", "-", "-", "-", "-", "ERROR", c.error.message])
            continue
        date = c.date.text if c.date else "-"
        filed, source = "-", "-"
        if c.when:
            filed = f"{c.when.value:%Y-%m-%d %H:%M}"
            source = c.when.source + (f": {c.when.reason}" if c.when.reason else "")
        rows.append([c.rel, date, filed, source, _mark(r.name.found, site),
                     _mark(r.email.found, site), "ok" if c.ok else "FAIL",
                     "; ".join(c.failures + c.warnings)])
    for p in result.problems:
        rows.append([str(p.path), "-", "-", "-", "-", "-", "ERROR", p.message])
    for p in result.skipped:
        rows.append([str(p.path), "-", "-", "-", "-", "-", "skipped", p.message])
    passed = sum(c.ok for c in result.checks)
    notes = [f"{d}: same screenshot as {o} ({result.duplicate_reasons.get(d, 'same picture')}); "
             "build leaves it out (--keep-duplicates keeps it)" for d, o in result.duplicates]
    notes += [f"{c.rel}: will redact {r.label}" for c in result.checks for r in c.redactions]
    notes += [f"hint: {h}" for h in result.hints()]
    summary = "\n".join(one_line(n) for n in notes + [""]) if notes else ""
    summary += f"{passed} of {len(result.checks)} screenshots pass"
    if result.problems:
        summary += f"; {len(result.problems)} file problem(s)"
    return (table(["file", "date", "filed", "source", "name", "email", "verdict", "why"], rows)
            + "\n\n" + summary + checklist_text(result))


def checklist_text(result) -> str:
    """The reason's checklist: each item, the exhibits covering it, or MISSING; then the
    warnings (documents refused, items missing, an unknown reason). Empty without either."""
    exhibits = result.exhibits()
    rows = [[r.item.id, "yes" if r.covered else "MISSING",
             ", ".join(f"{e.number} ({e.source})" for e, _ in r.covered_by) or "-"]
            for r in result.checklist(exhibits)]
    out = ""
    if rows:
        reason = result.reason
        out += f"\n\nChecklist for {reason.display}:\n" + table(["item", "covered", "exhibits"], rows)
    warnings = result.warnings(exhibits)
    if warnings:
        out += "\n\n" + "\n".join(f"warning: {w}" for w in warnings)
    return out
