"""Field checks over OCR lines: is the client's name, email and a message date visible?

Pure functions over `OcrLine`s (no I/O, no engine). Each check is tolerant of the errors
OCR really makes on screenshots (case, accents, a dropped space or dot, one misread
glyph) but strict enough that a *different* person's name or address does not pass:
a false pass puts the wrong conversation into a chargeback file, a false fail only
flags a screenshot for a human to look at.

Boxes of matches are sub-spans of the OCR line box, estimated proportionally by
character position (OCR engines give one box per line, not per character).
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import Hamming, Levenshtein

from .ocr.base import Box, OcrLine

__all__ = [
    "FieldMatch", "DateHit", "FieldReport",
    "match_name", "match_email", "find_dates", "check_fields",
    "NAME_MAX_EDITS", "NAME_MIN_LEN_FOR_EDIT", "EMAIL_MAX_SUBSTITUTIONS",
    "EMAIL_MIN_LEN_FOR_SUBSTITUTION", "MIN_YEAR", "MAX_YEAR",
]


@dataclass(frozen=True)
class FieldMatch:
    found: bool
    text: str | None  # the OCR text that matched (None when not found)
    score: float  # 0-100; for a miss, the best near-miss seen (diagnostic only)
    box: Box | None  # image pixels; a proportional sub-span of the OCR line box


_MISS = FieldMatch(False, None, 0.0, None)


# --------------------------------------------------------------------------- folding

# Glyphs OCR confuses on screen fonts. Folded identically on both sides, so folding can
# only merge look-alikes; it never makes two different strings of the same letters differ.
_CONFUSABLES = {"0": "o", "1": "l", "i": "l", "|": "l", "!": "l"}


def _fold(text: str) -> list[tuple[str, int]]:
    """Lowercase, accent-free, confusable-folded characters, each with its index in `text`.

    Non-alphanumeric characters are kept (as themselves) so callers can see word and
    address boundaries.
    """
    out: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(c):
                continue
            for c2 in c.casefold():
                out.append((_CONFUSABLES.get(c2, c2), i))
    return out


def _merge_rn(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Fold `rn` to `m`, the classic OCR merge (left to right, like str.replace).

    Kept apart from `_fold` because it changes lengths: a match that needs it may not
    also use the one substitution the checks allow, or `aarn@` would pass for `aar@`.
    """
    out: list[tuple[str, int]] = []
    k = 0
    while k < len(chars):
        if chars[k][0] == "r" and k + 1 < len(chars) and chars[k + 1][0] == "n":
            out.append(("m", chars[k][1]))
            k += 2
        else:
            out.append(chars[k])
            k += 1
    return out


def _sub_box(box: Box | None, n: int, start: int, end: int) -> Box | None:
    """The part of `box` holding characters [start, end) of an n-character line."""
    if box is None or n <= 0:
        return box
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    w = box.width
    return Box(box.x0 + w * start / n, box.y0, box.x0 + w * end / n, box.y1)


# --------------------------------------------------------------------------- names

NAME_MAX_EDITS = 1
NAME_MIN_LEN_FOR_EDIT = 5


@dataclass
class _Tok:
    text: str  # folded
    line: int
    start: int  # original character span in that line
    end: int
    glued: bool = False  # joined to the previous word by `-` or `'` (Mary-Jane, O'Brien)


_NAME_GLUE = {"-", "'", "’", "‐", "‑"}
_EMAILISH = re.compile(r"\S*[@©®＠]\S*")


def _name_tokens(line_no: int, text: str) -> list[_Tok]:
    # Words inside an email address are not the name being shown: `jane.cooper@...`
    # must not satisfy the name check on its own.
    masked = _EMAILISH.sub(lambda m: " " * len(m.group()), text)
    toks: list[_Tok] = []
    cur: list[tuple[str, int]] = []
    gap = ""  # the non-word characters since the previous word
    for c, i in _fold(masked) + [(" ", len(text))]:
        if c.isalnum():
            cur.append((c, i))
            continue
        if cur:
            glued = bool(toks) and gap in _NAME_GLUE
            toks.append(_Tok("".join(x for x, _ in cur), line_no, cur[0][1], cur[-1][1] + 1,
                             glued))
            cur, gap = [], ""
        gap += c
    return toks


def _target_forms(name: str) -> list[tuple[str, set[int]]]:
    """Compact forms of the name ("First Last" and "Last First") with token boundaries."""
    words = [t.text for t in _name_tokens(0, name)]
    if not words:
        return []
    orders = [words]
    if len(words) >= 2:
        orders.append([words[-1]] + words[:-1])  # "Cooper, Jane"
    forms = []
    for order in orders:
        bounds, pos = {0}, 0
        for w in order:
            pos += len(w)
            bounds.add(pos)
        forms.append(("".join(order), bounds))
    return forms


def _name_edits(target: str, bounds: set[int], seen: str, budget: int) -> int | None:
    """Edits from `target` to `seen` if within budget and plausible as OCR damage, else None.

    A substitution anywhere counts 1. An inserted or dropped letter counts 1 only inside
    a word: at a word's edge it makes another real name (Jane/Janet, Ann/Anne, Dan/Dana,
    Cooper/Coopers), so it is refused. `rn` read for `m` (or back) is free, but only
    when nothing else differs.
    """
    if target.replace("rn", "m") == seen.replace("rn", "m"):
        return 0
    d = Levenshtein.distance(target, seen, score_cutoff=budget)
    if d > budget:
        return None
    if d == 0:
        return 0
    for op in Levenshtein.editops(target, seen):
        if op.tag == "insert" and op.src_pos in bounds:
            return None
        if op.tag == "delete" and (op.src_pos in bounds or op.src_pos + 1 in bounds):
            return None
    return d


def _lines_adjacent(a: OcrLine, b: OcrLine) -> bool:
    """b sits right under a (a name wrapped onto a second line)."""
    h = max(a.box.height, b.box.height, 1.0)
    gap = b.box.y0 - a.box.y1
    overlap = min(a.box.x1, b.box.x1) - max(a.box.x0, b.box.x0)
    return -0.5 * h <= gap <= 0.8 * h and overlap > 0


def match_name(lines: Sequence[OcrLine], name: str) -> FieldMatch:
    """Find the client's name in the OCR lines.

    Both sides are folded (case, accents, look-alike glyphs, `rn`=`m`) and compared
    without spaces over windows of whole OCR words, so `JaneCooper`, `Jane Cooper · 3:15
    PM`, `From: Jane Cooper <...>` and `Cooper, Jane` all match; a window never starts or
    ends inside a word, so `Janet` can never be read as `Jane` + noise.

    Threshold: at most NAME_MAX_EDITS (1) Levenshtein edit for names of at least
    NAME_MIN_LEN_FOR_EDIT (5) letters, none for shorter ones. One misread glyph is the
    common OCR error on crisp screen text; two edits in a 10-letter name is already
    another person (`Janet Cowper`), and in a 4-letter name even one edit is a 25 %
    change. As a normalized Levenshtein similarity this is a cut at 90 for "Jane Cooper"
    (score = 100 * (1 - edits / len)), but the edit count is what is enforced, because a
    percentage threshold would allow 2-3 edits in long names. Insertions and deletions at
    word edges are refused (see `_name_edits`). A name wrapped onto the next OCR line
    (`Jane` / `Cooper` stacked) matches when the two lines touch vertically.
    """
    if not name or not lines:
        return _MISS
    forms = _target_forms(name)
    if not forms:
        return _MISS
    tlen = len(forms[0][0])
    budget = NAME_MAX_EDITS if tlen >= NAME_MIN_LEN_FOR_EDIT else 0
    max_words = len(_name_tokens(0, name)) + 2

    line_toks = [_name_tokens(i, ln.text) for i, ln in enumerate(lines)]
    # Token streams to search: each line, and each pair of vertically adjacent lines
    # (only windows that cross the join are new there).
    streams: list[tuple[list[_Tok], int | None]] = [(t, None) for t in line_toks]
    for i in range(len(lines) - 1):
        if line_toks[i] and line_toks[i + 1] and _lines_adjacent(lines[i], lines[i + 1]):
            streams.append((line_toks[i] + line_toks[i + 1], len(line_toks[i])))

    best: tuple[int, list[_Tok]] | None = None
    near = 0.0
    for toks, join in streams:
        for a in range(len(toks)):
            if join is not None and a >= join:
                break
            if toks[a].glued and not (join is not None and a == join):
                continue  # `Jane` in `Mary-Jane` is not a name of its own
            s = ""
            for b in range(a, min(len(toks), a + max_words)):
                s += toks[b].text
                if len(s) > tlen + budget + 2:  # slack for `rn`=`m`
                    break
                if join is not None and b < join:
                    continue
                if len(s) < tlen - budget - 2:
                    continue
                if b + 1 < len(toks) and toks[b + 1].glued and b + 1 != join:
                    continue  # `Jane` in `Jane-Marie` likewise
                for target, bounds in forms:
                    near = max(near, 100.0 * Levenshtein.normalized_similarity(target, s))
                    d = _name_edits(target, bounds, s, budget)
                    if d is not None and (best is None or d < best[0]):
                        best = (d, toks[a:b + 1])
                if best is not None and best[0] == 0:
                    break
            if best is not None and best[0] == 0:
                break
        if best is not None and best[0] == 0:
            break
    if best is None:
        return FieldMatch(False, None, round(near, 1), None)
    d, win = best
    parts, box = [], None
    for ln_no in sorted({t.line for t in win}):
        ts = [t for t in win if t.line == ln_no]
        ln = lines[ln_no]
        parts.append(ln.text[ts[0].start:ts[-1].end])
        sb = _sub_box(ln.box, len(ln.text), ts[0].start, ts[-1].end)
        box = sb if box is None else box.union(sb)
    return FieldMatch(True, " ".join(parts), round(100.0 * (1 - d / tlen), 1), box)


# --------------------------------------------------------------------------- emails

EMAIL_MAX_SUBSTITUTIONS = 1
EMAIL_MIN_LEN_FOR_SUBSTITUTION = 8

# What OCR turns `@` into: `(a)`, `©`, `®`, fullwidth `＠` (NFKD already gives `@`).
_AT_WORDS = ("(a)", "(at)", "[at]", "[a]")
_AT_GLYPHS = {"©", "®", "@"}
# Characters that may sit inside an address as OCR shows it: its own punctuation,
# spaces OCR inserted, a `,` misread for `.`, a `'` misread for `.`.
_EMAIL_INNER = set(" \t.,@_-+'")
_JOINERS = set("._-+@")


def _email_fold(text: str) -> list[tuple[str, int]]:
    f = _fold(text)
    out: list[tuple[str, int]] = []
    k = 0
    while k < len(f):
        for w in _AT_WORDS:
            if "".join(c for c, _ in f[k:k + len(w)]) == w:
                out.append(("@", f[k][1]))
                k += len(w)
                break
        else:
            c, i = f[k]
            out.append(("@" if c in _AT_GLYPHS else c, i))
            k += 1
    return out


def match_email(lines: Sequence[OcrLine], email: str) -> FieldMatch:
    """Find the client's email address in the OCR lines.

    Both sides are reduced to skeletons: folded (case, accents, `0`/`o`, `1`/`l`/`I`,
    `(a)`/`©`/`®` for `@`) and stripped of everything but letters and digits.
    So a dropped `.`, a dropped `@` (with or without a space), spaces inserted around `@`
    or `.`, angle brackets and uppercase all leave the skeleton unchanged.

    Threshold: the skeleton of local part + domain must appear with the exact same length
    and at most EMAIL_MAX_SUBSTITUTIONS (1) substituted character (Hamming distance),
    only when the skeleton has at least EMAIL_MIN_LEN_FOR_SUBSTITUTION (8) characters.
    Equal length is the point: an extra or missing letter (`jane.coopers@`,
    `j.cooper@`) is another mailbox, and a different TLD (`.org` vs `.com`) costs 3.
    One substitution covers a misread glyph the folding does not know.

    The match must also start and end at the address's edges: not inside a longer word
    and not continuing with `.x`/`-x` (so `mary.jane.cooper@example.com` and
    `jane.cooper@example.com.au` fail), the span between may hold only address
    punctuation and spaces, and must contain at least one `@` or `.` (so the plain
    words "jane cooper example com" do not pass as an address).
    """
    if not email or not lines:
        return _MISS
    target_chars = [x for x in _email_fold(email) if x[0].isalnum()]
    target = "".join(c for c, _ in target_chars)
    n = len(target)
    if n == 0:
        return _MISS
    budget = EMAIL_MAX_SUBSTITUTIONS if n >= EMAIL_MIN_LEN_FOR_SUBSTITUTION else 0
    target_m = "".join(c for c, _ in _merge_rn(target_chars))

    best: tuple[int, int, int, int] | None = None  # (subs, line, start, end)
    near = 0.0
    for ln_no, ln in enumerate(lines):
        f = _email_fold(ln.text)
        # As read (one substitution allowed), then with `rn`=`m` (no substitution).
        for chars, tgt, allowed in ((f, target, budget), (_merge_rn(f), target_m, 0)):
            found, line_near = _scan_email(chars, tgt, allowed)
            near = max(near, line_near)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], ln_no, found[1], found[2])
            if best is not None and best[0] == 0:
                break
        if best is not None and best[0] == 0:
            break
    if best is None:
        return FieldMatch(False, None, round(near, 1), None)
    subs, ln_no, start, end = best
    ln = lines[ln_no]
    return FieldMatch(True, ln.text[start:end], round(100.0 * (1 - subs / n), 1),
                      _sub_box(ln.box, len(ln.text), start, end))


def _scan_email(f: list[tuple[str, int]], target: str, budget: int
                ) -> tuple[tuple[int, int, int] | None, float]:
    """Best (substitutions, start, end) of `target` in folded line `f`, and a near-miss score."""
    n = len(target)
    skel = [j for j, (c, _) in enumerate(f) if c.isalnum()]
    if n == 0 or len(skel) < n:
        return None, 0.0
    chars = "".join(f[j][0] for j in skel)
    best: tuple[int, int, int] | None = None
    near = 0.0
    for p in range(len(skel) - n + 1):
        js, je = skel[p], skel[p + n - 1]
        # start edge: not inside a word, not continuing a local part (`mary.`+`jane`)
        if js > 0:
            prev = f[js - 1][0]
            if prev.isalnum():
                continue
            if prev in _JOINERS and js >= 2 and f[js - 2][0].isalnum():
                continue
        # end edge: not inside a word, not followed by more domain (`.au`)
        if je + 1 < len(f):
            nxt = f[je + 1][0]
            if nxt.isalnum():
                continue
            if nxt in _JOINERS and je + 2 < len(f) and f[je + 2][0].isalnum():
                continue
        inner = [f[j][0] for j in range(js, je + 1) if not f[j][0].isalnum()]
        if any(c not in _EMAIL_INNER for c in inner):
            continue
        if not any(c in "@." for c in inner):
            continue
        subs = Hamming.distance(target, chars[p:p + n])
        near = max(near, 100.0 * (1 - subs / n))
        if subs > budget:
            continue
        if best is None or subs < best[0]:
            best = (subs, f[js][1], f[je][1] + 1)
            if subs == 0:
                break
    return best, near


# --------------------------------------------------------------------------- dates

MIN_YEAR = 1970
MAX_YEAR = 2099

_MONTH_NUM = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7,
              "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_WEEKDAY_NUM = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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

    def _clock(self) -> tuple[int, int, int]:
        return (self.hour or 0, self.minute or 0, self.second or 0)

    def resolve(self, anchor: datetime | None) -> datetime | None:
        """The datetime this hit stands for; time 00:00 when none was shown.

        A full date needs no anchor. A year-less date takes the anchor's year, or the year
        before when that would land after the anchor's date (a screenshot cannot show a
        message from its future). `Today`/`Yesterday` count from the anchor's date; a bare
        weekday is the most recent such day on or before the anchor's date. Returns None
        when an anchor is needed but missing, or the hit cannot be a real date.
        """
        h, mi, s = self._clock()
        if self.month is not None and self.day is not None:
            if self.year is not None:
                try:
                    return datetime(self.year, self.month, self.day, h, mi, s)
                except ValueError:
                    return None
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
                    return datetime(d.year, d.month, d.day, h, mi, s)
            return None
        if self.relative_days is not None:
            if anchor is None:
                return None
            d = anchor.date() + timedelta(days=self.relative_days)
            return datetime(d.year, d.month, d.day, h, mi, s)
        if self.weekday is not None:
            if anchor is None:
                return None
            ref = anchor.date()
            d = ref - timedelta(days=(ref.weekday() - self.weekday) % 7)
            return datetime(d.year, d.month, d.day, h, mi, s)
        return None


# Regexes only locate candidate spans; every candidate is then validated with
# `datetime` (so Feb 30 and month 13 are refused). All quantifiers over whitespace are
# bounded ({0,3}) and no group repeats, so matching stays linear in the line length
# (no catastrophic backtracking on long OCR garbage).
_S = r"\s{0,3}"
_MON = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
        r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
        r"(?![a-z])\.?")
_WD = (r"(?P<wd>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?"
       r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)(?![a-z])\.?")
_WD_PREFIX = rf"(?:{_WD}{_S},?{_S})?"
_DAY = r"(?P<day>\d{1,2})(?!\d)(?:\s?(?:st|nd|rd|th)(?![a-z]))?"
_YEAR = r"(?P<year>\d{4})(?![\d:])"
_AMPM = r"(?:\s?(?P<ap>[ap])\.?\s?m(?![a-z])\.?)"
# A time that follows a date: `3:15 PM`, `09:14:52`, `10.42` (OCR's `.` for `:`), `3 PM`.
_TIME = (rf"(?P<time>(?P<h>\d{{1,2}})(?:[:.](?P<mi>[0-5]\d)(?:[:.](?P<sec>[0-5]\d))?"
         rf"(?!\d){_AMPM}?|{_AMPM.replace('?P<ap>', '?P<ap2>')}))")
_SEP = rf"(?:{_S}(?:,|at(?![a-z])|@|·|•|-|–|\|)?{_S})"
_TAIL = rf"(?:{_SEP}{_TIME})?"

_FLAGS = re.IGNORECASE | re.ASCII
_PAT_MONTH_FIRST = re.compile(
    rf"(?<![a-z0-9]){_WD_PREFIX}(?P<date>{_MON}{_S}{_DAY}(?:{_S},?{_S}{_YEAR})?){_TAIL}", _FLAGS)
_PAT_DAY_FIRST = re.compile(
    rf"(?<![a-z0-9.:/]){_WD_PREFIX}(?P<date>{_DAY}{_S}(?:of\s{{1,3}})?{_MON}"
    rf"(?:{_S},?{_S}{_YEAR})?){_TAIL}", _FLAGS)
_PAT_ISO = re.compile(
    rf"(?<![\d.:/-])(?P<date>(?P<year>\d{{4}})(?P<sep>[-/.])(?P<mon>\d{{1,2}})(?P=sep)"
    rf"(?P<day>\d{{1,2}}))(?:(?:T|{_S}(?:,|at)?{_S}){_TIME}|(?![\d]|[./-]\d))", _FLAGS)
_PAT_NUMERIC = re.compile(
    rf"(?<![\d.:/-]){_WD_PREFIX}(?P<date>(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)"
    rf"(?P<year>\d{{4}}|\d{{2}}))(?!\d|[./-]\d){_TAIL}", _FLAGS)
_PAT_RELATIVE = re.compile(
    rf"(?<![a-z])(?P<date>(?P<rel>today|yesterday))(?![a-z]){_TAIL}", _FLAGS)
_PAT_WEEKDAY = re.compile(rf"(?<![a-z])(?P<date>{_WD})(?!-[a-z]){_TAIL}", _FLAGS)
_PAT_CLOCK = re.compile(
    rf"(?<![\d:.])(?P<h>\d{{1,2}}):(?P<mi>[0-5]\d)(?::(?P<sec>[0-5]\d))?(?!\d){_AMPM}?",
    _FLAGS)
_CLOCK_ONLY = re.compile(
    rf"(?<![\d:.])\d{{1,2}}[:.][0-5]\d(?:[:.][0-5]\d)?(?!\d){_AMPM}?", _FLAGS)
_BULLETS = set("·•|")


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


def _candidates(text: str) -> list[_Cand]:
    out: list[_Cand] = []

    def add(m: re.Match, rank: int, parts: dict) -> None:
        wd = m.groupdict().get("wd")
        if wd:
            parts.setdefault("weekday", _WEEKDAY_NUM[wd[:3].lower()])
        end = m.end("date")
        if m.groupdict().get("time") is not None:
            clock = _clock_parts(m)
            if clock is not None:
                parts["hour"], parts["minute"], parts["second"], end = clock
                if m.group("mi") is None:
                    parts["second"] = None
                    parts["minute"] = 0
                elif m.group("sec") is None:
                    parts["second"] = None
        out.append(_Cand(m.start(), end, rank, parts))

    for m in _PAT_MONTH_FIRST.finditer(text):
        y = int(m.group("year")) if m.group("year") else None
        mo, d = _MONTH_NUM[m.group("mon")[:3].lower()], int(m.group("day"))
        if _valid_ymd(y, mo, d):
            add(m, 0, {"year": y, "month": mo, "day": d})
    for m in _PAT_DAY_FIRST.finditer(text):
        y = int(m.group("year")) if m.group("year") else None
        mo, d = _MONTH_NUM[m.group("mon")[:3].lower()], int(m.group("day"))
        if _valid_ymd(y, mo, d):
            add(m, 1, {"year": y, "month": mo, "day": d})
    for m in _PAT_ISO.finditer(text):
        y, mo, d = int(m.group("year")), int(m.group("mon")), int(m.group("day"))
        if _valid_ymd(y, mo, d):
            add(m, 2, {"year": y, "month": mo, "day": d})
    for m in _PAT_NUMERIC.finditer(text):
        a, b, ys, sep = int(m.group("a")), int(m.group("b")), m.group("year"), m.group("sep")
        if len(ys) == 2 and sep != "/":
            continue  # `28.10.24` is as likely a version or a price as a date
        y = int(ys) + (2000 if len(ys) == 2 else 0)
        # US order for `/`, day first for `.` and `-`; the other order only when forced.
        first = (a, b) if sep == "/" else (b, a)  # (month, day)
        for mo, d in (first, first[::-1]):
            if _valid_ymd(y, mo, d):
                add(m, 3, {"year": y, "month": mo, "day": d})
                break
    for m in _PAT_RELATIVE.finditer(text):
        rel = 0 if m.group("rel").lower() == "today" else -1
        add(m, 4, {"relative_days": rel})
    for m in _PAT_WEEKDAY.finditer(text):
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


def _dates_in_line(line: OcrLine) -> list[DateHit]:
    text = line.text
    ix = _LineIndex(text)
    cands = [c for c in _candidates(text) if c.rank < 4 or _standalone(ix, c)]
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
                            box=_sub_box(line.box, len(text), c.start, c.end), **p))
    return hits


def find_dates(lines: Sequence[OcrLine]) -> list[DateHit]:
    """Every message date visible in the lines, top to bottom, left to right.

    Understood: `Oct 28, 2024`, `28 Oct 2024`, `October 28, 2024 at 3:15 PM`,
    `2024-10-28 17:40` (also glued `2024-10-2817:40`), `28.10.2024` (day first),
    `10/28/2024` (US; day first only when the first number cannot be a month),
    `10/28/24`, `Tue, 08 Oct 2024 09:14:52 -0400` (clock as written, offset ignored),
    `Friday, October 18th`, `Oct 18`, `Yesterday 4:12 PM`, `Today`, `Monday`,
    `Mon 10:05 AM`; any case, spaces dropped (`Oct28,2024`), `10.42` for `10:42` in a
    time after a date. Month names count only next to a day number (`May`, `March`,
    `Mayor` alone are not dates); a bare clock time is not a date. Years outside
    MIN_YEAR..MAX_YEAR and impossible dates are refused.
    """
    hits: list[DateHit] = []
    for line in lines:
        hits.extend(_dates_in_line(line))
    return hits


# --------------------------------------------------------------------------- report

@dataclass
class FieldReport:
    name: FieldMatch
    email: FieldMatch
    dates: list[DateHit]

    @property
    def all_found(self) -> bool:
        return self.name.found and self.email.found and bool(self.dates)


def check_fields(lines: Sequence[OcrLine], name: str, email: str) -> FieldReport:
    return FieldReport(match_name(lines, name), match_email(lines, email), find_dates(lines))


# --------------------------------------------------------------------------- phrases

PHRASE_MIN_SCORE = 90.0


def find_phrase(lines: Sequence[OcrLine], phrase: str) -> FieldMatch:
    """Where a note's `highlight` phrase is on the screenshot.

    Case-, accent- and confusable-insensitive; exact after folding first, then the best
    fuzzy alignment (rapidfuzz partial ratio >= PHRASE_MIN_SCORE) so one misread letter
    still finds it. The box covers the phrase's characters within the line.
    """
    target = "".join(c for c, _ in _fold(phrase.strip()))
    if not target:
        return _MISS
    best = _MISS
    for line in lines:
        chars = _fold(line.text)
        folded = "".join(c for c, _ in chars)
        at = folded.find(target)
        if at >= 0:
            score, start, end = 100.0, at, at + len(target)
        else:
            if len(folded) < len(target) - 1:
                continue
            al = fuzz.partial_ratio_alignment(target, folded)
            if al is None or al.score < PHRASE_MIN_SCORE:
                continue
            score, start, end = al.score, al.dest_start, al.dest_end
        if score > best.score:
            first, last = chars[start][1], chars[max(start, end - 1)][1] + 1
            best = FieldMatch(True, line.text[first:last], score,
                              _sub_box(line.box, len(line.text), first, last))
            if score == 100.0:
                break
    return best
