"""Month names, weekday names and day words (Today, Heute, Hier, Ayer...) per language.

Built from Babel's CLDR data, not hand-written lists: wide and abbreviated forms, format
and stand-alone, each folded like the OCR text is (lowercase, accents dropped, the dot
of an abbreviation optional). A token that means different things in two of the chosen
languages is dropped rather than guessed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl")  # read when [package] languages is unset

# English spellings CLDR does not list but mail clients print.
_EN_EXTRA_MONTHS = {"sept": 9}
_EN_EXTRA_WEEKDAYS = {"tues": 1, "thur": 3, "thurs": 3}


def deaccent(text: str) -> str:
    """Accents dropped and lower-cased, one character for one (positions stay valid)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)[:1] or ch
        low = base.lower()
        out.append(low if len(low) == 1 else base)
    return "".join(out)


@dataclass(frozen=True)
class Tables:
    months: dict[str, int]  # token -> 1..12
    weekdays: dict[str, int]  # token -> 0 (Monday)..6
    relative: dict[str, int]  # "heute" -> 0, "gestern" -> -1
    short_weekdays: frozenset[str]  # tokens of 2 letters: only with their dot ("Mi.")


def _add(table: dict[str, int], clash: set[str], token: str, value: int) -> None:
    t = deaccent(token).strip().rstrip(".").replace("\u2019", "'")
    if not t or not re.fullmatch(r"[a-z][a-z .'\u2019-]*", t):
        return
    if table.get(t, value) != value:
        clash.add(t)
    table[t] = value


@lru_cache(maxsize=16)
def tables(languages: tuple[str, ...] = LANGUAGES) -> Tables:
    """The token tables for `languages` (CLDR codes such as "de", "pt")."""
    from babel import Locale

    months: dict[str, int] = {}
    weekdays: dict[str, int] = {}
    relative: dict[str, int] = {}
    clash: set[str] = set()
    for code in languages:
        loc = Locale.parse(code)
        for ctx in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for k, v in loc.months[ctx][width].items():
                    _add(months, clash, v, int(k))
                for k, v in loc.days[ctx][width].items():
                    _add(weekdays, clash, v, int(k))
        for k, v in loc._data["date_fields"]["day"]["relative"].items():
            if int(k) <= 0:  # a screenshot shows past messages: today, yesterday, the day before
                _add(relative, clash, v, int(k))
        if code == "en":
            months.update(_EN_EXTRA_MONTHS)
            weekdays.update(_EN_EXTRA_WEEKDAYS)
    for t in clash:
        months.pop(t, None)
        weekdays.pop(t, None)
        relative.pop(t, None)
    # A token both a month and a weekday (es/it "mar" = martes and marzo) stays in both:
    # the patterns that read them never compete for the same place in a date.
    short = frozenset(t for t in weekdays if len(t) <= 2)
    return Tables(months, weekdays, relative, short)


def alternation(tokens, *, dotted: frozenset[str] = frozenset()) -> str:
    """A regex alternation of tokens, longest first; `dotted` ones need their dot."""
    parts = []
    for t in sorted(tokens, key=lambda t: (-len(t), t)):
        p = re.escape(t).replace("\\ ", r"\s{1,2}").replace("'", "['\u2019]")
        parts.append(p + r"\." if t in dotted else p)
    return "|".join(parts)
