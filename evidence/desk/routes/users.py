"""Admins manage users: add, change role, deactivate (which ends their sessions)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from .. import security
from ..models import ROLES, User
from ..web import Ctx, HttpError, end_sessions, route

MIN_PASSWORD = 10


def add_user(db, email: str, role: str, password: str) -> User:
    """Shared by the users page and `evidence users add`. Raises ValueError."""
    email = email.strip().lower()
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ValueError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if db.scalars(select(User).where(func.lower(User.email) == email)).first():
        raise ValueError(f"{email} already has an account")
    user = User(email=email, role=role, password_hash=security.hash_password(password))
    db.add(user)
    db.flush()
    return user


def users_page(ctx: Ctx):
    return ctx.render("users.html", users=ctx.db.scalars(select(User).order_by(User.email)).all(),
                      roles=ROLES)


def create(ctx: Ctx):
    try:
        user = add_user(ctx.db, ctx.get("email"), ctx.get("role"), ctx.form.get("password") or "")
    except ValueError as e:
        raise HttpError(400, str(e)) from None
    ctx.audit(None, "user added", f"{user.email} ({user.role})")
    return ctx.redirect("/users")


def update(ctx: Ctx):
    user = ctx.db.get(User, ctx.params["user_id"])
    if user is None:
        raise HttpError(404, "no such user")
    if user.id == ctx.user.id:
        raise HttpError(409, "you cannot change your own account here")
    role, active = ctx.get("role"), ctx.get("active") == "1"
    if role not in ROLES:
        raise HttpError(400, f"role must be one of {', '.join(ROLES)}")
    user.role, user.active = role, active
    if not active:
        end_sessions(ctx.db, user.id)
    password = ctx.form.get("password") or ""
    if password:
        if len(password) < MIN_PASSWORD:
            raise HttpError(400, f"the password must have at least {MIN_PASSWORD} characters")
        user.password_hash = security.hash_password(password)
        end_sessions(ctx.db, user.id)
    ctx.audit(None, "user changed", f"{user.email}: {role}, {'active' if active else 'disabled'}"
              + (", new password" if password else ""))
    return ctx.redirect("/users")


ROUTES = [
    route("/users", users_page, admin=True),
    route("/users", create, ["POST"], admin=True),
    route("/users/{user_id:int}", update, ["POST"], admin=True),
]
