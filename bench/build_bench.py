"""Benchmark of `evidence build` on rendered phone screenshots (issue 3's targets).

Prints, for 20 and 100 screenshots: build seconds with a warm OCR cache (encode cache
cold, then warm too; medians), bytes per exhibit under 4.5 MB and 2 MB caps, and peak
memory of a 200-screenshot build. Each build is a separate `evidence build` process, so
the figures include start-up, as a user sees them. The OCR cache is warmed first (that
part is issue 2's benchmark).

    python bench/build_bench.py [--sizes 20 100] [--memory 200] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.generate import phone_series  # noqa: E402


def build(case: Path, cache: Path, out: Path, *extra: str) -> tuple[float, dict, int]:
    """(seconds, --json result, peak RSS in KiB of the largest process)."""
    cmd = [sys.executable, "-m", "evidence.cli", "build", str(case), "-o", str(out), "--json",
           "--cache-dir", str(cache), "--max-pages", "1000", *extra]
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True,
                       cwd=ROOT)
    elapsed = time.perf_counter() - t
    *err, peak = p.stderr.strip().splitlines()
    if p.returncode != 0:
        return elapsed, {"error": err[-1] if err else "failed"}, int(peak)
    return elapsed, json.loads(p.stdout), int(peak)


# Runs the build in a fresh parent so its peak (and its workers') is not mixed with the
# OCR warm-up's: RUSAGE_CHILDREN's maxrss is the largest single descendant's.
_MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(r)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--memory", type=int, default=200, help="screenshots for the memory run")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.sizes:
            case, cache = tmp / f"case{n}", tmp / f"cache{n}"
            phone_series(case, n)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "evidence.cli", "check", str(case),
                            "--cache-dir", str(cache)], capture_output=True, cwd=ROOT)
            warmup = time.perf_counter() - t0
            cold_fit, warm = [], []
            for _ in range(args.runs):
                shutil.rmtree(cache / "fit", ignore_errors=True)
                cold_fit.append(build(case, cache, tmp / "out.pdf")[0])
            for _ in range(args.runs):
                warm.append(build(case, cache, tmp / "out.pdf")[0])
            print(f"{n} screenshots: OCR warm-up {warmup:.1f} s; build with warm OCR cache "
                  f"{statistics.median(cold_fit):.2f} s (encode cache cold), "
                  f"{statistics.median(warm):.2f} s (both caches warm); target <= 3 s for 100")
            for cap in ("4.5MB", "2MB"):
                _, r, _ = build(case, cache, tmp / "cap.pdf", "--max-size", cap)
                if "error" in r:
                    print(f"  cap {cap}: {r['error']}")
                else:
                    print(f"  cap {cap}: {r['bytes']:,} bytes, {r['pages']} pages, "
                          f"{r['bytes'] // r['exhibits']:,} bytes per exhibit")
        n = args.memory
        case, cache = tmp / f"case{n}", tmp / f"cache{n}"
        phone_series(case, n)
        subprocess.run([sys.executable, "-m", "evidence.cli", "check", str(case),
                        "--cache-dir", str(cache)], capture_output=True, cwd=ROOT)
        shutil.rmtree(cache / "fit", ignore_errors=True)
        seconds, r, peak = build(case, cache, tmp / "mem.pdf")
        print(f"{n} screenshots: build {seconds:.2f} s (encode cache cold), "
              f"{r.get('bytes', 0):,} bytes; peak memory of the largest process "
              f"{peak / 1024:.0f} MiB (target <= 1024)")


if __name__ == "__main__":
    main()
