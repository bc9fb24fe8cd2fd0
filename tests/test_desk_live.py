"""The desk while its jobs run, on SQLite and a real PostgreSQL: each screenshot's check
is on the page (and in the status the page polls) as soon as that screenshot's OCR is
done, while the job still runs; and the sign-in rate limit lives in the database, so it
holds across restarts and server processes.

The OCR engine here is a fake that reads fixed lines and blocks on the second image
until the test lets it go: what is checked is when rows appear, not what OCR reads (the
real engine's flows are in test_desk_data, test_desk_broker and test_desk_browser)."""
from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from evidence.desk.app import create_app
from evidence.desk.config import DeskConfig
from evidence.desk.jobs import LocalRunner
from evidence.desk.models import LoginAttempt, ShotCheck
from evidence.ocr import ENGINES
from evidence.ocr.base import Box, OcrLine
from test_desk_data import PASSWORD, Client, desk, ocr_cache, pg_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres


class BlockingEngine:
    """Reads the client's name, email and a message date on every image; every image
    after the first waits for `release` first."""
    name = "blocking"
    release = threading.Event()
    calls = 0
    token = ""  # a fresh cache key per test: nothing is answered from an earlier run

    def __init__(self, **settings):
        pass

    @classmethod
    def key_for(cls, **settings) -> str:
        return f"blocking-{cls.token}"

    def key(self) -> str:
        return self.key_for()

    def recognize(self, image):
        type(self).calls += 1
        if self.calls > 1:
            assert self.release.wait(120), "the test never released the second image"
        return [OcrLine("Jane Cooper", Box(10, 10, 200, 30), 0.99),
                OcrLine("jane.cooper@example.com", Box(10, 40, 300, 60), 0.99),
                OcrLine("Oct 25, 2024, 4:20 PM", Box(10, 70, 250, 90), 0.99)]


@pytest.fixture
def blocking(monkeypatch):
    monkeypatch.setitem(ENGINES, "blocking", BlockingEngine)
    BlockingEngine.token = uuid.uuid4().hex
    BlockingEngine.release.clear()
    BlockingEngine.calls = 0
    yield BlockingEngine
    BlockingEngine.release.set()


def user(cfg, email: str, role: str) -> None:
    """An account, made here (`evidence users add` is tested elsewhere; a process costs)."""
    from evidence.desk.models import User
    from evidence.desk.security import hash_password
    cfg.db.migrate()
    with cfg.db.session() as s:
        s.add(User(email=email, role=role, password_hash=hash_password(PASSWORD)))
        s.commit()


def png(width: int, height: int = 600) -> bytes:
    import io
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    for y in (10, 40, 70):
        d.rectangle((10, y, 200, y + 20), fill="black")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_each_screenshot_shows_its_check_as_soon_as_its_ocr_is_done(desk, blocking):
    cfg, runner = desk
    cfg.engine = "blocking"
    user(cfg, "dev@example.com", "developer")
    with TestClient(create_app(cfg, runner)) as h:
        dev = Client(h, "dev@example.com")
        r = dev.post("/cases/new", {"client_name": "Jane Cooper",
                                    "client_email": "jane.cooper@example.com"})
        case_id = int(str(r.url).rsplit("/", 1)[1])
        files = [("files", ("first.png", png(400), "image/png")),
                 ("files", ("second.png", png(410), "image/png"))]
        r = dev.post(f"/cases/{case_id}/upload", files=files, headers={"accept": "application/json"})
        assert r.json()["stored"] == ["first.png", "second.png"]
        (job_id,) = runner.dispatched

        states: list[str] = []
        worker = threading.Thread(target=lambda: states.extend(runner.run_all()))
        worker.start()
        try:
            status_url = f"/cases/{case_id}/status"
            end = time.monotonic() + 60
            while not (status := dev.get(status_url).json())["rows"]:
                assert time.monotonic() < end and worker.is_alive(), status
                time.sleep(0.1)
            # the first screenshot's row, while the job is still running on the second
            (row,) = status["rows"]
            # uploads are stored under random names: either may be read first
            read, unread = sorted(("first.png", "second.png"), key=lambda n: n != row["name"])
            assert row["state"] == "ok"
            assert "jane.cooper@example.com" in row["html"] and "Oct 25, 2024" in row["html"]
            assert "filed under: 2024-10-25 16:20:00" in row["html"]
            assert [(j["id"], j["state"]) for j in status["active"]] == [(job_id, "running")]
            assert dev.get(f"{status_url}?after={row['row']}").json()["rows"] == []
            # and after a reload: the page draws it, the other one is still being read
            page = dev.get(f"/cases/{case_id}").text
            assert "(checking: 1 of 2 read)" in page
            articles = dict(re.findall(r'data-file="([^"]+)"(.*?)</article>', page, re.S))
            assert "jane.cooper@example.com" in articles[read]
            assert "being read" not in articles[read]
            assert "being read" in articles[unread] and f'data-rows-after="{row["row"]}"' in page
        finally:
            blocking.release.set()
            worker.join(120)
        assert states == ["done"]
        status = dev.get(f"/cases/{case_id}/status").json()
        assert status["active"] == [] and status["rows"] == [] and status["checked"] == 2
        page = dev.get(f"/cases/{case_id}").text
        assert "checking:" not in page and "being read" not in page
        assert page.count("jane.cooper@example.com</span>") == 2
    with cfg.db.session() as s:  # the job's result replaced its early rows
        assert s.scalar(select(func.count()).select_from(ShotCheck)) == 0


def test_the_sign_in_limit_holds_across_restarts_and_server_processes(desk):
    """Five failures per address or email in 5 minutes, counted in the database: a
    second server on the same database (or the same one restarted) sees them."""
    cfg, runner = desk
    user(cfg, "admin@example.com", "admin")  # (dev@example.com need not exist: see below)

    def sign_in(app, email, password) -> int:
        with TestClient(app) as h:
            token = re.search(r'name="csrf" value="([^"]+)"', h.get("/login").text).group(1)
            return h.post("/login", data={"csrf": token, "email": email,
                                          "password": password}).status_code

    one = create_app(cfg, runner)
    other = DeskConfig(cfg.data, database_url=cfg.database_url)  # another process's view
    two = create_app(other, LocalRunner(other))
    codes = [sign_in(one, "admin@example.com", "wrong password!") for _ in range(3)]
    codes += [sign_in(two, "admin@example.com", "wrong password!") for _ in range(3)]
    assert codes == [401] * 5 + [429]
    assert sign_in(one, "admin@example.com", PASSWORD) == 429  # the right one too, for now
    # the address is limited too: another account from it waits as well
    assert sign_in(two, "dev@example.com", PASSWORD) == 429
    with cfg.db.session() as s:  # what was typed is not kept, only hashes
        keys = list(s.scalars(select(LoginAttempt.key)))
        assert len(keys) == 10 and not any("admin" in k or "testclient" in k for k in keys)
        # five minutes on, the failures no longer count
        s.execute(update(LoginAttempt).values(at=LoginAttempt.at - dt.timedelta(seconds=301)))
        s.commit()
    assert sign_in(two, "admin@example.com", PASSWORD) == 200
    other.db.engine.dispose()


def test_recovery_runs_only_when_no_other_server_is_alive(desk):
    """What a crash leaves is put right at start, but a server starting beside a live
    one must not take that one's upload in flight for a cut-off one."""
    from evidence.desk.casefiles import write_case
    from evidence.desk.models import Audit, Case, Shot, User
    cfg, runner = desk
    cfg.db.migrate()
    with cfg.db.session() as s:
        s.add(User(email="d@example.com", role="developer", password_hash="x"))
        s.flush()
        case = Case(owner_id=1, folder="case-a", client_name="A", client_email="a@example.com",
                    shots=[Shot(file="screenshots/kept.png", original_name="kept.png"),
                           Shot(file="screenshots/gone.png", original_name="gone.png")])
        s.add(case)
        s.commit()
        folder = cfg.case_dir("case-a")
        write_case(folder, case, list(case.shots))
    (folder / "screenshots" / "kept.png").write_bytes(png(400))
    left = [folder / "screenshots" / "0a1b2c3d-uncommitted.png", cfg.tmp_dir / "upload-x.tmp",
            folder / ".evidence.pdf.x1y2.tmp", cfg.case_dir("case-never-saved") / "case.toml"]
    with TestClient(create_app(cfg, runner)):
        for p in left:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"in flight")
        other = DeskConfig(cfg.data, database_url=cfg.database_url)
        with TestClient(create_app(other, LocalRunner(other))):
            assert all(p.exists() for p in left)  # the live server's work is left alone
        other.db.engine.dispose()
    with TestClient(create_app(cfg, runner)):  # alone now: what is left is a crash's
        assert not any(p.exists() for p in left) and not cfg.case_dir("case-never-saved").exists()
        assert (folder / "screenshots" / "kept.png").exists()
    toml = (folder / "case.toml").read_text()
    assert "kept.png" in toml and "gone.png" not in toml  # the removal cut off is finished
    with cfg.db.session() as s:
        assert [sh.file for sh in s.get(Case, 1).shots] == ["screenshots/kept.png"]
        assert s.scalars(select(Audit.detail)).all() == ["gone.png (finished after a restart)"]
