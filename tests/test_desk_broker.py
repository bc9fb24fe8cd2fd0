"""`evidence serve --broker`: the desk's check, build and deep-validation jobs run on a
Celery worker.

A real Redis and one real `evidence worker` (fixtures/cluster.py); the desk's data folder
sits on the cluster's shared folder, as it must in production. The check runs through
`tasks.run_job` in this process, the build and the validation through the desk's own job
pool (a spawned process, as under `evidence serve`), and the job rows must name the
worker.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

pytest.importorskip("celery", reason='needs the workers extra: pip install ".[workers]"')
pytest.importorskip("redis", reason='needs the workers extra: pip install ".[workers]"')

from desk_support import ROOT, SAMPLE, add_user  # noqa: E402
from fixtures.cluster import REDIS, Cluster  # noqa: E402
from test_desk_data import PASSWORD, Client, RecordingRunner  # noqa: E402

from evidence.desk.app import create_app  # noqa: E402
from evidence.desk.casefiles import PACKAGE  # noqa: E402
from evidence.desk.config import DeskConfig  # noqa: E402
from evidence.desk.jobs import LocalRunner, job_status  # noqa: E402
from evidence.desk.live import LiveRows  # noqa: E402
from evidence.desk.models import Case, Job, ShotCheck  # noqa: E402

SHOTS = [SAMPLE / "screenshots" / n for n in ("IMG_4471.png", "IMG_4480.png", "IMG_4502.png")]
WORKER = "wa@test"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    REDIS is None and os.environ.get("EVIDENCE_REQUIRE_TOOLS") != "1",
    reason="needs redis-server (apt-get install redis-server)")]


def test_serve_with_an_unreachable_broker_says_so_in_one_line():
    r = subprocess.run([sys.executable, "-m", "evidence.cli", "serve", "--broker",
                        "redis://127.0.0.1:1/0", "--port", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_desk_jobs_run_on_the_worker(tmp_path, monkeypatch):
    cluster = Cluster(tmp_path, workers=("wa",), visibility_timeout=30)
    try:
        cfg = DeskConfig(cluster.shared / "desk", broker=cluster.url)
        cfg.db.migrate()
        add_user(cfg.data, "dev@example.com", "developer", PASSWORD, cfg.database_url)
        runner = RecordingRunner(cfg)
        with TestClient(create_app(cfg, runner)) as h:
            dev = Client(h, "dev@example.com")
            r = dev.post("/cases/new", {"client_name": "Jane Cooper",
                                        "client_email": "jane.cooper@example.com",
                                        "dispute_id": "dp_broker"})
            case_id = int(str(r.url).rsplit("/", 1)[1])
            files = [("files", (p.name, p.read_bytes(), "image/png")) for p in SHOTS]
            r = dev.post(f"/cases/{case_id}/upload", files=files,
                         headers={"accept": "application/json"})
            assert r.json()["stored"] == [p.name for p in SHOTS]

            mark = cluster.mark()
            # each screenshot's row is written as its task's result comes back: the
            # first one while the worker still reads the others
            early: list[tuple[int, int]] = []  # (OCR tasks finished, rows written)

            def spy(rows, path, outcome):
                live_call(rows, path, outcome)
                with cfg.db.session() as s:
                    written = s.scalar(select(func.count()).select_from(ShotCheck))
                early.append((len(cluster.task_lines("ocr", since=mark)), written))
            live_call = LiveRows.__call__
            monkeypatch.setattr(LiveRows, "__call__", spy)
            assert runner.run_all() == ["done"]  # the check queued by the upload
            assert [n for _, n in early] == [1, 2, 3] and early[0][0] < 3, early
            with cfg.db.session() as s:
                check = s.get(Job, runner_jobs(cfg, case_id, "check")[-1])
                result = json.loads(check.result)
                folder = cfg.case_dir(s.get(Case, case_id).folder)
            assert check.worker == WORKER
            assert [c["ok"] for c in result["screenshots"]] == [True, True, True], result
            assert len(cluster.task_lines("ocr", since=mark)) == 3  # read there, not here

            # the build, from the desk's own job process, as under `evidence serve`
            pool = LocalRunner(cfg, workers=1)
            try:
                status = run_in(pool, cfg, "build", case_id)
                assert status["state"] == "done", status
                assert status["worker"] == WORKER
                assert (folder / PACKAGE).is_file()
                assert cluster.task_lines("build", since=mark)
                # deep validation too: the pages are rendered and read on the worker
                status = run_in(pool, cfg, "validate", case_id)
            finally:
                pool.stop()
            assert status["state"] == "done" and status["worker"] == WORKER, job_status(cfg, status["id"])["error"]
            (line,) = cluster.task_lines("validate", since=mark)
            assert "evidence.pdf" in line and line.endswith("pass"), line
            with cfg.db.session() as s:
                report = json.loads(s.get(Job, status["id"]).result)
            assert report["ok"] and report["file"] == PACKAGE
            fields = next(c for c in report["checks"] if c["id"] == "fields")
            assert fields["status"] == "pass", fields
            assert "OCR of 3 rendered page(s)" in fields["detail"], fields

            # a running job's worker is on the case page
            with cfg.db.session() as s:
                s.add(Job(case_id=case_id, kind="draft", state="running", worker=WORKER))
                s.commit()
            assert f"running on {WORKER}" in dev.get(f"/cases/{case_id}").text
    finally:
        cluster.stop()


def run_in(pool, cfg, kind, case_id) -> dict:
    """Submit a job to the desk's own job pool (a spawned process, as under `evidence
    serve`) and wait for it to end; its status."""
    job_id = pool.submit(kind, case_id)
    end = time.monotonic() + 90
    while not (job_status(cfg, job_id) or {}).get("finished"):
        assert time.monotonic() < end, job_status(cfg, job_id)
        time.sleep(0.2)
    return job_status(cfg, job_id)


def runner_jobs(cfg, case_id, kind) -> list[int]:
    with cfg.db.session() as s:
        return list(s.scalars(select(Job.id).where(Job.case_id == case_id, Job.kind == kind)
                              .order_by(Job.id)))
