"""Passwords (argon2), server-side sessions, CSRF tokens and the login rate limit.

The session cookie holds 32 random bytes; the database keeps only their SHA-256, so a
leaked database or log line cannot be replayed as a session. CSRF tokens are an HMAC of
the session token (or, before login, of an anonymous cookie) under the desk's secret key:
a form from another site cannot know it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import LoginAttempt, utcnow

SESSION_COOKIE = "desk_session"
ANON_COOKIE = "desk_anon"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 12

_hasher = PasswordHasher()
# verify() against this when the email is unknown, so timing does not tell who exists
_DUMMY_HASH = _hasher.hash("not-a-real-password")
# argon2 is memory-hard: 64 MiB per hash. Twenty people signing in at once would take
# 1.3 GB; two at a time (the reference machine's cores) bound it at 128 MiB.
_ARGON2_SLOTS = threading.BoundedSemaphore(2)


def hash_password(password: str) -> str:
    with _ARGON2_SLOTS:
        return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        with _ARGON2_SLOTS:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_secret(data: Path) -> bytes:
    """The desk's signing key, made once per data folder (mode 0600)."""
    path = Path(data) / "secret.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
        return key


def csrf_token(secret: bytes, bound_to: str) -> str:
    return hmac.new(secret, b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, bound_to: str | None, given: str | None) -> bool:
    if not bound_to or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), given)


class RateLimit:
    """At most `limit` failed sign-ins per key (the client's address, and the email typed)
    in `window` seconds. Counted in the database (login_attempts, keys hashed), so the
    limit holds across restarts and across server processes sharing the database."""

    def __init__(self, limit: int = 5, window: float = 300.0):
        self.limit, self.window = limit, window

    def _since(self) -> dt.datetime:
        return utcnow() - dt.timedelta(seconds=self.window)

    def blocked(self, db: Session, *keys: str) -> bool:
        counts = db.execute(select(LoginAttempt.key, func.count())
                            .where(LoginAttempt.key.in_([token_hash(k) for k in keys]),
                                   LoginAttempt.at > self._since())
                            .group_by(LoginAttempt.key))
        return any(n >= self.limit for _, n in counts)

    def failed(self, db: Session, *keys: str) -> None:
        """Count a failure (committed with the request); attempts past the window go."""
        db.execute(delete(LoginAttempt).where(LoginAttempt.at <= self._since()))
        db.add_all(LoginAttempt(key=token_hash(k)) for k in keys)

    def reset(self, db: Session, *keys: str) -> None:
        db.execute(delete(LoginAttempt).where(LoginAttempt.key.in_([token_hash(k) for k in keys])))
