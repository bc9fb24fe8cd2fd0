"""Redaction: find card numbers and case-specific secrets in OCR lines, black them out.

A pure stage: it takes OCR lines (text + box in source pixels) and returns what to hide;
`apply_to_image` burns black rectangles into a copy of the pixels and `apply_to_lines`
masks the same characters in the text layer, so neither the picture nor the PDF's
invisible text can give the secret away.

Card numbers (PANs): 13 to 19 digits, written plain or in groups of any size separated by
one or two spaces or dashes, that pass the Luhn check. OCR often drops the space between a
word and a number ("card4111…"), so letters may touch the number; digits may not (a PAN
is never cut out of the middle of a longer group). Inside a group, the OCR confusions
`O`/`o` for 0 and `l`/`I`/`|` for 1 are read as digits when they sit inside a group (not
at its ends) that holds at least two real digits, and a number has at most two of them:
these are the confusions a text recognizer makes on digits, and the conditions keep words
("lol", "IOI", "Is") and letters touching a number from ever counting. `S`/`B`/`Z` are not
taken (they collide with ordinary tokens such as "B2B" and are rare on screen fonts).
A number wrapped over two consecutive OCR lines (first groups at the end of one line, the
rest at the start of the next) is found when the whole is Luhn-valid.

Case patterns (`[redact] patterns`, regexes) are matched in every line as written; use
`(?i)` in a pattern for case-insensitive matching.

Boxes: OCR gives one box per line, so a match's box is estimated from its character
position. A plain character count is off by up to five digit widths on proportional fonts
(measured: "iii 4111…" vs "WWW 4111…"), so two estimates are taken, by character count
(right for monospace) and by Helvetica advance widths (within 1.5 digit widths on the sans
and serif faces measured), the union of both is kept, and that is padded by a whole group
(four digit widths) for cards and two digit widths for patterns. Over-redacting a
neighbouring word is the accepted cost of never leaking a digit. Checked end to end with
rapidocr on rendered chat screenshots (8 fonts, sans, serif and monospace, 14-34 px):
re-reading the redacted image finds no 5-digit piece of any number.

Limits: a number OCR misread (one wrong digit fails Luhn) or cut off at the image edge
(fewer than 13 digits visible) is not found; neither is one wrapped over three lines.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable, Sequence

from PIL import Image, ImageDraw

from .ocr.base import Box, OcrLine

MIN_PAN = 13
MAX_PAN = 19
MASK_CHAR = "X"  # what replaces a secret in the text layer (a plain glyph every font has)
CARD_PAD_DIGITS = 4.0  # horizontal padding of a card box, in digit widths (one group)
PATTERN_PAD_DIGITS = 2.0
# With keep_last4 the box ends at the (union) estimate of the last hidden digit plus 3 px:
# that estimate falls short of the true edge by at most one digit width (p99: 0.35) over
# 60 fonts, so at worst a sliver of the 12th digit shows, while any more padding covers
# the first kept digit (it did on most fonts at 1.0).
KEEP_LAST4_PAD_DIGITS = 0.0
MAX_CONFUSIONS = 2

_CONFUSABLE = {"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"}
_SEPARATORS = frozenset(" \u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014\u2212")
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
_MAX_SEP = 2  # at most this many separator characters between two groups


@dataclass(frozen=True)
class Redaction:
    """One region to black out on one OCR line.

    kind: "card" or "pattern". box: source-pixel rectangle to fill (padded, not clamped).
    line_index: index into the lines given to `find_redactions`. start/end: the character
    span of the line to mask in the text layer; with keep_last4 it stops before the last
    four digits, and so does the box. label: a safe description ("card ending 1111",
    "pattern #2"); it never holds the secret. A card wrapped over two lines gives one
    Redaction per line, both labelled "... (wrapped over 2 lines)".
    """

    kind: str
    box: Box
    line_index: int
    start: int
    end: int
    label: str


# ---------------------------------------------------------------------------- cards

def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check on a string of ASCII digits; False for anything else."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass
class _Group:
    """A maximal run of digit-like characters with no separator inside."""

    start: int  # char index of its first character
    end: int  # one past its last character
    positions: list[int]  # char index of every digit (real or confusion) in order
    digits: str
    confusions: int


def _groups(text: str) -> list[_Group]:
    """Digit groups of `text`, left to right. Confusable letters count only inside a group,
    next to a real digit, in a group with at least two real digits."""
    out: list[_Group] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if not ("0" <= ch <= "9" or ch in _CONFUSABLE):
            i += 1
            continue
        j = i
        while j < n and ("0" <= text[j] <= "9" or text[j] in _CONFUSABLE):
            j += 1
        # [i, j) is a run of digits and confusable letters; trim confusables at its ends
        a, b = i, j
        while a < b and text[a] in _CONFUSABLE:
            a += 1
        while b > a and text[b - 1] in _CONFUSABLE:
            b -= 1
        if a < b:
            real = sum(1 for k in range(a, b) if "0" <= text[k] <= "9")
            conf = (b - a) - real
            if conf == 0 or real >= 2:
                out.append(_Group(a, b, list(range(a, b)),
                                  "".join(_CONFUSABLE.get(c, c) for c in text[a:b]), conf))
            else:  # a lone digit among letters ("l1l"): keep only the real digits
                for k in range(a, b):
                    if "0" <= text[k] <= "9":
                        out.append(_Group(k, k + 1, [k], text[k], 0))
        i = j
    return out


def _is_date(text: str, g: Sequence[_Group]) -> bool:
    """Three groups joined by single dashes that read as a date: 2024-10-18, 18-10-2024."""
    if len(g) != 3 or any(x.confusions for x in g):
        return False
    if any(text[g[k].end:g[k + 1].start] not in _DASHES for k in (0, 1)):
        return False
    lens = tuple(len(x.digits) for x in g)
    v = [int(x.digits) for x in g]
    if lens[0] == 4 and lens[1] in (1, 2) and lens[2] in (1, 2):
        year, a, b = v
    elif lens[2] == 4 and lens[0] in (1, 2) and lens[1] in (1, 2):
        a, b, year = v
    else:
        return False
    return (1900 <= year <= 2099 and 1 <= a <= 31 and 1 <= b <= 31
            and (a <= 12 or b <= 12))


def _runs(text: str, groups: list[_Group]) -> list[list[int]]:
    """Indexes of groups forming runs: consecutive groups joined only by 1-2 separators.
    Dates written with dashes are not part of any run (2024-10-18 2024-10-19 is not a
    card number even when its 14 digits pass Luhn)."""
    dates: set[int] = set()
    for k in range(len(groups) - 2):
        if _is_date(text, groups[k:k + 3]):
            dates.update((k, k + 1, k + 2))
    runs: list[list[int]] = []
    prev = None
    for k, g in enumerate(groups):
        if k in dates:
            prev = None
            continue
        if prev is not None:
            gap = text[groups[prev].end:g.start]
            if 1 <= len(gap) <= _MAX_SEP and all(c in _SEPARATORS for c in gap):
                runs[-1].append(k)
                prev = k
                continue
        runs.append([k])
        prev = k
    return runs


def _may_start(text: str, g: _Group) -> bool:
    """A number right after "+" is a phone number (+86 138 0013 8000 has 13 digits)."""
    return not (g.start > 0 and text[g.start - 1] == "+")


def _preference(n: int) -> int:
    # Among Luhn-valid readings starting at the same group, the longest: it hides the most.
    # (Preferring 16 digits would leave the last 3 digits of a 19-digit PAN visible whenever
    # its first 16 happen to pass Luhn, one time in ten.)
    return n


def _best_in(groups: Sequence[_Group], first: int) -> int | None:
    """Index of the last group of the preferred Luhn-valid number starting at groups[first]."""
    best, best_key = None, None
    count = conf = 0
    for k in range(first, len(groups)):
        count += len(groups[k].digits)
        conf += groups[k].confusions
        if count > MAX_PAN:
            break
        if count < MIN_PAN or conf > MAX_CONFUSIONS:
            continue
        digits = "".join(g.digits for g in groups[first:k + 1])
        if luhn_ok(digits):
            key = _preference(count)
            if best_key is None or key > best_key:
                best, best_key = k, key
    return best


def _cards_in_groups(groups: list[_Group], text: str) -> list[tuple[int, int]]:
    """(first, last) group indexes of each card number, left to right, not overlapping."""
    found = []
    for run in _runs(text, groups):
        rg = [groups[k] for k in run]
        i = 0
        while i < len(rg):
            last = _best_in(rg, i) if _may_start(text, rg[i]) else None
            if last is None:
                i += 1
                continue
            found.append((run[i], run[last]))
            i = last + 1
    return found


def find_card_numbers(text: str) -> list[tuple[int, int, str]]:
    """Card numbers in one line of text: (start, end, digits) with `text[start:end]` the
    number as written (separators included) and `digits` its 13-19 digits (OCR confusions
    read as the digit they stand for). Left to right, never overlapping."""
    groups = _groups(text)
    out = []
    for a, b in _cards_in_groups(groups, text):
        out.append((groups[a].start, groups[b].end, "".join(g.digits for g in groups[a:b + 1])))
    return out


# ---------------------------------------------------------------------------- boxes

@lru_cache(maxsize=4096)
def _char_width(ch: str) -> float:
    """Advance width of `ch` in Helvetica, in 1/1000 em; a fair model of UI sans fonts."""
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1000.0
    if unicodedata.category(ch).startswith("M"):
        return 0.0
    try:
        from reportlab.pdfbase.pdfmetrics import stringWidth
        w = stringWidth(ch, "Helvetica", 1000)
    except Exception:  # a character Helvetica's encoding cannot express
        w = 0.0
    return w if w > 0 else 556.0


class _Geometry:
    """Estimates where characters of one OCR line sit inside its box."""

    def __init__(self, line: OcrLine):
        self.box = line.box
        text = line.text
        self.n = max(1, len(text))
        cum = [0.0]
        for ch in text:
            cum.append(cum[-1] + _char_width(ch))
        self.cum = cum
        total = cum[-1] if cum[-1] > 0 else 1.0
        self.total = total
        w = max(0.0, self.box.width)
        # one digit's width in px by each model; the larger one pads
        self.digit = max(w * 556.0 / total, w / self.n, 1.0)

    def x_range(self, start: int, end: int) -> tuple[float, float]:
        """Union of the count-proportional and width-proportional estimates of [start, end)."""
        x0, w = self.box.x0, max(0.0, self.box.width)
        a = min(x0 + w * start / self.n, x0 + w * self.cum[start] / self.total)
        b = max(x0 + w * end / self.n, x0 + w * self.cum[end] / self.total)
        return a, b

    def span_box(self, start: int, end: int, pad_left: float, pad_right: float) -> Box:
        """The estimate of [start, end), padded by digit widths (+3 px) sideways and by
        15% of the line height (+2 px) up and down, kept within the line box (+ a margin:
        the text cannot reach past its own box by more than anti-aliasing)."""
        a, b = self.x_range(start, end)
        a -= pad_left * self.digit + 3
        b += pad_right * self.digit + 3
        margin = 0.25 * self.digit + 3
        a = max(a, self.box.x0 - margin)
        b = max(min(b, self.box.x1 + margin), a)
        dy = 0.15 * max(0.0, self.box.height) + 2
        return Box(a, self.box.y0 - dy, b, self.box.y1 + dy)


# ---------------------------------------------------------------------------- find

def _card_redactions(line_index: int, line: OcrLine, positions: list[int], masked: int,
                     label: str, geo: _Geometry) -> Redaction | None:
    """The part of one card on one line: `positions` are this line's digit positions,
    the first `masked` of which are to be hidden."""
    if masked <= 0:
        return None
    start = positions[0]
    end = positions[masked - 1] + 1
    # with keep_last4 the box reaches only a little towards the first kept digit
    right = CARD_PAD_DIGITS if masked == len(positions) else KEEP_LAST4_PAD_DIGITS
    box = geo.span_box(start, end, CARD_PAD_DIGITS, right)
    return Redaction("card", box, line_index, start, end, label)


def _split_cards(lines: Sequence[OcrLine], groups: list[list[_Group]],
                 used: list[set[int]]) -> list[tuple[int, int, int, int, str]]:
    """Card numbers wrapped over lines i and i+1, as (i, index of the first group on line
    i, index of the last group on line i+1, number of digits on line i, all digits).
    The part on line i must end that line and the part on line i+1 begin it. Groups
    already part of a one-line card (`used`) are not taken again."""
    out = []
    for i in range(len(lines) - 1):
        ga, gb = groups[i], groups[i + 1]
        if not ga or not gb:
            continue
        ta, tb = lines[i].text, lines[i + 1].text
        if ta[ga[-1].end:].strip() or tb[:gb[0].start].strip():
            continue
        runs_a, runs_b = _runs(ta, ga), _runs(tb, gb)
        if not runs_a or not runs_b or runs_a[-1][-1] != len(ga) - 1 or runs_b[0][0] != 0:
            continue
        best = None
        head, hconf = "", 0
        for k in reversed(runs_a[-1]):  # head = groups k.. of line i (suffix)
            if k in used[i]:
                break
            head = ga[k].digits + head
            hconf += ga[k].confusions
            if len(head) >= MAX_PAN:
                break
            if not _may_start(ta, ga[k]):
                continue
            tail, tconf = "", 0
            for m in runs_b[0]:  # tail = groups ..m of line i+1 (prefix)
                if m in used[i + 1]:
                    break
                tail += gb[m].digits
                tconf += gb[m].confusions
                n = len(head) + len(tail)
                if n > MAX_PAN:
                    break
                if n >= MIN_PAN and hconf + tconf <= MAX_CONFUSIONS and luhn_ok(head + tail):
                    key = _preference(n)
                    if best is None or key > best[0]:
                        best = (key, k, m, len(head), head + tail)
        if best is not None:
            _, a, m, nhead, digits = best
            out.append((i, a, m, nhead, digits))
            used[i].update(range(a, len(ga)))
            used[i + 1].update(range(0, m + 1))
    return out


def find_redactions(lines: Sequence[OcrLine], patterns: Iterable[str] = (),
                    keep_last4: bool = False) -> list[Redaction]:
    """Everything to hide on one screenshot: card numbers, then case pattern matches.

    `patterns` are regex strings (already validated by case loading); a pattern that does
    not compile is skipped rather than raised. With `keep_last4`, card boxes and spans
    stop before the last four digits.
    """
    lines = list(lines)
    out: list[Redaction] = []
    groups = [_groups(line.text) for line in lines]
    geos: dict[int, _Geometry] = {}

    def geo(i: int) -> _Geometry:
        if i not in geos:
            geos[i] = _Geometry(lines[i])
        return geos[i]

    used: list[set[int]] = [set() for _ in lines]
    for i, line in enumerate(lines):
        gs = groups[i]
        for a, b in _cards_in_groups(gs, line.text):
            used[i].update(range(a, b + 1))
            positions = [p for g in gs[a:b + 1] for p in g.positions]
            digits = "".join(g.digits for g in gs[a:b + 1])
            masked = len(positions) - 4 if keep_last4 else len(positions)
            r = _card_redactions(i, line, positions, masked, f"card ending {digits[-4:]}", geo(i))
            if r is not None:
                out.append(r)

    for i, a, m, nhead, digits in _split_cards(lines, groups, used):
        label = f"card ending {digits[-4:]} (wrapped over 2 lines)"
        masked_total = len(digits) - 4 if keep_last4 else len(digits)
        pos_a = [p for g in groups[i][a:] for p in g.positions]
        pos_b = [p for g in groups[i + 1][:m + 1] for p in g.positions]
        for idx, pos, masked in ((i, pos_a, min(masked_total, nhead)),
                                 (i + 1, pos_b, max(0, masked_total - nhead))):
            r = _card_redactions(idx, lines[idx], pos, masked, label, geo(idx))
            if r is not None:
                out.append(r)

    compiled = []
    for k, p in enumerate(patterns, 1):
        try:
            compiled.append((k, re.compile(p)))
        except (re.error, TypeError):
            continue
    for i, line in enumerate(lines):
        for k, rx in compiled:
            for mt in rx.finditer(line.text):
                if mt.end() <= mt.start():
                    continue
                box = geo(i).span_box(mt.start(), mt.end(), PATTERN_PAD_DIGITS, PATTERN_PAD_DIGITS)
                out.append(Redaction("pattern", box, i, mt.start(), mt.end(), f"pattern #{k}"))

    out.sort(key=lambda r: (r.line_index, r.start, r.end, r.kind))
    return out


# ---------------------------------------------------------------------------- apply

def apply_to_image(image: Image.Image, redactions: Iterable[Redaction],
                   source_size: tuple[int, int] | None = None) -> Image.Image:
    """A copy of `image` with every redaction's box filled solid black.

    Boxes are in source pixels; if `image` is a resized copy of the source, pass the
    source's (width, height) as `source_size` and the boxes are scaled to fit.
    """
    out = image.copy()
    if out.mode not in ("RGB", "L"):
        out = out.convert("RGB")
    sx = sy = 1.0
    if source_size is not None and source_size[0] > 0 and source_size[1] > 0:
        sx = out.width / source_size[0]
        sy = out.height / source_size[1]
    draw = ImageDraw.Draw(out)
    fill = 0 if out.mode == "L" else (0, 0, 0)
    for r in redactions:
        b = r.box
        x0 = max(0, int(b.x0 * sx))
        y0 = max(0, int(b.y0 * sy))
        x1 = min(out.width - 1, int(-(-b.x1 * sx // 1)))
        y1 = min(out.height - 1, int(-(-b.y1 * sy // 1)))
        if x1 >= x0 and y1 >= y0:
            draw.rectangle([x0, y0, x1, y1], fill=fill)
    return out


def mask_text(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with every non-space character inside the spans replaced by MASK_CHAR."""
    chars = list(text)
    for a, b in spans:
        for k in range(max(0, a), min(len(chars), b)):
            if not chars[k].isspace():
                chars[k] = MASK_CHAR
    return "".join(chars)


def apply_to_lines(lines: Sequence[OcrLine], redactions: Iterable[Redaction]) -> list[OcrLine]:
    """The OCR lines with the redacted characters masked (same length, same boxes), for
    the PDF's invisible text layer."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for r in redactions:
        spans.setdefault(r.line_index, []).append((r.start, r.end))
    out = []
    for i, line in enumerate(lines):
        if i in spans:
            # its words held the secret too: drop them (a highlight estimates instead)
            line = replace(line, text=mask_text(line.text, spans[i]), words=())
        out.append(line)
    return out
