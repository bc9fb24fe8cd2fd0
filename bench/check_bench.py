"""Benchmark of `evidence check` on rendered phone screenshots.

Prints seconds per screenshot cold (empty OCR cache: process start-up, pool, OCR, fields)
and warm (every OCR result cached), peak memory, and field accuracy against the
generator's truth. When `ocrmypdf` is on PATH it is run on the same screenshots
(tesseract, --optimize 3, one image at a time as ocrmypdf takes them) for the ratio.

    python bench/check_bench.py [-n 20] [--engine rapidocr] [--jobs N]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.generate import phone_series  # noqa: E402


def run_check(case: Path, cache: Path, engine: str, jobs: int | None) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "evidence.cli", "check", str(case), "--json",
           "--engine", engine, "--cache-dir", str(cache)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parent.parent)
    elapsed = time.perf_counter() - t
    if p.returncode not in (0, 1):
        sys.exit(f"check failed ({p.returncode}): {p.stderr.strip()}")
    return elapsed, json.loads(p.stdout)


def accuracy(report: dict, truth: dict) -> tuple[int, int]:
    by_file = {s["file"]: s for s in report["screenshots"]}
    good = 0
    for t in truth["screenshots"]:
        s = by_file.get(t["file"])
        if s and s["ok"] == t["ok"] and s["when"] and s["when"]["value"] == t["when"]:
            good += 1
    return good, len(truth["screenshots"])


def ocrmypdf_seconds(images: list[Path], out: Path) -> float | None:
    if not shutil.which("ocrmypdf"):
        return None
    t = time.perf_counter()
    for i, img in enumerate(images):
        subprocess.run(["ocrmypdf", "--optimize", "3", "--image-dpi", "150", "-q", str(img),
                        str(out / f"{i}.pdf")], check=True, capture_output=True)
    return (time.perf_counter() - t) / len(images)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--engine", default="rapidocr")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--runs", type=int, default=3, help="warm runs (median)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        case = tmp / "case"
        truth = phone_series(case, args.n)
        cold, report = run_check(case, tmp / "cache", args.engine, args.jobs)
        warm = statistics.median(run_check(case, tmp / "cache", args.engine, args.jobs)[0]
                                 for _ in range(args.runs))
        good, total = accuracy(report, truth)
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        n = args.n
        print(f"engine {args.engine}, {n} phone screenshots")
        print(f"cold: {cold:.2f} s total, {cold / n:.3f} s per screenshot (target <= 0.4)")
        print(f"warm: {warm:.2f} s total, {warm / n:.3f} s per screenshot (target <= 0.05)")
        print(f"peak memory (largest process): {peak_children:.0f} MiB")
        print(f"accuracy: {good}/{total} screenshots with verdict and when as the truth says")
        images = sorted((case / "screenshots").rglob("*.png"))
        o = ocrmypdf_seconds(images, tmp)
        if o is None:
            print("ocrmypdf: not installed, no ratio")
        else:
            print(f"ocrmypdf --optimize 3: {o:.3f} s per screenshot; evidence cold / ocrmypdf = "
                  f"{(cold / n) / o:.2f}")


if __name__ == "__main__":
    main()
