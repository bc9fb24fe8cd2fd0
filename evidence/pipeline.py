"""The stages in order. Each stage is a plain function in its own module; this file only
composes them, so it reads as the table of contents of `check` and `build`."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import (assemble, documents, duplicates, fields, fit, ingest, layout, presets, reasons,
               rebuttal, redact, secondlook, when)
from . import highlight
from .case import Case, load_case
from .assemble import AssembleError
from .errors import ChecksFailed, InputError, TooBig
from .imageio import open_image
from .ocr import keep_pools, run_ocr
from .ocr.base import Box, OcrLine
from .ocr.cache import OcrCache, default_cache_dir
from .output import atomic_path
# The check stage; check_one is called directly by the desk and bench/real_fields.py.
from .screenshot_check import (ScreenshotCheck, case_kinds, check_one, flag_outliers,
                               needs_second_look, settle_with_case)


@dataclass
class Options:
    engine: str = "rapidocr"
    cache_dir: Path | None = None  # None: the user's cache directory
    use_cache: bool = True
    workers: int | None = None  # None: one per core
    progress: Callable[[int, int], None] | None = None
    exclude: set[Path] = field(default_factory=set)  # never ingest these (the package)
    # Reads the screenshots: run_ocr's signature (jobs, engine, cache=, workers=, progress=).
    # None: run_ocr, the local pool; evidence.runners supplies others (Celery workers).
    ocr_runner: Callable | None = None


@dataclass
class CheckReport:
    case: Case
    checks: list[ScreenshotCheck]
    problems: list[InputError]  # files that never became screenshots (unsupported, missing)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (duplicate, original)
    documents: documents.Found = field(default_factory=documents.Found)  # PDFs and refusals
    skipped: list[InputError] = field(default_factory=list)  # other files: named, not errors
    duplicate_reasons: dict[str, str] = field(default_factory=dict)  # duplicate -> what matched

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.problems and all(c.ok for c in self.checks)

    @property
    def reason(self) -> reasons.Reason | None:
        return reasons.resolve_reason(self.case.dispute.reason)

    def exhibits(self, keep_duplicates: bool = False) -> list[reasons.Exhibit]:
        """The exhibits a build would make, numbered in package order."""
        usable = [c for c in self.checks if c.error is None]
        if not keep_duplicates:
            usable, _ = drop_duplicates(usable, self.duplicates)
        return [exhibit_facts(n, x, self) for n, x in
                enumerate(order_exhibits(usable, self.documents.pdfs), 1)]

    def checklist(self, exhibits: list[reasons.Exhibit] | None = None) -> list[reasons.ChecklistRow]:
        return reasons.checklist(self.reason, self.exhibits() if exhibits is None else exhibits)

    def warnings(self, exhibits: list[reasons.Exhibit] | None = None) -> list[str]:
        """What `check` warns about without failing: the reason, refused documents,
        checklist items no exhibit covers."""
        exhibits = self.exhibits() if exhibits is None else exhibits
        out = [f"{p}" for p in self.documents.problems]
        r = self.reason
        if self.case.dispute.reason and r is not None and not r.known:
            out.append(f"reason {r.text!r} is not a known reason, so there is no checklist "
                       f"(known: {', '.join(reasons.known_reasons())})")
        out += reasons.unknown_proves(r, exhibits)
        out += [f"checklist: no exhibit shows {row.item.id!r} ({row.item.label})"
                for row in reasons.checklist(r, exhibits) if not row.covered]
        return out

    @property
    def failed(self) -> list[ScreenshotCheck]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict:
        exhibits = self.exhibits()
        reason = self.reason
        return {"ok": self.ok, "case": str(self.case.root),
                "reason": reason.to_json() if reason else None,
                "checklist": [r.to_json() for r in self.checklist(exhibits)],
                "exhibits": [{"exhibit": e.number, "source": e.source, "kind": e.kind,
                              "group": e.group, "date": e.date_label} for e in exhibits],
                "documents": [{"file": d.rel, "kind": d.kind, "pages": d.pages,
                               "when": {"value": d.when.value.isoformat(timespec="seconds"),
                                        "source": d.when.source}, "text_chars": len(d.text)}
                              for d in self.documents.pdfs],
                "refused": [{"file": _rel(self.case, p.path), "error": p.message}
                            for p in self.documents.problems],
                "warnings": self.warnings(exhibits),
                "screenshots": [c.to_json() for c in self.checks],
                "problems": [{"file": _rel(self.case, p.path), "error": p.message}
                             for p in self.problems],
                "duplicates": [{"file": d, "duplicate_of": o,
                                "matched": self.duplicate_reasons.get(d)}
                               for d, o in self.duplicates],
                "unused": self.unused(), "hints": self.hints()}

    def unused(self) -> list[dict]:
        """Every file of the case that will not be in the package, with the reason."""
        out = [{"file": c.rel, "reason": c.error.message} for c in self.checks if c.error]
        out += [{"file": _rel(self.case, p.path), "reason": p.message}
                for p in self.problems + self.skipped]
        out += [{"file": d, "reason": f"duplicate of {o}"} for d, o in self.duplicates]
        return out

    def hints(self) -> list[str]:
        """What to fix when every screenshot fails the same way: the case, not the images."""
        read = [c for c in self.checks if c.report and c.shot.kind == "conversation"]
        if len(read) < 2:
            return []
        out = []
        for what, value in (("email", self.case.client.email), ("name", self.case.client.name)):
            if all(not getattr(c.report, what).found for c in read):
                out.append(f"every screenshot fails the {what} check: is [client] {what} "
                           f"{value!r} in case.toml spelled as the conversation shows it?")
        return out


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
    docs = documents.discover(case, exclude=options.exclude | {case.default_output})
    shots = found.screenshots + docs.scans  # scanned documents are read like screenshots
    with keep_pools():  # the OCR workers read the screenshots, then the second looks
        results = ocr_screenshots(shots, options)
        checks = [check_one(case, shot, results.get(shot.path)) for shot in shots]
        # The second looks these checks need, read together (in parallel), checked again.
        look = second_looker(options, [c.shot for c in checks if needs_second_look(c)])
    checks = [check_one(case, c.shot, results.get(c.shot.path), look=look)
              if needs_second_look(c) else c for c in checks]
    checks = settle_with_case(case, checks, look)
    flag_outliers(checks)
    for c in checks:  # check verifies highlights exactly as build does
        c.highlight = locate_highlight(c)
    dups, matched = find_duplicates(checks)
    return CheckReport(case, checks, found.problems, dups, docs, skipped=found.skipped,
                       duplicate_reasons=matched)


def _kind(x) -> str:
    return x.shot.kind if isinstance(x, ScreenshotCheck) else x.kind


def order_exhibits(checks: list[ScreenshotCheck], docs: list[documents.Document]) -> list:
    """Screenshots and documents in package order: by group (reasons.toml [groups]), then
    chronological within the group."""
    items = list(checks) + list(docs)
    return sorted(items, key=lambda x: (reasons.group_order(reasons.group_of(_kind(x))),
                                        when.sort_key(x.when, x.rel)))


def exhibit_facts(number: int, x, report: CheckReport) -> reasons.Exhibit:
    """What the checklist and the letter know about one exhibit."""
    kind = _kind(x)
    if isinstance(x, ScreenshotCheck):
        entry = report.case.entries.get(x.rel) or report.documents.entries.get(x.rel)
        text = x.ocr.text() if x.ocr and kind not in case_kinds else ""
        return reasons.Exhibit(number, x.rel, kind, reasons.group_of(kind), date_label(x),
                               x.shot.note, x.shot.highlight, entry.proves if entry else (),
                               text, x.when.value)
    return reasons.Exhibit(number, x.rel, kind, reasons.group_of(kind), day_label(x.when.value),
                           x.note, None, x.proves, x.text, x.when.value)


def day_label(v: dt.datetime) -> str:
    return f"{v:%b} {v.day}, {v.year}"


def find_duplicates(checks: list[ScreenshotCheck]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Same screenshots, re-saved, resized or recompressed: [(duplicate, kept)] and what
    matched. The copy a person annotated (a note or a highlight, in case.toml or a
    sidecar) is kept, else the first by name without its extension, so that `IMG_1.png`
    is kept over `IMG_1 copy.png` and `IMG_1 resaved.jpg`. Only screenshots whose OCR text
    agrees with another's are decoded for a perceptual fingerprint."""
    usable = [c for c in checks if c.error is None]
    maybe = duplicates.candidates([c.ocr.text() for c in usable])
    items = []
    for i in sorted(maybe, key=lambda i: (not (usable[i].shot.note or usable[i].shot.highlight),
                                          str(Path(usable[i].rel).with_suffix("")),
                                          usable[i].rel)):
        c = usable[i]
        try:
            with open_image(c.shot.path) as image:
                items.append((c.rel, duplicates.fingerprint(image), c.ocr.text()))
        except InputError:
            continue
    found = duplicates.find_duplicates(items)
    return found, {d: duplicates.explain(items, d, o) for d, o in found}


def cache_dir(options: Options, stage: str) -> Path | None:
    """`--cache-dir` is the root of every cache: OCR results in ocr/, encodings in fit/,
    second looks (secondlook.py) in secondlook/.
    None: the stage's default under the user's cache directory."""
    return options.cache_dir / stage if options.cache_dir else None


def ocr_screenshots(shots: list[ingest.Screenshot], options: Options) -> dict:
    cache = OcrCache(cache_dir(options, "ocr")) if options.use_cache else None
    jobs = [(s.path, s.sha256) for s in shots]
    return (options.ocr_runner or run_ocr)(jobs, options.engine, cache=cache,
                                           workers=options.workers, progress=options.progress)


def second_looker(options: Options, ahead: list[ingest.Screenshot] = ()
                  ) -> Callable[[ingest.Screenshot], list[OcrLine]]:
    """The second look (see secondlook) with the run's engine and cache. The looks at
    `ahead` are taken now, in the OCR worker processes (with the local runner; a runner
    of its own, such as the Celery workers', reads them one at a time in this process)."""
    cache = OcrCache(cache_dir(options, "secondlook") or default_cache_dir().parent / "secondlook"
                     ) if options.use_cache else None
    taken = secondlook.second_looks([(s.path, s.sha256) for s in ahead], options.engine, cache,
                                    options.workers) if ahead and not options.ocr_runner else {}

    def look(shot: ingest.Screenshot) -> list[OcrLine]:
        if shot.path in taken:
            return taken[shot.path]
        return secondlook.second_look(shot.path, shot.sha256, options.engine, cache)
    return look


# ------------------------------------------------------------------------------ build

DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES = presets.DEFAULT_MAX_BYTES, presets.DEFAULT_MAX_PAGES
DEADLINE_WARN_DAYS = 3


@dataclass
class BuildOptions(Options):
    output: Path | None = None
    draft: bool = False
    processor: str | None = None
    max_size: int | None = None
    max_pages: int | None = None
    page_size: str | None = None
    keep_duplicates: bool = False
    keep_last4: bool = False
    today: dt.date | None = None
    warn: Callable[[str], None] | None = None  # where warnings go (the CLI: stderr)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    page_size: str
    pdfa: bool
    processor: str | None


@dataclass
class BuildResult:
    output: Path
    bytes: int
    pages: int
    order: list[str]
    failed: list[str]
    draft: bool
    exhibits: int
    limits: Limits
    left_out: list[dict] = field(default_factory=list)
    redacted: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rebuttal: dict | None = None  # the letter: text for the processor's text box, words, limit
    checklist: list[dict] = field(default_factory=list)
    unused: list[dict] = field(default_factory=list)  # {"file", "reason"}: not in the package

    def to_json(self) -> dict:
        return {"output": str(self.output), "bytes": self.bytes, "pages": self.pages,
                "order": self.order, "failed": self.failed, "draft": self.draft,
                "exhibits": self.exhibits, "max_bytes": self.limits.max_bytes,
                "max_pages": self.limits.max_pages, "processor": self.limits.processor,
                "pdfa": self.limits.pdfa, "left_out": self.left_out,
                "redacted": self.redacted, "warnings": self.warnings,
                "rebuttal": self.rebuttal, "checklist": self.checklist, "unused": self.unused}


def resolve_limits(case: Case, options: BuildOptions) -> Limits:
    """The processor preset, overridden by case.toml and then by explicit options."""
    name = options.processor or case.dispute.processor
    preset = presets.get_preset(name) if name else None
    max_bytes, _ = presets.pick_cap(options.max_size, "--max-size", preset, "max_bytes",
                                    DEFAULT_MAX_BYTES)
    max_pages, _ = presets.pick_cap(options.max_pages, "--max-pages", preset, "max_pages",
                                    DEFAULT_MAX_PAGES)
    page = (options.page_size or case.page_size or (preset.page_size if preset else None)
            or "letter").lower()
    layout.page_size(page)  # refuses a page size it does not know
    return Limits(max_bytes, max_pages, page, bool(preset and preset.pdfa),
                  preset.name if preset else None)


def deadline_warning(dispute, today: dt.date) -> str | None:
    if dispute.respond_by is None:
        return None
    days = (dispute.respond_by - today).days
    if days < 0:
        return f"the respond-by date {dispute.respond_by} passed {-days} day(s) ago"
    if days <= DEADLINE_WARN_DAYS:
        return f"only {days} day(s) left until the respond-by date {dispute.respond_by}"
    return None


def build(case_dir: Path | str, options: BuildOptions | None = None) -> BuildResult:
    """check → highlight → (strict gate) → dedupe → sort → redact → layout → fit → assemble."""
    options = options or BuildOptions()
    warn = options.warn or (lambda msg: None)
    today = options.today or dt.date.today()
    case = load_case(case_dir)
    out = Path(options.output) if options.output else case.default_output
    options = dataclasses.replace(options, exclude=options.exclude | {out})  # never ingest it
    limits = resolve_limits(case, options)
    report = check(case.root, options)
    warnings: list[str] = []
    if (w := deadline_warning(case.dispute, today)):
        warnings.append(w)
        warn(w)
    for p in report.documents.problems:  # a refused document is left out; the rest builds
        warnings.append(str(p))
        warn(str(p))

    marks = {c.rel: c.highlight for c in report.checks}  # located by check(), as build needs
    highlights = {rel: (m.box if m else None) for rel, m in marks.items()}
    failed = [c for c in report.checks if not c.ok]
    failures = [f"{c.rel}: {'; '.join(c.failures)}" for c in failed]
    failures += [str(p) for p in report.problems]
    if failures and not options.draft:
        raise ChecksFailed(f"{len(failures)} check(s) failed, nothing written (fix them, or "
                           "build anyway with --draft: every page is then stamped DRAFT)",
                           details=failures + [f"hint: {h}" for h in report.hints()])

    usable = [c for c in report.checks if c.error is None]
    left_out: list[dict] = []
    if not options.keep_duplicates:
        usable, left_out = drop_duplicates(usable, report.duplicates)
        for d in left_out:
            why = report.duplicate_reasons.get(d["source"])
            warn(f"{d['source']}: left out, {d['reason']}" + (f" ({why})" if why else ""))
    if not usable:
        raise ChecksFailed("no usable screenshot in the case; nothing written")
    pdfs = report.documents.pdfs
    if limits.pdfa:  # a document that would break PDF/A stays out of a PDF/A package
        pdfs = [d for d in pdfs if not _left_out_of_pdfa(d, warnings, warn)]
    ordered = order_exhibits(usable, pdfs)
    facts = [exhibit_facts(n, x, report) for n, x in enumerate(ordered, 1)]
    rows = reasons.checklist(report.reason, facts)
    letter = rebuttal.letter(case, report.reason, facts, rows)

    exhibits = [plan_exhibit(n, x, highlights[x.rel], case, limits, options)
                if isinstance(x, ScreenshotCheck) else DocumentExhibit.plan(n, x)
                for n, x in enumerate(ordered, 1)]
    for e in exhibits:
        if isinstance(e, Exhibit) and marks.get(e.check.rel):
            e.highlight_parts = marks[e.check.rel].parts
    cover = assemble.CoverInfo(
        client_name=case.client.name, client_email=case.client.email,
        dispute_id=case.dispute.id or "", processor=(limits.processor or case.dispute.processor
                                                     or ""),
        amount=case.dispute.amount or "", reason=case.dispute.reason or "",
        ticket=case.dispute.ticket or "", respond_by=case.dispute.respond_by, today=today,
        rebuttal=letter.text if letter else "")
    slices = [(e, s) for e in exhibits if isinstance(e, Exhibit) for s in e.slices]
    n_pages = sum(len(e.slices) for e in exhibits)
    placeholder_pages = all_pages(exhibits, [_PLACEHOLDER] * len(slices))
    pages = assemble.cover_page_count(cover, placeholder_pages,
                                      page_size=limits.page_size) + n_pages
    if pages > limits.max_pages:
        heavy = sorted(exhibits, key=lambda e: -len(e.slices))[:3]
        raise TooBig(f"{pages} pages, over the cap of {limits.max_pages}; longest exhibits: "
                     + ", ".join(f"{e.rel} ({len(e.slices)} pages)" for e in heavy))

    items = [fit.FitItem(key=f"Exhibit {e.number} ({e.check.rel})",
                         load=fit.CropSource(e.check.shot.path, s.top, s.bottom,
                                             e.check.shot.sha256, tuple(e.redactions)),
                         min_text_px=e.min_text_px(s), display_width_pt=s.image_rect.width)
             for e, s in slices]
    fit_cache = (cache_dir(options, "fit") or fit.default_cache_dir()) if options.use_cache else None
    # A rough guess first: if every image fits at the top rung with it, the real size is
    # checked after assembly (below). If the cap binds, fit measures the non-image part
    # (one render with blank images) so that quality drops only as far as it must.
    overhead = 30_000 + 6_000 * pages + sum(e.doc.size for e in exhibits
                                            if isinstance(e, DocumentExhibit))
    fitted = fit.fit(items, limits.max_bytes, overhead=overhead, workers=options.workers,
                     cache_dir=fit_cache, measure_overhead=lambda: measure_overhead(
                         case, report, options, exhibits, slices, left_out, cover, limits,
                         pages, failures))
    for _attempt in range(3):
        if fitted is None:
            fitted = fit.fit(items, limits.max_bytes, overhead=overhead, workers=options.workers,
                             cache_dir=fit_cache)
        exhibit_pages = all_pages(exhibits, fitted.images)
        manifest = make_manifest(case, report, options, exhibits, exhibit_pages, left_out,
                                 cover_pages=pages - n_pages, draft=bool(failures))
        try:
            with atomic_path(out) as tmp:
                result = assemble.assemble(
                    tmp, cover, exhibit_pages, page_size=limits.page_size,
                    draft_failures=len(failures) if options.draft and failures else None,
                    manifest=manifest, pdfa=limits.pdfa)
                if result.cover_pages != manifest["cover_pages"]:  # the manifest's page list
                    raise AssembleError(f"cover took {result.cover_pages} pages, the manifest "
                                        f"says {manifest['cover_pages']}", out)
                if result.bytes > limits.max_bytes:
                    raise _OverCap(result.bytes - sum(i.size for i in fitted.images))
        except _OverCap as over:
            overhead = over.overhead + 10_000
            fitted = None
            continue
        break
    else:
        raise TooBig(f"the package stays over {limits.max_bytes} bytes after refitting")

    return BuildResult(
        output=out, bytes=result.bytes, pages=result.pages, order=[e.rel for e in exhibits],
        failed=[c.rel for c in failed] + [str(p.path) for p in report.problems],
        draft=bool(options.draft and failures), exhibits=len(exhibits), limits=limits,
        left_out=left_out, redacted=[{"source": e.check.rel, "what": r.label}
                                     for e in exhibits for r in e.redactions],
        warnings=warnings, checklist=[r.to_json() for r in rows],
        rebuttal=rebuttal_json(letter, limits),
        unused=[u for u in report.unused() if u["file"] not in
                ({c.rel for c in usable} if options.keep_duplicates else ())])


def _left_out_of_pdfa(doc: documents.Document, warnings: list[str], warn) -> bool:
    problem = documents.pdfa_problem(doc.path)
    if problem:
        msg = (f"{doc.path}: left out of this PDF/A package: {problem} (export it as PDF/A, "
               "or scan it to PNG or JPEG)")
        warnings.append(msg)
        warn(msg)
    return problem is not None


def rebuttal_json(letter: rebuttal.Letter | None, limits: Limits) -> dict | None:
    """The letter as plain text for the processor's own text box, within its limit."""
    if letter is None:
        return None
    limit = presets.get_preset(limits.processor).text_field_chars if limits.processor else None
    return {"text": rebuttal.for_text_field(letter.text, limit), "source": letter.source,
            "words": letter.words, "chars": len(letter.text), "limit_chars": limit}


@dataclass
class DocumentExhibit:
    """A PDF document as an exhibit: its pages go into the package as they are."""

    number: int
    doc: documents.Document
    slices: list  # documents.DocumentPage, one per page
    redactions: tuple = ()  # a document is imported as it is (no pixels to burn)

    @property
    def rel(self) -> str:
        return self.doc.rel

    @classmethod
    def plan(cls, number: int, doc: documents.Document) -> "DocumentExhibit":
        digests = documents.page_digests(doc.path)
        label = day_label(doc.when.value)
        return cls(number, doc, [documents.DocumentPage(
            exhibit=number, source=doc.rel, date_label=label, when_source=doc.when.source,
            note=doc.note, path=doc.path, index=i, count=doc.pages, digest=d,
            group=reasons.group_of(doc.kind)) for i, d in enumerate(digests)])


def all_pages(exhibits: list, images: list) -> list:
    """Every exhibit page in package order: screenshot slices take the fitted images in
    turn, document pages stand as they are."""
    it = iter(images)
    return [_page(e, s, next(it)) if isinstance(e, Exhibit) else s
            for e in exhibits for s in e.slices]


# What the measured non-image part cannot see: an image's own dictionary entries beyond
# the placeholder's (its size in digits, a JPEG's filter), per image.
IMAGE_DICT_SLACK = 64


def measure_overhead(case: Case, report: CheckReport, options: BuildOptions, exhibits, slices,
                     left_out, cover, limits: Limits, pages: int, failures: list[str]) -> int:
    """The package's bytes other than image data, measured: the package built in memory
    with blank placeholder images (cover, text layers, notes, fonts, manifest)."""
    stand_ins = all_pages(exhibits, [fit.placeholder(s.source_width, s.height_px)
                                     for _e, s in slices])
    manifest = make_manifest(case, report, options, exhibits, stand_ins, left_out,
                             cover_pages=pages - len(stand_ins), draft=bool(failures))
    return assemble.non_image_bytes(
        cover, stand_ins, page_size=limits.page_size, manifest=manifest, pdfa=limits.pdfa,
        draft_failures=len(failures) if options.draft and failures else None,
    ) + IMAGE_DICT_SLACK * len(slices)


class _OverCap(Exception):
    def __init__(self, overhead: int):
        self.overhead = overhead


_PLACEHOLDER = fit.EncodedImage(b"", "jpeg", 1, 1)


def locate_highlight(c: ScreenshotCheck) -> highlight.Highlight | None:
    """The highlight phrase's words (within a line or running on into the next); a phrase
    that is not on the screenshot fails the check."""
    phrase = c.shot.highlight
    if not phrase or c.ocr is None:
        return None
    hl = highlight.locate(c.ocr.lines, phrase)
    if hl is not None:
        return hl
    m = fields.find_phrase(c.ocr.lines, phrase)
    if not m.found:
        c.failures.append(f"highlight {phrase!r} is not on the screenshot")
        return None
    return highlight.Highlight(phrase, m.text, (m.box,), (), m.score)


@dataclass
class Exhibit:
    number: int
    check: ScreenshotCheck
    highlight: Box | None
    redactions: list
    lines: list[OcrLine]  # OCR lines with redacted text masked
    slices: list
    highlight_parts: tuple = ()  # the highlight's box per line of its phrase

    @property
    def rel(self) -> str:
        return self.check.rel

    def min_text_px(self, s) -> float | None:
        """The smallest required field's text height within slice `s` (the legibility floor)."""
        r = self.check.report
        boxes = [m.box for m in (r.name, r.email) if m.found and m.box] if r else []
        if self.check.date and self.check.date.box:
            boxes.append(self.check.date.box)
        inside = [b.height for b in boxes if s.top <= (b.y0 + b.y1) / 2 < s.bottom]
        if inside:
            return min(inside)
        return layout.typical_text_px(line for line in self.lines
                                      if s.top <= (line.box.y0 + line.box.y1) / 2 < s.bottom)


def plan_exhibit(number: int, c: ScreenshotCheck, highlight: Box | None, case: Case,
                 limits: Limits, options: BuildOptions) -> Exhibit:
    ocr = c.ocr
    reds = (redact.find_redactions(ocr.lines, case.redact_patterns, keep_last4=True)
            if options.keep_last4 else c.redactions)
    lines = redact.apply_to_lines(ocr.lines, reds) if reds else list(ocr.lines)
    text_px = layout.typical_text_px(ocr.lines)
    plan = dict(page=limits.page_size, note=c.shot.note, highlight=highlight, text_px=text_px)
    slices = layout.plan_exhibit(ocr.width, ocr.height, (), **plan)
    if len(slices) > 1:  # a tall capture: cut it at blank rows, which needs the pixels
        image = open_image(c.shot.path)
        slices = layout.plan_exhibit(ocr.width, ocr.height, layout.find_cut_rows(image), **plan)
        image.close()
    return Exhibit(number, c, highlight, reds, lines, slices)


def date_label(c: ScreenshotCheck) -> str:
    v = c.when.value
    label = f"{v:%b} {v.day}, {v.year}"
    timed = c.when.source not in ("image", "manual") or (c.date is not None and c.date.hour is not None)
    if timed and c.when.source != "manual":
        label += f" {v:%H:%M}"
    return label


def _page(e: Exhibit, s, image) -> assemble.ExhibitPage:
    c = e.check
    return assemble.ExhibitPage(
        exhibit=e.number, source=c.rel, date_label=date_label(c), when_source=c.when.source,
        note=c.shot.note, highlight=e.highlight, lines=[ln for ln in e.lines
                                                        if s.top <= (ln.box.y0 + ln.box.y1) / 2 < s.bottom],
        slice=s, image=image, group=reasons.group_of(c.shot.kind),
        highlight_parts=e.highlight_parts, failures=tuple(c.failures))


def drop_duplicates(checks: list[ScreenshotCheck], found: list[tuple[str, str]]
                    ) -> tuple[list[ScreenshotCheck], list[dict]]:
    """Keep the first of each group of same or near-same screenshots (by file name order)."""
    dups = dict(found)
    kept = [c for c in checks if c.rel not in dups]
    left = [{"source": rel, "reason": f"duplicate of {orig}"} for rel, orig in dups.items()]
    return kept, left


def make_manifest(case: Case, report: CheckReport, options: BuildOptions, exhibits: list[Exhibit],
                  pages: list[assemble.ExhibitPage], left_out: list[dict], *, cover_pages: int,
                  draft: bool) -> dict:
    from . import __version__
    engine = next((c.ocr.engine for c in report.checks if c.ocr), options.engine)
    page_rows = []
    by_exhibit: dict[int, list[int]] = {}
    for i, p in enumerate(pages):
        number = cover_pages + i + 1
        by_exhibit.setdefault(p.exhibit, []).append(number)
        digest = (p.digest if isinstance(p, documents.DocumentPage)
                  else assemble.stream_digest(p.image))
        page_rows.append({"page": number, "exhibit": p.exhibit, "part": p.part, "parts": p.parts,
                          "source": p.source, "image_sha256": digest})
    ex_rows = []
    for e in exhibits:
        if isinstance(e, DocumentExhibit):
            ex_rows.append(document_row(e, by_exhibit.get(e.number, [])))
            continue
        c, r = e.check, e.check.report
        ex_rows.append({
            "exhibit": e.number, "source": c.rel, "source_sha256": c.shot.sha256,
            "kind": c.shot.kind, "pages": by_exhibit.get(e.number, []),
            "when": {"value": c.when.value.isoformat(timespec="seconds"), "source": c.when.source},
            "date_text": c.date.text if c.date else None,
            "fields": {"name": {"found": r.name.found, "text": r.name.text},
                       "email": {"found": r.email.found, "text": r.email.text},
                       "date": {"found": bool(r.dates), "text": c.date.text if c.date else None}},
            "note": c.shot.note, "highlight": c.shot.highlight,
            "group": reasons.group_of(c.shot.kind),
            "redactions": [{"kind": x.kind, "label": x.label} for x in e.redactions]})
    return {
        "tool": "evidence", "version": __version__, "engine": engine,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "case": {"client": {"name": case.client.name, "email": case.client.email},
                 "dispute": case.dispute.to_json()},
        "draft": draft, "failed_checks": len(report.failed) + len(report.problems),
        "cover_pages": cover_pages, "page_count": cover_pages + len(pages),
        "exhibits": ex_rows, "pages": page_rows, "left_out": left_out,
        "reason": (r.to_json() if (r := reasons.resolve_reason(case.dispute.reason)) else None)}


def document_row(e: DocumentExhibit, pages: list[int]) -> dict:
    d = e.doc
    return {"exhibit": e.number, "source": d.rel, "source_sha256": d.sha256, "kind": d.kind,
            "document": True, "pages": pages, "group": reasons.group_of(d.kind),
            "when": {"value": d.when.value.isoformat(timespec="seconds"), "source": d.when.source},
            "date_text": d.date_text,
            "fields": {"name": {"found": False, "text": None},
                       "email": {"found": False, "text": None},
                       "date": {"found": d.when.source in ("text", "manual"),
                                "text": d.date_text}},
            "note": d.note, "highlight": None, "proves": list(d.proves), "redactions": []}
