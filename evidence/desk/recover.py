"""What a server killed at any moment leaves behind, put right when the next one starts
(before it serves a page or runs a job).

The database is consistent by itself (one transaction per request or job step), and
every file is written to a temp name and renamed into place. What a kill can leave:

* temp files: uploads being received (DATA/tmp) and packages being written
  (`.evidence.pdf.XXXX.tmp` beside the package): removed;
* files renamed into place by a request whose transaction never committed: a screenshot
  stored by an upload (the browser never heard "stored"), a case folder made by a case
  creation or import: removed, so an upload is either all there or absent;
* a screenshot removal cut off between removing the file and committing: finished;
* case.toml written for a change that never committed: written again from the rows.

Interrupted jobs are queued again by the runner's start (jobs.py).

Only a server that finds no other one alive on the data folder does this (`serving`):
another server's upload in flight looks just like one cut off.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from ..case import CASE_FILE
from ..ingest import SCREENSHOT_DIR
from .casefiles import case_toml, write_case
from .config import DeskConfig
from .models import Audit, Case, utcnow

log = logging.getLogger("evidence.desk")


SERVING_LOCK = ".serving.lock"


@contextlib.contextmanager
def serving(cfg: DeskConfig) -> Iterator[bool]:
    """Held while a server runs (a shared lock on DATA/.serving.lock, which the kernel
    drops when the process dies). The first one to start alone recovers the folder; one
    starting beside a live server leaves it be. Yields whether it recovered."""
    with open(cfg.data / SERVING_LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
            log.info("another server is using %s: no crash recovery at this start", cfg.data)
        if alone:
            recover(cfg)
        fcntl.flock(f, fcntl.LOCK_SH)
        yield alone


def is_temp(path: Path) -> bool:
    """A temp file of output.atomic_path (`.NAME.XXXXXXXX.tmp`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def recover(cfg: DeskConfig) -> list[str]:
    """Put the data folder right after a crash; returns what was done (also logged)."""
    done: list[str] = []
    for p in cfg.tmp_dir.iterdir():
        _remove(p)
        done.append(f"removed the unfinished upload {p.name}")
    for p in (cfg.data / "previews").glob(".*.tmp"):
        p.unlink(missing_ok=True)
    with cfg.db.session() as s:
        cases = {c.folder: c for c in s.scalars(select(Case))}
        for folder in sorted((cfg.data / "cases").iterdir()):
            case = cases.get(folder.name)
            if case is None:
                if folder.is_dir():  # a creation or import that never committed
                    _remove(folder)
                    done.append(f"removed {folder.name}: its case was never saved")
                continue
            done += _recover_case(s, folder, case)
        s.commit()
    for line in done:
        log.warning("after a restart: %s", line)
    return done


def _recover_case(s, folder: Path, case: Case) -> list[str]:
    done = []
    for p in folder.rglob("*.tmp"):
        if p.is_file() and is_temp(p):
            p.unlink(missing_ok=True)
            done.append(f"{folder.name}: removed the unfinished {p.name}")
    listed = {shot.file for shot in case.shots}
    shots_dir = folder / SCREENSHOT_DIR
    for p in sorted(shots_dir.rglob("*")) if shots_dir.is_dir() else ():
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in listed:  # stored by an upload that never committed
            p.unlink()
            done.append(f"{folder.name}: removed {rel}, stored by an upload that was cut off")
    for shot in list(case.shots):
        if not (folder / shot.file).exists() and shot.file.startswith(f"{SCREENSHOT_DIR}/"):
            case.shots.remove(shot)  # a removal cut off after the file went
            s.add(Audit(case_id=case.id, action="screenshot removed",
                        detail=f"{shot.original_name} (finished after a restart)"))
            done.append(f"{folder.name}: finished removing {shot.file}")
            case.edited_at = utcnow()  # a package built with it is out of date
    s.flush()
    toml = folder / CASE_FILE
    want = case_toml(case, list(case.shots))
    if not toml.exists() or toml.read_bytes() != want:
        write_case(folder, case, list(case.shots))
        done.append(f"{folder.name}: case.toml written again from the database")
    return done


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
