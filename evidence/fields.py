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

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from rapidfuzz.distance import Hamming, Levenshtein

from .dates.find import MAX_YEAR, MIN_YEAR, DateHit, find_dates
from .ocr.base import Box, OcrLine
from .spans import align_phrase, sub_box as _sub_box

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

# Glyphs OCR confuses on screen fonts (O/0, l/1/I, S/5, B/8, Z/2, G/6, g/9/q, u/v).
# Folded identically on both sides, so folding can only merge look-alikes; it never makes
# two different strings of the same letters differ. A letter that differs after folding
# is not OCR damage but another letter (a/e, r/k, n/d): another person.
_CONFUSABLES = {"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "5": "s", "8": "b",
                "2": "z", "6": "g", "9": "g", "q": "g", "v": "u"}


# The folds and word splits below are pure functions of a line's text, and each line is
# folded once per name, alias and address of the client, per check: cached, a case whose
# client has 30 aliases spent 10 CPU s of a warm 47-screenshot build re-folding the same
# lines (bench/peer_bench.py, real set). Each cache holds a few thousand short strings.
_FOLD_CACHE = 16384


@functools.lru_cache(maxsize=_FOLD_CACHE)
def _fold(text: str) -> tuple[tuple[str, int], ...]:
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
    return tuple(out)


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
    return [_Tok(t, line_no, start, end, glued) for t, start, end, glued in _words(text)]


@functools.lru_cache(maxsize=_FOLD_CACHE)
def _words(text: str) -> tuple[tuple[str, int, int, bool], ...]:
    """(folded word, start, end, glued) of each word of `text`, as `_Tok` holds them."""
    # Words inside an email address are not the name being shown: `jane.cooper@...`
    # must not satisfy the name check on its own.
    masked = _EMAILISH.sub(lambda m: " " * len(m.group()), text)
    toks: list[tuple[str, int, int, bool]] = []
    cur: list[tuple[str, int]] = []
    gap = ""  # the non-word characters since the previous word
    for c, i in [*_fold(masked), (" ", len(text))]:
        if c.isalnum():
            cur.append((c, i))
            continue
        if cur:
            glued = bool(toks) and gap in _NAME_GLUE
            toks.append(("".join(x for x, _ in cur), cur[0][1], cur[-1][1] + 1, glued))
            cur, gap = [], ""
        gap += c
    return tuple(toks)


@functools.lru_cache(maxsize=256)
def _target_forms(name: str) -> tuple[tuple[str, frozenset[int]], ...]:
    """Compact forms of the name ("First Last" and "Last First") with token boundaries."""
    words = [t[0] for t in _words(name)]
    if not words:
        return ()
    orders = [words]
    if len(words) >= 2:
        orders.append([words[-1]] + words[:-1])  # "Cooper, Jane"
    forms = []
    for order in orders:
        bounds, pos = {0}, 0
        for w in order:
            pos += len(w)
            bounds.add(pos)
        forms.append(("".join(order), frozenset(bounds)))
    return tuple(forms)


def _name_edits(target: str, bounds: frozenset[int], seen: str, budget: int) -> int | None:
    """Edits from `target` to `seen` if within budget and plausible as OCR damage, else None.

    Both sides are already folded, so OCR's real confusions (O/0, l/1/I, S/5, ...) cost
    nothing; `rn` read for `m` (or back) is free too, when nothing else differs. A letter
    that still differs is another letter (Christine/Christina, Clark/Klark): refused,
    however long the name. A dropped or doubled letter counts 1, only inside a word: at a
    word's edge it makes another real name (Jane/Janet, Ann/Anne, Dan/Dana,
    Cooper/Coopers), so it is refused.
    """
    if target.replace("rn", "m") == seen.replace("rn", "m"):
        return 0
    d = Levenshtein.distance(target, seen, score_cutoff=budget)
    if d > budget:
        return None
    if d == 0:
        return 0
    for op in Levenshtein.editops(target, seen):
        if op.tag == "replace":
            return None
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

EMAIL_MAX_SUBSTITUTIONS = 0  # see match_email: confusions are folded, not counted
EMAIL_MIN_LEN_FOR_SUBSTITUTION = 8

# What OCR turns `@` into: `(a)`, `©`, `®`, fullwidth `＠` (NFKD already gives `@`).
_AT_WORDS = ("(a)", "(at)", "[at]", "[a]")
_AT_GLYPHS = {"©", "®", "@"}
# Characters that may sit inside an address as OCR shows it: its own punctuation,
# spaces OCR inserted, a `,` misread for `.`, a `'` misread for `.`.
_EMAIL_INNER = set(" \t.,@_-+'")
_JOINERS = set("._-+@")


@functools.lru_cache(maxsize=_FOLD_CACHE)
def _email_fold(text: str) -> tuple[tuple[str, int], ...]:
    f = _fold(text)
    out: list[tuple[str, int]] = []
    k = 0
    while k < len(f):
        for w in (_AT_WORDS if f[k][0] in "([" else ()):  # cheap test first: hot loop
            if "".join(c for c, _ in f[k:k + len(w)]) == w:
                out.append(("@", f[k][1]))
                k += len(w)
                break
        else:
            c, i = f[k]
            out.append(("@" if c in _AT_GLYPHS else c, i))
            k += 1
    return tuple(out)


def match_email(lines: Sequence[OcrLine], email: str) -> FieldMatch:
    """Find the client's email address in the OCR lines.

    Both sides are reduced to skeletons: folded (case, accents, `0`/`o`, `1`/`l`/`I`,
    `(a)`/`©`/`®` for `@`) and stripped of everything but letters and digits.
    So a dropped `.`, a dropped `@` (with or without a space), spaces inserted around `@`
    or `.`, angle brackets and uppercase all leave the skeleton unchanged.

    Threshold: the skeleton of local part + domain must appear with the exact same length
    and no substituted character (EMAIL_MAX_SUBSTITUTIONS = 0): the folding already
    absorbs the glyphs OCR really confuses (O/0, l/1/I, S/5, rn/m, ...), so a letter that
    still differs (christine@ / christina@) is another mailbox. Equal length is the point
    too: an extra or missing letter (`jane.coopers@`, `j.cooper@`) is another mailbox.
    An address wrapped onto the next OCR line (`<Members@play` / `.megacasino.com>`) is
    found across the two lines when they touch vertically.

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
        # As read (one substitution allowed), then with `rn`=`m` (no substitution).
        for view, tgt, allowed in ((_email_view(ln.text, False), target, budget),
                                   (_email_view(ln.text, True), target_m, 0)):
            found, line_near = _scan_email(view, tgt, allowed)
            near = max(near, line_near)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], ln_no, found[1], found[2])
            if best is not None and best[0] == 0:
                break
        if best is not None and best[0] == 0:
            break
    if best is None:
        wrapped = _wrapped_email(lines, target, target_m)
        if wrapped is not None:
            return wrapped
        return FieldMatch(False, None, round(near, 1), None)
    subs, ln_no, start, end = best
    ln = lines[ln_no]
    return FieldMatch(True, ln.text[start:end], round(100.0 * (1 - subs / n), 1),
                      _sub_box(ln.box, len(ln.text), start, end))


def _wrapped_email(lines: Sequence[OcrLine], target: str, target_m: str) -> FieldMatch | None:
    """The address split over two vertically touching lines, read as one (exact only)."""
    for i, a in enumerate(lines):
        for b in lines[i + 1:i + 4]:  # OCR order may put a box of the same row between
            if not _lines_adjacent(a, b):
                continue
            joined = a.text + b.text
            for rn, tgt in ((False, target), (True, target_m)):
                found, _ = _scan_email(_email_view(joined, rn), tgt, 0)
                if found is None or not found[1] < len(a.text) < found[2]:
                    continue
                _, start, end = found
                box = _sub_box(a.box, len(a.text), start, len(a.text)).union(
                    _sub_box(b.box, len(b.text), 0, end - len(a.text)))
                return FieldMatch(True, a.text[start:] + " " + b.text[:end - len(a.text)],
                                  100.0, box)
    return None


@functools.lru_cache(maxsize=_FOLD_CACHE)
def _email_view(text: str, rn: bool) -> tuple[tuple, list[int], str]:
    """A line as the address scan reads it: its email fold (with `rn` folded to `m` if
    `rn`), the positions of its letters and digits in that fold, and those characters."""
    f = _email_fold(text)
    if rn:
        f = tuple(_merge_rn(f))
    skel = [j for j, (c, _) in enumerate(f) if c.isalnum()]
    return f, skel, "".join(f[j][0] for j in skel)


def _scan_email(view: tuple[tuple, list[int], str], target: str, budget: int
                ) -> tuple[tuple[int, int, int] | None, float]:
    """Best (substitutions, start, end) of `target` in a line's `_email_view`, and a
    near-miss score."""
    n = len(target)
    f, skel, chars = view
    if n == 0 or len(skel) < n:
        return None, 0.0
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


# --------------------------------------------------------------------------- report

@dataclass
class FieldReport:
    name: FieldMatch
    email: FieldMatch
    dates: list[DateHit]

    @property
    def all_found(self) -> bool:
        return self.name.found and self.email.found and bool(self.dates)


def _best(matches) -> FieldMatch:
    matches = list(matches)
    found = [m for m in matches if m.found]
    return max(found or matches or [_MISS], key=lambda m: m.score)


def check_fields(lines: Sequence[OcrLine], name: str, email: str, *,
                 aliases: Sequence[str] = (), emails: Sequence[str] = (),
                 languages: Sequence[str] | None = None) -> FieldReport:
    """Name (or one of its `aliases`), email (or one of `emails`), and every date."""
    return FieldReport(_best(match_name(lines, n) for n in (name, *aliases)),
                       _best(match_email(lines, e) for e in (email, *emails)),
                       find_dates(lines, languages))


def client_lines(lines: Sequence[OcrLine], names: Sequence[str], emails: Sequence[str]
                 ) -> list[int]:
    """Indices of the lines that show the client's name (or an alias) or address."""
    out = []
    for i, ln in enumerate(lines):
        one = [ln]
        if any(match_name(one, n).found for n in names) or any(
                match_email(one, e).found for e in emails):
            out.append(i)
    return out


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
        found = align_phrase(target, folded, PHRASE_MIN_SCORE)
        if found is None:
            continue
        score, start, end = found
        if score > best.score:
            first, last = chars[start][1], chars[max(start, end - 1)][1] + 1
            best = FieldMatch(True, line.text[first:last], score,
                              _sub_box(line.box, len(line.text), first, last))
            if score == 100.0:
                break
    return best
