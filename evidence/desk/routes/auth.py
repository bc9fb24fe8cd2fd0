"""Sign in, sign out, the home redirect and /healthz."""
from __future__ import annotations

from sqlalchemy import func, select
from starlette.responses import JSONResponse

from .. import security
from ..models import LoginSession, User
from ..web import Ctx, HttpError, route, set_cookie, start_session


def home(ctx: Ctx):
    return ctx.redirect("/queue" if ctx.user.is_admin else "/cases")


def login_page(ctx: Ctx):
    if ctx.user:
        return home(ctx)
    return ctx.render("login.html")


def login(ctx: Ctx):
    email = ctx.get("email").lower()
    password = ctx.form.get("password") if ctx.form else ""
    keys = (f"ip:{ctx.request.client.host if ctx.request.client else '?'}", f"email:{email}")
    limiter = ctx.desk.limiter
    if limiter.blocked(ctx.db, *keys):
        raise HttpError(429, "too many failed sign-ins; wait a few minutes and try again")
    user = ctx.db.scalars(select(User).where(func.lower(User.email) == email)).first()
    ok = security.verify_password(user.password_hash if user else None, str(password or ""))
    if not ok or not user.active:
        limiter.failed(ctx.db, *keys)
        return ctx.render("login.html", status=401, error="wrong email or password", email=email)
    limiter.reset(ctx.db, *keys)
    token = start_session(ctx, user)
    resp = ctx.redirect("/")
    set_cookie(resp, ctx.request, ctx.desk, security.SESSION_COOKIE, token,
               max_age=security.SESSION_HOURS * 3600)
    return resp


def logout(ctx: Ctx):
    ctx.db.query(LoginSession).filter(
        LoginSession.token_hash == security.token_hash(ctx.session_token)).delete()
    resp = ctx.redirect("/login")
    resp.delete_cookie(security.SESSION_COOKIE, path="/")
    return resp


def healthz(ctx: Ctx):
    ctx.db.execute(select(1))
    return JSONResponse({"ok": True})


ROUTES = [
    route("/", home),
    route("/login", login_page, login=False),
    route("/login", login, ["POST"], login=False),
    route("/logout", logout, ["POST"]),
    route("/healthz", healthz, login=False),
]
