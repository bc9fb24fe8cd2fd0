"""The desk's request plumbing: every route goes through `route()`, which parses the form
with bounds, checks the session, the role and the CSRF token, and runs the handler in a
thread (database and file work never block the event loop).

A handler gets a `Ctx` and returns a Response. Authorization on a case is `ctx.case(id)`:
404 if it does not exist, 403 if a developer does not own it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import security
from .casefiles import MAX_FILES_PER_UPLOAD, days_left, lines, patterns
from .config import DeskConfig
from .jobs import JobRunner, create_job
from .models import Audit, Case, LoginSession, User, utcnow

log = logging.getLogger("evidence.desk")
HERE = Path(__file__).parent
MAX_FORM_BODY = 1024 * 1024  # any request but an upload
MAX_UPLOAD_BODY = 200 * 1024 * 1024  # one upload request (many files)


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


@dataclass
class Desk:
    cfg: DeskConfig
    runner: JobRunner
    secret: bytes
    limiter: security.RateLimit = field(default_factory=security.RateLimit)
    env: Environment = field(init=False)

    def __post_init__(self):
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html"]))
        self.env.filters["days_left"] = days_left
        self.env.globals["today"] = dt.date.today
        self.env.globals.update(lines=lines, patterns=patterns)  # one-a-line columns


@dataclass
class Ctx:
    request: Request
    desk: Desk
    db: Session
    user: User | None
    form: FormData | None
    session_token: str | None
    csrf: str
    queued: list[int] = field(default_factory=list)  # jobs to start once committed
    undo: list[Callable[[], None]] = field(default_factory=list)  # if the commit fails

    @property
    def params(self) -> dict:
        return self.request.path_params

    def get(self, key: str, default: str = "") -> str:
        v = self.form.get(key) if self.form is not None else None
        return v.strip() if isinstance(v, str) else default

    def render(self, name: str, status: int = 200, **values) -> HTMLResponse:
        html = self.desk.env.get_template(name).render(
            user=self.user, csrf=self.csrf, request=self.request, **values)
        return HTMLResponse(html, status_code=status)

    def case(self, case_id: int, *, write: bool = False) -> Case:
        """The case, if this user may see it: admins all, developers their own."""
        c = self.db.get(Case, case_id)
        if c is None:
            raise HttpError(404, "no such case")
        if not self.user.is_admin and c.owner_id != self.user.id:
            raise HttpError(403, "this case belongs to another developer")
        return c

    def require_admin(self) -> None:
        if not self.user.is_admin:
            raise HttpError(403, "only an admin can do this")

    def check_version(self, current: int, what: str = "case") -> None:
        """Optimistic locking: the form carries the version it was rendered from."""
        try:
            given = int(self.get("version"))
        except ValueError:
            raise HttpError(400, "the form has no version; reload the page") from None
        if given != current:
            raise HttpError(409, f"this {what} was changed by someone else since you opened "
                                 "it; reload the page to see their change, then redo yours")

    def audit(self, case: Case | None, action: str, detail: str = "") -> None:
        self.db.add(Audit(case_id=case.id if case else None,
                          user_id=self.user.id if self.user else None,
                          action=action, detail=detail[:2000]))

    def submit(self, kind: str, case: Case) -> int:
        """Queue a job in this request's transaction; it starts after the commit."""
        job_id, new = create_job(self.db, kind, case.id)
        if new:
            self.queued.append(job_id)
        return job_id

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)


def _secure(request: Request, desk: Desk) -> bool:
    if desk.cfg.secure_cookies is not None:
        return desk.cfg.secure_cookies
    return request.url.scheme == "https"


def set_cookie(resp: Response, request: Request, desk: Desk, name: str, value: str,
               max_age: int | None = None) -> None:
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                    secure=_secure(request, desk), path="/")


def session_user(db: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = db.get(LoginSession, security.token_hash(token))
    if row is None or row.expires_at < utcnow() or not row.user.active:
        return None
    return row.user


def start_session(ctx: Ctx, user: User) -> str:
    token = security.new_token()
    ctx.db.add(LoginSession(token_hash=security.token_hash(token), user_id=user.id,
                            expires_at=utcnow() + dt.timedelta(hours=security.SESSION_HOURS)))
    return token


def end_sessions(db: Session, user_id: int) -> None:
    db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


def route(path: str, handler: Callable[[Ctx], Response], methods=("GET",), *,
          login: bool = True, admin: bool = False, upload: bool = False) -> Route:
    async def endpoint(request: Request) -> Response:
        desk: Desk = request.app.state.desk
        form = None
        if request.method == "POST":
            limit = MAX_UPLOAD_BODY if upload else MAX_FORM_BODY
            try:
                if int(request.headers.get("content-length") or 0) > limit:
                    raise HttpError(413, f"request over {limit // (1024 * 1024)} MB")
                form = await request.form(max_files=MAX_FILES_PER_UPLOAD if upload else 0,
                                          max_fields=200, max_part_size=256 * 1024)
            except MultiPartException as e:
                return error_response(request, desk, 400 if "Too many" not in str(e) else 413,
                                      f"the form was refused: {e}")
            except ClientDisconnect:
                return Response(status_code=400)
            except HttpError as e:
                return error_response(request, desk, e.status, e.message)
        try:
            return await run_in_threadpool(_handle, request, desk, form, handler, login, admin)
        finally:
            if form is not None:
                await form.close()
    return Route(path, endpoint, methods=list(methods))


def _handle(request: Request, desk: Desk, form, handler, login: bool, admin: bool) -> Response:
    token = request.cookies.get(security.SESSION_COOKIE)
    with desk.cfg.db.session() as db:
        user = session_user(db, token)
        anon = request.cookies.get(security.ANON_COOKIE)
        bound = token if user else anon
        new_anon = None
        if not bound:
            bound = new_anon = security.new_token()
        ctx = Ctx(request, desk, db, user, form, token if user else None,
                  security.csrf_token(desk.secret, bound))
        try:
            if login and user is None:
                if request.method == "GET" and not _wants_json(request):
                    return RedirectResponse("/login", status_code=303)
                raise HttpError(401, "sign in first")
            if admin:
                ctx.require_admin()
            if request.method == "POST":
                given = request.headers.get(security.CSRF_HEADER) or ctx.get(security.CSRF_FIELD)
                if not security.csrf_ok(desk.secret, bound if not new_anon else None, given):
                    raise HttpError(403, "the form's security token is missing or out of date "
                                         "(CSRF); reload the page and try again")
            try:
                resp = handler(ctx)
                db.commit()
            except BaseException:
                for undo in ctx.undo:  # files written for a change that did not happen
                    undo()
                raise
            for job_id in ctx.queued:
                desk.runner.dispatch(job_id)
        except HttpError as e:
            db.rollback()
            resp = error_response(request, desk, e.status, e.message, user=user, csrf=ctx.csrf)
        if new_anon:
            set_cookie(resp, request, desk, security.ANON_COOKIE, new_anon)
        return resp


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or \
        request.headers.get("x-requested-with") == "fetch"


def error_response(request: Request, desk: Desk, status: int, message: str, *,
                   user: User | None = None, csrf: str = "") -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "error": message}, status_code=status)
    html = desk.env.get_template("error.html").render(
        user=user, csrf=csrf, request=request, status=status, message=message)
    return HTMLResponse(html, status_code=status)


def json_response(data, status: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(data, default=str)), status_code=status)


def admins_first(db: Session) -> bool:
    """Whether the desk has no user yet (the first sign-up is told to use `evidence users`)."""
    return db.scalars(select(User.id).limit(1)).first() is None
