"""Running the encode tasks: one task per source file, in this process or a pool."""
from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from ..imageio import open_image
from ..workers import pool_context
from .ladder import LADDER, _Spec, _specs
from .types import CropSource, EncodedImage, _Done, _Job, _crop
from .encode import _Sized, _bare, _choose, measure
from .cache import _DiskCache


def _run_task(jobs: tuple[_Job, ...], cache_dir: str | None) -> list[_Done]:
    """One worker task: the jobs of one source file, so it is decoded once."""
    cache = _DiskCache(cache_dir) if cache_dir else None
    out: list[_Done] = []
    source: Image.Image | None = None
    pending = []
    for job in jobs:
        hit = cache.lookup(job) if cache else None
        if hit is not None:
            out.append(hit)
        else:
            pending.append(job)
    for job in pending:
        if isinstance(job.load, CropSource) and len(pending) > 1:
            if source is None:
                source = open_image(job.load.path)
            image = _crop(source, job.load)
        else:
            image = job.load()
            if image.info and image.mode == "RGB":
                image = image.copy()  # not ours: strip the metadata from a copy
        image = _bare(image if image.mode == "RGB" else image.convert("RGB"))
        stats = job.stats or measure(image)
        encoded: dict = {}
        made: dict[_Spec, EncodedImage] = {}
        sized = _Sized(image)
        for li in job.levels:
            specs = [sp for sp in _specs(stats, LADDER[li], job.display_width_pt,
                                         job.min_text_px) if sp not in job.known]
            if specs:
                encoded[li] = (tuple(specs), _choose(sized, specs, made))
        del image, sized
        done = _Done(job.index, stats, encoded, True)
        if cache:
            cache.store(job, done)
        out.append(done)
    return out


PARALLEL_MIN_TASKS = 4  # fewer sources than this: encode in this process


class _Runner:
    """Runs tasks in this process or in a pool kept for the whole fit() call."""

    def __init__(self, workers: int | None, n_tasks: int, cache_dir: Path | None):
        cpus = os.cpu_count() or 1
        self.workers = max(1, min(workers if workers else cpus, n_tasks))
        if n_tasks < PARALLEL_MIN_TASKS and not workers:
            self.workers = 1
        self.cache_dir = str(cache_dir) if cache_dir else None
        self.pool: ProcessPoolExecutor | None = None

    def run(self, tasks: list[tuple[_Job, ...]]) -> list[_Done]:
        if self.workers > 1 and not _picklable(tasks[0][0].load):
            self.workers = 1  # a lambda or closure: it cannot go to another process
        if self.workers == 1 or len(tasks) < 2:
            return [d for t in tasks for d in _run_task(t, self.cache_dir)]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=pool_context())
        futures = [self.pool.submit(_run_task, t, self.cache_dir) for t in tasks]
        return [d for f in futures for d in f.result()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False
