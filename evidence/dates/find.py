"""Find the dates a screenshot shows: every date-like text on every OCR line.

Understood, in English, German, French, Spanish, Portuguese, Italian and Dutch (month
and weekday names and day words from Babel's CLDR data, see `names`): `Oct 28, 2024`,
`28 Oct 2024`, `October 28, 2024 at 3:15 PM`, `12. Dez. 2019`, `Mittwoch, 18. Dezember
2019`, `25 de junio de 2021`, `2024-10-28 17:40` (also glued `2024-10-2817:40`),
`28.10.2024`, `18.12.19`, `10/28/2024`, `24/10/02(Wed)`, `Tue, 08 Oct 2024 09:14:52
-0400` (clock as written, offset ignored), `Friday, October 18th`, `Oct 18`, `Yesterday
4:12 PM`, `Heute`, `Ayer`, `Monday`, `Mon 10:05 AM`; any case, spaces dropped
(`Oct28,2024`), OCR's `0` for `O` in a month (`0ct 02`), a numeric date split over
boxes (`02/` `/10/` `/2024`). Month names count only next to a day number; a bare clock
time is not a date. Years outside MIN_YEAR..MAX_YEAR and impossible dates are refused.

A numeric date whose order the text does not settle (`02/10/2024`) keeps every valid
reading (`readings`), in the usual order for its separator; `order.decide` picks one
from the evidence.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Sequence

from ..ocr.base import Box, OcrLine
from ..spans import sub_box
from .names import LANGUAGES, alternation, deaccent, tables

__all__ = ["DateHit", "find_dates", "MIN_YEAR", "MAX_YEAR", "ORDERS"]

MIN_YEAR = 1970
MAX_YEAR = 2099
ORDERS = ("DMY", "MDY", "YMD")
# The usual order of a numeric date for its separator: US `/`, day first for `.` and `-`.
_USUAL = {"/": ("MDY", "DMY", "YMD"), ".": ("DMY", "YMD", "MDY"), "-": ("DMY", "YMD", "MDY")}
_LOOKBACK_YEARS = 28  # weekdays repeat on the same month-day within 28 years


@dataclass(frozen=True)
class DateHit:
    """A date (or day reference) seen in the image, with whatever parts it states."""

    text: str
    box: Box | None
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None  # 0 = Monday; as written (not computed from the date)
    relative_days: int | None = None  # 0 today, -1 yesterday
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    line: int = field(default=-1, compare=False)  # index of its OCR line
    # A numeric date: its separator, the order read, and every valid (order, y, m, d).
    sep: str | None = field(default=None, compare=False)
    order: str | None = field(default=None, compare=False)
    readings: tuple = field(default=(), compare=False)
    order_reason: str | None = field(default=None, compare=False)

    @property
    def ambiguous(self) -> bool:
        """More than one date this numeric text can be, and nothing settled it."""
        return len({r[1:] for r in self.readings}) > 1 and self.order_reason is None

    def with_order(self, order: str, reason: str) -> "DateHit":
        for o, y, m, d in self.readings:
            if o == order:
                return replace(self, year=y, month=m, day=d, order=o, order_reason=reason)
        return self

    def _clock(self) -> tuple[int, int, int]:
        return (self.hour or 0, self.minute or 0, self.second or 0)

    def resolve(self, anchor: datetime | None) -> datetime | None:
        r = self.resolve_year(anchor)
        return r[0] if r else None

    def resolve_year(self, anchor: datetime | None) -> tuple[datetime, str] | None:
        """The datetime this hit stands for (time 00:00 when none was shown) and where
        its year came from: "shown", "weekday" or "anchor".

        A full date needs no anchor. A year-less date with a weekday takes the latest year
        (not after the anchor, else today) in which that day falls on that weekday. Without
        a weekday it takes the anchor's year, or the year before when that would land after
        the anchor's date (a screenshot cannot show a message from its future).
        `Today`/`Yesterday` count from the anchor's date; a bare weekday is the most recent
        such day on or before the anchor's date. None when an anchor is needed but
        missing, or the hit cannot be a real date.
        """
        h, mi, s = self._clock()
        if self.month is not None and self.day is not None:
            if self.year is not None:
                try:
                    return datetime(self.year, self.month, self.day, h, mi, s), "shown"
                except ValueError:
                    return None
            if self.weekday is not None:
                ref = (anchor or datetime.now()).date()
                for year in range(ref.year, ref.year - _LOOKBACK_YEARS, -1):
                    try:
                        d = date(year, self.month, self.day)
                    except ValueError:
                        continue
                    if d <= ref and d.weekday() == self.weekday:
                        return datetime(d.year, d.month, d.day, h, mi, s), "weekday"
            if anchor is None:
                return None
            ref = anchor.date()
            # Feb 29 needs a leap year: walk back until the date exists and is not later.
            for year in range(ref.year, ref.year - 9, -1):
                try:
                    d = date(year, self.month, self.day)
                except ValueError:
                    continue
                if d <= ref:
                    return datetime(d.year, d.month, d.day, h, mi, s), "anchor"
            return None
        if anchor is None:
            return None
        ref = anchor.date()
        if self.relative_days is not None:
            d = ref + timedelta(days=self.relative_days)
            return datetime(d.year, d.month, d.day, h, mi, s), "anchor"
        if self.weekday is not None:
            d = ref - timedelta(days=(ref.weekday() - self.weekday) % 7)
            return datetime(d.year, d.month, d.day, h, mi, s), "anchor"
        return None


# Regexes only locate candidate spans; every candidate is then validated with
# `datetime` (so Feb 30 and month 13 are refused). All quantifiers over whitespace are
# bounded ({0,3}) and no group repeats, so matching stays linear in the line length
# (no catastrophic backtracking on long OCR garbage). They run on a folded view of the
# line (lowercase, accents dropped, `0ct` read as `oct`) of the same length, so spans
# map back to the text as OCR read it.
_S = r"\s{0,3}"
_AMPM = r"(?:\s?(?P<ap>[ap])\.?\s?m(?![a-z])\.?)"
# A time that follows a date: `3:15 PM`, `09:14:52`, `10.42` (OCR's `.` for `:`), `3 PM`,
# `15:20 Uhr`.
_TIME = (rf"(?P<time>(?P<h>\d{{1,2}})(?:[:.](?P<mi>[0-5]\d)(?:[:.](?P<sec>[0-5]\d))?"
         rf"(?!\d){_AMPM}?|{_AMPM.replace('?P<ap>', '?P<ap2>')}))")
_SEP = rf"(?:{_S}(?:,|at(?![a-z])|um(?![a-z])|a las(?![a-z])|a(?![a-z])|@|·|•|-|–|\|)?{_S})"
_TAIL = rf"(?:{_SEP}{_TIME})?"
_DAY = r"(?P<day>\d{1,2})(?!\d)(?:\.|\s?(?:st|nd|rd|th|er|o|º)(?![a-z]))?"
_YEAR = r"(?P<year>\d{4}|'\d{2})(?![\d:])"
_FLAGS = re.IGNORECASE | re.ASCII
_PAT_CLOCK = re.compile(
    rf"(?<![\d:.])(?P<h>\d{{1,2}}):(?P<mi>[0-5]\d)(?::(?P<sec>[0-5]\d))?(?!\d){_AMPM}?",
    _FLAGS)
_CLOCK_ONLY = re.compile(
    rf"(?<![\d:.])\d{{1,2}}[:.][0-5]\d(?:[:.][0-5]\d)?(?!\d){_AMPM}?", _FLAGS)
_BULLETS = set("·•|")


@dataclass(frozen=True)
class _Patterns:
    month_first: re.Pattern
    day_first: re.Pattern
    iso: re.Pattern
    numeric: re.Pattern
    relative: re.Pattern
    weekday: re.Pattern
    months: dict
    weekdays: dict
    relative_days: dict
    en_weekdays: frozenset
    en_months: frozenset


@lru_cache(maxsize=16)
def _patterns(languages: tuple[str, ...]) -> _Patterns:
    t = tables(languages)
    mon = rf"(?P<mon>{alternation(t.months)})(?![a-z])\.?"
    wd_alt = alternation(t.weekdays, dotted=t.short_weekdays)
    wd = rf"(?P<wd>{wd_alt})(?![a-z])\.?"
    wd_prefix = rf"(?:{wd}{_S},?{_S})?"
    wd_suffix = rf"(?:{_S}\(?(?P<wd2>{wd_alt})\)?(?![a-z]))?"
    of = r"(?:(?:of|de|del)\s{1,3})?"
    year_tail = rf"(?:{_S},?{_S}{of}{_YEAR})?"
    rel = rf"(?P<rel>{alternation(t.relative)})"
    en = frozenset(tables(("en",)).weekdays)
    return _Patterns(
        month_first=re.compile(
            rf"(?<![a-z0-9]){wd_prefix}(?P<date>{mon}{_S}{_DAY}{year_tail}){_TAIL}", _FLAGS),
        day_first=re.compile(
            rf"(?<![a-z0-9.:/]){wd_prefix}(?P<date>{_DAY}{_S}{of}{mon}{year_tail}){_TAIL}",
            _FLAGS),
        iso=re.compile(
            rf"(?<![\d.:/-])(?P<date>(?P<year>\d{{4}})(?P<sep>[-/.])(?P<mon>\d{{1,2}})(?P=sep)"
            rf"(?P<day>\d{{1,2}}))(?:(?:T|{_S}(?:,|at)?{_S}){_TIME}|(?![\d]|[./-]\d))", _FLAGS),
        numeric=re.compile(
            rf"(?<![\d.:/-]){wd_prefix}(?P<date>(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})"
            rf"(?P=sep)(?P<year>\d{{4}}|\d{{2}}))(?!\d|[./-]\d){wd_suffix}{_TAIL}", _FLAGS),
        relative=re.compile(rf"(?<![a-z])(?P<date>{rel})(?![a-z]){_TAIL}", _FLAGS),
        weekday=re.compile(rf"(?<![a-z])(?P<date>{wd})(?!-[a-z]){_TAIL}", _FLAGS),
        months=t.months, weekdays=t.weekdays, relative_days=t.relative, en_weekdays=en,
        en_months=frozenset(tables(("en",)).months))


def _token(s: str) -> str:
    return re.sub(r"\s+", " ", s.lower().rstrip(".")).replace("\u2019", "'")


_O_FOR_0 = re.compile(r"(?<![0-9])0(?=[a-z]{2})")  # `0ct` -> `oct`
_DIGIT_LIKE = re.compile(r"(?<=\d)[oil|](?=\d)")  # `2o24`, `2l` -> digits


def _view(text: str) -> str:
    """The line as the patterns read it: same length, folded (see above)."""
    v = deaccent(text).replace("\u2019", "'")
    v = _O_FOR_0.sub("o", v)
    return _DIGIT_LIKE.sub(lambda m: "0" if m.group() == "o" else "1", v)


def _clock_parts(m: re.Match) -> tuple[int, int, int, int] | None:
    """(hour, minute, second, end) from a match with h/mi/sec/ap groups; None if invalid."""
    gd = m.groupdict()
    h = int(gd["h"])
    mi = int(gd["mi"]) if gd.get("mi") else 0
    sec = int(gd["sec"]) if gd.get("sec") else 0
    ap = gd.get("ap") or gd.get("ap2")
    if ap:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ap.lower() == "p" else 0)
    elif h > 23:
        return None
    return h, mi, sec, (m.end("time") if "time" in gd else m.end())


def _valid_ymd(y: int | None, mo: int, d: int) -> bool:
    if y is not None and not MIN_YEAR <= y <= MAX_YEAR:
        return False
    try:
        date(2000 if y is None else y, mo, d)  # 2000 is a leap year: Feb 29 stays possible
    except ValueError:
        return False
    return True


@dataclass
class _Cand:
    start: int
    end: int
    rank: int  # lower wins among equal-length overlapping candidates
    parts: dict = field(default_factory=dict)


def _year(ys: str) -> int:
    """A shown year: 4 digits as is; 2 digits (`'19`, `19`) in 1970..2069."""
    y = int(ys.lstrip("'"))
    if len(ys.lstrip("'")) == 2:
        y += 1900 if y >= 70 else 2000
    return y


def _numeric_readings(a: int, b: int, ys: str, sep: str) -> list[tuple]:
    """Every valid (order, y, m, d) of `a sep b sep ys`, the usual order first."""
    out = []
    for order in _USUAL[sep]:
        if order == "YMD":
            if len(ys) != 2:
                continue  # a 4-digit year comes last here: not year first
            y, mo, d = _year(f"{a:02d}"), b, int(ys)
        else:
            y = _year(ys)
            mo, d = (a, b) if order == "MDY" else (b, a)
        if _valid_ymd(y, mo, d):
            out.append((order, y, mo, d))
    return out


def _candidates(text: str, pats: _Patterns) -> list[_Cand]:
    view = _view(text)
    out: list[_Cand] = []

    def add(m: re.Match, rank: int, parts: dict) -> None:
        gd = m.groupdict()
        wd = gd.get("wd") or gd.get("wd2")
        if wd:
            parts.setdefault("weekday", pats.weekdays.get(_token(wd)))
        end = m.end("date")
        if gd.get("wd2"):
            end = m.end("wd2") + (1 if view[m.end("wd2"):m.end("wd2") + 1] == ")" else 0)
        if gd.get("time") is not None:
            clock = _clock_parts(m)
            if clock is not None:
                parts["hour"], parts["minute"], parts["second"], end = clock
                if m.group("mi") is None:
                    parts["second"] = None
                    parts["minute"] = 0
                elif m.group("sec") is None:
                    parts["second"] = None
        out.append(_Cand(m.start(), end, rank, parts))

    for rank, pat in ((0, pats.month_first), (1, pats.day_first)):
        for m in pat.finditer(view):
            y = _year(m.group("year")) if m.group("year") else None
            tok = _token(m.group("mon"))
            mo, d = pats.months.get(tok), int(m.group("day"))
            if mo and _valid_ymd(y, mo, d):
                # A short foreign month (`set`, `out`, `mar`, `ago`) is also a word: with
                # no year, weekday or dot it counts only as a date label on its own.
                label = (y is None and not m.group("wd") and len(tok) <= 3
                         and tok not in pats.en_months and not m.group("mon").endswith("."))
                add(m, rank, {"year": y, "month": mo, "day": d, "_label": label})
    for m in pats.iso.finditer(view):
        y, mo, d = int(m.group("year")), int(m.group("mon")), int(m.group("day"))
        if _valid_ymd(y, mo, d):
            add(m, 2, {"year": y, "month": mo, "day": d, "sep": m.group("sep"),
                       "order": "YMD"})
    for m in pats.numeric.finditer(view):
        a, b, ys, sep = int(m.group("a")), int(m.group("b")), m.group("year"), m.group("sep")
        if len(ys) == 2 and sep != "/" and not (len(m.group("a")) == len(m.group("b")) == 2):
            continue  # `1.10.24` is as likely a version number as a date
        readings = _numeric_readings(a, b, ys, sep)
        wd = m.group("wd") or m.group("wd2")
        wdn = pats.weekdays.get(_token(wd)) if wd else None
        if wdn is not None:  # the weekday shown settles the order where it agrees
            agree = [r for r in readings if date(*r[1:]).weekday() == wdn]
            readings = agree or readings
        if readings:
            o, y, mo, d = readings[0]
            add(m, 3, {"year": y, "month": mo, "day": d, "sep": sep, "order": o,
                       "readings": tuple(readings),
                       "order_reason": "the weekday shown" if wdn is not None and len(
                           {r[1:] for r in readings}) == 1 and len(
                           _numeric_readings(a, b, ys, sep)) > 1 else None})
    for m in pats.relative.finditer(view):
        add(m, 4, {"relative_days": pats.relative_days.get(_token(m.group("rel")), 0)})
    for m in pats.weekday.finditer(view):
        tok = _token(m.group("wd"))
        # A foreign abbreviation (`Sam`, `Dom`, `Sex`) is also a word or a name: as a
        # date label on its own it needs its dot or a time; full names and English are fine.
        if (tok in pats.en_weekdays or len(tok) >= 5 or m.group("time") is not None
                or view[m.end("wd") - 1:m.end("wd")] == "."):
            add(m, 5, {})
    return out


class _LineIndex:
    """Per-line prefix counts, so each candidate's context check is O(1) (no rescans)."""

    def __init__(self, text: str):
        self.text = text
        blank = _CLOCK_ONLY.sub(lambda m: " " * len(m.group()), text)
        self.words = self._prefix(text)  # word characters in text[:i]
        self.words_no_clock = self._prefix(blank)

    @staticmethod
    def _prefix(t: str) -> list[int]:
        acc, out = 0, [0]
        for ch in t:
            acc += ch.isalnum() or ch == "_"
            out.append(acc)
        return out

    def any_word(self, start: int, end: int, *, skip_clocks: bool = False) -> bool:
        w = self.words_no_clock if skip_clocks else self.words
        return w[end] - w[start] > 0

    def char_before(self, i: int) -> str:
        while i > 0 and self.text[i - 1].isspace():
            i -= 1
        return self.text[i - 1] if i > 0 else ""

    def char_after(self, i: int) -> str:
        n = len(self.text)
        while i < n and self.text[i].isspace():
            i += 1
        return self.text[i] if i < n else ""


def _standalone(ix: _LineIndex, c: _Cand) -> bool:
    """A weekday or Today/Yesterday counts only where an app shows it as a date label.

    That is: with a time (`Mon 10:05 AM`, `Yesterday at 16:12`), alone on its line (the
    day chip in WhatsApp/iMessage; clock times beside it allowed), or set off by a bullet
    (`Jane · Yesterday`). In running text ("see you Monday", "Sunday-school", "Today's
    deal") it is not a date.
    """
    if c.parts.get("hour") is not None:
        return True
    n = len(ix.text)
    if not (ix.any_word(0, c.start, skip_clocks=True) or
            ix.any_word(c.end, n, skip_clocks=True)):
        return True
    left_ok = not ix.any_word(0, c.start) or ix.char_before(c.start) in _BULLETS
    right_ok = not ix.any_word(c.end, n) or ix.char_after(c.end) in _BULLETS
    return left_ok and right_ok


def _dates_in_line(line: OcrLine, pats: _Patterns, line_no: int) -> list[DateHit]:
    text = line.text
    ix = _LineIndex(text)
    cands = [c for c in _candidates(text, pats)
             if (c.rank < 4 and not c.parts.pop("_label", False)) or _standalone(ix, c)]
    # Longest reading first: `Tue, 08 Oct 2024` beats the weekday `Tue` inside it.
    cands.sort(key=lambda c: (-(c.end - c.start), c.rank, c.start))
    taken = bytearray(len(text) + 1)
    chosen: list[_Cand] = []
    for c in cands:
        if not any(taken[c.start:c.end]):
            taken[c.start:c.end] = b"\x01" * (c.end - c.start)
            chosen.append(c)
    chosen.sort(key=lambda c: c.start)

    # A date shown without a time borrows the nearest clock time on its line.
    clocks = []
    for m in _PAT_CLOCK.finditer(text):
        if any(taken[m.start():m.end()]):
            continue
        parts = _clock_parts(m)
        if parts is not None:
            clocks.append((m.start(), m.end(), parts, m.group("sec") is not None))
    starts = [k[0] for k in clocks]
    hits = []
    for c in chosen:
        p = dict(c.parts)
        if p.get("hour") is None and clocks:
            i = bisect.bisect_left(starts, c.end)
            near = [k for k in (clocks[i - 1] if i > 0 else None,
                                clocks[i] if i < len(clocks) else None) if k is not None]
            s, e, (h, mi, sec, _), has_sec = min(
                near, key=lambda k: k[0] - c.end if k[0] >= c.end else c.start - k[1])
            p["hour"], p["minute"], p["second"] = h, mi, sec if has_sec else None
        hits.append(DateHit(text=text[c.start:c.end],
                            box=sub_box(line.box, len(text), c.start, c.end), line=line_no, **p))
    return hits


def _rows(lines: Sequence[OcrLine]) -> list[tuple[int, OcrLine]]:
    """The lines, with a numeric date OCR split into boxes (`02/` `/10/` `/2024`) joined:
    neighbours on one row, close together, where one ends or the next starts with `/ . -`."""
    out: list[tuple[int, OcrLine]] = []
    for i, ln in enumerate(lines):
        if out:
            j, prev = out[-1]
            h = max(prev.box.height, ln.box.height, 1.0)
            overlap = min(prev.box.y1, ln.box.y1) - max(prev.box.y0, ln.box.y0)
            gap = ln.box.x0 - prev.box.x1
            if (overlap > 0.5 * h and -0.2 * h <= gap <= 1.5 * h
                    and (prev.text[-1:] in "/.-" or ln.text[:1] in "/.-")
                    and prev.text[-1:].isdigit() + ln.text[:1].isdigit() < 2):
                tail = ln.text[1:] if prev.text[-1:] in "/.-" and ln.text[:1] in "/.-" else ln.text
                out[-1] = (j, OcrLine(prev.text + tail, prev.box.union(ln.box),
                                      min(prev.confidence, ln.confidence)))
                continue
        out.append((i, ln))
    return out


def find_dates(lines: Sequence[OcrLine], languages: Sequence[str] | None = None
               ) -> list[DateHit]:
    """Every message date visible in the lines, top to bottom, left to right (see the
    module's docstring for what is understood). `languages` (CLDR codes) narrows the
    month, weekday and day names read; default: all of LANGUAGES."""
    langs = tuple(dict.fromkeys(languages)) if languages else LANGUAGES
    pats = _patterns(langs)
    hits: list[DateHit] = []
    for i, line in _rows(lines):
        hits.extend(_dates_in_line(line, pats, i))
    return hits
