"""When was each screenshot's conversation happening? One timestamp per screenshot.

The evidence PDF shows screenshots in chronological order. The best witness is a date
the conversation itself shows (read by OCR, see `fields.find_dates`); failing that, the
capture time from the file name (phones and desktops write it there), the EXIF capture
time, and last the file's modification time. A date the user gives by hand beats all.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

from .errors import InputError
from .dates.filed import NEAREST_TIERS, Ranked
from .fields import DateHit

__all__ = ["When", "SOURCES", "capture_time_from_filename", "capture_time_from_exif",
           "resolve_when", "sort_key"]

SOURCES = ("image", "filename", "exif", "mtime", "manual")
_MIN_YEAR, _MAX_YEAR = 1990, 2099  # digital screenshots; outside this a match is noise


@dataclass(frozen=True)
class When:
    value: datetime  # naive, local wall-clock time
    source: str  # image | filename | exif | mtime | manual
    text: str | None = None  # the date text used, if from the image
    # Why that date: where it sits (`a Date header`, `on the client's row`, ...) and where
    # a year the image did not show came from. Not part of equality.
    reason: str | None = field(default=None, compare=False)
    ambiguous: bool = field(default=False, compare=False)  # a numeric order nothing settled


# --------------------------------------------------------------------------- file names

_SP = r"[\s\u202f\u00a0_]"  # macOS puts a narrow no-break space before AM/PM
_FILENAME_PATTERNS = [
    # macOS / WhatsApp: "Screenshot 2024-10-30 at 09.02.11", "... at 9.02.11 AM",
    # "Screen Shot 2020-01-05 at 3.12.44 PM", "WhatsApp Image 2024-10-25 at 10.15.00"
    re.compile(rf"(?<!\d)(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}}){_SP}+at{_SP}+"
               rf"(?P<h>\d{{1,2}})[.:](?P<mi>\d{{2}})[.:](?P<s>\d{{2}})"
               rf"(?:{_SP}*(?P<ap>[AaPp])\.?[Mm]\.?)?(?!\d)"),
    # Android: "Screenshot_2024-10-25-10-15-00-123_com.whatsapp"
    re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-(?P<mi>\d{2})"
               r"-(?P<s>\d{2})(?!\d)"),
    # "2024-10-25 10_15_00", "2024-10-25 10.15.00", "2024-10-25_10-15-00",
    # "2024-10-25T10:15:00", Windows "Screenshot 2024-10-25 101500"
    re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[\sT_]"
               r"(?P<h>\d{2})[_.:-]?(?P<mi>\d{2})[_.:-]?(?P<s>\d{2})(?!\d)"),
    # Compact: "Screenshot_20241025-101500", "IMG_20241025_101500", "PXL_20241025_101500123"
    re.compile(r"(?<!\d)(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})[-_](?P<h>\d{2})(?P<mi>\d{2})"
               r"(?P<s>\d{2})(?:\d{1,3})?(?!\d)"),
]


def _valid(y: int, mo: int, d: int, h: int, mi: int, s: int) -> datetime | None:
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return None
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None


def capture_time_from_filename(name: str) -> datetime | None:
    """The capture time a phone or desktop wrote into the file name, or None.

    Only names with both a date and a time of day count; an impossible date or time
    (month 13, 25 o'clock) gives None rather than a guess.
    """
    base = Path(str(name)).name
    for pat in _FILENAME_PATTERNS:
        for m in pat.finditer(base):
            h = int(m["h"])
            ap = m.groupdict().get("ap")
            if ap:
                if not 1 <= h <= 12:
                    continue
                h = h % 12 + (12 if ap.lower() == "p" else 0)
            dt = _valid(int(m["y"]), int(m["mo"]), int(m["d"]), h, int(m["mi"]), int(m["s"]))
            if dt is not None:
                return dt
    return None


# --------------------------------------------------------------------------- EXIF

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132
_EXIF_DT = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def _parse_exif_datetime(v) -> datetime | None:
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    if not isinstance(v, str):
        return None
    m = _EXIF_DT.match(v.strip("\x00 "))
    if not m:
        return None
    return _valid(*(int(g) for g in m.groups()))


def capture_time_from_exif(image_path) -> datetime | None:
    """EXIF DateTimeOriginal (0x9003 in the Exif IFD), else DateTime (0x0132), else None.

    Never raises: a missing, unreadable or damaged file or EXIF block gives None.
    Only the header is read, never the pixels.
    """
    try:
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(image_path, formats=("PNG", "JPEG", "WEBP")) as im:  # never EPS
                exif = im.getexif()
                try:
                    original = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
                except Exception:
                    original = None
                for v in (original, exif.get(_DATETIME)):
                    dt = _parse_exif_datetime(v)
                    if dt is not None:
                        return dt
    except Exception:
        return None
    return None


# --------------------------------------------------------------------------- resolving

def _naive(dt: datetime | date | None) -> datetime | None:
    if dt is None:
        return None
    if not isinstance(dt, datetime):
        return datetime.combine(dt, time())
    if dt.tzinfo is not None:
        return dt.astimezone().replace(tzinfo=None)  # to local wall-clock time
    return dt


def _year_from_screenshot(hit: DateHit, hits: list[DateHit]) -> tuple[datetime, str] | None:
    """A year-less date takes the year of a full date with the same month and day shown
    on the same screenshot (a list row's `Nov 6` beside its open `November 6, 2018`)."""
    if hit.year is not None or hit.month is None:
        return None
    for h in hits:
        if h.year is not None and (h.month, h.day) == (hit.month, hit.day):
            got = replace(hit, year=h.year).resolve_year(None)
            if got is not None:
                return got[0], f"{h.text!r} on this screenshot"
    return None


_YEAR_FROM = {"weekday": "year from the weekday shown", "filename": "year from the file name",
              "exif": "year from EXIF", "mtime": "year from the file's modified time"}


def resolve_when(hits: list[DateHit], *, filename_time: datetime | None,
                 exif_time: datetime | None, mtime: datetime | None,
                 manual: date | datetime | None, kind: str,
                 ranked: list[Ranked] | None = None) -> When:
    """Pick the one timestamp a screenshot is sorted by.

    1. `manual` (a date the user set) wins, as source "manual".
    2. kind == "site" (a web page, not a conversation: its dates are prices, order dates,
       copyright lines): the capture time, from the file name, EXIF or mtime.
    3. Otherwise the client's message date the image shows, source "image": `ranked`
       (from `dates.filed.rank_dates`) orders the dates by where they sit; the best tier
       with a resolvable date wins, within it the earliest (the nearest for separators
       and other dates). Without a ranking every date is one tier: the earliest wins.
       Today/Yesterday and bare weekdays are resolved against the capture time (file
       name, else EXIF), never mtime (copying files resets it); a date without a year
       takes it from its weekday, else the capture time, else mtime, and `reason` says so.
    4. No usable date in the image: file name, EXIF, mtime, in that order.

    Raises InputError when there is nothing at all to go by.
    """
    if manual is not None:
        return When(_naive(manual), "manual", None, "set in case.toml")
    filename_time, exif_time, mtime = _naive(filename_time), _naive(exif_time), _naive(mtime)
    capture = [(filename_time, "filename"), (exif_time, "exif"), (mtime, "mtime")]
    if kind != "site":
        if ranked is None:
            ranked = [Ranked(0, None, h, 0.0) for h in hits]
        anchor_src = "filename" if filename_time else ("exif" if exif_time else None)
        anchor = filename_time or exif_time
        best: tuple[datetime, Ranked, str] | None = None
        for r in ranked:
            if best is not None and r.tier != best[1].tier:
                break
            got, src = _year_from_screenshot(r.hit, hits), "screenshot"
            if got is None:
                got, src = r.hit.resolve_year(anchor), anchor_src
            if got is None and mtime is not None and r.hit.relative_days is None and (
                    r.hit.month is not None):
                got, src = r.hit.resolve_year(mtime), "mtime"
            if got is None:
                continue
            v, year = got
            if best is None or (r.tier not in NEAREST_TIERS and v < best[0]):
                best = (v, r, year if year != "anchor" else src)
        if best is not None:
            v, r, year = best
            year_from = _YEAR_FROM.get(year) or f"year from {year}"
            parts = [p for p in (r.reason, year_from if r.hit.year is None
                                 and r.hit.month is not None else None,
                                 r.hit.order_reason and f"{r.hit.order} order: "
                                 f"{r.hit.order_reason}") if p]
            return When(v, "image", r.hit.text, "; ".join(parts) or None, r.hit.ambiguous)
    for value, source in capture:
        if value is not None:
            return When(value, source, None)
    raise InputError("no date to sort by: none in the image, the file name, EXIF or the "
                     "file's mtime; set one by hand")


_NUM_SPLIT = re.compile(r"([0-9]+)")


def _natural(s: str) -> tuple:
    """`img2` before `img10`; case-insensitive."""
    # ASCII digits only: str.isdigit() is also true for "¹", which int() refuses
    return tuple((0, int(p), "") if p.isascii() and p.isdigit() else (1, 0, p.casefold())
                 for p in _NUM_SPLIT.split(s) if p)


def sort_key(when: When, file: str) -> tuple:
    """Chronological order: by day, then time of day, then file name (natural order).

    Screenshots with equal timestamps (a burst, or several dated only `Oct 28` at 00:00)
    keep the order their file names give, which is the order they were taken in.
    """
    v = _naive(when.value)
    t = v.time()
    return (v.date().toordinal(), t.hour * 3600 + t.minute * 60 + t.second, t.microsecond,
            _natural(str(file)), str(file))
