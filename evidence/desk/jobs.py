"""Background jobs behind a small interface: `submit(kind, case_id) -> job id` and
`status(job_id)`. Job state lives in the database, so a page shows progress after a
reload, and jobs cut off by a restart are queued again when the server starts.

`LocalRunner` (the default) runs jobs in worker processes inside the server: OCR never
competes with page requests for the server's interpreter. With `serve --broker` those
processes only hand check/build OCR and builds to the Celery workers and wait (tasks.py). Another runner (Celery, with
`--broker`) only has to implement `JobRunner` and call `tasks.run_job`.
"""
from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import DeskConfig
from .models import JOB_KINDS, Job, utcnow

log = logging.getLogger("evidence.desk.jobs")


class JobRunner(Protocol):
    def submit(self, kind: str, case_id: int) -> int: ...
    def dispatch(self, job_id: int) -> None: ...  # run a job row created by create_job
    def status(self, job_id: int) -> dict | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def job_status(cfg: DeskConfig, job_id: int) -> dict | None:
    with cfg.db.session() as s:
        job = s.get(Job, job_id)
        return job_json(job) if job else None


def job_json(job: Job) -> dict:
    return {"id": job.id, "case": job.case_id, "kind": job.kind, "state": job.state,
            "done": job.done, "total": job.total, "error": job.error, "worker": job.worker,
            "finished": job.state in ("done", "failed")}


def create_job(s: Session, kind: str, case_id: int) -> tuple[int, bool]:
    """A queued job row in session `s` (committed by the caller, with the change that
    asked for it), or the one already queued for the same case and kind (a burst of
    uploads gives one check). Returns (job id, whether it is new)."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    queued = s.scalars(select(Job).where(Job.case_id == case_id, Job.kind == kind,
                                         Job.state == "queued")).first()
    if queued is not None:
        return queued.id, False
    job = Job(case_id=case_id, kind=kind, state="queued")
    s.add(job)
    s.flush()
    return job.id, True


def _init_worker(data: str, url: str, engine: str, broker: str | None) -> None:
    global _CFG
    _CFG = DeskConfig(data, database_url=url, engine=engine, broker=broker)
    threading.Thread(target=_exit_with_server, args=(os.getppid(),), daemon=True).start()


def _exit_with_server(server: int) -> None:
    """A job process outlives a killed server (SIGKILL, out of memory) otherwise, and would
    go on writing beside the next server's re-run of its job: it ends within 0.2 s.
    (Not PR_SET_PDEATHSIG: that fires when the *thread* that started the process ends.)"""
    while os.getppid() == server:
        time.sleep(0.2)
    os._exit(1)


_CFG: DeskConfig | None = None


def _work(job_id: int) -> str:
    from .tasks import run_job
    return run_job(_CFG, job_id)


class LocalRunner:
    def __init__(self, cfg: DeskConfig, workers: int | None = None):
        self.cfg = cfg
        self.workers = max(1, workers or cfg.job_workers)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        # one job in flight per case; the others wait here, not in a worker (a worker
        # blocked on a case's lock would hold up every other case)
        self._waiting: dict[int, collections.deque[int]] = {}
        self._stopped = False

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: the server has threads and open database connections to not copy
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(str(self.cfg.data), self.cfg.database_url, self.cfg.engine,
                              self.cfg.broker))
            return self._pool

    def start(self) -> None:
        """Queue again what a stopped server left queued or running."""
        with self.cfg.db.session() as s:
            stale = s.scalars(select(Job).where(Job.state.in_(("queued", "running")))
                              .order_by(Job.id)).all()
            for job in stale:
                job.state = "queued"
            s.commit()
            ids = [j.id for j in stale]
        for job_id in ids:
            log.info("re-queued interrupted job %s", job_id)
            self.dispatch(job_id)

    def submit(self, kind: str, case_id: int) -> int:
        with self.cfg.db.session() as s:
            job_id, new = create_job(s, kind, case_id)
            s.commit()
        if new:
            self.dispatch(job_id)
        return job_id

    def dispatch(self, job_id: int) -> None:
        with self.cfg.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            case_id = job.case_id
        with self._lock:
            if case_id in self._waiting:
                self._waiting[case_id].append(job_id)
                return
            self._waiting[case_id] = collections.deque()
        self._start(case_id, job_id)

    def _start(self, case_id: int, job_id: int) -> None:
        if self._stopped:  # left queued in the database: the next start runs it
            return
        try:
            fut = self._executor().submit(_work, job_id)
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            fut = self._executor().submit(_work, job_id)
        fut.add_done_callback(lambda f, c=case_id, j=job_id: self._finished(c, j, f))

    def _finished(self, case_id: int, job_id: int, fut: Future) -> None:
        try:
            self._failed(job_id, fut)
        finally:
            with self._lock:
                waiting = self._waiting.get(case_id)
                following = waiting.popleft() if waiting else None
                if following is None:
                    self._waiting.pop(case_id, None)
            if following is not None:
                self._start(case_id, following)

    def _failed(self, job_id: int, fut: Future) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            return
        # the worker process died (out of memory, killed): the job fails, the pool is renewed
        log.error("job %s: worker failed: %s", job_id, exc)
        if isinstance(exc, BrokenProcessPool):
            with self._lock:
                self._pool = None
        with self.cfg.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None and job.state not in ("done", "failed"):
                job.state, job.finished_at = "failed", utcnow()
                job.error = "the job's worker process died (out of memory?); run it again"
                s.commit()

    def status(self, job_id: int) -> dict | None:
        return job_status(self.cfg, job_id)

    def stop(self) -> None:
        """Stop now: running jobs are cut off (their outputs are written atomically, so
        nothing is half-written) and run again on the next start."""
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(5)
