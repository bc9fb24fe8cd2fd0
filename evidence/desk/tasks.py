"""What a background job does: one call into the library per job kind.

`run_job(config, job_id)` is the whole contract; the in-server pool (jobs.py) calls it in
a worker process, and a Celery worker can call the very same function."""
from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import time
import traceback
from pathlib import Path

from .. import pipeline, validate
from ..errors import EvidenceError
from ..runners.local import LocalRunner
from .casefiles import PACKAGE
from .config import DeskConfig
from .live import LiveRows, drop_rows
from .models import Case, Job, utcnow

log = logging.getLogger("evidence.desk.jobs")
LOCK_FILE = ".desk.lock"  # hidden: ingest never takes it for a screenshot


@contextlib.contextmanager
def _celery(cfg: DeskConfig, progress):
    """With `serve --broker`: the Celery runner, which names each task's worker on the job
    row (BrokerError, failing the job, when Redis or every worker is gone). Else None."""
    if not cfg.broker:
        yield None
        return
    from ..runners import get_runner
    runner = get_runner(cfg.broker, on_task=progress.worker)
    try:
        yield runner
    finally:
        runner.close()


def _check(cfg: DeskConfig, folder, progress) -> dict:
    """The case's check; each screenshot's row is on the page as soon as its OCR is in."""
    with _celery(cfg, progress) as runner:
        opts = pipeline.Options(engine=cfg.engine, cache_dir=cfg.cache_dir, workers=1,
                                progress=progress)
        rows = LiveRows(cfg, progress.job_id, folder, opts)
        opts.ocr_runner = functools.partial((runner or LocalRunner()).ocr, on_result=rows)
        return pipeline.check(folder, opts).to_json()


def _build(cfg: DeskConfig, folder, progress, draft: bool) -> dict:
    opts = pipeline.BuildOptions(engine=cfg.engine, cache_dir=cfg.cache_dir, workers=1,
                                 progress=progress, draft=draft, output=folder / PACKAGE)
    with _celery(cfg, progress) as runner:
        result = (runner.build if runner else pipeline.build)(folder, opts).to_json()
    result["output"] = PACKAGE  # never show the server's paths
    return result


def _validate(cfg: DeskConfig, folder, progress) -> dict:
    """validate --deep --case; with --broker, on a worker (the pages' OCR with it)."""
    opts = validate.ValidateOptions(case_dir=folder, deep=True, engine=cfg.engine, workers=1,
                                    progress=progress)
    with _celery(cfg, progress) as runner:
        report = (runner or LocalRunner()).validate([folder / PACKAGE], opts)["packages"][0]
    report["file"] = PACKAGE
    return report


HANDLERS = {
    "check": _check,
    "draft": lambda cfg, folder, p: _build(cfg, folder, p, draft=True),
    "build": lambda cfg, folder, p: _build(cfg, folder, p, draft=False),
    "validate": _validate,
}


class _Progress:
    """Writes (done, total) to the job row, at most twice a second, and the names of the
    Celery workers that ran its tasks (`worker`, the runners' on_task hook)."""

    def __init__(self, cfg: DeskConfig, job_id: int):
        self.cfg, self.job_id, self.last = cfg, job_id, 0.0
        self.workers: list[str] = []

    def worker(self, kind: str, name: str, worker: str | None) -> None:
        if not worker or worker in self.workers:
            return
        self.workers.append(worker)
        with self.cfg.db.session() as s:
            job = s.get(Job, self.job_id)
            if job is not None:
                job.worker = ", ".join(self.workers)[:500]
                s.commit()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and done < total:
            return
        self.last = now
        with self.cfg.db.session() as s:
            job = s.get(Job, self.job_id)
            if job is not None:
                job.done, job.total = done, total
                s.commit()


@contextlib.contextmanager
def case_lock(folder: Path):
    """One job at a time per case, across processes: a check queued behind another reads
    the screenshots the first one cached instead of reading them again in parallel."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_job(cfg: DeskConfig, job_id: int) -> str:
    """Run one queued (or interrupted) job to the end; returns its final state."""
    with cfg.db.session() as s:
        job = s.get(Job, job_id)
        case = s.get(Case, job.case_id) if job else None
        folder = cfg.case_dir(case.folder) if case else None
    if folder is None:
        return _run(cfg, job_id, None)
    with case_lock(folder):
        return _run(cfg, job_id, folder)


def _run(cfg: DeskConfig, job_id: int, folder: Path | None) -> str:
    with cfg.db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.state in ("done", "failed"):
            return job.state if job else "missing"
        case = s.get(Case, job.case_id)
        if case is None:
            job.state, job.error = "failed", "the case was deleted"
            s.commit()
            return job.state
        job.state, job.started_at, job.error, job.worker = "running", utcnow(), None, None
        kind = job.kind
        s.commit()
    result, error = None, None
    try:
        result = HANDLERS[kind](cfg, folder, _Progress(cfg, job_id))
    except EvidenceError as e:
        error = str(e.message) if e.path is None else f"{e.path.name}: {e.message}"
    except Exception as e:  # a bug: keep the server up, say so on the page, log the trace
        log.error("job %s (%s) crashed: %s", job_id, kind, traceback.format_exc())
        error = f"internal error: {e.__class__.__name__}: {e}"
    with cfg.db.session() as s:
        job = s.get(Job, job_id)
        job.finished_at = utcnow()
        if error is None:
            job.state, job.result = "done", json.dumps(result)
            job.done = job.total = max(job.total, 1)
            drop_rows(s, job_id)
        else:
            job.state, job.error = "failed", error[:20_000]
        s.commit()
        return job.state
