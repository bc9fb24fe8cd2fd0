"""What argues the case beside the screenshots (issue 13's case.toml keys, edited in the
desk): documents (`[[document]]`: invoices, terms, delivery proofs as PDFs or scans), and
the rebuttal letter (`[rebuttal] text`). Each `proves` choice is checked in cases.py
(`proves_field`). Same rules as the screenshot routes: the owner developer or an admin,
only while the case is a draft or returned, version checks, CSRF, audit."""
from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import FileResponse

from ...case import DOCUMENT_KINDS
from ...documents import MAX_DOCUMENTS
from .. import casefiles
from ..models import Case, Document
from ..web import Ctx, HttpError, _wants_json, json_response, route
from .cases import (_editable, _sync, _touch, apply_edit, proves_field, remove_row,
                    store_files, when_fields)


def _document(ctx: Ctx, case: Case) -> Document:
    doc = ctx.db.get(Document, ctx.params["doc_id"])
    if doc is None or doc.case_id != case.id:
        raise HttpError(404, "no such document in this case")
    return doc


def upload(ctx: Ctx):
    """One or more documents from the form's file picker. A refused file is named with the
    reason (JSON for fetch, else a page); the others are kept."""
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    files = [f for f in ctx.form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not files:
        raise HttpError(400, "choose a document (PDF, PNG or JPEG) to upload")
    stored, refused, _ = store_files(
        ctx, case, files, case.documents, MAX_DOCUMENTS, "documents", "document uploaded",
        lambda folder, name, f: casefiles.store_document(folder, ctx.desk.cfg.tmp_dir, name, f),
        lambda d: Document(file=d.rel, title=d.original, kind=d.kind, pages=d.pages))
    if _wants_json(ctx.request):
        return json_response({"ok": not refused, "stored": stored, "refused": refused},
                             status=200 if stored or not refused else 400)
    if refused:
        return ctx.render("error.html", status=400, message=" · ".join(
            f"{r['file']}: {r['error']}" for r in refused) + (
            f" (kept: {', '.join(stored)})" if stored else ""))
    return ctx.redirect(f"/cases/{case.id}#documents")


def edit(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    doc = _document(ctx, case)
    ctx.check_version(doc.version, "document")
    kind = ctx.get("kind") or "other"
    if kind not in DOCUMENT_KINDS:
        raise HttpError(400, f"kind must be one of {', '.join(DOCUMENT_KINDS)}")
    new = {"title": ctx.get("title")[:300] or doc.title, "kind": kind,
           "note": ctx.get("note")[:2000], **when_fields(ctx),
           "proves": proves_field(ctx, case)}
    apply_edit(ctx, case, doc, new, "document edited", doc.title)
    return ctx.redirect(f"/cases/{case.id}#doc-{doc.id}")


def delete(ctx: Ctx):
    case = ctx.case(ctx.params["case_id"])
    _editable(case)
    doc = _document(ctx, case)
    ctx.check_version(doc.version, "document")
    remove_row(ctx, case, case.documents, doc, "document removed", doc.title)
    return ctx.redirect(f"/cases/{case.id}#documents")


def download(ctx: Ctx):
    """The stored document, as an attachment (never shown inline: it is uploaded content)."""
    case = ctx.case(ctx.params["case_id"])
    doc = _document(ctx, case)
    path = ctx.desk.cfg.case_dir(case.folder) / doc.file
    if not path.is_file():
        raise HttpError(404, "the document's file is missing")
    return FileResponse(path, filename=doc.file.rsplit("/", 1)[-1],
                        media_type="application/octet-stream",
                        content_disposition_type="attachment")


def rebuttal(ctx: Ctx):
    """[rebuttal] text: the letter as the developer wrote it; empty to have it drafted."""
    case = ctx.case(ctx.params["case_id"])
    ctx.check_version(case.version)
    _editable(case)
    text = ctx.get("text").replace("\r\n", "\n")
    if len(text) > casefiles.MAX_LETTER_CHARS:
        raise HttpError(400, f"the letter is {len(text):,} characters, over the "
                             f"{casefiles.MAX_LETTER_CHARS:,} a processor's text field takes")
    if text != (case.rebuttal_text or ""):
        case.rebuttal_text = text
        _touch(case)
        ctx.audit(case, "rebuttal edited", f"{len(text.split())} words" if text
                  else "cleared: the letter is drafted from the case")
        _sync(ctx, case)
    return ctx.redirect(f"/cases/{case.id}#rebuttal")


ROUTES = [
    route("/cases/{case_id:int}/documents", upload, ["POST"], upload=True),
    route("/cases/{case_id:int}/documents/{doc_id:int}", edit, ["POST"]),
    route("/cases/{case_id:int}/documents/{doc_id:int}/delete", delete, ["POST"]),
    route("/cases/{case_id:int}/documents/{doc_id:int}/file", download),
    route("/cases/{case_id:int}/rebuttal", rebuttal, ["POST"]),
]
