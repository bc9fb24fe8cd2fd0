"""Benchmark of `evidence watch`: from a new screenshot landing in a watched case to the
updated package on disk.

A case of N rendered phone screenshots (fixtures.generate.phone_series) is watched by
`python -m evidence.cli watch` in a subprocess, with an OCR cache of its own. After the
initial (cold) build, D more screenshots are dropped one at a time, each by one rename
into screenshots/ (as a finished download or AirDrop lands). Latency = from the rename
to the watcher's log line for that rebuild, which it prints after the package has been
renamed into place. It includes the debounce (default 1 s), one OCR and a warm rebuild.
Target: median <= 3 s on a 2-core machine.

    python bench/watch_latency.py [-n 100] [--drops 5] [--debounce 1.0] [--jobs N]
                                  [--cache-dir DIR]   # start warm from a copy of DIR
    python bench/watch_latency.py --fake-build   # the watcher's own share, no build

100 screenshots make a package of over 100 pages, more than any processor allows, so the
page cap is raised (--max-pages, default 250); the size cap is the case's (Stripe's).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.generate import phone_series  # noqa: E402

TARGET = 3.0

# --fake-build: the real CLI and watcher, with a build that only writes a small file.
FAKE_MAIN = textwrap.dedent("""
    import sys, types
    from pathlib import Path
    import evidence.pipeline as p
    from evidence.output import atomic_write_bytes

    def build(case_dir, options):
        shots = sorted((Path(case_dir) / "screenshots").glob("*.png"))
        target = Path(case_dir) / "evidence.pdf"
        atomic_write_bytes(target, b"%PDF-fake")
        return types.SimpleNamespace(output=target, bytes=9, pages=len(shots),
                                     order=[s.name for s in shots], failed=[], draft=False)

    p.build = build
    p.BuildOptions = lambda **kw: types.SimpleNamespace(**kw)
    from evidence.cli import main
    sys.argv = ["evidence"] + sys.argv[1:]
    main()
""")


def make_case(work: Path, n: int, drops: int, seed: int) -> tuple[Path, list[Path]]:
    """A case of n screenshots, plus `drops` more of the same series held outside it."""
    case = work / "case"
    phone_series(case, n + drops, seed=seed)
    shots = sorted((case / "screenshots").glob("*.png"))
    hold = work / "hold"
    hold.mkdir()
    held = []
    for shot in shots[::max(1, len(shots) // drops)][:drops]:
        target = hold / shot.name
        os.replace(shot, target)
        held.append(target)
    # Every file under screenshots/ is taken anyway; the [[screenshot]] tables would only
    # name the held-out files as missing.
    toml = (case / "case.toml").read_text("utf-8")
    (case / "case.toml").write_text(toml.split("[[screenshot]]")[0], "utf-8")
    return case, held


def warm_copy(source: Path, target: Path, held: list[Path]) -> int:
    """Copy an OCR cache, leaving out the entries of the screenshots to be dropped."""
    import hashlib
    import json
    import shutil

    shutil.copytree(source, target)
    held_sha = {hashlib.sha256(p.read_bytes()).hexdigest() for p in held}
    pruned = 0
    for entry in target.glob("*.json"):
        try:
            if json.loads(entry.read_bytes()).get("sha256") in held_sha:
                entry.unlink()
                pruned += 1
        except (OSError, ValueError):
            pass
    return pruned


class Watch:
    """The watcher subprocess; each stdout line is stamped when it arrives."""

    def __init__(self, cmd: list[str]):
        self.p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.lines: list[tuple[float, str]] = []
        self.err: list[str] = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(iter(self.p.stderr.readline, "")),
                         daemon=True).start()

    def _read(self):
        for line in iter(self.p.stdout.readline, ""):
            with self.cv:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.cv.notify_all()

    def wait_line(self, count: int, timeout: float) -> tuple[float, str]:
        with self.cv:
            if not self.cv.wait_for(lambda: len(self.lines) >= count or self.p.poll() is not None,
                                    timeout):
                sys.exit(f"no build line within {timeout:.0f} s; stderr:\n" + "".join(self.err))
            if len(self.lines) < count:
                sys.exit(f"watcher exited {self.p.returncode}; stderr:\n" + "".join(self.err))
            return self.lines[count - 1]

    def stop(self) -> int:
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100, help="screenshots in the case (default 100)")
    ap.add_argument("--drops", type=int, default=5, help="screenshots dropped, one at a time")
    ap.add_argument("--debounce", type=float, default=1.0)
    ap.add_argument("--jobs", type=int, help="OCR worker processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-pages", type=int, default=250)
    ap.add_argument("--cache-dir", type=Path,
                    help="start from a copy of this OCR cache (less the screenshots to drop), "
                         "so the initial build is warm; default: an empty cache (cold)")
    ap.add_argument("--fake-build", action="store_true",
                    help="measure the watcher alone (debounce, scan, probe), with no real build")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="watch-latency-"))
    t = time.perf_counter()
    case, held = make_case(work, args.n, args.drops, args.seed)
    print(f"case: {args.n} screenshots rendered in {time.perf_counter() - t:.1f} s ({work})")

    cache = work / "ocr-cache"
    if args.cache_dir:
        pruned = warm_copy(args.cache_dir, cache, held)
        print(f"OCR cache copied from {args.cache_dir}; {pruned} entries of the screenshots "
              "to drop removed, so each drop costs one OCR")
    opts = ["watch", str(case), "--debounce", str(args.debounce), "--cache-dir", str(cache),
            "--max-pages", str(args.max_pages)]
    if args.jobs:
        opts += ["--jobs", str(args.jobs)]
    cmd = ([sys.executable, "-c", FAKE_MAIN] if args.fake_build
           else [sys.executable, "-m", "evidence.cli"]) + opts
    start = time.monotonic()
    w = Watch(cmd)
    stamp, line = w.wait_line(1, timeout=3600)
    print(f"initial build ({'given' if args.cache_dir else 'cold'} OCR cache) after "
          f"{stamp - start:.1f} s:\n  {line}")
    if not line.endswith("  ok"):
        w.stop()
        sys.exit("the initial build failed; fix that first")

    package = case / "evidence.pdf"
    latencies = []
    for i, src in enumerate(held, start=2):
        time.sleep(max(1.0, args.debounce * 2))  # let the watcher go idle
        before = package.stat().st_mtime_ns
        t0 = time.monotonic()
        os.replace(src, case / "screenshots" / src.name)
        stamp, line = w.wait_line(i, timeout=600)
        latency = stamp - t0
        latencies.append(latency)
        changed = package.stat().st_mtime_ns != before
        build_s = re.search(r"  ([\d.]+) s  ", line)
        print(f"drop {i - 1}: {latency:.2f} s  (build {build_s.group(1) if build_s else '?'} s, "
              f"package {'updated' if changed else 'NOT updated'})\n  {line}")
    rc = w.stop()

    med = statistics.median(latencies)
    print(f"\nlatency over {len(latencies)} drops: median {med:.2f} s, "
          f"min {min(latencies):.2f} s, max {max(latencies):.2f} s "
          f"(target <= {TARGET:g} s: {'met' if med <= TARGET else 'MISSED'}); "
          f"debounce {args.debounce:g} s; {os.cpu_count()} cores; watcher exit {rc}")
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
