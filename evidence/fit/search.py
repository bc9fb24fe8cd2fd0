"""The fit: rung 0 first, then a predicted search for the best rung that fits."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable

from PIL import Image

from ..errors import TooBig
from .ladder import (
    BOTTOM, LADDER, Level, PREDICTION_MARGIN, SAFETY, TEXT_FLOOR_PX, _AREA_EXPONENT,
    _C_FACTOR, _Q_FACTOR, _Stats, _specs)
from .types import (
    CropSource, EncodedImage, FitItem, FitResult, _Job, _order, _smaller, _spec_of)
from .encode import palette_png
from .runner import _Runner, _run_task


class _State:
    """What the parent knows about one item."""

    __slots__ = ("item", "stats", "by_level")

    def __init__(self, item: FitItem):
        self.item = item
        self.stats: _Stats | None = None
        self.by_level: dict[int, EncodedImage] = {}  # smallest candidate at that rung

    def add(self, li: int, candidates: Iterable[EncodedImage]) -> None:
        for enc in candidates:
            cur = self.by_level.get(li)
            if cur is None or _smaller(enc, cur):
                self.by_level[li] = enc

    def known(self) -> frozenset:
        return frozenset(_spec_of(e) for e in self.by_level.values())

    def best(self, li: int) -> EncodedImage:
        """The smallest encoding at rung `li` or any better rung already computed: a
        better rung's encoding that is also smaller is never a worse choice."""
        cands = [e for lv, e in self.by_level.items() if lv <= li]
        return min(cands, key=_order)


def fit(items: list[FitItem], budget: int, *, overhead: int = 0, workers: int | None = None,
        cache_dir: Path | None = None,
        measure_overhead: Callable[[], int] | None = None) -> FitResult:
    """Encode every item so that the images total at most (budget - overhead) * 0.98,
    at the best rung of the ladder that fits (the same rung for every image). Raises
    TooBig when even the bottom rung is too big. `cache_dir`: an on-disk cache of
    encodings (CropSource items only); None means no cache. `measure_overhead`: returns
    the non-image bytes measured; called (once) only when `overhead`, a rough guess,
    leaves too little room for rung 0, before any lower rung is searched."""
    t0 = time.perf_counter()
    for it in items:
        if not it.display_width_pt or it.display_width_pt <= 0:
            raise ValueError(f"{it.key}: display_width_pt must be > 0")
    target = int((budget - overhead) * (1.0 - SAFETY))
    if not items:
        return FitResult([], 0, LADDER[0], target, 0, ["images: none to fit"],
                         overhead=overhead)
    if target <= 0 and measure_overhead is not None:
        overhead, measure_overhead = measure_overhead(), None
        target = int((budget - overhead) * (1.0 - SAFETY))
    if target <= 0:
        raise TooBig(f"the non-image part alone ({overhead:,} bytes) leaves no room under "
                     f"the {budget:,}-byte cap")
    states = [_State(it) for it in items]
    tasks = _group(items)
    runner = _Runner(workers, len(tasks), cache_dir)
    passes = decoded = 0
    path: list[list[int]] = []  # the rungs each pass encoded, for the report
    try:
        def run(levels: list[int]) -> None:
            nonlocal passes, decoded
            batch = []
            for group in tasks:
                jobs = []
                for i in group:
                    st = states[i]
                    want = tuple(li for li in levels if li not in st.by_level)
                    if want:
                        jobs.append(_Job(i, st.item.load, st.item.min_text_px,
                                         st.item.display_width_pt, want, st.known(),
                                         st.stats))
                if jobs:
                    batch.append(tuple(jobs))
            if not batch:
                return
            passes += 1
            path.append(sorted(levels))
            for done in runner.run(batch):
                st = states[done.index]
                st.stats = done.stats
                decoded += done.decoded
                for li in levels:
                    if li in done.encoded:
                        st.add(li, [done.encoded[li][1]])
                    # specs the worker skipped as known (same size and quality as at a
                    # rung computed earlier): reuse them at this rung too
                    specs = _specs(done.stats, LADDER[li], st.item.display_width_pt,
                                   st.item.min_text_px)
                    for lv, e in list(st.by_level.items()):
                        if lv != li and _spec_of(e) in specs:
                            st.add(li, [e])

        def total(li: int) -> int:
            return sum(st.best(li).size for st in states)

        run([0])  # the cheap thing first: one decode and encode per image
        if total(0) > target and measure_overhead is not None:
            overhead = measure_overhead()
            target = int((budget - overhead) * (1.0 - SAFETY))
            if target <= 0:
                raise TooBig(f"the non-image part alone ({overhead:,} bytes) leaves no room "
                             f"under the {budget:,}-byte cap")
        chosen = 0 if total(0) <= target else _search(states, target, budget, overhead,
                                                       run, total)
    finally:
        runner.close()
    images = [st.best(chosen) for st in states]
    size = sum(e.size for e in images)
    report = _report(images, size, LADDER[chosen], target, budget, overhead, path, decoded,
                     time.perf_counter() - t0)
    return FitResult(images, size, LADDER[chosen], target, passes, report, decoded, overhead)


def placeholder(width: int, height: int) -> EncodedImage:
    """A blank one-colour palette PNG of a crop's shape (64 px wide): stands in for an
    image when the rest of the package is measured (`width` x `height` are the crop's
    source pixels; only the shape matters to the page). What a real image's palette adds
    to its dictionary is counted in that image's `size`."""
    w = 64
    h = max(1, round(w * height / max(1, width)))
    im = Image.new("P", (w, h), 0)
    im.putpalette(b"\xff\xff\xff")
    return EncodedImage(palette_png(im), "png", w, h, mode="P", scale=w / max(1, width))


def encode_at(item: FitItem, level: int | Level) -> EncodedImage:
    """The smallest candidate for one item at one rung, encoded here (tests, benches).
    `fit` picks this or, where smaller, an encoding from a better rung."""
    li = level.index if isinstance(level, Level) else int(level)
    job = _Job(0, item.load, item.min_text_px, item.display_width_pt, (li,), frozenset())
    [done] = _run_task((job,), None)
    return done.encoded[li][1]


def _search(states: list[_State], target: int, budget: int, overhead: int, run,
            total) -> int:
    """The best rung whose total fits, knowing rung 0 does not.

    Each pass predicts every image's size at the untried rungs from its nearest measured
    rungs (a size model in pixels and JPEG quality, anchored on the measured sizes),
    then measures the first rung predicted to fit, and a neighbour where the prediction
    is within PREDICTION_MARGIN of the target (PNG sizes are bumpy). The first such pass also
    measures the bottom rung: that settles TooBig without a pass of its own, and gives
    every later prediction a second anchor."""
    hi, lo = 0, None  # hi: known not to fit; lo: known to fit
    while lo is None or lo - hi > 1:
        end = lo if lo is not None else BOTTOM + 1
        pred = {li: sum(_predict(st, li) for st in states) for li in range(hi + 1, end)}
        fitting = [li for li in range(hi + 1, end) if pred[li] <= target]
        if fitting:
            f = fitting[0]
        elif lo is not None and pred[lo - 1] > target * (1 + PREDICTION_MARGIN):
            break  # clearly nothing above `lo` fits: no pass to confirm it
        else:
            f = end - 1  # nothing predicted to fit: try the last rungs
        # f's neighbours only where the prediction is too close to call: each rung
        # probed is a quantise and a deflate of every image
        probe = [f]
        if f - 1 > hi and pred[f - 1] <= target * (1 + PREDICTION_MARGIN):
            probe.insert(0, f - 1)
        if f + 1 < end and pred[f] > target * (1 - PREDICTION_MARGIN):
            probe.append(f + 1)
        if lo is None and BOTTOM not in probe:
            probe.append(BOTTOM)
        run(probe)
        if lo is None and total(BOTTOM) > target:
            raise TooBig(_too_big_message(states, total(BOTTOM), target, budget, overhead))
        for li in probe:
            if total(li) <= target:
                lo = li if lo is None else min(lo, li)
            else:
                hi = max(hi, li)
    return lo


def _model(st: _State, li: int, fmt: str) -> float:
    """A rough relative size of this image at rung `li` in format `fmt` (only ratios
    matter): pixels ** e, times a quality factor for JPEG; PNG ignores quality."""
    specs = _specs(st.stats, LADDER[li], st.item.display_width_pt, st.item.min_text_px)
    spec = next((sp for sp in specs if sp.format == fmt), specs[0])
    m = (spec.width * spec.height) ** _AREA_EXPONENT[spec.format]
    if spec.colors:
        m *= _C_FACTOR.get(spec.colors, 1.0)
    if spec.format == "jpeg":
        q = spec.quality
        m *= _Q_FACTOR.get(q) or _Q_FACTOR[min(_Q_FACTOR, key=lambda k: abs(k - q))]
    return m


def _predict(st: _State, li: int) -> float:
    """Predicted bytes of this image at the untried rung `li`, from the measured rungs
    either side (or the one above, scaled by the model)."""
    a = max(lv for lv in st.by_level if lv <= li)  # nearest measured rung above (0 is)
    ea = st.best(a)
    sa = ea.size
    after = [lv for lv in st.by_level if lv >= li]
    if not after:
        return sa * min(1.0, _model(st, li, ea.format) / _model(st, a, ea.format))
    eb = st.best(min(after))
    sb = eb.size
    if sa <= sb:
        return sa
    # interpolate in log size, at where `li` sits between a and b in log model size
    fmt = eb.format
    ma, ml, mb = _model(st, a, fmt), _model(st, li, fmt), _model(st, min(after), fmt)
    if ma <= mb:
        return sa
    t = min(1.0, max(0.0, math.log(ma / ml) / math.log(ma / mb)))
    return math.exp(math.log(sa) + t * (math.log(sb) - math.log(sa)))


def _group(items: list[FitItem]) -> list[list[int]]:
    """Item indices grouped by source file (one decode per file), biggest first so
    the pool's last task is a small one."""
    groups: dict = {}
    for i, it in enumerate(items):
        key = it.load.path if isinstance(it.load, CropSource) else ("item", i)
        groups.setdefault(key, []).append(i)

    def weight(g: list[int]) -> int:
        load = items[g[0]].load
        if isinstance(load, CropSource):
            try:
                return os.stat(load.path).st_size
            except OSError:
                return 0
        return 0

    return sorted(groups.values(), key=lambda g: (-weight(g), g[0]))


def _too_big_message(states: list[_State], at_floor: int, target: int, budget: int,
                     overhead: int) -> str:
    heavy = sorted(states, key=lambda st: (-st.best(BOTTOM).size, st.item.key))[:3]
    names = ", ".join(f"{st.item.key} {_kb(st.best(BOTTOM).size)}" for st in heavy)
    bottom = LADDER[BOTTOM]
    return (f"the images need {_kb(at_floor)} even at the legibility floor (<= {bottom.dpi:g} "
            f"dpi, JPEG q >= {bottom.quality}, text >= {TEXT_FLOOR_PX:g} px) but only "
            f"{_kb(target)} is left (cap {_kb(budget)} - {_kb(overhead)} pages and text - "
            f"{SAFETY:.0%} margin): {at_floor - target:,} bytes over; heaviest: {names}")


def _report(images: list[EncodedImage], size: int, level: Level, target: int, budget: int,
            overhead: int, path: list[list[int]], decoded: int, seconds: float) -> list[str]:
    kinds: dict[str, int] = {}
    for e in images:
        k = (f"{e.colors or 256}-colour PNG" if e.mode == "P" else "grey PNG" if e.format == "png"
             else "grey JPEG" if e.mode == "L" else "JPEG")
        kinds[k] = kinds.get(k, 0) + 1
    scaled = sum(1 for e in images if e.scale < 1.0)
    return [
        f"images: {len(images)} at {level.describe()}: {_kb(size)} of {_kb(target)} allowed "
        f"(cap {_kb(budget)} - {_kb(overhead)} other - {SAFETY:.0%} margin)",
        "encodings: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f"; {scaled} downscaled",
        f"fit: {len(path)} pass{'es' if len(path) != 1 else ''} (rungs "
        + "; ".join(",".join(map(str, p)) for p in path) + f"), {decoded} decodes, {seconds:.2f} s",
    ]


def _kb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if abs(n) >= 1_000_000 else f"{n / 1000:.0f} kB"
