"""What a case page shows, gathered once for both roles: the check of each screenshot
(with what to do about a failure), the package and its staleness, the jobs, the
validation report and the audit trail."""
from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..imageio import open_image
from ..output import atomic_write_bytes
from ..reasons import resolve_reason
from .casefiles import APPROVED, MAX_LETTER_CHARS, PACKAGE, PDFIUM
from .config import DeskConfig
from .jobs import job_json
from .live import live_view
from .models import Audit, Case, Job

EDITABLE = ("draft", "returned")
BUILD_KINDS = ("draft", "build")

ADVICE = [
    ("client name", "Capture the part of the conversation where the client's name shows "
                    "(the chat header or a signature), or add the name the client uses there "
                    "as an alias."),
    ("client email", "Include the client's email address in the capture (open the contact "
                     "card or the email header). If this is the client's live site, not a "
                     "conversation, set its kind to 'site'."),
    ("no message date", "Scroll until a message date shows and capture again; a date set by "
                        "hand orders the exhibit but the processor still wants to see one."),
    ("highlight", "Correct the highlight phrase so it is exactly as written on the screenshot, "
                  "or clear it."),
    ("not an image", "Export the screenshot again as PNG or JPEG."),
]


def advice(failure: str) -> str:
    low = failure.lower()
    return next((a for key, a in ADVICE if key in low), "Replace this screenshot or remove it.")


def latest_job(db: Session, case_id: int, kinds: tuple[str, ...], done_only: bool = False):
    q = select(Job).where(Job.case_id == case_id, Job.kind.in_(kinds))
    if done_only:
        q = q.where(Job.state == "done")
    return db.scalars(q.order_by(Job.id.desc()).limit(1)).first()


def package_info(db: Session, case: Case) -> dict | None:
    """The newest successful build, if its file is there; `stale` if the case changed since."""
    job = latest_job(db, case.id, BUILD_KINDS, done_only=True)
    if job is None or not job.result:
        return None
    r = json.loads(job.result)
    return {"job": job.id, "draft": r.get("draft", job.kind == "draft"), "bytes": r.get("bytes"),
            "pages": r.get("pages"), "exhibits": r.get("exhibits"), "failed": r.get("failed", []),
            "warnings": r.get("warnings", []), "left_out": r.get("left_out", []),
            "rebuttal": r.get("rebuttal"),
            "built_at": job.finished_at, "stale": job.started_at < case.edited_at}


def case_view(db: Session, cfg: DeskConfig, case: Case) -> dict:
    check = latest_job(db, case.id, ("check",), done_only=True)
    results, checked = {}, {}
    if check is not None and check.result:
        checked = json.loads(check.result)
        for row in checked.get("screenshots", []):
            row["advice"] = [advice(f) for f in row.get("failures", [])]
            results[row["file"]] = row
    active = db.scalars(select(Job).where(Job.case_id == case.id,
                                          Job.state.in_(("queued", "running")))
                        .order_by(Job.id)).all()
    last_jobs = {k: latest_job(db, case.id, (k,)) for k in ("check", "draft", "build", "validate")}
    validation = latest_job(db, case.id, ("validate",), done_only=True)
    report = json.loads(validation.result) if validation and validation.result else None
    audit = db.scalars(select(Audit).where(Audit.case_id == case.id)
                       .order_by(Audit.id.desc())).all()
    live = live_view(db, case, check.id if check else 0, results)  # a check still running
    failing = [s for s in case.shots if s.file in results and not results[s.file]["ok"]]
    package = package_info(db, case)
    if package and package["rebuttal"]:
        package["letter_page"] = letter_page(cfg, case, package["rebuttal"]["text"])
    return {**live, "case": case, "results": results, "active": [job_json(j) for j in active],
            "last_jobs": {k: job_json(j) if j else None for k, j in last_jobs.items()},
            "package": package, "report": report,
            "report_at": validation.finished_at if validation else None,
            "audit": audit, "failing": len(failing),
            "editable": case.status in EDITABLE, **argument_view(case, checked),
            "approved": (cfg.case_dir(case.folder) / APPROVED).exists()}


def argument_view(case: Case, checked: dict) -> dict:
    """What the documents, `proves` and letter sections show: the checklist items the
    case's reason knows (the choices for `proves`), the last check's checklist, its
    refused documents and its document dates."""
    reason = resolve_reason(case.reason)
    items = [(i.id, i.label) for i in reason.items] if reason and reason.known else []
    return {"reason": reason, "items": items, "checklist": checked.get("checklist", []),
            "refused": {r["file"]: r["error"] for r in checked.get("refused", [])},
            "doc_checks": {d["file"]: d for d in checked.get("documents", [])},
            "letter_max": MAX_LETTER_CHARS}


def page_count(pdf: Path) -> int:
    import pypdfium2 as pdfium
    with PDFIUM:
        doc = pdfium.PdfDocument(str(pdf))
        try:
            return len(doc)
        finally:
            doc.close()


def _cached(cfg: DeskConfig, src: Path, key: str, ext: str, make) -> bytes | None:
    """`make()`'s bytes about `src` (None: there are none), cached under previews/ by the
    file's mtime; None when `src` is gone."""
    try:
        stamp = src.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = cfg.data / "previews" / f"{key}-{stamp}.{ext}"
    if cached.exists():
        return cached.read_bytes()
    data = make()
    if data is not None:
        atomic_write_bytes(cached, data)
    return data


def _encoded(image, fmt: str) -> bytes | None:
    if image is None:
        return None
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 80} if fmt == "JPEG" else {"optimize": False}))
    return buf.getvalue()


def preview_png(cfg: DeskConfig, case: Case, page: int, approved: bool = False) -> bytes | None:
    """Page `page` (1-based) of the case's package as a PNG, cached by the file's mtime."""
    pdf = cfg.case_dir(case.folder) / (APPROVED if approved else PACKAGE)

    def render():
        import pypdfium2 as pdfium
        with PDFIUM:
            doc = pdfium.PdfDocument(str(pdf))
            try:
                if not 1 <= page <= len(doc):
                    return None
                return _encoded(doc[page - 1].render(scale=100 / 72).to_pil(), "PNG")
            finally:
                doc.close()
    return _cached(cfg, pdf, f"{case.folder}-{'a' if approved else 'p'}-{page}", "png", render)


def letter_page(cfg: DeskConfig, case: Case, letter: str) -> int | None:
    """The page of the case's package where the letter (its first line) starts, looked up
    once per package file."""
    pdf = cfg.case_dir(case.folder) / PACKAGE
    first = " ".join(next((t for t in letter.splitlines() if t.strip()), "").split())[:60]

    def find() -> bytes:
        import pypdfium2 as pdfium
        with PDFIUM:
            doc = pdfium.PdfDocument(str(pdf))
            try:
                for i in range(min(len(doc), 12)):  # the cover and its index come first
                    page = doc[i]
                    tp = page.get_textpage()
                    text = " ".join(tp.get_text_range().split())
                    tp.close()
                    page.close()
                    if first and first in text:
                        return str(i + 1).encode()
            finally:
                doc.close()
        return b"0"
    found = _cached(cfg, pdf, f"{case.folder}-letter", "txt", find)
    return int(found) or None if found else None


def thumbnail_jpeg(cfg: DeskConfig, case: Case, rel: str) -> bytes | None:
    src = cfg.case_dir(case.folder) / rel

    def render():
        with open_image(src) as image:
            image.thumbnail((320, 640))
            return _encoded(image, "JPEG")
    return _cached(cfg, src, f"{case.folder}-thumb-{Path(rel).name}", "jpg", render)
