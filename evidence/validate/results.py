"""What validate returns: one Check per check id, a PageFinding per page, a
PackageReport per file and the ValidationReport over them; and the options it takes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ExitCode, one_line
from ..units import format_size


CHECK_IDS = ("readable", "limits", "active-content", "manifest", "order", "fields", "case",
             "deadline")


@dataclass
class Check:
    """One check's verdict. `status`: pass, warn (does not fail the package), fail, skip."""

    id: str
    status: str
    detail: str
    findings: list[str] = field(default_factory=list)  # one line per thing found
    pages: list[int] = field(default_factory=list)  # pages it names (1-based)

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skip")

    @property
    def level(self) -> str:
        """How serious the check is when not ok."""
        return "warning" if self.status in ("warn", "skip") else "error"

    def to_json(self) -> dict:
        return {"id": self.id, "ok": self.ok, "level": self.level, "status": self.status,
                "detail": self.detail, "findings": list(self.findings), "pages": list(self.pages)}


@dataclass
class PageFinding:
    page: int
    exhibit: int | None = None
    part: int | None = None
    parts: int | None = None
    source: str | None = None
    kind: str | None = None
    image: str = "-"  # cover | ok | changed | moved | added | no image | -
    date: str | None = None
    name: bool | None = None
    email: bool | None = None
    ocr: bool = False  # date/name/email come from OCR of the rendered page (--deep)
    date_source: str | None = None  # where the exhibit's time came from (manifest `when`)
    problems: list[str] = field(default_factory=list)
    thumbnail: bytes | None = None  # PNG, for the HTML report

    def to_json(self) -> dict:
        return {"page": self.page, "exhibit": self.exhibit, "source": self.source,
                "date": self.date, "name": self.name, "email": self.email,
                "part": self.part, "parts": self.parts, "kind": self.kind, "image": self.image,
                "ocr": self.ocr, "problems": list(self.problems)}


@dataclass
class PackageReport:
    file: Path
    checks: list[Check] = field(default_factory=list)
    pages: list[PageFinding] = field(default_factory=list)
    size: int | None = None
    page_count: int | None = None
    manifest: dict | None = None
    unreadable: bool = False
    processor: str | None = None  # the preset the limits came from
    dispute_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.unreadable and all(c.ok or c.level == "warning" for c in self.checks)

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    @property
    def errors(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.level == "error"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.level == "warning"]

    def summary(self) -> str:
        if self.unreadable:
            c = self.check("readable")
            return one_line(f"{self.file}: UNREADABLE ({c.detail if c else 'cannot be read'})")
        verdict = "PASS" if self.ok else "FAIL"
        parts = []
        if self.errors:
            parts.append(f"{len(self.errors)} failed: " + ", ".join(c.id for c in self.errors))
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s): " + ", ".join(c.id for c in self.warnings))
        extra = f" ({'; '.join(parts)})" if parts else ""
        pages = f", {self.page_count} pages" if self.page_count is not None else ""
        size = f", {format_size(self.size)}" if self.size is not None else ""
        return one_line(f"{self.file}: {verdict}{extra}{pages}{size}")

    def to_json(self) -> dict:
        return {"file": str(self.file), "ok": self.ok, "unreadable": self.unreadable,
                "bytes": self.size, "page_count": self.page_count,
                "built_by_evidence": self.manifest is not None,
                "checks": [c.to_json() for c in self.checks],
                "pages": [p.to_json() for p in self.pages]}


@dataclass
class ValidationReport:
    packages: list[PackageReport]

    @property
    def ok(self) -> bool:
        return bool(self.packages) and all(p.ok for p in self.packages)

    @property
    def exit_code(self) -> ExitCode:
        if any(p.unreadable for p in self.packages):
            return ExitCode.bad_input
        return ExitCode.ok if self.ok else ExitCode.check_failed

    def to_json(self) -> dict:
        return {"ok": self.ok, "packages": [p.to_json() for p in self.packages]}


@dataclass
class ValidateOptions:
    processor: str | None = None
    max_size: int | None = None
    max_pages: int | None = None
    case_dir: Path | None = None
    deep: bool = False
    client_name: str | None = None
    client_email: str | None = None
    engine: str = "rapidocr"
    workers: int | None = None  # OCR worker processes (default: one per core)
    today: dt.date | None = None  # for the deadline (default: the local date)
    thumbnails: bool = False  # render page thumbnails (for the HTML report)
    progress: Callable[[int, int], None] | None = None  # OCR progress, as run_ocr
