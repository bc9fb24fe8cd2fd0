"""Each screenshot's check on the page as soon as its OCR is done, not when the whole
check job ends.

A check job hands `LiveRows` to the runner (`on_result`): as each screenshot's OCR
result comes in (from this process's engine or a Celery worker), its check is worked out
with the library's own `check_one` and written as a `shot_checks` row. The case page
renders the running job's rows, and its status endpoint returns the rows after the last
one the page has (`rows_after`), rendered by the same template fragment. When the job
ends, its result (dates settled across the case, outliers, duplicates) replaces them.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import documents, ingest, pipeline
from ..case import load_case
from .config import DeskConfig
from .models import Job, ShotCheck

log = logging.getLogger("evidence.desk.jobs")


class LiveRows:
    """on_result(path, outcome) for a check job: one shot_checks row per screenshot."""

    def __init__(self, cfg: DeskConfig, job_id: int, folder: Path, options: pipeline.Options):
        self.cfg, self.job_id = cfg, job_id
        self.case = load_case(folder)
        self.exclude = options.exclude | {self.case.default_output}
        found = ingest.discover(self.case, exclude=self.exclude)
        self.shots = {s.path: s for s in found.screenshots}
        self.scans_looked = False
        self.look = pipeline.second_looker(options)
        with cfg.db.session() as s:  # an interrupted run's rows: this run writes its own
            s.execute(delete(ShotCheck).where(ShotCheck.job_id == job_id))
            s.commit()

    def _shot(self, path: Path):
        if path not in self.shots and not self.scans_looked:  # a scanned document
            self.scans_looked = True
            docs = documents.discover(self.case, exclude=self.exclude)
            self.shots.update({s.path: s for s in docs.scans})
        return self.shots.get(path)

    def __call__(self, path, outcome) -> None:
        shot = self._shot(Path(path))
        if shot is None:
            return
        try:
            c = pipeline.check_one(self.case, shot, outcome, look=self.look)
            c.highlight = pipeline.locate_highlight(c)
            row = c.to_json()
        except Exception:  # a bug here must not cost the check: the final result comes
            log.exception("job %s: the early check of %s failed", self.job_id, shot.rel)
            return
        with self.cfg.db.session() as s:
            s.execute(delete(ShotCheck).where(ShotCheck.job_id == self.job_id,
                                              ShotCheck.file == row["file"]))
            s.add(ShotCheck(job_id=self.job_id, file=row["file"], result=json.dumps(row)))
            s.commit()


def live_check(db: Session, case_id: int, after_job: int) -> Job | None:
    """The newest check job after `after_job` (the last finished one) that did not
    finish: running, queued, or failed part-way with some screenshots checked."""
    return db.scalars(select(Job).where(Job.case_id == case_id, Job.kind == "check",
                                        Job.id > after_job, Job.state != "done")
                      .order_by(Job.id.desc()).limit(1)).first()


def with_advice(row: dict) -> dict:
    from .views import advice
    row["advice"] = [advice(f) for f in row.get("failures", [])]
    return row


def live_view(db: Session, case, after_job: int, results: dict) -> dict:
    """The case page's part: the rows of a check still running (or cut off) after the
    last finished one (`after_job`) go into `results` (file -> row) over that one's."""
    live = live_check(db, case.id, after_job)
    after, read = 0, set()
    for after, row in rows_after(db, live.id) if live else ():
        results[row["file"]] = with_advice(row)
        read.add(row["file"])
    return {"live_job": live.id if live else None, "live_after": after,
            "live_read": sum(s.file in read for s in case.shots),
            "partial": live is not None and live.state in ("queued", "running")}


def rows_after(db: Session, job_id: int, after: int = 0) -> list[tuple[int, dict]]:
    """(row id, check JSON) of the job's rows written after row `after`, oldest first."""
    q = select(ShotCheck).where(ShotCheck.job_id == job_id, ShotCheck.id > after)
    return [(r.id, json.loads(r.result)) for r in db.scalars(q.order_by(ShotCheck.id))]


def drop_rows(db: Session, job_id: int) -> None:
    """The job's final result is in: its early rows are no longer needed."""
    db.execute(delete(ShotCheck).where(ShotCheck.job_id == job_id))


def status_rows(env, db: Session, case, job_id: int | None, after: int) -> list[dict]:
    """What the case page's script adds as it polls: each screenshot checked since row
    `after`, rendered by the page's own fragment (_shot_check.html)."""
    if job_id is None:
        return []
    shots = {s.file: s for s in case.shots}
    fragment = env.get_template("_shot_check.html")
    out = []
    for row_id, row in rows_after(db, job_id, after):
        shot = shots.get(row["file"])
        if shot is None:  # removed since
            continue
        out.append({"row": row_id, "shot": shot.id, "name": shot.original_name,
                    "state": "ok" if row["ok"] else "failing",
                    "html": fragment.render(r=with_advice(row))})
    return out
