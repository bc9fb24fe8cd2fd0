"""The OCR layer: engines, cache, runner, tiling.

Most runner tests use FakeEngine, which "reads" dark rectangles: one line per
rectangle, text from its red value, box = its pixels. It records each build and each
recognize call as a file in a folder, so calls made in worker processes are counted too.
It lives at module level so that spawn workers can import it by name.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from evidence.errors import EngineError, InputError
from evidence.imageio import sha256_file
from evidence.ocr import (ENGINES, CacheWarning, OcrCache, make_engine, ocr_key, run_ocr)
from evidence.ocr.base import Box, OcrLine, OcrResult
from evidence.ocr.cache import default_cache_dir
from evidence.ocr.tiling import (MIN_OVERLAP, TALL_RATIO, merge_tiles, reading_order,
                                 recognize_tiled, same_line, tile_spans)


# --------------------------------------------------------------------------- fake engine

class FakeEngine:
    name = "fake"

    def __init__(self, *, log_dir: str, fail_build: str | None = None,
                 crash_width: int | None = None, version: int = 1):
        self.log_dir = Path(log_dir)
        if fail_build:
            raise EngineError(fail_build)
        self.crash_width = crash_width
        self.version = version
        self._mark("built")

    @classmethod
    def key_for(cls, *, log_dir: str, fail_build=None, crash_width=None, version: int = 1):
        return f"fake-{version}"

    def key(self) -> str:
        return f"fake-{self.version}"

    def _mark(self, what: str) -> None:
        (self.log_dir / f"{what}-{os.getpid()}-{uuid.uuid4().hex}").touch()

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        self._mark("call")
        if self.crash_width is not None and image.width == self.crash_width:
            os._exit(3)  # a native crash in an engine, as the pool sees it
        return find_rectangles(image)


def find_rectangles(image: Image.Image) -> list[OcrLine]:
    """One line per dark rectangle; a rectangle cut by the image edge reads as garble."""
    grey = np.asarray(image.convert("L"))
    dark = grey < 128
    lines = []
    rows = dark.any(axis=1)
    y = 0
    h = len(rows)
    while y < h:
        if not rows[y]:
            y += 1
            continue
        y0 = y
        while y < h and rows[y]:
            y += 1
        band = dark[y0:y]
        cols = band.any(axis=0)
        x = 0
        while x < len(cols):  # rectangles side by side on one row
            if not cols[x]:
                x += 1
                continue
            x0 = x
            while x < len(cols) and cols[x]:
                x += 1
            red = image.getpixel(((x0 + x) // 2, (y0 + y) // 2))[0]
            cut = y0 == 0 or y == h
            lines.append(OcrLine("it" if cut else f"item {red}", Box(x0, y0, x, y), 0.9))
    return lines


def log_count(log_dir: Path, what: str) -> int:
    return len(list(log_dir.glob(f"{what}-*")))


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Registers FakeEngine as engine "fake"; returns its settings (the log folder)."""
    monkeypatch.setitem(ENGINES, "fake", FakeEngine)
    log = tmp_path / "log"
    log.mkdir()
    return {"log_dir": str(log)}


def rect_image(path: Path, rects, size=(300, 400)) -> Path:
    """An image with dark rectangles (x0, y0, x1, y1, red) on white."""
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    for x0, y0, x1, y1, red in rects:
        d.rectangle((x0, y0, x1 - 1, y1 - 1), fill=(red, 0, 0))
    im.save(path)
    return path


def jobs_for(*paths: Path) -> list[tuple[Path, str]]:
    return [(p, sha256_file(p)) for p in paths]


def some_result(key="k") -> OcrResult:
    return OcrResult((OcrLine("Jane Doe", Box(1, 2, 30, 12.5), 0.98),
                      OcrLine("jane@example.com", Box(1, 20, 80, 31), 0.912345)), 100, 200, key)


# --------------------------------------------------------------------------- cache

def test_cache_round_trip(tmp_path):
    cache = OcrCache(tmp_path / "c")
    r = some_result()
    assert cache.get("ab" * 32, "k") is None
    cache.put("ab" * 32, "k", r)
    got = cache.get("ab" * 32, "k")
    assert got is not None
    assert got.to_json() == r.to_json()
    assert [line.text for line in got.lines] == ["Jane Doe", "jane@example.com"]
    assert cache.get("ab" * 32, "other key") is None
    assert cache.get("cd" * 32, "k") is None
    assert not list((tmp_path / "c").glob(".tmp-*"))  # no temp files left behind


def test_cache_default_dir_honours_xdg(monkeypatch, tmp_path):
    if sys.platform != "linux":
        pytest.skip("XDG_CACHE_HOME is a Linux convention")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "evidence" / "ocr"
    assert OcrCache().directory == tmp_path / "xdg" / "evidence" / "ocr"


@pytest.mark.parametrize("content", [
    b"", b"{", b'{"schema": 1, "sha256": "x"', b"\xff\xfe not json", b"[]", b"null",
    b'{"schema": 99, "result": {}}',
    b'{"schema": 1, "sha256": "SHA", "key": "KEY", "result": {"lines": "nope"}}',
    b'{"schema": 1, "sha256": "SHA", "key": "KEY", "result": {"width": 1}}',
])
def test_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path, fake, content):
    img = rect_image(tmp_path / "a.png", [(10, 10, 100, 40, 20)])
    [(path, sha)] = jobs_for(img)
    cache = OcrCache(tmp_path / "c")
    key = ocr_key("fake", fake)
    entry = cache.path_for(sha, key)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(content.replace(b"SHA", sha.encode()).replace(b"KEY", key.encode()))
    assert cache.get(sha, key) is None

    out = run_ocr([(path, sha)], "fake", cache=cache, settings=fake)
    assert [line.text for line in out[path].lines] == ["item 20"]
    assert log_count(Path(fake["log_dir"]), "call") == 1
    assert json.loads(entry.read_text())["schema"] == 1  # rewritten whole
    assert cache.get(sha, key) == out[path]


def test_cache_entry_for_another_image_is_a_miss(tmp_path):
    cache = OcrCache(tmp_path / "c")
    cache.put("aa" * 32, "k", some_result())
    # Someone copies an entry under another image's name: its recorded sha256 differs.
    cache.path_for("bb" * 32, "k").write_bytes(cache.path_for("aa" * 32, "k").read_bytes())
    assert cache.get("bb" * 32, "k") is None


def test_unwritable_cache_dir_warns_once_and_ocr_goes_on(tmp_path, fake):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    cache = OcrCache(blocker / "ocr")
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10, 100, 40, 10 + i)]) for i in range(3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run_ocr(jobs_for(*imgs), "fake", cache=cache, workers=1, settings=fake)
    assert [w for w in caught if issubclass(w.category, CacheWarning)].__len__() == 1
    assert cache.disabled and "cannot write" in cache.warning
    assert [out[p].lines[0].text for p in imgs] == ["item 10", "item 11", "item 12"]


def test_cache_in_unreadable_place_is_just_a_miss(tmp_path):
    cache = OcrCache(tmp_path / "missing" / "deeper")
    assert cache.get("ab" * 32, "k") is None  # no error, nothing created
    assert not (tmp_path / "missing").exists()


# --------------------------------------------------------------------------- keys

def test_rapidocr_key_changes_with_every_setting():
    from evidence.ocr.rapid import RapidEngine, rapidocr_version

    base = RapidEngine.key_for()
    assert f"rapidocr-{rapidocr_version()}" in base
    variants = [RapidEngine.key_for(det_limit_side_len=960),
                RapidEngine.key_for(det_limit_type="min"),
                RapidEngine.key_for(use_cls=True),
                RapidEngine.key_for(max_side_len=2000),
                RapidEngine.key_for(det_model="fp32")]
    assert len({base, *variants}) == 6
    assert RapidEngine.key_for(threads=4) == base  # threads do not change the text
    # and so the cache files differ
    cache = OcrCache("/nonexistent")
    assert cache.path_for("ab" * 32, base) != cache.path_for("ab" * 32, variants[0])


def test_ocr_key_names_engine_and_tiling(fake):
    assert ocr_key("fake", fake).startswith("fake-1;tiles=")
    assert ocr_key("fake", {**fake, "version": 2}) != ocr_key("fake", fake)
    assert ocr_key("rapidocr") != ocr_key("rapidocr", {"det_limit_side_len": 960})


def test_bad_settings_and_unknown_engine_are_engine_errors():
    with pytest.raises(EngineError, match="choose one of: .*easyocr.*rapidocr"):
        make_engine("tesseract")
    with pytest.raises(EngineError, match="choose one of"):
        run_ocr([], "tesseract", cache=None)
    with pytest.raises(EngineError, match="det_limit_type"):
        make_engine("rapidocr", det_limit_type="middle")
    with pytest.raises(EngineError, match="bad settings"):
        ocr_key("rapidocr", {"no_such_setting": 1})


# --------------------------------------------------------------------------- runner

def test_second_run_does_no_ocr_and_builds_no_engine(tmp_path, fake):
    log = Path(fake["log_dir"])
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10 + 5 * i, 100, 40 + 5 * i, 30 + i)])
            for i in range(4)]
    cache = OcrCache(tmp_path / "c")
    seen = []
    first = run_ocr(jobs_for(*imgs), "fake", cache=cache, workers=2, settings=fake,
                    progress=lambda done, total: seen.append((done, total)))
    assert log_count(log, "call") == 4
    builds = list(log.glob("built-*"))
    # In worker processes, each of which built its engine once.
    assert len(builds) in (1, 2)  # one engine per worker that got work, never per image
    assert len({b.name.split("-")[1] for b in builds}) == len(builds)
    assert str(os.getpid()) not in {b.name.split("-")[1] for b in builds}
    assert seen[0] == (0, 4) and seen[-1] == (4, 4) and len(seen) == 5
    assert list(first) == imgs  # in job order

    second = run_ocr(jobs_for(*imgs), "fake", cache=cache, workers=2, settings=fake)
    assert log_count(log, "call") == 4  # no OCR call
    assert len(list(log.glob("built-*"))) == len(builds)  # no engine built
    assert second == first

    # Different settings: a different key, so everything is read again.
    run_ocr(jobs_for(*imgs), "fake", cache=cache, workers=1, settings={**fake, "version": 2})
    assert log_count(log, "call") == 8


def test_single_miss_runs_in_process_with_one_engine(tmp_path, fake):
    log = Path(fake["log_dir"])
    a = rect_image(tmp_path / "a.png", [(10, 10, 100, 40, 40)])
    b = rect_image(tmp_path / "b.png", [(10, 10, 100, 40, 41)])
    run_ocr(jobs_for(a), "fake", cache=None, settings=fake)
    run_ocr(jobs_for(b), "fake", cache=None, settings=fake)
    builds = list(log.glob("built-*"))
    assert len(builds) == 1 and builds[0].name.split("-")[1] == str(os.getpid())
    assert log_count(log, "call") == 2


def test_identical_images_are_read_once(tmp_path, fake):
    a = rect_image(tmp_path / "a.png", [(10, 10, 100, 40, 50)])
    b = tmp_path / "copy.png"
    b.write_bytes(a.read_bytes())
    out = run_ocr(jobs_for(a, b, a), "fake", cache=None, settings=fake)
    assert list(out) == [a, b]
    assert out[a] == out[b]
    assert log_count(Path(fake["log_dir"]), "call") == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_image_gives_input_error_and_the_rest_go_on(tmp_path, fake, workers):
    good = [rect_image(tmp_path / f"g{i}.png", [(10, 10, 100, 40, 60 + i)]) for i in range(2)]
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good[0].read_bytes()[:-40])
    gone = tmp_path / "gone.png"
    jobs = jobs_for(good[0], garbage, truncated, good[1]) + [(gone, "0" * 64)]
    cache = OcrCache(tmp_path / "c")
    out = run_ocr(jobs, "fake", cache=cache, workers=workers, settings=fake)
    assert list(out) == [good[0], garbage, truncated, good[1], gone]
    assert out[good[0]].lines[0].text == "item 60"
    assert out[good[1]].lines[0].text == "item 61"
    for bad in (garbage, truncated, gone):
        assert isinstance(out[bad], InputError), out[bad]
        assert out[bad].path == bad
    assert "not an image" in out[garbage].message
    assert "truncated" in out[truncated].message
    assert "not found" in out[gone].message
    # Errors are not cached: a fixed file is read next time.
    assert len(list((tmp_path / "c").glob("*.json"))) == 2


def test_lone_unreadable_image_builds_no_engine(tmp_path, fake):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"junk")
    out = run_ocr(jobs_for(garbage), "fake", cache=None, settings=fake)
    assert isinstance(out[garbage], InputError)
    assert log_count(Path(fake["log_dir"]), "built") == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_engine_that_cannot_be_built_is_an_engine_error(tmp_path, fake, workers):
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10, 100, 40, 70 + i)]) for i in range(3)]
    with pytest.raises(EngineError, match="weights are gone"):
        run_ocr(jobs_for(*imgs), "fake", cache=None, workers=workers,
                settings={**fake, "fail_build": "weights are gone"})


def test_worker_crash_is_an_engine_error(tmp_path, fake):
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10, 100, 40, 80 + i)]) for i in range(3)]
    crasher = rect_image(tmp_path / "crash.png", [(10, 10, 100, 40, 90)], size=(333, 400))
    cache = OcrCache(tmp_path / "c")
    t = time.monotonic()
    with pytest.raises(EngineError, match="worker process died"):
        run_ocr(jobs_for(*imgs, crasher), "fake", cache=cache, workers=2,
                settings={**fake, "crash_width": 333})
    assert time.monotonic() - t < 60


# --------------------------------------------------------------------------- tiling

def test_tile_spans_cover_the_image_with_overlap():
    assert tile_spans(1170, 2532) == [(0, 2532)]  # an ordinary phone screenshot
    assert tile_spans(1080, 2400) == [(0, 2400)]  # 20:9
    assert tile_spans(1644, 3840) == [(0, 3840)]  # 21:9
    for w, h in [(1170, 20000), (585, 20000), (400, 4000), (1170, int(1170 * TALL_RATIO) + 1),
                 (50, 9000)]:
        spans = tile_spans(w, h)
        assert len(spans) >= 2
        assert spans[0][0] == 0 and spans[-1][1] == h
        heights = {b - t for t, b in spans}
        assert len(heights) == 1 and heights.pop() <= max(1.5 * w + 1, 2 * MIN_OVERLAP + 1)
        for (t0, b0), (t1, b1) in zip(spans, spans[1:]):
            assert t0 < t1 and b0 - t1 >= max(MIN_OVERLAP, w // 8)


def test_tiling_stitches_boxes_back_once_each(tmp_path):
    w, h = 400, 4000
    spans = tile_spans(w, h)
    assert len(spans) > 3
    cuts = [b for _t, b in spans[:-1]] + [t for t, _b in spans[1:]]
    tops = sorted({c - 20 for c in cuts} | {c - 35 for c in cuts[:2]} | set(range(30, h - 60, 97)))
    rows = []
    for y in tops:  # rectangles 40 px tall with at least 12 px between them
        if not rows or y >= rows[-1] + 52:
            rows.append(y)
    rects = [(20, y, 220 + (k % 5) * 30, y + 40, k % 99) for k, y in enumerate(rows)]
    rects.append((300, rows[0], 380, rows[0] + 40, 99))  # beside the first, same row
    straddling = [r for r in rects if any(r[1] < c < r[3] for c in cuts)]
    assert len(straddling) >= len(cuts) // 2  # the test means something
    path = rect_image(tmp_path / "tall.png", rects, size=(w, h))

    engine = FakeEngine(log_dir=str(tmp_path))
    lines = recognize_tiled(engine, Image.open(path).convert("RGB"))
    assert log_count(tmp_path, "call") == len(spans)
    expected = sorted(rects, key=lambda r: (r[1], r[0]))
    assert [line.text for line in lines] == [f"item {r[4]}" for r in expected]
    for line, (x0, y0, x1, y1, _red) in zip(lines, expected):
        assert line.box == Box(x0, y0, x1, y1)


def test_runner_tiles_tall_images(tmp_path, fake):
    rects = [(20, y, 200, y + 40, (y // 100) % 100) for y in range(30, 3900, 100)]
    path = rect_image(tmp_path / "tall.png", rects, size=(400, 4000))
    out = run_ocr(jobs_for(path), "fake", cache=None, settings=fake)
    r = out[path]
    assert (r.width, r.height) == (400, 4000)
    assert [line.box.y0 for line in r.lines] == [float(r[1]) for r in rects]
    assert log_count(Path(fake["log_dir"]), "call") == len(tile_spans(400, 4000))


def test_merge_drops_same_text_in_overlap_keeps_distinct_lines():
    top = (0, 600, [OcrLine("hello", Box(10, 500, 100, 530), 0.8),  # in the overlap
                    OcrLine("other", Box(10, 560, 100, 600), 0.9)])  # cut by the edge
    bottom = (480, 1080, [OcrLine("hello", Box(11, 501, 101, 531), 0.7),
                          OcrLine("other line", Box(10, 560, 160, 590), 0.6),
                          OcrLine("right side", Box(200, 560, 300, 590), 0.9)])
    merged = reading_order(merge_tiles([top, bottom]))
    assert [line.text for line in merged] == ["hello", "other line", "right side"]
    # "hello" from the top strip: 70 px from its cut against 21 px in the bottom one
    assert merged[0].box == Box(10, 500, 100, 530)


def test_same_line_needs_overlapping_boxes():
    a = OcrLine("x", Box(0, 0, 100, 20), 1.0)
    assert same_line(a, OcrLine("y", Box(10, 2, 90, 22), 1.0))
    assert same_line(a, OcrLine("X", Box(90, 15, 200, 40), 1.0))  # same text, touching
    assert not same_line(a, OcrLine("y", Box(0, 18, 100, 38), 1.0))  # next row
    assert not same_line(a, OcrLine("x", Box(0, 20, 100, 40), 1.0))  # adjacent, no overlap
    assert not same_line(a, OcrLine("y", Box(150, 0, 250, 20), 1.0))  # beside it


def test_reading_order_rows_then_left_to_right():
    lines = [OcrLine("b", Box(200, 12, 300, 40), 1), OcrLine("a", Box(10, 10, 100, 40), 1),
             OcrLine("c", Box(10, 60, 100, 90), 1)]
    assert [line.text for line in reading_order(lines)] == ["a", "b", "c"]


# --------------------------------------------------------------------------- real engines

@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, *a))
    return attempts


def vera(size: int) -> ImageFont.FreeTypeFont:
    import reportlab

    return ImageFont.truetype(
        os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), size)


def chat_image(path: Path, name: str, email: str, date: str, scale: float = 3.0,
               size=(1170, 2532)) -> Path:
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    w = size[0]
    d.text((w / 2, 56 * scale), name, font=vera(round(17 * scale)), fill="black", anchor="mt")
    d.text((w / 2, 100 * scale), date, font=vera(round(12 * scale)), fill=(128, 128, 133),
           anchor="mt")
    y = 140 * scale
    for text in ["Hi, did my order ship?", f"My email is {email}", "Thanks!"]:
        d.rounded_rectangle((16 * scale, y, w * 0.8, y + 44 * scale), radius=18 * scale,
                            fill=(233, 233, 235))
        d.text((32 * scale, y + 10 * scale), text, font=vera(round(17 * scale)), fill="black")
        y += 64 * scale
    im.save(path)
    return path


def test_real_rapidocr_reads_name_email_and_date(tmp_path):
    fields = [("Jane Cooper", "jane.cooper@example.com", "March 5, 2024 at 10:42 AM"),
              ("Marcus Whitfield", "mwhitfield@yahoo.co.uk", "2024-03-05 14:07")]
    imgs = [chat_image(tmp_path / f"{i}.png", *f) for i, f in enumerate(fields)]
    cache = OcrCache(tmp_path / "c")
    out = run_ocr(jobs_for(*imgs), "rapidocr", cache=cache, workers=2)  # real worker pool
    for path, (name, email, date) in zip(imgs, fields):
        r = out[path]
        assert isinstance(r, OcrResult), r
        assert (r.width, r.height) == (1170, 2532)
        texts = [line.text for line in r.lines]
        for s in (name, email):
            assert any(s in t for t in texts), (s, texts)
        # PP-OCR may drop the space between a date and its time ("2024-03-0514:07"):
        # the date finder's business. Every other character must be there.
        assert any(date.replace(" ", "") in t.replace(" ", "") for t in texts), (date, texts)
        name_line = next(line for line in r.lines if name in line.text)
        assert 0 < name_line.box.x0 < 585 < name_line.box.x1 < 1170
        assert 150 < name_line.box.y0 < name_line.box.y1 < 250
        assert 0.5 < name_line.confidence <= 1
        assert r.engine == ocr_key("rapidocr")
    assert run_ocr(jobs_for(*imgs), "rapidocr", cache=cache) == out


def test_rapidocr_uses_its_bundled_models_offline(tmp_path, no_network):
    engine = make_engine("rapidocr", det_limit_side_len=960)
    img = chat_image(tmp_path / "a.png", "Kim Nguyen", "k.nguyen@example.com", "5 March 2024",
                     scale=1.5, size=(585, 500))
    assert "Kim Nguyen" in [line.text for line in engine.recognize(Image.open(img).convert("RGB"))]
    assert not no_network


def test_rapidocr_int8_detector_missing_or_unknown_is_an_engine_error(tmp_path, monkeypatch):
    from evidence.ocr import rapid

    with pytest.raises(EngineError, match="det_model must be 'int8' or 'fp32'"):
        make_engine("rapidocr", det_model="int4")
    monkeypatch.setattr(rapid, "OUR_MODELS", tmp_path)
    with pytest.raises(EngineError, match=r"int8 text detector .*missing.*fp32"):
        make_engine("rapidocr")
    assert make_engine("rapidocr", det_model="fp32").key() != ""  # the float one still works


def test_int8_detector_reads_what_the_float_one_reads(tmp_path):
    """The shipped int8 detector (tools/quantize_models.py) against the wheel's float one,
    on rendered screenshots of every layout, light and dark: the same name, email and date
    lines are read, and the whole text is nearly the same (it may split a box differently
    or drop an icon). Calibration used other renderings (other seeds and texts)."""
    from rapidfuzz import fuzz

    from fixtures.generate import LAYOUTS, Message, Shot, write_case

    shots = [Shot(f"s{i}.png", layout=layout, date=datetime(2024, 9, 3 + i, 15, 5 * i),
                  date_style=("mdy", "iso", "long_at", "dmy", "dotted", "rfc2822")[i],
                  messages=[Message("The revised logo files are in the shared folder"),
                            Message("Got them, thank you! Approved.", me=True)],
                  title=f"Re: logo round {i + 2}", scale=1.0 if i < 2 else None)
             for i, layout in enumerate(LAYOUTS)]
    truth = write_case(tmp_path / "case", shots, overwrite=True)
    int8, fp32 = make_engine("rapidocr"), make_engine("rapidocr", det_model="fp32")
    found = 0
    for shot in shots:
        with Image.open(tmp_path / "case" / "screenshots" / shot.file) as im:
            image = im.convert("RGB")
        a = [line.text for line in fp32.recognize(image)]
        b = [line.text for line in int8.recognize(image)]
        joined_a, joined_b = " ".join(a).replace(" ", ""), " ".join(b).replace(" ", "")
        for needle in (truth["client"]["name"], truth["client"]["email"]):
            needle = needle.replace(" ", "")
            assert (needle in joined_a) == (needle in joined_b), (shot.file, needle, a, b)
            found += needle in joined_b
        assert fuzz.ratio("\n".join(a), "\n".join(b)) >= 95, (shot.file, a, b)
        assert len(b) >= 0.9 * len(a), (shot.file, len(a), len(b))
    assert found >= len(shots), f"the client's name and email were read only {found} times"


def test_rapidocr_missing_model_is_an_engine_error(monkeypatch, no_network):
    from evidence.ocr import rapid

    monkeypatch.setattr(rapid, "REC_MODEL", "PP-OCRv0_gone.onnx")
    with pytest.raises(EngineError, match="PP-OCRv0_gone.onnx.*reinstall"):
        make_engine("rapidocr")
    assert not no_network


# --------------------------------------------------------------------------- easyocr

def test_easyocr_missing_weights_is_a_quick_engine_error(tmp_path, monkeypatch, no_network):
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("EVIDENCE_EASYOCR_MODELS", str(empty))
    t = time.monotonic()
    with pytest.raises(EngineError) as e:
        make_engine("easyocr")
    msg = str(e.value)
    assert "craft_mlt_25k.pth" in msg and "english_g2.pth" in msg and str(empty) in msg
    assert "\n" not in msg
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10, 100, 40, i)]) for i in range(2)]
    with pytest.raises(EngineError):  # before any worker process starts
        run_ocr(jobs_for(*imgs), "easyocr", cache=None, workers=2)
    # the constructor argument wins over the environment, and is checked the same way
    with pytest.raises(EngineError, match="english_g2.pth"):
        make_engine("easyocr", model_dir=str(empty))
    assert time.monotonic() - t < 10
    assert not no_network
    assert list(empty.iterdir()) == []  # nothing downloaded or created


def test_easyocr_import_failure_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "easyocr", None)  # "import easyocr" raises ImportError
    monkeypatch.setitem(sys.modules, "easyocr_en_models", None)
    monkeypatch.delenv("EVIDENCE_EASYOCR_MODELS", raising=False)
    with pytest.raises(EngineError, match=r'pip install "\.\[easyocr\]" in the evidence source folder'):
        make_engine("easyocr")
    weights = tmp_path / "w"
    weights.mkdir()
    for f in ("craft_mlt_25k.pth", "english_g2.pth"):
        (weights / f).write_bytes(b"x")
    with pytest.raises(EngineError, match=r'pip install "\.\[easyocr\]" in the evidence source folder'):
        make_engine("easyocr", model_dir=str(weights))


@pytest.mark.easyocr
def test_easyocr_damaged_weights_are_an_engine_error(tmp_path, no_network):
    bad = tmp_path / "models"
    bad.mkdir()
    for f in ("craft_mlt_25k.pth", "english_g2.pth"):
        (bad / f).write_bytes(b"not the weights")
    t = time.monotonic()
    with pytest.raises(EngineError, match="damaged"):
        make_engine("easyocr", model_dir=str(bad))
    with pytest.raises(EngineError, match="damaged"):  # before any worker starts
        imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10, 100, 40, i)]) for i in range(2)]
        run_ocr(jobs_for(*imgs), "easyocr", cache=None, workers=2,
                settings={"model_dir": str(bad)})
    assert time.monotonic() - t < 10  # checked before torch is imported
    assert not no_network


@pytest.mark.easyocr
def test_easyocr_reads_a_small_image(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("EVIDENCE_EASYOCR_MODELS", raising=False)
    img = chat_image(tmp_path / "a.png", "Jane Cooper", "jane.cooper@example.com",
                     "March 5, 2024 10:42", scale=1.5, size=(585, 700))
    out = run_ocr(jobs_for(img), "easyocr", cache=OcrCache(tmp_path / "c"))
    r = out[img]
    assert isinstance(r, OcrResult), r
    text = r.text()
    assert "Jane Cooper" in text
    # easyocr may drop the dots of an address and read 10:42 as 10.42: the field
    # matcher's business, not the engine's.
    squeezed = text.replace(".", "").replace(" ", "")
    assert "janecooper@examplecom" in squeezed
    assert "March5" in squeezed and "2024" in text
    assert r.engine.startswith("easyocr-")
    assert all(0 <= line.confidence <= 1 and line.box.x1 > line.box.x0 for line in r.lines)
    assert not no_network


# --------------------------------------------------------------------------- kept pools

def lines_in(engine, path: str) -> list[str]:
    """For map_with_engine: the fake engine's reading of one image (importable by name)."""
    if not hasattr(engine, "recognize"):
        engine = engine()
    with Image.open(path) as im:
        return [ln.text for ln in engine.recognize(im.convert("RGB"))]


def test_kept_pool_reads_then_maps_with_one_engine_per_worker(fake, tmp_path):
    from evidence.ocr import _kept, keep_pools, map_with_engine
    imgs = [rect_image(tmp_path / f"{i}.png", [(10, 10 + i, 60, 30 + i, 40 + i)]) for i in range(3)]
    log = Path(fake["log_dir"])
    with keep_pools():
        out = run_ocr(jobs_for(*imgs), "fake", cache=None, workers=2, settings=fake)
        mapped = map_with_engine(lines_in, {p: (str(p),) for p in imgs[:2]}, "fake",
                                 workers=2, settings=fake)
        assert _kept["pools"]  # still up inside the block
    assert not _kept["pools"]  # ended with it
    assert [out[p].lines[0].text for p in imgs] == ["item 40", "item 41", "item 42"]
    assert mapped == {imgs[0]: ["item 40"], imgs[1]: ["item 41"]}
    assert log_count(log, "built") == 2  # the two workers, once each
    # Without the block, the second call starts a pool of its own.
    run_ocr(jobs_for(*imgs[:2]), "fake", cache=None, workers=2, settings=fake)
    map_with_engine(lines_in, {p: (str(p),) for p in imgs[:2]}, "fake", workers=2, settings=fake)
    assert log_count(log, "built") == 6


def test_map_with_engine_in_this_process_with_one_worker(fake, tmp_path):
    from evidence.ocr import map_with_engine
    img = rect_image(tmp_path / "a.png", [(10, 10, 60, 30, 70)])
    assert map_with_engine(lines_in, {"a": (str(img),)}, "fake", workers=1,
                           settings=fake) == {"a": ["item 70"]}
    built = list(Path(fake["log_dir"]).glob("built-*"))
    assert len(built) == 1 and built[0].name.split("-")[1] == str(os.getpid())


def test_map_with_engine_reports_an_engine_that_cannot_be_built(fake, tmp_path):
    from evidence.ocr import map_with_engine
    img = rect_image(tmp_path / "a.png", [(10, 10, 60, 30, 70)])
    with pytest.raises(EngineError, match="no model here"):
        map_with_engine(lines_in, {"a": (str(img),), "b": (str(img),)}, "fake", workers=2,
                        settings={**fake, "fail_build": "no model here"})
