"""Benchmark of `evidence validate --deep` against OCR of the same screenshots.

Builds a package from N rendered phone screenshots (the real build; its OCR is cached
and not timed), then times, alternately and `--repeat` times each (best run kept):

  ocr    run_ocr over the N screenshots, no cache (worker pool start-up included);
  deep   validate(package, deep=True): structure, manifest, render every exhibit page
         with pypdfium2, OCR the renders with the same runner and pool size, check fields;
  plain  validate(package) without --deep, for scale.

Prints seconds, seconds per page and the ratio deep / ocr. The brief: --deep must take
no longer than OCR of the same number of screenshots.

    python bench/validate_bench.py [-n 20] [--jobs N] [--repeat 2] [--engine rapidocr]
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence import pipeline  # noqa: E402
from evidence.imageio import sha256_file  # noqa: E402
from evidence.ocr import default_workers, run_ocr  # noqa: E402
from evidence.validate import ValidateOptions, validate  # noqa: E402
from evidence.validate.render import render_for_ocr  # noqa: E402
from fixtures.generate import phone_series  # noqa: E402

TODAY = dt.date(2024, 11, 1)


def cpu() -> float:
    """CPU seconds of this process and its reaped children (the OCR workers): unlike
    wall time, not inflated by other work on the machine."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu() - self.cpu


def time_ocr(shots: list[Path], engine: str, jobs: int) -> Timer:
    jobs_list = [(p, sha256_file(p)) for p in shots]
    with Timer() as t:
        results = run_ocr(jobs_list, engine, cache=None, workers=jobs)
    bad = [p for p, r in results.items() if not hasattr(r, "lines")]
    if bad:
        sys.exit(f"OCR failed on {bad}")
    return t


def time_deep(package: Path, engine: str, jobs: int) -> tuple[Timer, bool]:
    with Timer() as t:
        report = validate([package], ValidateOptions(deep=True, engine=engine, workers=jobs,
                                                     today=TODAY))
    pkg = report.packages[0]
    if not pkg.ok:
        print("  deep validation did not pass:",
              [(c.id, c.detail) for c in pkg.checks if not c.ok], file=sys.stderr)
    return t, pkg.ok


def time_render(package: Path, pages: list[int]) -> tuple[float, int]:
    """Rendering alone (the part of --deep that OCR of screenshots does not have)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        out = render_for_ocr(package, [(p, True) for p in pages], Path(tmp), "b")
        elapsed = time.perf_counter() - t
        pixels = 0
        from PIL import Image
        for v in out.values():
            if isinstance(v, tuple):
                with Image.open(v[0]) as im:
                    pixels += im.width * im.height
    return elapsed, pixels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="screenshots (default 20)")
    ap.add_argument("--jobs", type=int, default=None, help="OCR workers (default: one per core)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each, best kept (default 2)")
    ap.add_argument("--engine", default="rapidocr")
    args = ap.parse_args(argv)
    jobs = args.jobs or default_workers()

    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        root = Path(tmp)
        case = root / "case"
        phone_series(case, args.n)
        shots = sorted((case / "screenshots").glob("*.png"))
        print(f"building a package of {len(shots)} screenshots (OCR cached, not timed) ...",
              flush=True)
        result = pipeline.build(case, pipeline.BuildOptions(
            cache_dir=root / "cache", engine=args.engine, workers=jobs, today=TODAY))
        package = result.output
        pages = list(range(result.pages - len(shots) + 1, result.pages + 1))
        print(f"package: {result.pages} pages ({len(pages)} exhibit pages), "
              f"{result.bytes / 1e6:.2f} MB; {jobs} OCR worker(s); cores busy with other "
              "work make every figure slower, compare the ratio", flush=True)

        ocr_runs, deep_runs = [], []
        for i in range(args.repeat):
            ocr_runs.append(time_ocr(shots, args.engine, jobs))
            d, ok = time_deep(package, args.engine, jobs)
            deep_runs.append(d)
            print(f"  run {i + 1}: ocr {ocr_runs[-1].wall:.2f} s ({ocr_runs[-1].cpu:.2f} CPU-s), "
                  f"deep {deep_runs[-1].wall:.2f} s ({deep_runs[-1].cpu:.2f} CPU-s)"
                  f"{'' if ok else ' (did not pass)'}", flush=True)
        t = time.perf_counter()
        validate([package], ValidateOptions(today=TODAY))
        plain = time.perf_counter() - t
        render, pixels = time_render(package, pages)
        from PIL import Image
        shot_pixels = 0
        for s in shots:
            with Image.open(s) as im:
                shot_pixels += im.width * im.height

        ocr, deep = min(t.wall for t in ocr_runs), min(t.wall for t in deep_runs)
        ocr_cpu, deep_cpu = min(t.cpu for t in ocr_runs), min(t.cpu for t in deep_runs)
        n, m = len(shots), len(pages)
        print()
        print(f"{'':28s} {'wall s':>8s} {'s/page':>7s} {'CPU s':>8s} {'CPU s/page':>10s}")
        print(f"{f'OCR of {n} screenshots':28s} {ocr:8.2f} {ocr / n:7.3f} {ocr_cpu:8.2f} "
              f"{ocr_cpu / n:10.3f}   ({shot_pixels / n / 1e6:.2f} Mpx each)")
        print(f"{f'validate --deep, {m} pages':28s} {deep:8.2f} {deep / m:7.3f} {deep_cpu:8.2f} "
              f"{deep_cpu / m:10.3f}   (renders {pixels / m / 1e6:.2f} Mpx each; "
              f"rendering alone {render:.2f} s)")
        print(f"{'validate without --deep':28s} {plain:8.2f}")
        print(f"{'ratio deep / OCR':28s} {deep / ocr:8.2f} {'':7s} {deep_cpu / ocr_cpu:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
