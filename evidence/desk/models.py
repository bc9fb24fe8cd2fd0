"""The desk's tables. A case's screenshots and case.toml live in its case folder; these
rows hold who owns it, where it is in the review, its jobs and its audit trail."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, Time,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("developer", "admin")
# draft → in_review → (returned → in_review)* → approved → submitted → won | lost
STATUSES = ("draft", "in_review", "returned", "approved", "submitted", "won", "lost")
JOB_KINDS = ("check", "draft", "build", "validate")
JOB_STATES = ("queued", "running", "done", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""
    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship(lazy="joined")


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    folder: Mapped[str] = mapped_column(String(64), unique=True)  # under DATA/cases/
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    client_name: Mapped[str] = mapped_column(String(200))
    client_email: Mapped[str] = mapped_column(String(320))
    client_aliases: Mapped[str] = mapped_column(Text, default="")  # one per line
    dispute_id: Mapped[str] = mapped_column(String(200), default="")
    processor: Mapped[str] = mapped_column(String(50), default="")
    amount: Mapped[str] = mapped_column(String(50), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    respond_by: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ticket: Mapped[str] = mapped_column(String(500), default="")
    client_emails: Mapped[str] = mapped_column(Text, default="")  # [client] emails, one a line
    # [package] and [redact]: kept so that an imported case exports and builds as it came
    package_output: Mapped[str] = mapped_column(String(300), default="")
    page_size: Mapped[str] = mapped_column(String(50), default="")
    date_order: Mapped[str] = mapped_column(String(3), default="")  # DMY | MDY | YMD | ""
    languages: Mapped[str] = mapped_column(Text, default="")  # one a line
    redact_patterns: Mapped[str] = mapped_column(Text, default="")  # regexes, one a line, as typed
    review_comment: Mapped[str] = mapped_column(Text, default="")
    rebuttal_text: Mapped[str] = mapped_column(Text, default="")  # [rebuttal] text; "" drafts it
    # when the case's content (fields, screenshots, notes) last changed: a package built
    # before this is stale. The package itself is the newest finished build job's output.
    edited_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    processor_ref: Mapped[str] = mapped_column(String(200), default="")
    submitted_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(lazy="joined")
    shots: Mapped[list["Shot"]] = relationship(back_populates="case", order_by="Shot.id",
                                               cascade="all, delete-orphan")
    documents: Mapped[list["Document"]] = relationship(back_populates="case",
                                                       order_by="Document.id",
                                                       cascade="all, delete-orphan")
    __mapper_args__ = {"version_id_col": version}


class Shot(Base):
    """One screenshot: the file under the case folder, and what the case says about it."""
    __tablename__ = "shots"
    __table_args__ = (UniqueConstraint("case_id", "file"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    file: Mapped[str] = mapped_column(String(300))  # posix, relative to the case folder
    original_name: Mapped[str] = mapped_column(String(300))  # shown, never used as a path
    note: Mapped[str] = mapped_column(Text, default="")
    highlight: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(20), default="conversation")
    manual_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    manual_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)  # with the date
    proves: Mapped[str] = mapped_column(Text, default="")  # checklist item ids, one a line
    date_order: Mapped[str] = mapped_column(String(3), default="")  # DMY | MDY | YMD | ""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    case: Mapped[Case] = relationship(back_populates="shots")
    __mapper_args__ = {"version_id_col": version}


class Document(Base):
    """One [[document]]: an invoice, terms or delivery proof (PDF or scan) under the case
    folder, and what the case says about it. `title` is its name (the uploaded file's name
    unless changed; case.toml's `title`); the package shows the note."""
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "file"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(String(300))  # posix, relative to the case folder
    title: Mapped[str] = mapped_column(String(300))  # shown, never used as a path
    kind: Mapped[str] = mapped_column(String(20), default="other")
    note: Mapped[str] = mapped_column(Text, default="")
    highlight: Mapped[str] = mapped_column(String(500), default="")  # case.toml's, kept as is
    manual_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    manual_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)  # with the date
    proves: Mapped[str] = mapped_column(Text, default="")  # checklist item ids, one a line
    pages: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    case: Mapped[Case] = relationship(back_populates="documents")
    __mapper_args__ = {"version_id_col": version}


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # with `serve --broker`: the Celery worker(s) that ran it, comma-separated
    worker: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ShotCheck(Base):
    """One screenshot's check, written by a running check job as soon as that screenshot's
    OCR is in, so the case page shows it at once; the job's final result (dates settled
    across the case, duplicates) replaces these rows when it ends."""
    __tablename__ = "shot_checks"
    # autoincrement: ids only grow (SQLite would reuse deleted ones), so a page asking for
    # the rows after the last one it has never misses one
    __table_args__ = (UniqueConstraint("job_id", "file"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(String(300))  # as Shot.file
    result: Mapped[str] = mapped_column(Text)  # ScreenshotCheck.to_json()


class LoginAttempt(Base):
    """A failed sign-in, counted by the rate limit (security.RateLimit) for a while. `key`
    is the SHA-256 of "ip:ADDRESS" or "email:EMAIL": what was typed is not kept."""
    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                                index=True, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User | None] = relationship(lazy="joined")
