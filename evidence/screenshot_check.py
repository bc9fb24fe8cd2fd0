"""The check stage for one screenshot: its OCR lines -> the client's name, email and
dates (fields), the date it is filed under (when), what failed and what to redact; and
the two case-wide passes after it: ambiguous numeric dates settled the way the case's other
screenshots read, and dates far from the case's others flagged. `pipeline.check` runs it
over the case; the desk's live rows and bench/real_fields.py call `check_one` directly."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import fields, ingest, redact, when
from .case import Case
from .dates import filed as dates_filed, order as dates_order, span as dates_span
from .errors import InputError
from .ocr.base import OcrLine, OcrResult


@dataclass
class ScreenshotCheck:
    """Everything `check` learned about one screenshot; `build` reuses it."""

    shot: ingest.Screenshot
    ocr: OcrResult | None = None
    report: fields.FieldReport | None = None
    when: when.When | None = None
    date: fields.DateHit | None = None  # the date that set `when`, else the first seen
    error: InputError | None = None
    failures: list[str] = field(default_factory=list)
    redactions: list = field(default_factory=list)  # redact.Redaction: what build will black out
    highlight: object = None  # locate_highlight's result: where the highlight phrase is
    warnings: list[str] = field(default_factory=list)  # reported, not failed (an unsettled date)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures

    @property
    def rel(self) -> str:
        return self.shot.rel

    def to_json(self) -> dict:
        r = self.report
        d: dict = {"file": self.rel, "ok": self.ok, "kind": self.shot.kind}
        d["name"] = _match_json(r.name if r else None)
        d["email"] = _match_json(r.email if r else None)
        d["date"] = {"found": bool(r and r.dates), "text": self.date.text if self.date else None}
        d["when"] = ({"value": self.when.value.isoformat(timespec="seconds"),
                      "source": self.when.source, "text": self.when.text,
                      "reason": self.when.reason} if self.when else None)
        if self.warnings:
            d["warnings"] = list(self.warnings)
        d["failures"] = list(self.failures)
        if self.error:
            d["error"] = self.error.message
        if self.shot.note:
            d["note"] = self.shot.note
        d["redact"] = [r.label for r in self.redactions]
        return d


def _match_json(m: fields.FieldMatch | None) -> dict:
    if m is None:
        return {"found": False, "text": None, "score": 0}
    return {"found": m.found, "text": m.text, "score": round(m.score)}


case_kinds = ("conversation", "site")  # screenshot kinds; any other kind is a document


def needs_capture_time(dates: list[fields.DateHit], kind: str) -> bool:
    """Whether `when` may depend on the capture time: no complete date in the image, or a
    date that needs an anchor (no year, relative, a weekday)."""
    return kind == "site" or not dates or any(
        h.year is None or h.month is None or h.day is None for h in dates)


def needs_second_look(c: ScreenshotCheck) -> bool:
    """A conversation whose name, email or message date was not found (see secondlook)."""
    return c.report is not None and c.shot.kind == "conversation" and not (
        c.report.name.found and c.report.email.found and c.when.source == "image")


def settle_with_case(case: Case, checks: list[ScreenshotCheck], look=None
                     ) -> list[ScreenshotCheck]:
    """Numeric dates one screenshot leaves ambiguous are read the way the case's other
    screenshots settled them (one app, one format): those screenshots are checked again
    (no OCR) with the case's orders."""
    orders = dates_order.settled_orders(
        h for c in checks if c.report for h in c.report.dates)
    if not orders:
        return checks
    return [check_one(case, c.shot, c.ocr, case_orders=orders, look=look)
            if c.report and any(h.ambiguous for h in c.report.dates) else c for c in checks]


def flag_outliers(checks: list[ScreenshotCheck]) -> None:
    """Warn about a date far outside the case's others (a misread year, a wrong order)."""
    far = dates_span.outliers([(i, c.when.value) for i, c in enumerate(checks)
                               if c.when is not None and c.shot.kind in case_kinds])
    for i, mid in far.items():
        c = checks[i]
        if c.when.source != "manual":
            c.warnings.append(f"filed {c.when.value:%Y-%m-%d}, far from the case's other dates "
                              f"(around {mid:%Y-%m-%d}); check it or set its date in case.toml")


def check_one(case: Case, shot: ingest.Screenshot, ocr: OcrResult | InputError | None,
              *, case_orders: dict[str, str] | None = None,
              look: Callable[[ingest.Screenshot], list[OcrLine]] | None = None
              ) -> ScreenshotCheck:
    """One screenshot's checks from its OCR. `look` is the second look (see secondlook):
    called only when a conversation's name, email or message date is not found."""
    c = ScreenshotCheck(shot)
    if isinstance(ocr, InputError) or ocr is None:
        c.error = ocr if ocr is not None else InputError("was not read", shot.path)
        c.failures.append(c.error.message)
        return c
    c.ocr = ocr
    c.report, c.when = _fields_and_when(case, shot, ocr.lines, case_orders)
    if look is not None and needs_second_look(c):
        extra = look(shot)
        if extra:
            first = c.report.dates
            c.report, c.when = _fields_and_when(case, shot, (*ocr.lines, *extra), case_orders)
            # A date OCR sees only at normalised contrast may file the exhibit, but it is
            # too faint to show a reader: the date check counts the first reading's.
            c.date = next((h for h in c.report.dates if h.text == c.when.text), None)
            c.report.dates = first
    if c.when.ambiguous:
        c.warnings.append(f"date {c.when.text!r} can be read in more than one order; "
                          "set date_order (DMY, MDY or YMD) in case.toml")
    c.date = c.date or next((h for h in c.report.dates if h.text == c.when.text), None) or (
        c.report.dates[0] if c.report.dates else None)
    c.redactions = redact.find_redactions(ocr.lines, case.redact_patterns)
    if shot.kind == "conversation":
        if not c.report.name.found:
            c.failures.append(f"client name {case.client.name!r} not found")
        if not c.report.email.found:
            c.failures.append(f"client email {case.client.email!r} not found")
        if not c.report.dates:
            c.failures.append("no message date visible")
    return c


def _fields_and_when(case: Case, shot: ingest.Screenshot, lines, case_orders):
    client = case.client
    report = fields.check_fields(lines, client.name, client.email, aliases=client.aliases,
                                 emails=client.emails, languages=case.languages or None)
    filename_time = when.capture_time_from_filename(shot.path.name)
    exif_time = None
    if filename_time is None and shot.manual_date is None and needs_capture_time(report.dates, shot.kind):
        exif_time = when.capture_time_from_exif(shot.path)  # a PNG's EXIF costs a full decode
    entry = case.entries.get(shot.rel)
    order = (entry.date_order if entry else None) or case.date_order
    report.dates = dates_order.decide(
        report.dates, date_order=order, case_orders=case_orders,
        date_order_source="date_order in case.toml",
        capture=filename_time or exif_time or shot.mtime)
    ranked = dates_filed.rank_dates(lines, report.dates, _client_lines(lines, case, report))
    w = when.resolve_when(report.dates, filename_time=filename_time, exif_time=exif_time,
                          mtime=shot.mtime, manual=shot.manual_date, kind=shot.kind,
                          ranked=ranked)
    return report, w


def _client_lines(lines, case: Case, report: fields.FieldReport) -> list[int]:
    """The lines showing the client: by name, alias or address, and the lines the found
    name and email sit on (a name or address wrapped over two lines)."""
    found = set(fields.client_lines(lines, case.client.names, case.client.all_emails))
    for m in (report.name, report.email):
        if m.found and m.box is not None:
            found.update(i for i, ln in enumerate(lines)
                         if m.box.y0 <= (ln.box.y0 + ln.box.y1) / 2 <= m.box.y1
                         and ln.box.x0 < m.box.x1 and m.box.x0 < ln.box.x1)
    return sorted(found)
