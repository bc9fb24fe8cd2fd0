"""Time evidence.fit on a series of rendered phone screenshots under real caps.

Renders N phone screenshots with fixtures.generate.phone_series (585x1266, the
fixtures' default) when it exists, else with bench/fit_floor.render_phone, and fits them
under Stripe's 4.5 MB and Adyen's 2 MB caps: cold (no encode cache), then with a warm
on-disk encode cache. Prints seconds (median of --repeat runs), bytes per exhibit, the
level reached, passes, and peak memory (this process's and the workers' max RSS).

    python bench/fit_bench.py                 # 100 screenshots
    python bench/fit_bench.py --n 200         # the memory check (< 1 GB)
    python bench/fit_bench.py --full-size     # 1170x2532 renders instead (4.7x pixels)
    python bench/fit_bench.py --images ../shared/real-screenshots --budgets 4500000 1800000
                                              # any folder of screenshots (30 px text assumed)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from evidence.errors import TooBig  # noqa: E402
from evidence.fit import CropSource, FitItem, fit  # noqa: E402

PAGE_W, PAGE_H, MARGIN = 612.0, 792.0, 36.0  # US Letter, half-inch margins


def display_width(w: int, h: int) -> float:
    """The width a screenshot is drawn at when fitted into the page's text area."""
    bw, bh = PAGE_W - 2 * MARGIN, PAGE_H - 2 * MARGIN
    return min(bw, bh * w / h)


def make_series(folder: Path, n: int, full_size: bool) -> list[FitItem]:
    from PIL import Image

    truth = None
    if not full_size:
        try:
            from fixtures.generate import phone_series
        except ImportError:
            phone_series = None
        if phone_series is not None:
            if not (folder / "truth.json").exists():
                phone_series(folder, n)
            truth = json.loads((folder / "truth.json").read_text())
    items = []
    if truth is not None:
        for i, rec in enumerate(truth["screenshots"]):
            path = folder / rec["file"]
            w, h = rec["size"]
            boxes = [b for b in (rec.get("boxes") or {}).values() if b]
            min_text = min((b[3] - b[1] for b in boxes), default=None)
            items.append(FitItem(f"Exhibit {i + 1} ({rec['file']})", CropSource(path, 0, h),
                                 min_text, display_width(w, h)))
        return items
    from fit_floor import render_phone

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"shot{i:03d}.png"
        if not path.exists():
            render_phone(seed=i).save(path)
        with Image.open(path) as im:
            w, h = im.size
        # 17 pt body text at 3x: OCR boxes ~60 px; the header e-mail is 12 pt: ~42 px
        items.append(FitItem(f"Exhibit {i + 1} ({path.name})", CropSource(path, 0, h), 42.0,
                             display_width(w, h)))
    return items


def folder_series(folder: Path) -> list[FitItem]:
    """Every PNG/JPEG in `folder`, whole, its smallest required text assumed 30 px."""
    from PIL import Image

    items = []
    for path in sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")):
        with Image.open(path) as im:
            w, h = im.size
        items.append(FitItem(f"Exhibit {len(items) + 1} ({path.name})", CropSource(path, 0, h),
                             30.0, display_width(w, h)))
    return items


def max_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(items: list[FitItem], budget: int, overhead: int, workers: int | None,
        cache_dir: Path | None, repeat: int) -> None:
    times, cpus, result, err = [], [], None, None
    for _ in range(repeat):
        t, c = time.perf_counter(), cpu_seconds()
        try:
            result = fit(items, budget, overhead=overhead, workers=workers, cache_dir=cache_dir)
        except TooBig as e:
            err = e
        times.append(time.perf_counter() - t)
        cpus.append(cpu_seconds() - c)
    med = statistics.median(times)
    cpu = statistics.median(cpus)
    label = f"{budget / 1e6:.1f} MB cap, {'warm cache' if cache_dir else 'no cache'}"
    spread = (f"(runs {', '.join(f'{x:.2f}' for x in times)}; {cpu:.2f} s CPU, all processes; "
              f"load {os.getloadavg()[0]:.1f})")
    if err is not None:
        print(f"  {label}: TooBig after {med:.2f} s {spread}\n    {err}")
        return
    sizes = [e.size for e in result.images]
    print(f"  {label}: {med:.2f} s median {spread}")
    print(f"    {result.level.describe()}, {result.passes} passes, total {result.total:,} B "
          f"of {result.target:,}; per exhibit mean {statistics.mean(sizes) / 1000:.1f} kB, "
          f"max {max(sizes) / 1000:.1f} kB")
    for line in result.report:
        print(f"    | {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--dir", type=Path, default=None, help="reuse renders from this folder")
    ap.add_argument("--full-size", action="store_true")
    ap.add_argument("--images", type=Path, default=None, help="fit this folder's screenshots")
    ap.add_argument("--budgets", type=int, nargs="+", default=[4_500_000, 2_000_000])
    ap.add_argument("--overhead", type=int, default=None,
                    help="non-image bytes (default 1.5 kB per page + 60 kB)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="fit_bench-")
    folder = args.dir or Path(tmp.name) / "case"
    t = time.perf_counter()
    items = (folder_series(args.images) if args.images
             else make_series(folder, args.n, args.full_size))
    src = sum(it.load.path.stat().st_size for it in items)
    print(f"{len(items)} screenshots ({src / 1e6:.1f} MB of source files) ready in "
          f"{time.perf_counter() - t:.1f} s; min text box "
          f"{min(it.min_text_px or 99 for it in items):.0f} px; drawn "
          f"{items[0].display_width_pt:.0f} pt wide")
    overhead = args.overhead if args.overhead is not None else 60_000 + 1_500 * len(items)
    print(f"overhead assumed: {overhead:,} B")
    cache = Path(tmp.name) / "fit-cache"
    for budget in args.budgets:
        run(items, budget, overhead, args.workers, None, args.repeat)
        # warm the cache once, then time the warm runs
        try:
            fit(items, budget, overhead=overhead, workers=args.workers, cache_dir=cache)
        except TooBig:
            pass
        run(items, budget, overhead, args.workers, cache, args.repeat)
    own, kids = max_rss_mb()
    print(f"peak RSS: this process {own:.0f} MB, largest worker {kids:.0f} MB")
    tmp.cleanup()


if __name__ == "__main__":
    main()
