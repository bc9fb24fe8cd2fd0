"""Resolving each screenshot's timestamp: image dates, file names, EXIF, mtime, manual."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from evidence.errors import InputError
from evidence.fields import DateHit, find_dates
from evidence.ocr.base import Box, OcrLine
from evidence.when import (When, capture_time_from_exif, capture_time_from_filename,
                           resolve_when, sort_key)

# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize("name, expected", [
    ("Screenshot 2024-10-30 at 09.02.11.png", datetime(2024, 10, 30, 9, 2, 11)),
    ("Screenshot 2024-10-30 at 9.02.11 AM.png", datetime(2024, 10, 30, 9, 2, 11)),
    ("Screenshot 2024-10-30 at 9.02.11\u202fPM.png", datetime(2024, 10, 30, 21, 2, 11)),
    ("Screenshot 2024-10-30 at 12.02.11 AM.png", datetime(2024, 10, 30, 0, 2, 11)),
    ("Screenshot 2024-10-30 at 12.02.11 PM.png", datetime(2024, 10, 30, 12, 2, 11)),
    ("Screen Shot 2020-01-05 at 3.12.44 PM.png", datetime(2020, 1, 5, 15, 12, 44)),
    ("Screenshot 2024-10-30 at 09.02.11 (2).png", datetime(2024, 10, 30, 9, 2, 11)),
    ("Screenshot_20241025-101500.png", datetime(2024, 10, 25, 10, 15, 0)),
    ("Screenshot_2024-10-25-10-15-00-123_com.whatsapp.jpg", datetime(2024, 10, 25, 10, 15, 0)),
    ("IMG_20241025_101500.jpg", datetime(2024, 10, 25, 10, 15, 0)),
    ("PXL_20241025_101500123.jpg", datetime(2024, 10, 25, 10, 15, 0)),
    ("WhatsApp Image 2024-10-25 at 10.15.00.jpeg", datetime(2024, 10, 25, 10, 15, 0)),
    ("2024-10-25 10_15_00.png", datetime(2024, 10, 25, 10, 15, 0)),
    ("Screenshot 2024-10-25 101500.png", datetime(2024, 10, 25, 10, 15, 0)),
    ("/some/dir/IMG_20241025_101500.jpg", datetime(2024, 10, 25, 10, 15, 0)),
    # not capture times
    ("IMG_4471.png", None),
    ("Screenshot 2024-13-30 at 09.02.11.png", None),      # month 13
    ("Screenshot 2024-02-30 at 09.02.11.png", None),      # Feb 30
    ("Screenshot 2024-10-30 at 25.02.11.png", None),      # 25 o'clock
    ("Screenshot 2024-10-30 at 13.02.11 PM.png", None),   # 13 PM
    ("IMG_20241325_101500.jpg", None),
    ("PXL_20241025_106000000.jpg", None),                 # minute 60
    ("chat.png", None),
    ("", None),
    ("20241025.png", None),                               # a date without a time
    ("order 1234567890123456.png", None),
])
def test_capture_time_from_filename(name, expected):
    assert capture_time_from_filename(name) == expected


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_filename_round_trip(dt):
    dt = dt.replace(microsecond=0)
    h12 = f"{(dt.hour % 12) or 12}.{dt.minute:02d}.{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}"
    names = [
        f"Screenshot {dt:%Y-%m-%d} at {dt:%H.%M.%S}.png",
        f"Screenshot {dt:%Y-%m-%d} at {h12}.png",
        f"Screenshot_{dt:%Y%m%d-%H%M%S}.png",
        f"Screenshot_{dt:%Y-%m-%d-%H-%M-%S}-123_com.whatsapp.jpg",
        f"IMG_{dt:%Y%m%d_%H%M%S}.jpg",
        f"PXL_{dt:%Y%m%d_%H%M%S}123.jpg",
        f"WhatsApp Image {dt:%Y-%m-%d} at {dt:%H.%M.%S}.jpeg",
        f"{dt:%Y-%m-%d %H_%M_%S}.png",
    ]
    for n in names:
        assert capture_time_from_filename(n) == dt, n


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_filename_never_raises(name):
    got = capture_time_from_filename(name)
    assert got is None or isinstance(got, datetime)


# --------------------------------------------------------------------------- EXIF

def _save(path: Path, original: str | None = None, plain: str | None = None, fmt=None) -> Path:
    exif = Image.Exif()
    if plain is not None:
        exif[0x0132] = plain
    if original is not None:
        exif.get_ifd(0x8769)[0x9003] = original
    Image.new("RGB", (8, 8), "white").save(path, format=fmt, exif=exif)
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_prefers_datetime_original(tmp_path, suffix):
    p = _save(tmp_path / f"a{suffix}", original="2024:10:24 09:00:01", plain="2024:10:25 10:15:00")
    assert capture_time_from_exif(p) == datetime(2024, 10, 24, 9, 0, 1)


def test_exif_falls_back_to_datetime(tmp_path):
    p = _save(tmp_path / "a.jpg", plain="2024:10:25 10:15:00")
    assert capture_time_from_exif(p) == datetime(2024, 10, 25, 10, 15, 0)
    p2 = _save(tmp_path / "b.jpg", original="    :  :     :  :  ", plain="2024:10:25 10:15:00")
    assert capture_time_from_exif(p2) == datetime(2024, 10, 25, 10, 15, 0)


@pytest.mark.parametrize("value", ["    :  :     :  :  ", "0000:00:00 00:00:00", "2024:13:01 00:00:00",
                                   "garbage", "2024:10:25"])
def test_exif_bad_values_give_none(tmp_path, value):
    p = _save(tmp_path / "a.jpg", original=value, plain=value)
    assert capture_time_from_exif(p) is None


def test_exif_none_without_exif(tmp_path):
    p = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(p)
    assert capture_time_from_exif(p) is None


def test_exif_never_raises_on_bad_files(tmp_path):
    assert capture_time_from_exif(tmp_path / "missing.jpg") is None
    assert capture_time_from_exif(tmp_path) is None  # a directory
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert capture_time_from_exif(text) is None
    good = _save(tmp_path / "good.jpg", original="2024:10:24 09:00:01").read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good[:40])
    assert capture_time_from_exif(truncated) is None
    # A damaged Exif block: the IFD offset points far past the end of the segment.
    i = good.find(b"Exif\x00\x00")
    assert i > 0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good[:i + 6] + good[i + 6:i + 10] + b"\xff\xff\xff\x7f" + good[i + 14:])
    assert capture_time_from_exif(broken) is None


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_exif_never_raises_on_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("x") / "r.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe1" + data)
    got = capture_time_from_exif(p)
    assert got is None or isinstance(got, datetime)


# --------------------------------------------------------------------------- resolve_when

FILE_T = datetime(2024, 10, 30, 9, 2, 11)
EXIF_T = datetime(2024, 10, 29, 8, 0, 0)
MTIME = datetime(2024, 11, 5, 12, 0, 0)


def hit(text: str) -> DateHit:
    hits = find_dates([OcrLine(text, Box(0, 0, 100, 20), 1.0)])
    assert len(hits) == 1
    return hits[0]


def resolve(hits, *, filename_time=FILE_T, exif_time=EXIF_T, mtime=MTIME, manual=None,
            kind="conversation"):
    return resolve_when(hits, filename_time=filename_time, exif_time=exif_time, mtime=mtime,
                        manual=manual, kind=kind)


def test_manual_wins_over_everything():
    w = resolve([hit("Oct 28, 2024")], manual=date(2024, 9, 1))
    assert w == When(datetime(2024, 9, 1), "manual", None)
    w = resolve([hit("Oct 28, 2024")], manual=datetime(2024, 9, 1, 14, 30), kind="site")
    assert w == When(datetime(2024, 9, 1, 14, 30), "manual", None)


def test_image_date_wins_over_capture_time():
    w = resolve([hit("Oct 28, 2024 at 3:15 PM")])
    assert w == When(datetime(2024, 10, 28, 15, 15), "image", "Oct 28, 2024 at 3:15 PM")


def test_earliest_image_date_is_used():
    hits = [hit("Oct 28, 2024"), hit("Oct 27, 2024 11:00"), hit("Yesterday 4:12 PM")]
    w = resolve(hits)
    assert w.value == datetime(2024, 10, 27, 11, 0) and w.source == "image"
    assert w.text == "Oct 27, 2024 11:00"


def test_relative_hits_use_filename_time_as_anchor():
    w = resolve([hit("Yesterday 4:12 PM")])
    assert w == When(datetime(2024, 10, 29, 16, 12), "image", "Yesterday 4:12 PM")


def test_relative_hits_fall_back_to_exif_anchor():
    w = resolve([hit("Today 9:30")], filename_time=None)
    assert w == When(datetime(2024, 10, 29, 9, 30), "image", "Today 9:30")


def test_year_less_hit_resolved_against_anchor():
    assert resolve([hit("Oct 18")]).value == datetime(2024, 10, 18)
    assert resolve([hit("Dec 24")]).value == datetime(2023, 12, 24)  # later in year: last year


def test_weekday_hit_resolved_against_anchor():
    # FILE_T is Wednesday 2024-10-30: "Mon" is the 28th.
    assert resolve([hit("Mon 10:05 AM")]).value == datetime(2024, 10, 28, 10, 5)


def test_no_anchor_skips_relative_hits():
    hits = [hit("Yesterday 4:12 PM"), hit("Monday")]
    w = resolve(hits, filename_time=None, exif_time=None)
    assert w == When(MTIME, "mtime", None)  # copying resets mtime: no anchor for "Yesterday"


def test_year_less_date_takes_its_year_from_mtime_last():
    w = resolve([hit("Oct 18")], filename_time=None, exif_time=None)
    assert w == When(datetime(MTIME.year, 10, 18), "image", "Oct 18")
    assert w.reason.endswith("year from the file's modified time")
    w = resolve([hit("Oct 18")], filename_time=None)
    assert w.reason.endswith("year from EXIF")


def test_year_less_date_takes_its_year_from_the_weekday():
    w = resolve([hit("Friday, June 25")], filename_time=None, exif_time=None)
    assert w.value == datetime(2021, 6, 25) and "year from the weekday" in w.reason
    w = resolve([hit("Monday, February 17")])  # FILE_T 2024-10-30: last such Monday is 2020
    assert w.value == datetime(2020, 2, 17)


def test_year_less_date_takes_the_year_of_the_same_day_shown_in_full():
    hits = [hit("Nov 6"), hit("November 6, 2018 3:39 AM")]
    w = resolve(hits)
    assert w.value.date() == date(2018, 11, 6)


def test_no_anchor_still_uses_full_dates():
    hits = [hit("Yesterday 4:12 PM"), hit("Oct 28, 2024")]
    w = resolve(hits, filename_time=None, exif_time=None)
    assert w == When(datetime(2024, 10, 28), "image", "Oct 28, 2024")


def test_no_image_date_falls_back_in_order():
    assert resolve([]) == When(FILE_T, "filename", None)
    assert resolve([], filename_time=None) == When(EXIF_T, "exif", None)
    assert resolve([], filename_time=None, exif_time=None) == When(MTIME, "mtime", None)


def test_nothing_at_all_raises():
    with pytest.raises(InputError):
        resolve([], filename_time=None, exif_time=None, mtime=None)


@pytest.mark.parametrize("filename_time, exif_time, mtime, expected", [
    (FILE_T, EXIF_T, MTIME, When(FILE_T, "filename", None)),
    (None, EXIF_T, MTIME, When(EXIF_T, "exif", None)),
    (None, None, MTIME, When(MTIME, "mtime", None)),
])
def test_site_uses_capture_time_not_image_dates(filename_time, exif_time, mtime, expected):
    w = resolve([hit("Oct 28, 2024")], filename_time=filename_time, exif_time=exif_time,
                mtime=mtime, kind="site")
    assert w == expected


def test_aware_datetimes_become_naive():
    aware = datetime(2024, 10, 30, 9, 0, tzinfo=timezone.utc)
    w = resolve([], filename_time=None, exif_time=None, mtime=aware)
    assert w.value.tzinfo is None
    assert w.value == aware.astimezone().replace(tzinfo=None)
    # and can be sorted against naive ones
    sorted([sort_key(w, "a"), sort_key(When(FILE_T, "filename"), "b")])


@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
                min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_earliest_of_full_dates_property(dts):
    hits = [DateHit(f"{d}", None, d.year, d.month, d.day, hour=d.hour, minute=d.minute,
                    second=d.second) for d in dts]
    w = resolve(hits)
    assert w.source == "image"
    assert w.value == min(d.replace(microsecond=0) for d in dts)


# --------------------------------------------------------------------------- ordering

def test_sort_key_orders_by_timestamp_then_file():
    items = [
        (When(datetime(2024, 10, 28, 15, 0), "image", "x"), "b.png"),
        (When(datetime(2024, 10, 28, 9, 0), "image", "x"), "z.png"),
        (When(datetime(2024, 10, 27, 23, 59), "filename"), "a.png"),
        (When(datetime(2024, 10, 28, 15, 0), "mtime"), "a.png"),
        (When(datetime(2024, 10, 28, 15, 0), "image", "x"), "IMG_10.png"),
        (When(datetime(2024, 10, 28, 15, 0), "image", "x"), "IMG_9.png"),
    ]
    got = [f for w, f in sorted(items, key=lambda it: sort_key(*it))]
    assert got == ["a.png", "z.png", "a.png", "b.png", "IMG_9.png", "IMG_10.png"]


def test_sort_key_ties_broken_by_time_of_day():
    a = sort_key(When(datetime(2024, 10, 28, 0, 0), "image", "Oct 28"), "z.png")
    b = sort_key(When(datetime(2024, 10, 28, 0, 0, 1), "image", "x"), "a.png")
    assert a < b


@given(st.lists(st.tuples(st.datetimes(min_value=datetime(2000, 1, 1)),
                          st.text(min_size=1, max_size=20)), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_sort_key_is_chronological_and_total(items):
    keyed = sorted(items, key=lambda it: sort_key(When(it[0], "image"), it[1]))
    values = [d for d, _ in keyed]
    assert values == sorted(values)
    # the key is a total order: sorting is independent of input order
    again = sorted(reversed(items), key=lambda it: sort_key(When(it[0], "image"), it[1]))
    assert [(d, f) for d, f in again] == keyed
