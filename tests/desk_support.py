"""Helpers for the desk's tests: a throwaway PostgreSQL cluster, a real `evidence serve`
process, users, crafted upload files, and an in-process desk (a runner that records jobs,
a signed-in client). Imported by the test_desk_* modules."""
from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from evidence.desk.jobs import LocalRunner
from evidence.desk.tasks import run_job

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample-case"
REQUIRE_TOOLS_ENV = "EVIDENCE_REQUIRE_TOOLS"


def need(what: str, missing: bool, hint: str) -> None:
    """Skip where a system tool is missing; fail instead where CI requires it."""
    if not missing:
        return
    if os.environ.get(REQUIRE_TOOLS_ENV, "").strip() == "1":
        pytest.fail(f"{REQUIRE_TOOLS_ENV}=1 but {what} is missing ({hint})", pytrace=False)
    pytest.skip(f"needs {what} ({hint})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------- PostgreSQL

def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def postgres_cluster():
    """initdb + pg_ctl start in a temp dir on a loopback port; yields a SQLAlchemy URL."""
    bindir = pg_bin()
    need("PostgreSQL", bindir is None, "apt-get install postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="desk-pg-"))
    data, port = tmp / "data", free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        user = "postgres" if shutil.which("runuser") else None
        need("runuser", user is None, "util-linux")
        shutil.chown(tmp, user)
        os.chmod(tmp, 0o700)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run(run_as + [str(bindir / "initdb"), "-D", str(data), "-U", "desk", "-A", "trust",
                             "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    log = tmp / "pg.log"
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off"
    subprocess.run(run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts,
                             "-w", "-t", "60", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://desk@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                 "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def reset_database(url: str) -> None:
    """Drop every desk table (a fresh schema for the next test)."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# ----------------------------------------------------------------------- the server

def add_user(data: Path, email: str, role: str, password: str, url: str | None = None) -> None:
    cmd = [sys.executable, "-m", "evidence.cli", "users", "add", email, "--role", role,
           "--password-stdin", "--data", str(data)]
    if url:
        cmd += ["--database-url", url]
    subprocess.run(cmd, input=password + "\n", text=True, check=True, cwd=ROOT,
                   capture_output=True)


@contextlib.contextmanager
def desk_server(data: Path, *extra: str):
    """`evidence serve` in a child process; yields its base URL, stops it after."""
    port = free_port()
    log = open(Path(data) / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "evidence.cli", "serve", "--data", str(data),
                             "--port", str(port), *extra], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("the desk did not start:\n" + Path(log.name).read_text())
            try:
                if httpx.get(base + "/healthz", timeout=1).json() == {"ok": True}:
                    break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.1)
        else:
            raise RuntimeError("the desk did not answer /healthz in 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ----------------------------------------------------------------------- inputs

def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header claiming width x height (the body is tiny: a bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\xff" * 3 * 16
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row))
            + chunk(b"IEND", b""))


def pdf_bytes(title: str, lines=()) -> bytes:
    """A one-page text PDF (reportlab), as an invoice or a policy is."""
    import io
    from reportlab.pdfgen import canvas
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("Helvetica-Bold", 20)
    c.drawString(72, 760, title)
    c.setFont("Helvetica", 12)
    for i, t in enumerate(lines):
        c.drawString(72, 720 - 20 * i, t)
    c.showPage()
    c.save()
    return buf.getvalue()


def invoice_pdf() -> bytes:
    return pdf_bytes("INVOICE 2024-118", ["Invoice date: October 5, 2024",
                                          "Bill to: Jane Cooper <jane.cooper@example.com>",
                                          "Logo Starter package ........ 249.00 USD"])


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf(?:-token)?" (?:value|content)="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


# ----------------------------------------------------------------------- in-process desk

PASSWORD = "correct horse battery"


class RecordingRunner(LocalRunner):
    """LocalRunner whose dispatch records the job instead of starting a process."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.dispatched: list[int] = []

    def dispatch(self, job_id: int) -> None:
        self.dispatched.append(job_id)

    def run_all(self) -> list[str]:
        states = [run_job(self.cfg, j) for j in self.dispatched]
        self.dispatched.clear()
        return states


class Client:
    """A signed-in browser, as far as the server can tell."""

    def __init__(self, http, email, password=PASSWORD):
        self.http = http
        r = http.get("/login")
        r = http.post("/login", data={"csrf": csrf_of(r.text), "email": email, "password": password})
        assert r.status_code == 200 and "/login" not in str(r.url), r.text[:500]
        self.csrf = csrf_of(http.get("/cases").text)

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.http.post(url, data={"csrf": self.csrf, **(data or {})}, **kw)

    def version(self, case_id):
        page = self.get(f"/cases/{case_id}").text
        return re.search(r'data-version="(\d+)"', page).group(1)
