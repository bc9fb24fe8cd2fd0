"""The admin's side: the queue by respond-by date, the validation report, return with a
comment, approve, download the approved package, submitted, won or lost."""
from __future__ import annotations

import shutil

from sqlalchemy import select
from starlette.responses import FileResponse

from ...output import atomic_path
from ..casefiles import APPROVED, PACKAGE
from ..models import Case, utcnow
from ..views import package_info
from ..web import Ctx, HttpError, route
from .cases import _date



def queue(ctx: Ctx):
    """Cases waiting on an admin first (in review, then approved-not-submitted), each group
    by respond-by date; the rest below."""
    cases = ctx.db.scalars(select(Case).order_by(Case.respond_by.is_(None), Case.respond_by,
                                                 Case.id)).all()
    waiting = [c for c in cases if c.status == "in_review"]
    to_submit = [c for c in cases if c.status == "approved"]
    others = [c for c in cases if c.status not in ("in_review", "approved")]
    return ctx.render("queue.html", waiting=waiting, to_submit=to_submit, others=others)


def _in_review(ctx: Ctx) -> Case:
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    if case.status != "in_review":
        raise HttpError(409, f"the case is {case.status.replace('_', ' ')}, not in review")
    return case


def return_case(ctx: Ctx):
    case = _in_review(ctx)
    comment = ctx.get("comment")[:5000]
    if not comment:
        raise HttpError(400, "say what must change: the comment is required")
    case.status, case.review_comment = "returned", comment
    ctx.audit(case, "returned", comment)
    return ctx.redirect(f"/cases/{case.id}")


def approve(ctx: Ctx):
    case = _in_review(ctx)
    pkg = package_info(ctx.db, case)
    if pkg is None or pkg["stale"]:
        raise HttpError(409, "there is no current package to approve")
    if pkg["draft"]:
        raise HttpError(409, "this is a draft (some checks failed): return it instead")
    folder = ctx.desk.cfg.case_dir(case.folder)
    with atomic_path(folder / APPROVED) as tmp:  # a copy later builds cannot touch
        shutil.copyfile(folder / PACKAGE, tmp)
    case.status, case.approved_at, case.review_comment = "approved", utcnow(), ""
    ctx.audit(case, "approved", f"{pkg['pages']} pages, {pkg['bytes']} bytes")
    return ctx.redirect(f"/cases/{case.id}")


def approved_pdf(ctx: Ctx):
    ctx.require_admin()
    case = ctx.case(ctx.params["case_id"])
    pdf = ctx.desk.cfg.case_dir(case.folder) / APPROVED
    if case.status not in ("approved", "submitted", "won", "lost") or not pdf.exists():
        raise HttpError(404, "no approved package")
    ctx.audit(case, "downloaded", APPROVED)
    return FileResponse(pdf, media_type="application/pdf",
                        filename=f"{case.dispute_id or case.folder}-evidence.pdf")


def submitted(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    if case.status != "approved":
        raise HttpError(409, "only an approved package can be marked submitted")
    ref = ctx.get("processor_ref")[:200]
    on = _date(ctx.get("submitted_on"), "submitted on")
    if not ref or on is None:
        raise HttpError(400, "the processor's reference and the date are required")
    case.status, case.processor_ref, case.submitted_on = "submitted", ref, on
    ctx.audit(case, "submitted", f"reference {ref}, on {on.isoformat()}")
    return ctx.redirect(f"/cases/{case.id}")


def outcome(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    result = ctx.get("outcome")
    if case.status != "submitted" or result not in ("won", "lost"):
        raise HttpError(409, "a submitted case is marked won or lost")
    case.status = result
    ctx.audit(case, result)
    return ctx.redirect(f"/cases/{case.id}")


ROUTES = [
    route("/queue", queue, admin=True),
    route("/cases/{case_id:int}/return", return_case, ["POST"], admin=True),
    route("/cases/{case_id:int}/approve", approve, ["POST"], admin=True),
    route("/cases/{case_id:int}/approved.pdf", approved_pdf, admin=True),
    route("/cases/{case_id:int}/submitted", submitted, ["POST"], admin=True),
    route("/cases/{case_id:int}/outcome", outcome, ["POST"], admin=True),
]
