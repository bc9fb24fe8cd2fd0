"""The stages in order. Each stage is a plain function in its own module; this file only
composes them, so it reads as the table of contents of `check` and `build`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import fields, ingest, when
from .case import Case, load_case
from .errors import InputError
from .ocr import run_ocr
from .ocr.base import OcrResult
from .ocr.cache import OcrCache


@dataclass
class Options:
    engine: str = "rapidocr"
    cache_dir: Path | None = None  # None: the user's cache directory
    use_cache: bool = True
    workers: int | None = None  # None: one per core
    progress: Callable[[int, int], None] | None = None
    exclude: set[Path] = field(default_factory=set)  # never ingest these (the package)


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
                      "source": self.when.source} if self.when else None)
        d["failures"] = list(self.failures)
        if self.error:
            d["error"] = self.error.message
        if self.shot.note:
            d["note"] = self.shot.note
        return d


def _match_json(m: fields.FieldMatch | None) -> dict:
    if m is None:
        return {"found": False, "text": None, "score": 0}
    return {"found": m.found, "text": m.text, "score": round(m.score)}


@dataclass
class CheckReport:
    case: Case
    checks: list[ScreenshotCheck]
    problems: list[InputError]  # files that never became screenshots (unsupported, missing)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.problems and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[ScreenshotCheck]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict:
        return {"ok": self.ok, "case": str(self.case.root),
                "screenshots": [c.to_json() for c in self.checks],
                "problems": [{"file": _rel(self.case, p.path), "error": p.message}
                             for p in self.problems]}


def _rel(case: Case, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(os.path.realpath(path)).relative_to(case.root).as_posix()
    except ValueError:
        return str(path)


def check(case_dir: Path | str, options: Options | None = None) -> CheckReport:
    """Ingest → OCR → field checks → when. Raises CaseError only for an unusable case."""
    options = options or Options()
    case = load_case(case_dir)
    found = ingest.discover(case, exclude=options.exclude | {case.default_output})
    results = ocr_screenshots(found.screenshots, options)
    checks = [check_one(case, shot, results.get(shot.path)) for shot in found.screenshots]
    return CheckReport(case, checks, found.problems)


def ocr_screenshots(shots: list[ingest.Screenshot], options: Options) -> dict:
    cache = OcrCache(options.cache_dir) if options.use_cache else None
    jobs = [(s.path, s.sha256) for s in shots]
    return run_ocr(jobs, options.engine, cache=cache, workers=options.workers,
                   progress=options.progress)


def check_one(case: Case, shot: ingest.Screenshot, ocr: OcrResult | InputError | None) -> ScreenshotCheck:
    c = ScreenshotCheck(shot)
    if isinstance(ocr, InputError) or ocr is None:
        c.error = ocr if ocr is not None else InputError("was not read", shot.path)
        c.failures.append(c.error.message)
        return c
    c.ocr = ocr
    c.report = fields.check_fields(ocr.lines, case.client.name, case.client.email)
    filename_time = when.capture_time_from_filename(shot.path.name)
    exif_time = None if filename_time else when.capture_time_from_exif(shot.path)
    c.when = when.resolve_when(c.report.dates, filename_time=filename_time, exif_time=exif_time,
                               mtime=shot.mtime, manual=shot.manual_date, kind=shot.kind)
    c.date = next((h for h in c.report.dates if h.text == c.when.text), None) or (
        c.report.dates[0] if c.report.dates else None)
    if shot.kind == "conversation":
        if not c.report.name.found:
            c.failures.append(f"client name {case.client.name!r} not found")
        if not c.report.email.found:
            c.failures.append(f"client email {case.client.email!r} not found")
        if not c.report.dates:
            c.failures.append("no message date visible")
    return c
