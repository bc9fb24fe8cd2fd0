"""Benchmark of `--broker`: a folder of cases built through `watch --once`, on the local
pool and on Celery workers over Redis, each run from cold caches.

    python bench/celery_bench.py [--cases 20] [--shots 20] [--scale 0.5]

Runs, in this order, over the same folder of C cases x S rendered phone screenshots
(fixtures.generate.phone_series), each with an empty cache folder of its own:

  local -j 1      `watch --once -j 1`: the peer for one worker
  celery 1        `watch --once --broker` with 1 `evidence worker` of concurrency 1
  local -j 2      `watch --once -j 2`: the peer for two workers
  celery 2        the same with 2 worker processes of concurrency 1

A worker is started and ready (its `ready` line printed) before the clock starts; its
OCR engine is built on its first task, inside the timed run, as the local pool builds
its own. Printed per run: seconds, screenshots per second, and (celery N seconds -
local -j N seconds) / tasks, where tasks = C x S OCR tasks + C build tasks.

Then each is run once more with warm caches (packages deleted): the local run reads
every result from its cache; the celery client names no cache, so every screenshot is
still sent as a task that the worker answers from its cache (`cached`). The warm
difference per task is the task machinery's own cost (publish, pick up, result, poll),
free of OCR time, which on a loaded machine swamps the cold difference. The machine's
load average is printed too.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.cluster import Cluster, run_evidence  # noqa: E402
from fixtures.generate import phone_series  # noqa: E402


def make_folder(root: Path, cases: int, shots: int, scale: float) -> None:
    for i in range(cases):
        phone_series(root / f"case-{i:02d}", shots, seed=100 + i, scale=scale)


def clean(root: Path) -> None:
    for pdf in root.glob("case-*/evidence.pdf"):
        pdf.unlink()


def timed(run, *args) -> float:
    start = time.monotonic()
    p = run(*args)
    seconds = time.monotonic() - start
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--scale", type=float, default=0.5, help="phone_series scale (0.5: 585x1266)")
    a = ap.parse_args()
    n = a.cases * a.shots
    tasks = n + a.cases
    tmp = Path(tempfile.mkdtemp(prefix="celery-bench-"))
    root = tmp / "shared" / "cases"
    make_folder(root, a.cases, a.shots, a.scale)
    print(f"{a.cases} cases x {a.shots} screenshots = {n} (scale {a.scale}); "
          f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = []
    try:
        for workers in (1, 2):
            cache = tmp / f"local-{workers}"
            clean(root)
            local = timed(run_evidence, "watch", root, "--once", "-j", workers,
                          "--cache-dir", cache)
            rows.append((f"local -j {workers}", local))
            print(f"local -j {workers}: {local:.1f} s, {n / local:.2f} screenshots/s", flush=True)
            clean(root)
            local_warm = timed(run_evidence, "watch", root, "--once", "-j", workers,
                               "--cache-dir", cache)
            rows.append((f"local -j {workers} warm", local_warm))
            clean(root)
            names = [f"w{i}" for i in range(workers)]
            c = Cluster(tmp / f"celery-{workers}", workers=names, visibility_timeout=300,
                        cache=tmp / f"celery-cache-{workers}")
            try:
                remote = timed(c.evidence, "watch", root, "--once", "--broker", c.url,
                               "--cache-dir", c.cache)
                per = {w: sum(f"{w}@test  ocr" in ln for ln in c.task_lines("ocr")) for w in names}
                clean(root)
                mark = c.mark()
                remote_warm = timed(c.evidence, "watch", root, "--once", "--broker", c.url)
                cached = sum(ln.endswith("  cached") for ln in c.task_lines("ocr", since=mark))
            finally:
                c.stop()
            rows += [(f"celery {workers}", remote), (f"celery {workers} warm", remote_warm)]
            print(f"celery {workers} worker(s): {remote:.1f} s, {n / remote:.2f} screenshots/s, "
                  f"OCR tasks per worker {per}; against local -j {workers}: "
                  f"{(remote - local) / tasks * 1000:+.0f} ms per task", flush=True)
            print(f"warm: local -j {workers} {local_warm:.1f} s, celery {workers} {remote_warm:.1f} s "
                  f"({cached} OCR tasks answered from the cache): "
                  f"{(remote_warm - local_warm) / tasks * 1000:+.1f} ms per task", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")
    print(f"{'run':<18} {'seconds':>8} {'shots/s':>8}")
    for name, s in rows:
        print(f"{name:<18} {s:8.1f} {n / s:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
