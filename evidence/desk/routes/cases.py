"""A developer's work on a case: create, edit, upload, notes, checks, builds, previews,
send for review, export. Admins reach the same pages (they see every case)."""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from ...case import CASE_FILE, DOCUMENT_KINDS, KINDS, parse_date_order
from ...errors import CaseError, InputError
from ...reasons import resolve_reason
from .. import casefiles
from ..casefiles import PACKAGE
from ..jobs import job_status
from ..models import JOB_KINDS, Case, Document, Shot, utcnow
from ..views import case_view, package_info, preview_png, thumbnail_jpeg
from ..web import Ctx, HttpError, json_response, route

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CASE_FIELDS = ("client_name", "client_email", "client_aliases", "client_emails", "dispute_id",
               "processor", "amount", "reason", "ticket", "package_output", "page_size",
               "languages", "redact_patterns")
LONGEST = {"package_output": 300, "page_size": 50}  # the columns' sizes


def _date(text: str, what: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise HttpError(400, f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def _case_fields(ctx: Ctx) -> dict:
    f = {k: ctx.get(k) for k in CASE_FIELDS}
    if not f["client_name"]:
        raise HttpError(400, "the client's name is required")
    if not _EMAIL.match(f["client_email"]):
        raise HttpError(400, "the client's email is not an email address")
    if f["ticket"] and not re.match(r"^https?://", f["ticket"], re.I):
        raise HttpError(400, "the ticket link must start with http:// or https://")
    f["respond_by"] = _date(ctx.get("respond_by"), "respond-by")
    f["date_order"] = date_order_field(ctx)
    raw = ctx.form.get("redact_patterns") if ctx.form is not None else None  # unstripped:
    f["redact_patterns"] = "\n".join(casefiles.patterns(raw if isinstance(raw, str) else ""))
    for k in ("client_aliases", "client_emails", "languages"):
        f[k] = "\n".join(casefiles.lines(f[k]))
    for k, most in LONGEST.items():
        if len(f[k]) > most:
            raise HttpError(400, f"{k.replace('_', ' ')} is over {most} characters")
    out = PurePosixPath(f["package_output"].replace("\\", "/"))
    if out.is_absolute() or ".." in out.parts:  # the desk's own rule, as for the ticket
        raise HttpError(400, "the package's output must be a path inside the case folder")
    return f


def when_fields(ctx: Ctx) -> dict:
    """A date set by hand and, optionally, its time of day (case.toml's `date`)."""
    day, text = _date(ctx.get("manual_date"), "date"), ctx.get("manual_time")
    try:
        time = dt.time.fromisoformat(text) if text else None
    except ValueError:
        raise HttpError(400, f"time {text[:20]!r} is not a time (HH:MM)") from None
    if time and not day:
        raise HttpError(400, "a time of day needs the date it is on")
    return {"manual_date": day, "manual_time": time.replace(tzinfo=None) if time else None}


def date_order_field(ctx: Ctx) -> str:
    """A date_order choice: "" (guess) or one of DATE_ORDERS, by case.py's own rule."""
    try:
        return parse_date_order(ctx.get("date_order").strip()[:20] or None,
                                Path(CASE_FILE), "the") or ""
    except CaseError as e:
        raise HttpError(400, e.message) from None


def _sync(ctx: Ctx, case: Case) -> None:
    """Write the case folder's case.toml from the rows (atomically), once the CLI's parser
    accepts it: what it refuses in a case.toml is refused here with the same words."""
    ctx.db.flush()
    try:
        casefiles.write_case(ctx.desk.cfg.case_dir(case.folder), case, list(case.shots),
                             list(case.documents))
    except CaseError as e:
        raise HttpError(400, e.message) from None


def proves_field(ctx: Ctx, case: Case) -> str:
    """The checked `proves` boxes, each an item of the case's reason (templates/reasons.toml),
    one a line as the rows store them."""
    chosen = list(dict.fromkeys(v.strip().lower() for v in ctx.form.getlist("proves")
                                if isinstance(v, str) and v.strip()))
    if not chosen:
        return ""
    reason = resolve_reason(case.reason)
    if reason is None or not reason.known:
        raise HttpError(400, "the case's reason is not a known dispute reason, so there is no "
                             "checklist to prove; set the reason in the case details first")
    ids = [i.id for i in reason.items]
    for p in chosen:
        if p not in ids:
            raise HttpError(400, f"proves {p[:60]!r} is not an item of {reason.label!r} "
                                 f"(items: {', '.join(ids)})")
    return "\n".join(chosen)


def _editable(case: Case) -> None:
    if case.status not in ("draft", "returned"):
        raise HttpError(409, f"the case is {case.status.replace('_', ' ')}; it cannot be "
                             "changed now (an admin can return it)")


def _touch(case: Case) -> None:
    case.edited_at = utcnow()


def case_list(ctx: Ctx):
    q = select(Case).order_by(Case.respond_by.is_(None), Case.respond_by, Case.id)
    if not ctx.user.is_admin:
        q = q.where(Case.owner_id == ctx.user.id)
    return ctx.render("cases.html", cases=ctx.db.scalars(q).all())


def new_page(ctx: Ctx):
    return ctx.render("case_new.html")


def create(ctx: Ctx):
    case = Case(owner_id=ctx.user.id, folder=casefiles.new_folder_name(), **_case_fields(ctx))
    ctx.db.add(case)
    ctx.db.flush()
    ctx.audit(case, "created", f"client {case.client_name} <{case.client_email}>")
    _sync(ctx, case)
    return ctx.redirect(f"/cases/{case.id}")


def import_case(ctx: Ctx):
    """A case folder, zipped: case.toml and screenshots/ (as `export` gives)."""
    upload = ctx.form.get("archive") if ctx.form else None
    if not isinstance(upload, UploadFile):
        raise HttpError(400, "choose a .zip of a case folder")
    with tempfile.TemporaryDirectory(dir=ctx.desk.cfg.tmp_dir) as tmp:
        try:
            src = casefiles.unpack_zip(upload.file, Path(tmp))
            case = Case(owner_id=ctx.user.id, folder=casefiles.new_folder_name())
            got = casefiles.import_folder(src, ctx.desk.cfg.case_dir(case.folder))
        except (CaseError, InputError) as e:
            raise HttpError(400, f"{upload.filename}: {e.message}") from None
    for k, v in got.fields.items():
        setattr(case, k, v)
    case.shots = [Shot(**r) for r in got.shots]
    case.documents = [Document(**r) for r in got.documents]
    ctx.db.add(case)
    ctx.db.flush()
    ctx.audit(case, "imported", f"{upload.filename}: {len(got.shots)} screenshot(s), "
              f"{len(got.documents)} document(s)"
              + (", a rebuttal letter" if case.rebuttal_text else "")
              + (f"; refused: {'; '.join(got.problems)}" if got.problems else ""))
    _sync(ctx, case)
    if got.shots or got.documents:
        ctx.submit("check", case)
    return ctx.redirect(f"/cases/{case.id}")


def case_page(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    return ctx.render("case.html", kinds=KINDS, document_kinds=DOCUMENT_KINDS,
                      **case_view(ctx.db, ctx.desk.cfg, case))


def edit(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    _editable(case)
    fields = _case_fields(ctx)
    changed = [k for k, v in fields.items() if getattr(case, k) != v]
    for k in changed:
        setattr(case, k, fields[k])
    if changed:
        _touch(case)
        ctx.audit(case, "edited", ", ".join(changed))
        _sync(ctx, case)
        ctx.submit("check", case)  # name/email changes change the checks
    return ctx.redirect(f"/cases/{case.id}")


def upload(ctx: Ctx):
    """Many files at once (drag and drop, paste, or the file picker). JSON: which were
    stored, which refused and why."""
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    files = [f for f in ctx.form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise HttpError(400, "no file in the upload")
    stored, refused, job = store_files(
        ctx, case, files, case.shots, casefiles.MAX_SHOTS_PER_CASE, "screenshots", "uploaded",
        lambda folder, name, f: casefiles.store_upload(folder, ctx.desk.cfg.tmp_dir, name, f),
        lambda s: Shot(file=s.rel, original_name=s.original))
    return json_response({"ok": not refused, "stored": stored, "refused": refused, "job": job},
                         status=200 if stored or not refused else 400)


def store_files(ctx: Ctx, case: Case, files: list, rows: list, most: int, what: str,
                action: str, store, make_row) -> tuple[list[str], list[dict], int | None]:
    """Store each upload with `store(folder, name, file)` (InputError: refused, one line)
    and add `make_row(stored)` to `rows`, at most `most` of them; audit both lists, rewrite
    case.toml and queue a check. Returns (stored names, refused {file, error}, check job).
    A file stored for a change that is not committed is removed again (ctx.undo)."""
    folder = ctx.desk.cfg.case_dir(case.folder)
    stored, refused = [], []
    for f in files:
        name = (f.filename or "pasted image")[:200]
        if len(rows) >= most:
            refused.append({"file": name, "error": f"the case already holds {most} {what}"})
            continue
        try:
            s = store(folder, name, f.file)
        except InputError as e:
            refused.append({"file": name, "error": e.message})
            continue
        rows.append(make_row(s))
        ctx.undo.append(lambda rel=s.rel: casefiles.remove_file(folder, rel))
        stored.append(name)
    job = None
    if stored:
        _touch(case)
        ctx.audit(case, action, ", ".join(stored))
        _sync(ctx, case)
        job = ctx.submit("check", case)  # the checklist reads documents' text too
    if refused:
        ctx.audit(case, "upload refused", "; ".join(f"{r['file']}: {r['error']}" for r in refused))
    return stored, refused, job


def _shot(ctx: Ctx, case: Case) -> Shot:
    shot = ctx.db.get(Shot, ctx.params["shot_id"])
    if shot is None or shot.case_id != case.id:
        raise HttpError(404, "no such screenshot in this case")
    return shot


def shot_edit(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    shot = _shot(ctx, case)
    ctx.check_version(shot.version, "screenshot")
    kind = ctx.get("kind") or "conversation"
    if kind not in KINDS:
        raise HttpError(400, f"kind must be one of {', '.join(KINDS)}")
    new = {"note": ctx.get("note")[:2000], "highlight": ctx.get("highlight")[:300], "kind": kind,
           **when_fields(ctx), "date_order": date_order_field(ctx),
           "proves": proves_field(ctx, case)}
    apply_edit(ctx, case, shot, new, "screenshot edited", shot.original_name)
    return ctx.redirect(f"/cases/{case.id}#shot-{shot.id}")


def apply_edit(ctx: Ctx, case: Case, row, new: dict, action: str, name: str) -> None:
    """Set the fields of a screenshot or document row that changed; audit them
    (`note = …, proves = delivery approval`, one line), rewrite case.toml, check again."""
    changed = [k for k, v in new.items() if getattr(row, k) != v]
    if not changed:
        return
    for k in changed:
        setattr(row, k, new[k])
    _touch(case)
    ctx.audit(case, action, f"{name}: " + ", ".join(
        f"{k} = " + " ".join(str(new[k]).split()) for k in changed))
    _sync(ctx, case)
    ctx.submit("check", case)


def remove_row(ctx: Ctx, case: Case, rows: list, row, action: str, name: str) -> None:
    """Remove a screenshot or document: its file first, so a crash between the two steps
    leaves a case.toml naming a missing file (a loud error), never a removed exhibit
    quietly back in the package (the build reads screenshots/ and documents/ whole)."""
    casefiles.remove_file(ctx.desk.cfg.case_dir(case.folder), row.file)
    rows.remove(row)
    _touch(case)
    ctx.audit(case, action, name)
    _sync(ctx, case)
    ctx.submit("check", case)


def shot_delete(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    shot = _shot(ctx, case)
    ctx.check_version(shot.version, "screenshot")
    remove_row(ctx, case, case.shots, shot, "screenshot removed", shot.original_name)
    return ctx.redirect(f"/cases/{case.id}")


def shot_thumb(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    shot = _shot(ctx, case)
    try:
        data = thumbnail_jpeg(ctx.desk.cfg, case, shot.file)
    except InputError:
        data = None
    if data is None:
        raise HttpError(404, "no thumbnail")
    return Response(data, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})


def start_job(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    kind = ctx.get("kind")
    if kind not in JOB_KINDS:
        raise HttpError(400, f"unknown job {kind!r}")
    if kind in ("check", "draft", "build"):
        _editable(case)
    if kind == "validate" and package_info(ctx.db, case) is None:
        raise HttpError(409, "build the package first")
    job = ctx.submit(kind, case)
    ctx.audit(case, f"{kind} started", f"job {job}")
    if "fetch" == ctx.request.headers.get("x-requested-with"):
        return json_response({"ok": True, "job": job})
    return ctx.redirect(f"/cases/{case.id}")


def job_json(ctx: Ctx):
    status = job_status(ctx.desk.cfg, ctx.params["job_id"])
    if status is None:
        raise HttpError(404, "no such job")
    ctx.case(status["case"])  # authorization: the job's case
    return json_response(status)


def case_status(ctx: Ctx):
    """What the page polls: active jobs and the case's version (reload when it changed),
    and each screenshot checked since the page's last row (live.py)."""
    from ..live import status_rows
    case = ctx.case(ctx.params["case_id"])
    view = case_view(ctx.db, ctx.desk.cfg, case)
    after = ctx.request.query_params.get("after", "0")
    rows = status_rows(ctx.desk.env, ctx.db, case, view["live_job"],
                       int(after) if after.isdigit() else 0)
    return json_response({"version": case.version, "status": case.status,
                          "active": view["active"], "last_jobs": view["last_jobs"],
                          "checked": len(view["results"]), "shots": len(case.shots),
                          "rows": rows})


def package(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    pdf = ctx.desk.cfg.case_dir(case.folder) / PACKAGE
    if not pdf.exists():
        raise HttpError(404, "no package built yet")
    return FileResponse(pdf, media_type="application/pdf",
                        filename=f"{case.dispute_id or case.folder}-draft.pdf")


def page_preview(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    png = preview_png(ctx.desk.cfg, case, ctx.params["page"],
                      approved=ctx.request.query_params.get("approved") == "1")
    if png is None:
        raise HttpError(404, "no such page")
    return Response(png, media_type="image/png", headers={"cache-control": "no-cache"})


def send(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    _editable(case)
    pkg = package_info(ctx.db, case)
    if pkg is None:
        raise HttpError(409, "build the package before sending it for review")
    if pkg["stale"]:
        raise HttpError(409, "the case changed after the last build; build again, then send")
    case.status = "in_review"
    ctx.audit(case, "sent for review", ctx.get("message")[:1000])
    ctx.submit("validate", case)
    return ctx.redirect(f"/cases/{case.id}")


def export(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    folder = ctx.desk.cfg.case_dir(case.folder)
    tmp = tempfile.NamedTemporaryFile(dir=ctx.desk.cfg.tmp_dir, suffix=".zip", delete=False)
    tmp.close()
    casefiles.export_zip(folder, Path(tmp.name), [d.file for d in case.documents])
    return FileResponse(tmp.name, media_type="application/zip", filename=f"{case.folder}.zip",
                        background=BackgroundTask(Path(tmp.name).unlink, missing_ok=True))


ROUTES = [
    route("/cases", case_list),
    route("/cases/new", new_page),
    route("/cases/new", create, ["POST"]),
    route("/cases/import", import_case, ["POST"], upload=True),
    route("/cases/{case_id:int}", case_page),
    route("/cases/{case_id:int}/edit", edit, ["POST"]),
    route("/cases/{case_id:int}/upload", upload, ["POST"], upload=True),
    route("/cases/{case_id:int}/shots/{shot_id:int}", shot_edit, ["POST"]),
    route("/cases/{case_id:int}/shots/{shot_id:int}/delete", shot_delete, ["POST"]),
    route("/cases/{case_id:int}/shots/{shot_id:int}/thumb.jpg", shot_thumb),
    route("/cases/{case_id:int}/jobs", start_job, ["POST"]),
    route("/cases/{case_id:int}/status", case_status),
    route("/jobs/{job_id:int}", job_json),
    route("/cases/{case_id:int}/package.pdf", package),
    route("/cases/{case_id:int}/pages/{page:int}.png", page_preview),
    route("/cases/{case_id:int}/send", send, ["POST"]),
    route("/cases/{case_id:int}/export.zip", export),
]
