"""The desk's data layer and its HTTP flow, run against SQLite and a real PostgreSQL
(a throwaway cluster on loopback). Jobs run in this process through `tasks.run_job`,
with the real OCR engine, on two of the sample's screenshots."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm.exc import StaleDataError

from desk_support import (PASSWORD, ROOT, SAMPLE, Client, RecordingRunner, add_user,
                          postgres_cluster, reset_database)
from evidence.desk.app import create_app
from evidence.desk.config import DeskConfig
from evidence.desk.jobs import LocalRunner
from evidence.desk.models import Audit, Case, Job, User

pytestmark = pytest.mark.postgres

PASSING = SAMPLE / "screenshots" / "IMG_4471.png"
FAILING = SAMPLE / "screenshots" / "janet-thread.png"  # another person's thread


@pytest.fixture(scope="module")
def pg_url():
    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="module")
def ocr_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("desk-cache")


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, tmp_path, ocr_cache):
    """(config, runner): a desk on a fresh database; jobs are recorded, not started. The
    OCR cache is shared by both databases' runs (the second reads no screenshot twice)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        reset_database(url)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cache").symlink_to(ocr_cache)
    cfg = DeskConfig(tmp_path / "data", database_url=url)
    runner = RecordingRunner(cfg)
    yield cfg, runner
    cfg.db.engine.dispose()


def test_migrations_create_the_schema_and_run_twice(desk):
    cfg, _ = desk
    cfg.db.migrate()
    cfg.db.migrate()  # idempotent: a restart runs them again
    tables = set(inspect(cfg.db.engine).get_table_names())
    assert {"users", "sessions", "cases", "shots", "jobs", "audit", "alembic_version"} <= tables


def test_two_editors_cannot_overwrite_each_other(desk):
    cfg, _ = desk
    cfg.db.migrate()
    with cfg.db.session() as s:
        s.add(User(email="d@example.com", role="developer", password_hash="x"))
        s.flush()
        s.add(Case(owner_id=1, folder="case-x", client_name="A", client_email="a@example.com"))
        s.commit()
    with cfg.db.session() as one, cfg.db.session() as two:
        a, b = one.get(Case, 1), two.get(Case, 1)
        a.reason = "first"
        one.commit()
        b.reason = "second"
        with pytest.raises(StaleDataError):
            two.commit()
    with cfg.db.session() as s:
        assert s.get(Case, 1).reason == "first"


def test_interrupted_jobs_are_queued_again_on_start(desk):
    cfg, runner = desk
    cfg.db.migrate()
    with cfg.db.session() as s:
        s.add(User(email="d@example.com", role="developer", password_hash="x"))
        s.flush()
        s.add(Case(owner_id=1, folder="case-x", client_name="A", client_email="a@example.com"))
        s.flush()
        s.add_all([Job(case_id=1, kind="check", state="running"),
                   Job(case_id=1, kind="build", state="done"),
                   Job(case_id=1, kind="draft", state="queued")])
        s.commit()
    runner.start()
    assert runner.dispatched == [1, 3]
    with cfg.db.session() as s:
        assert [j.state for j in s.scalars(select(Job).order_by(Job.id))] == ["queued", "done", "queued"]


def test_a_case_from_upload_to_submission(desk):
    """The whole review over HTTP, jobs run for real: check, draft, validate, build."""
    from starlette.testclient import TestClient
    cfg, runner = desk
    for email, role in (("dev@example.com", "developer"), ("other@example.com", "developer"),
                        ("admin@example.com", "admin")):
        add_user(cfg.data, email, role, PASSWORD, cfg.database_url)
    app = create_app(cfg, runner)
    with TestClient(app) as h1, TestClient(app) as h2, TestClient(app) as h3:
        dev, other, admin = (Client(h1, "dev@example.com"), Client(h2, "other@example.com"),
                             Client(h3, "admin@example.com"))
        soon = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        r = dev.post("/cases/new", {"client_name": "Jane Cooper",
                                    "client_email": "jane.cooper@example.com",
                                    "dispute_id": "dp_data", "respond_by": soon})
        case_id = int(str(r.url).rsplit("/", 1)[1])
        files = [("files", (p.name, p.read_bytes(), "image/png")) for p in (PASSING, FAILING)]
        r = dev.post(f"/cases/{case_id}/upload", files=files, headers={"accept": "application/json"})
        assert r.json()["stored"] == [PASSING.name, FAILING.name] and r.json()["refused"] == []

        # the case folder is an ordinary case: generated names, originals kept only as labels
        with cfg.db.session() as s:
            case = s.get(Case, case_id)
            folder = cfg.case_dir(case.folder)
            shots = {sh.original_name: sh for sh in case.shots}
        toml = tomllib.loads((folder / "case.toml").read_text())
        files_listed = [e["file"] for e in toml["screenshot"]]
        assert all(f.startswith("screenshots/") and f != f"screenshots/{PASSING.name}"
                   for f in files_listed)
        assert all((folder / f).is_file() for f in files_listed)

        assert other.get(f"/cases/{case_id}").status_code == 403
        assert runner.run_all() == ["done"]  # the check queued by the upload
        page = dev.get(f"/cases/{case_id}").text
        assert "client name &#39;Jane Cooper&#39; not found" in page  # janet-thread fails

        # a note, then the same form again from a stale page: refused, not overwritten
        shot = shots[PASSING.name]
        r = dev.post(f"/cases/{case_id}/shots/{shot.id}",
                     {"version": shot.version, "note": "Client says it looks great",
                      "kind": "conversation"})
        assert r.status_code == 200
        other_tab = dev.post(f"/cases/{case_id}/shots/{shot.id}",
                                 {"version": shot.version, "note": "stale edit",
                                  "kind": "conversation"})
        assert other_tab.status_code == 409
        assert 'note = "Client says it looks great"' in (folder / "case.toml").read_text()

        assert dev.post(f"/cases/{case_id}/send", {"version": dev.version(case_id)}).status_code == 409
        dev.post(f"/cases/{case_id}/jobs", {"kind": "draft"})
        assert runner.run_all() == ["done", "done"]  # the re-check after the note, the draft
        r = dev.post(f"/cases/{case_id}/send", {"version": dev.version(case_id)})
        assert r.status_code == 200 and "in review" in r.text
        assert runner.run_all() == ["done"]  # deep validation

        assert f'data-case="{case_id}"' in admin.get("/queue").text
        assert dev.get("/queue").status_code == 403
        r = admin.post(f"/cases/{case_id}/approve", {"version": admin.version(case_id)})
        assert r.status_code == 409 and "draft" in r.text
        r = admin.post(f"/cases/{case_id}/return", {"version": admin.version(case_id),
                                                    "comment": "Remove the other customer's thread"})
        assert "Remove the other customer&#39;s thread" in dev.get(f"/cases/{case_id}").text

        bad = shots[FAILING.name]
        dev.post(f"/cases/{case_id}/shots/{bad.id}/delete", {"version": bad.version})
        assert not any(p.name.endswith("janet-thread.png") for p in (folder / "screenshots").iterdir())
        dev.post(f"/cases/{case_id}/jobs", {"kind": "build"})
        assert runner.run_all() == ["done", "done"]
        dev.post(f"/cases/{case_id}/send", {"version": dev.version(case_id)})
        runner.run_all()
        r = admin.post(f"/cases/{case_id}/approve", {"version": admin.version(case_id)})
        assert r.status_code == 200 and "approved" in r.text
        pdf = admin.get(f"/cases/{case_id}/approved.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert dev.get(f"/cases/{case_id}/approved.pdf").status_code == 403
        r = admin.post(f"/cases/{case_id}/submitted", {"version": admin.version(case_id),
                                                       "processor_ref": "du_123",
                                                       "submitted_on": dt.date.today().isoformat()})
        assert "Submitted on" in r.text and "du_123" in r.text

    with cfg.db.session() as s:
        actions = [a.action for a in s.scalars(select(Audit).where(Audit.case_id == case_id)
                                               .order_by(Audit.id))]
    assert actions[:1] == ["created"] and "returned" in actions and actions[-1] == "submitted"
    assert actions.index("returned") < actions.index("approved") < actions.index("downloaded")

    # the exported folder builds with the CLI as it is
    out = cfg.data / "cli.pdf"
    r = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", str(folder / "approved.pdf"),
                        "--case", str(folder)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "evidence.cli", "build", str(folder), "-o", str(out),
                        "--cache-dir", str(cfg.cache_dir), "-j", "1"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0 and out.exists(), r.stderr


def test_one_job_at_a_time_per_case_without_holding_a_worker(desk):
    """A second job for a busy case waits in the runner, so other cases' jobs go first."""
    from concurrent.futures import Future
    cfg, _ = desk
    cfg.db.migrate()
    started: list[tuple[int, Future]] = []

    class Pool:
        def submit(self, fn, job_id):
            f = Future()
            started.append((job_id, f))
            return f

    runner = LocalRunner(cfg)
    runner._executor = lambda: Pool()
    with cfg.db.session() as s:
        s.add(User(email="d@example.com", role="developer", password_hash="x"))
        s.flush()
        s.add_all([Case(owner_id=1, folder=f"case-{i}", client_name="A",
                        client_email="a@example.com") for i in (1, 2)])
        s.commit()
    a1 = runner.submit("check", 1)
    a2 = runner.submit("build", 1)
    b1 = runner.submit("check", 2)
    assert runner.submit("build", 1) == a2  # still queued: the same job, not another
    assert [j for j, _ in started] == [a1, b1]
    started[0][1].set_result("done")
    assert [j for j, _ in started] == [a1, b1, a2]
    runner.stop()
