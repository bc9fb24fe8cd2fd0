"""The fixture generator: deterministic, its truth agrees with the files it writes, and
the committed sample is what the generator makes today. No OCR here (see
`python -m fixtures.verify_ocr` for the check against the real engine)."""
from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from fixtures import generate as g

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample-case"


def load_truth(case: Path) -> dict:
    return json.loads((case / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth() -> dict:
    return load_truth(SAMPLE)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    case = tmp_path_factory.mktemp("sample")
    g.sample_case(case)
    return case


def image_files(case: Path) -> list[str]:
    return sorted(p.relative_to(case).as_posix() for p in (case / "screenshots").rglob("*")
                  if p.is_file() and not p.name.endswith(".txt"))


# --------------------------------------------------------------------------- determinism

def test_render_is_deterministic():
    shot = g.Shot("x.png", layout="phone_dark", date=datetime(2024, 10, 11), font="default",
                  messages=[g.Message("Hello there", time="9:30 AM"),
                            g.Message("Hi!", me=True)])
    assert g.render(shot).tobytes() == g.render(shot).tobytes()


def test_phone_series_is_deterministic(tmp_path):
    a = g.phone_series(tmp_path / "a", 6, seed=3)
    b = g.phone_series(tmp_path / "b", 6, seed=3)
    c = g.phone_series(tmp_path / "c", 6, seed=4)
    assert a == b and a != c
    for rel in image_files(tmp_path / "a"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert all(r["ok"] for r in a["screenshots"])
    whens = [r["when"] for r in a["screenshots"]]
    assert len(set(whens)) == len(whens)
    # the file names must not already be in time order, or sorting is never tested
    assert a["order"] != sorted(a["order"])


# --------------------------------------------------------------------------- the sample

def test_sample_matches_regeneration(truth, regenerated):
    assert load_truth(regenerated) == truth, \
        "truth changed: run `python -m fixtures.generate sample fixtures/sample-case`"
    assert (regenerated / "case.toml").read_text() == (SAMPLE / "case.toml").read_text()
    assert image_files(regenerated) == image_files(SAMPLE)
    fonts = {r["file"]: r["font"] for r in truth["screenshots"]}
    for rel in image_files(SAMPLE):
        new, old = (regenerated / rel).read_bytes(), (SAMPLE / rel).read_bytes()
        if new == old:
            continue
        if fonts[rel] == "dejavu" and not g.dejavu_available():
            continue  # Vera stood in for the missing DejaVu; truth is unaffected
        # another Pillow/FreeType build may anti-alias differently: allow a hair of it
        with Image.open(regenerated / rel) as a, Image.open(SAMPLE / rel) as b:
            assert a.size == b.size, rel
            diff = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
            assert max(diff.mean) < 2.0, f"{rel} differs from a fresh regeneration"
    for side in (SAMPLE / "screenshots").rglob("*.txt"):
        rel = side.relative_to(SAMPLE)
        assert (regenerated / rel).read_text() == side.read_text()


def test_truth_agrees_with_files(truth):
    records = truth["screenshots"]
    files = [r["file"] for r in records]
    assert sorted(files) == image_files(SAMPLE)
    assert 12 <= len(records) <= 16
    case = tomllib.loads((SAMPLE / "case.toml").read_text(encoding="utf-8"))
    assert case["client"] == truth["client"] == g.CLIENT
    assert case["dispute"]["respond_by"] == date(2024, 11, 15)
    entries = {e["file"]: e for e in case["screenshot"]}
    assert sorted(entries) == sorted(files)
    for r in records:
        path = SAMPLE / r["file"]
        e = entries[r["file"]]
        assert e.get("kind", "conversation") == r["kind"]
        assert e.get("highlight") == r["highlight"]
        assert (e["date"].isoformat() if "date" in e else None) == r["manual_date"]
        sidecar = path.with_name(path.name + ".txt")
        if r["note_source"] == "sidecar":
            assert "note" not in e and sidecar.read_text().strip() == r["note"]
        else:
            assert e.get("note") == r["note"] and not sidecar.exists()
        with Image.open(path) as im:
            assert list(im.size) == r["size"]
            assert im.format == {"png": "PNG", "jpeg": "JPEG"}[r["format"]]
            exif = im.getexif().get_ifd(0x8769).get(0x9003)
        # capture time: file name, else EXIF; mtime is never used by the sample
        name_time = g.filename_time(path.name)
        if r["capture_source"] == "filename":
            assert name_time.isoformat() == r["capture"]
        elif r["capture_source"] == "exif":
            assert name_time is None
            assert datetime.strptime(exif, "%Y:%m:%d %H:%M:%S").isoformat() == r["capture"]
        else:
            assert r["capture_source"] is None and name_time is None and exif is None
        # expected verdict
        if r["kind"] == "site":
            assert r["ok"] and r["when_source"] in ("filename", "exif", "manual")
        else:
            assert r["ok"] == (r["name_found"] and r["email_found"] and r["date_found"])
            assert r["name_found"] == (r["name_shown"] == g.CLIENT["name"])
            assert r["email_found"] == (r["email_shown"] == g.CLIENT["email"])
            assert r["date_found"] == (r["date_text"] is not None)
        if r["highlight"]:
            assert r["boxes"]["highlight"] is not None
        # when
        if r["manual_date"]:
            assert r["when_source"] == "manual" and r["when"] == r["manual_date"] + "T00:00:00"
        elif r["date_found"] and r["kind"] == "conversation":
            assert r["when_source"] == "image"
        else:
            assert r["when_source"] == r["capture_source"] and r["when"] == r["capture"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["when"])
    whens = [r["when"] for r in records]
    assert len(set(whens)) == len(whens), "equal times would make the order ambiguous"
    by_file = {r["file"]: r["when"] for r in records}
    assert truth["order"] == sorted(files, key=lambda f: by_file[f])
    assert truth["order"] != [e["file"] for e in case["screenshot"]]


def test_sample_covers_every_date_format(truth):
    texts = [r["date_text"] for r in truth["screenshots"] if r["date_text"]]
    patterns = {
        "Oct 28, 2024": r"[A-Z][a-z]{2} \d{1,2}, \d{4}",
        "28 Oct 2024": r"\d{1,2} [A-Z][a-z]{2} \d{4}",
        "October 28, 2024 at 3:15 PM": r"[A-Z][a-z]{3,} \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M",
        "2024-10-28 17:40": r"\d{4}-\d\d-\d\d \d\d:\d\d",
        "28.10.2024": r"\d\d\.\d\d\.\d{4}",
        "Tue, 08 Oct 2024 09:14:52 -0400": r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                                           r"\d\d:\d\d:\d\d [+-]\d{4}",
        "Friday, October 18th": r"[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}(st|nd|rd|th)",
        "Yesterday 4:12 PM": r"Yesterday \d{1,2}:\d\d [AP]M",
        "Today": r"Today",
        "Monday 10:05 AM": r"[A-Z][a-z]+day \d{1,2}:\d\d [AP]M",
    }
    for example, pat in patterns.items():
        assert re.fullmatch(pat, example)
        assert any(re.fullmatch(pat, t) for t in texts), f"no date like {example!r}"
    assert "Tue, 08 Oct 2024 09:14:52 -0400" in texts
    email = next(r for r in truth["screenshots"]
                 if r["date_text"] == "Tue, 08 Oct 2024 09:14:52 -0400")
    assert email["when"] == "2024-10-08T09:14:52"
    # year-less and relative dates always come with a capture time
    for r in truth["screenshots"]:
        if r["date_style"] in ("weekday_ordinal", "yesterday", "today", "weekday"):
            assert r["capture_source"] in ("filename", "exif") or r["manual_date"]


def test_sample_covers_every_variant(truth):
    rs = truth["screenshots"]
    layouts = {r["layout"] for r in rs}
    assert layouts == set(g.LAYOUTS)
    assert {r["font"] for r in rs} >= {"vera", "default"}
    assert any(r["format"] == "jpeg" for r in rs)
    assert any(r["layout"].startswith("phone") and r["size"][0] < 585 for r in rs)  # downscaled
    assert any(r["kind"] == "site" for r in rs)
    assert any("/" in r["file"][len("screenshots/"):] for r in rs)  # a subfolder
    assert any(r["note_source"] == "sidecar" for r in rs)
    assert any(r["manual_date"] for r in rs)
    assert {r["capture_source"] for r in rs} >= {"filename", "exif", None}
    assert any(r["when_source"] == "filename" and r["kind"] == "conversation" for r in rs)
    neg = [r for r in rs if not r["ok"]]
    assert any(r["name_found"] and not r["email_found"] and r["date_found"] for r in neg)
    assert any(r["name_found"] and r["email_found"] and not r["date_found"] for r in neg)
    other = [r for r in neg if not r["name_found"] and not r["email_found"]]
    assert other and other[0]["name_shown"] and other[0]["email_shown"]
    passing = [r for r in rs if r["ok"] and r["kind"] == "conversation"]
    assert len(passing) >= 8


# --------------------------------------------------------------------------- the rules

def test_yearless_date_goes_back_a_year_after_new_year(tmp_path):
    shot = g.Shot("Screenshot_20250103-090000.png", date=datetime(2024, 12, 20),
                  date_style="weekday_ordinal")
    t = g.write_case(tmp_path, [shot])
    r = t["screenshots"][0]
    assert r["date_text"] == "Friday, December 20th"
    assert (r["when"], r["when_source"]) == ("2024-12-20T00:00:00", "image")


def test_relative_dates_resolve_from_capture(tmp_path):
    shots = [
        g.Shot("IMG_20241016_200500.jpg", date=datetime(2024, 10, 14, 10, 5),
               date_style="weekday"),
        g.Shot("a.jpg", date=datetime(2024, 10, 15, 16, 12), date_style="yesterday",
               exif_time=datetime(2024, 10, 16, 8, 0)),
        g.Shot("Screenshot 2024-10-17 at 10.00.00.png", date=datetime(2024, 10, 17),
               date_style="today"),
    ]
    t = g.write_case(tmp_path, shots)
    got = {r["file"]: (r["date_text"], r["when"]) for r in t["screenshots"]}
    assert got == {
        "screenshots/IMG_20241016_200500.jpg": ("Monday 10:05 AM", "2024-10-14T10:05:00"),
        "screenshots/a.jpg": ("Yesterday 4:12 PM", "2024-10-15T16:12:00"),
        "screenshots/Screenshot 2024-10-17 at 10.00.00.png": ("Today", "2024-10-17T00:00:00"),
    }
    with Image.open(tmp_path / "screenshots" / "a.jpg") as im:
        assert im.getexif().get_ifd(0x8769)[0x9003] == "2024:10:16 08:00:00"


def test_inconsistent_specs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="resolves to"):  # capture says the 16th, not the 15th
        g.write_case(tmp_path / "a", [g.Shot("Screenshot_20241016-080000.png",
                                             date=datetime(2024, 10, 14), date_style="today")])
    with pytest.raises(ValueError, match="capture time"):  # relative date, no capture time
        g.write_case(tmp_path / "b", [g.Shot("plain.png", date=datetime(2024, 10, 14),
                                             date_style="yesterday")])
    with pytest.raises(ValueError, match="looks like a date"):  # a second date in the text
        g.write_case(tmp_path / "c", [g.Shot("x.png", date=datetime(2024, 10, 14),
                                             messages=[g.Message("see you on Monday")])])
    with pytest.raises(ValueError, match="highlight"):
        g.write_case(tmp_path / "d", [g.Shot("y.png", date=datetime(2024, 10, 14),
                                             messages=[g.Message("hello")],
                                             highlight="not there")])


def test_filename_time_patterns():
    assert g.filename_time("Screenshot 2024-10-30 at 09.02.11.png") == datetime(2024, 10, 30, 9, 2, 11)
    assert g.filename_time("Screenshot_20241025-101500.png") == datetime(2024, 10, 25, 10, 15)
    assert g.filename_time("sub/IMG_20241025_101500.jpg") == datetime(2024, 10, 25, 10, 15)
    assert g.filename_time("IMG_4471.png") is None


def test_format_date_examples():
    assert g.format_date("rfc2822", datetime(2024, 10, 8, 9, 14, 52)) == \
        "Tue, 08 Oct 2024 09:14:52 -0400"
    for style, example in g.DATE_STYLES.items():
        moment = {"rfc2822": datetime(2024, 10, 8, 9, 14, 52),
                  "weekday_ordinal": datetime(2024, 10, 18),
                  "yesterday": datetime(2024, 10, 27, 16, 12),
                  "weekday": datetime(2024, 10, 28, 10, 5),
                  "iso": datetime(2024, 10, 28, 17, 40)}.get(style, datetime(2024, 10, 28, 15, 15))
        assert g.format_date(style, moment) == example


def test_undated_case_uses_mtime(tmp_path):
    t = g.undated_case(tmp_path, mtime=datetime(2024, 10, 27, 14, 30))
    r = t["screenshots"][0]
    assert (r["date_found"], r["ok"]) == (False, False)
    assert (r["when"], r["when_source"]) == ("2024-10-27T14:30:00", "mtime")
    path = tmp_path / r["file"]
    assert datetime.fromtimestamp(os.stat(path).st_mtime) == datetime(2024, 10, 27, 14, 30)
    assert g.filename_time(path.name) is None
    with Image.open(path) as im:
        assert not im.getexif()


def test_write_case_refuses_to_clobber(tmp_path):
    g.undated_case(tmp_path)
    with pytest.raises(FileExistsError):
        g.write_case(tmp_path, [g.Shot("z.png", date=datetime(2024, 10, 1))])


def test_full_size_phone_and_tall_screenshot():
    im = g.render(g.Shot("f.png", scale=1.0, date=datetime(2024, 10, 1),
                         messages=[g.Message("hi")]))
    assert im.size == (1170, 2532)
    tall = g.tall_screenshot(height=6000)
    assert tall.size == (585, 6000)
    # blank rows between messages: many full-width rows of pure background
    gray = tall.convert("L")
    blank = sum(1 for y in range(400, 6000, 10)
                if gray.crop((0, y, 585, y + 1)).getextrema() == (255, 255))
    assert blank > 300
