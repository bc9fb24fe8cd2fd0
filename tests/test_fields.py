"""Field checks: name, email and dates as OCR really shows them."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.fields import (DateHit, FieldMatch, FieldReport, check_fields, find_dates,
                             match_email, match_name)
from evidence.ocr.base import Box, OcrLine

CHAR_W = 10.0


def cpu_seconds(fn, *args, repeat: int = 3) -> float:
    """Best-of-`repeat` CPU time of fn(*args): immune to other processes on a busy machine,
    while a catastrophic backtrack (seconds, not milliseconds) still shows."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - t0)
    return best


def lines(*texts: str) -> list[OcrLine]:
    """One OCR line per text, stacked 20 px apart, 10 px per character."""
    return [OcrLine(t, Box(0.0, i * 20.0, len(t) * CHAR_W, i * 20.0 + 18.0), 0.9)
            for i, t in enumerate(texts)]


# --------------------------------------------------------------------------- names

NAME = "Jane Cooper"


@pytest.mark.parametrize("text", [
    "Jane Cooper",
    "jane cooper",
    "JANE COOPER",
    "JaneCooper",                       # missing space
    "JANE C00PER",                      # 0 for O, twice
    "Jane Coooper",                     # a doubled letter inside a word
    "Jane Cooper".upper().replace("O", "0"),  # every O read as 0
    "Jne Cooper",                       # a letter lost inside a word
    "Jane Coo per",                     # a space inserted
    "From: Jane Cooper <jane.cooper@example.com>",
    "Jane Cooper · 3:15 PM",
    "To: Jane Cooper, Support",
    "Cooper, Jane",                     # last name first (Outlook)
    "Jane C0oper",                      # 0 for o
    "Jane Cooper.",
])
def test_name_true_matches(text):
    m = match_name(lines("Order #1234", text, "Thanks!"), NAME)
    assert m.found, text
    assert m.score >= 90
    assert m.text is not None and m.box is not None


@pytest.mark.parametrize("text", [
    "Janet Cowper",                     # 2 edits: another person
    "Jone Cooqer",                      # 2 substitutions
    "Jane Cooqer",                      # one letter that OCR does not confuse: p/q
    "Jane Coaper",                      # o/a
    "Jena Cooper",
    "Jane Cooker",                      # p/k
    "Jane Cxxper",
    "Jane Porter",
    "John Cooper",
    "Jane",
    "Cooper",
    "Janet Cooper",                     # letter added at a word edge: another name
    "Jane Coopers",
    "Jan Cooper",                       # letter dropped at a word edge
    "Mary-Jane Cooper",                 # hyphenated first name is another name
    "Jane Cooper-Smith",
    "jane.cooper@example.com",          # the address alone does not show the name
    "Jane Cooperman",
    "",
])
def test_name_false_matches(text):
    m = match_name(lines("Order #1234", text, "Thanks!"), NAME)
    assert not m.found, text
    assert m.text is None and m.box is None


@pytest.mark.parametrize("text, name", [
    ("José García", "Jose Garcia"),
    ("Jose Garcia", "José García"),
    ("JOSÉ GARCÍA", "José García"),
    ("Sean O'Brien", "Sean O'Brien"),
    ("Sean O’Brien", "Sean O'Brien"),
    ("Sean OBrien", "Sean O'Brien"),
    ("Anne-Marie Dupont", "Anne-Marie Dupont"),
    ("Wiliam Smith", "William Smith"),  # l lost inside the word
    ("Mary Ann Lee", "Mary Ann Lee"),
])
def test_name_variants(text, name):
    assert match_name(lines(text), name).found


def test_name_short_names_must_match_exactly():
    assert match_name(lines("Bo Li"), "Bo Li").found
    assert not match_name(lines("Bo Lu"), "Bo Li").found


def test_name_box_is_sub_span_of_line():
    text = "From: Jane Cooper <x>"
    m = match_name(lines(text), NAME)
    assert m.text == "Jane Cooper"
    start = text.index("Jane")
    assert m.box == Box(start * CHAR_W, 0.0, (start + len("Jane Cooper")) * CHAR_W, 18.0)


def test_name_split_across_two_adjacent_lines():
    m = match_name(lines("Jane", "Cooper"), NAME)
    assert m.found
    assert m.text == "Jane Cooper"
    assert m.box == Box(0.0, 0.0, 60.0, 38.0)  # union of both lines' parts


def test_name_split_needs_lines_that_touch():
    far = [OcrLine("Jane", Box(0, 0, 40, 18), 0.9), OcrLine("Cooper", Box(0, 300, 60, 318), 0.9)]
    assert not match_name(far, NAME).found


def test_name_prefers_exact_over_damaged():
    m = match_name(lines("Jane Coper", "Jane Cooper"), NAME)
    assert m.score == 100.0 and m.box.y0 == 20.0


def test_name_miss_reports_near_score():
    m = match_name(lines("Janet Cooper"), NAME)
    assert not m.found and 80 < m.score < 100


def test_name_empty_inputs():
    assert match_name([], NAME) == FieldMatch(False, None, 0.0, None)
    assert not match_name(lines("Jane Cooper"), "").found
    assert not match_name(lines("Jane Cooper"), "  --  ").found


# --------------------------------------------------------------------------- emails

EMAIL = "jane.cooper@example.com"


@pytest.mark.parametrize("text", [
    "jane.cooper@example.com",
    "janecooper@example.com",           # dropped dot in the local part
    "jane.cooper@examplecom",           # dropped dot in the domain
    "jane.cooper(a)example.com",        # @ read as (a)
    "jane.cooper©example.com",
    "jane.cooper®example.com",
    "jane.cooper example.com",          # @ dropped, space left
    "jane.cooperexample.com",           # @ dropped
    "jane.c0oper@example.com",          # 0 for o
    "jane.cooper@examp1e.com",          # 1 for l
    "jane.cooper@exampIe.com",          # I for l
    "jane . cooper @ example . com",    # spaces around . and @
    "jane.cooper @example.com",
    "<jane.cooper@example.com>",
    "JANE.COOPER@EXAMPLE.COM",
    "From: Jane Cooper <jane.cooper@example.com>",
    "email me at jane.cooper@example.com.",
    "jane,cooper@example,com",          # , misread for .
    "jane.c0oper@examp1e.c0m",          # several confusions at once
    "jane.cooper@exarnple.com",         # rn for m
    "JANE.COOPER@EXAMPLE.C0M",
    "jane.cooper＠example.com",         # fullwidth @
])
def test_email_true_matches(text):
    m = match_email(lines("Subject: order", text), EMAIL)
    assert m.found, text
    assert m.score >= 90
    assert m.text is not None and m.box is not None


@pytest.mark.parametrize("text", [
    "janet.cowper@example.org",
    "jane.cooper@example.org",          # another domain
    "jane.coopers@example.com",         # one extra letter: another mailbox
    "j.cooper@example.com",
    "jane.coper@example.com",           # one letter fewer: another mailbox
    "mary.jane.cooper@example.com",     # ours is only the tail of it
    "xjane.cooper@example.com",
    "jane.cooper@example.com.au",       # ours is only the head of it
    "jane.cooper@example.community",
    "jane cooper example com",          # plain words, no @ and no dot
    "jane.cooper@exannple.org",
    "jane.cooper@example.con",          # one letter OCR does not confuse: another mailbox
    "jane.caoper@example.com",
    "jana.cooper@example.com",
    "jane.cooper@",
    "example.com",
    "",
])
def test_email_false_matches(text):
    m = match_email(lines("Subject: order", text), EMAIL)
    assert not m.found, text
    assert m.text is None and m.box is None


def test_email_box_is_sub_span_of_line():
    text = "To: <jane.cooper@example.com>"
    m = match_email(lines(text), EMAIL)
    assert m.text == EMAIL
    start = text.index("jane")
    assert m.box == Box(start * CHAR_W, 0.0, (start + len(EMAIL)) * CHAR_W, 18.0)


def test_email_confusions_pass_other_letters_fail():
    assert match_email(lines("jane.cooper@examp1e.c0m"), EMAIL).found
    assert not match_email(lines("jane.cooper@example.cxm"), EMAIL).found
    assert not match_email(lines("jane.cxoper@example.cxm"), EMAIL).found


def test_email_short_address_allows_no_substitution():
    assert match_email(lines("a@b.co"), "a@b.co").found
    assert not match_email(lines("a@b.cx"), "a@b.co").found


def test_email_prefers_exact_line():
    m = match_email(lines("jane.cooper@example.con", "jane.cooper@example.com"), EMAIL)
    assert m.score == 100.0 and m.box.y0 == 20.0


def test_email_target_case_and_spaces_ignored():
    assert match_email(lines("jane.cooper@example.com"), "  Jane.Cooper@Example.COM ").found


# --------------------------------------------------------------------------- dates

def one(text: str) -> DateHit:
    hits = find_dates(lines(text))
    assert len(hits) == 1, (text, hits)
    return hits[0]


# text, (year, month, day), weekday, relative_days, (hour, minute, second)
DATE_CASES = [
    ("Oct 28, 2024", (2024, 10, 28), None, None, (None, None, None)),
    ("28 Oct 2024", (2024, 10, 28), None, None, (None, None, None)),
    ("October 28, 2024 at 3:15 PM", (2024, 10, 28), None, None, (15, 15, None)),
    ("2024-10-28 17:40", (2024, 10, 28), None, None, (17, 40, None)),
    ("2024-10-2817:40", (2024, 10, 28), None, None, (17, 40, None)),
    ("2024-10-28T17:40:05", (2024, 10, 28), None, None, (17, 40, 5)),
    ("2024-10-28", (2024, 10, 28), None, None, (None, None, None)),
    ("28.10.2024", (2024, 10, 28), None, None, (None, None, None)),
    ("05.01.2015", (2015, 1, 5), None, None, (None, None, None)),   # dotted is day first
    ("10/28/2024", (2024, 10, 28), None, None, (None, None, None)),
    ("01/05/2015", (2015, 1, 5), None, None, (None, None, None)),   # slash is US
    ("28/10/2024", (2024, 10, 28), None, None, (None, None, None)),  # only reading
    ("10/28/24", (2024, 10, 28), None, None, (None, None, None)),
    ("Mon 10/28/2024 3:15 PM", (2024, 10, 28), 0, None, (15, 15, None)),
    ("Tue, 08 Oct 2024 09:14:52 -0400", (2024, 10, 8), 1, None, (9, 14, 52)),
    ("Friday, October 18th", (None, 10, 18), 4, None, (None, None, None)),
    ("Oct 18", (None, 10, 18), None, None, (None, None, None)),
    ("18th of October", (None, 10, 18), None, None, (None, None, None)),
    ("Sept. 3", (None, 9, 3), None, None, (None, None, None)),
    ("Mon, Oct 28 at 3:15 PM", (None, 10, 28), 0, None, (15, 15, None)),
    ("Yesterday 4:12 PM", (None, None, None), None, -1, (16, 12, None)),
    ("Yesterday at 16:12", (None, None, None), None, -1, (16, 12, None)),
    ("Yesterday, 4:12 PM", (None, None, None), None, -1, (16, 12, None)),
    ("Today", (None, None, None), None, 0, (None, None, None)),
    ("Today 9:30", (None, None, None), None, 0, (9, 30, None)),
    ("TODAY", (None, None, None), None, 0, (None, None, None)),
    ("Monday", (None, None, None), 0, None, (None, None, None)),
    ("SUNDAY", (None, None, None), 6, None, (None, None, None)),
    ("Mon 10:05 AM", (None, None, None), 0, None, (10, 5, None)),
    ("Thursday 12:30 AM", (None, None, None), 3, None, (0, 30, None)),
    ("Oct 28, 2024 10.42", (2024, 10, 28), None, None, (10, 42, None)),  # . for :
    ("Oct28,2024", (2024, 10, 28), None, None, (None, None, None)),
    ("oct 28, 2024", (2024, 10, 28), None, None, (None, None, None)),
    ("october 28 2024", (2024, 10, 28), None, None, (None, None, None)),
    ("Oct 28, 2024, 3 PM", (2024, 10, 28), None, None, (15, 0, None)),
    ("Oct 28, 2024 12:05 PM", (2024, 10, 28), None, None, (12, 5, None)),
    ("Oct 28, 2024 12:05 AM", (2024, 10, 28), None, None, (0, 5, None)),
    ("Oct 28 · 3:15 pm", (None, 10, 28), None, None, (15, 15, None)),
    ("May 5", (None, 5, 5), None, None, (None, None, None)),
    ("3 March 2024", (2024, 3, 3), None, None, (None, None, None)),
    ("Feb 29, 2024", (2024, 2, 29), None, None, (None, None, None)),
    ("Feb 29", (None, 2, 29), None, None, (None, None, None)),
]


@pytest.mark.parametrize("text, ymd, weekday, rel, hms", DATE_CASES)
def test_date_formats(text, ymd, weekday, rel, hms):
    hit = one(text)
    assert (hit.year, hit.month, hit.day) == ymd
    assert hit.weekday == weekday
    assert hit.relative_days == rel
    assert (hit.hour, hit.minute, hit.second) == hms


@pytest.mark.parametrize("text", [
    "9:41",                     # a bare clock time is not a date
    "3:15 PM",
    "Delivered 10:42",
    "Mayor", "Marching", "Sunday-school",
    "May", "March", "may I ask",
    "Oct 2024",                 # month and year but no day
    "Feb 30, 2024", "2024-13-01", "31.04.2024", "13/13/2024", "Feb 29, 2023",
    "Oct 28, 1024",             # year out of range
    "see you Monday",           # weekday in running text
    "I sent it yesterday",
    "Today's deal",
    "1.2.2024.5",               # version number
    "192.168.10.24",
    "1.10.24",                  # dotted 2-digit year with a 1-digit part: a version
    "Oct 123",
    "Montreal", "Wednesdays", "Sat in traffic",
    "",
])
def test_not_dates(text):
    assert find_dates(lines(text)) == []


def test_date_text_and_box_are_the_span():
    text = "Jane Cooper  Oct 28, 2024 at 3:15 PM  Read"
    hit = one(text)
    assert hit.text == "Oct 28, 2024 at 3:15 PM"
    start = text.index("Oct")
    assert hit.box == Box(start * CHAR_W, 0.0, (start + len(hit.text)) * CHAR_W, 18.0)


def test_rfc_offset_is_not_applied():
    hit = one("Date: Tue, 08 Oct 2024 09:14:52 -0400")
    assert hit.resolve(None) == datetime(2024, 10, 8, 9, 14, 52)


def test_weekday_in_label_with_bullet():
    hit = one("Jane Cooper · Yesterday")
    assert hit.relative_days == -1 and hit.text == "Yesterday"


def test_clock_elsewhere_on_line_is_attached():
    hit = one("Oct 28   Jane Cooper   3:15 PM")
    assert (hit.month, hit.day, hit.hour, hit.minute) == (10, 28, 15, 15)
    assert hit.text == "Oct 28"


def test_clock_on_other_line_is_not_attached():
    hits = find_dates(lines("Oct 28, 2024", "3:15 PM"))
    assert len(hits) == 1 and hits[0].hour is None


def test_several_dates_in_reading_order():
    hits = find_dates(lines("Oct 28, 2024", "hello", "Yesterday 4:12 PM", "2024-10-30 and 31.10.2024"))
    assert [(h.year, h.month, h.day, h.relative_days) for h in hits] == [
        (2024, 10, 28, None), (None, None, None, -1), (2024, 10, 30, None),
        (2024, 10, 31, None)]


def test_longest_reading_wins_over_parts():
    # "Tue" alone would be a weekday hit; the full date must absorb it.
    hit = one("Tue, 08 Oct 2024")
    assert (hit.year, hit.weekday) == (2024, 1)


# --------------------------------------------------------------------------- resolve

ANCHOR = datetime(2024, 10, 30, 9, 2, 11)  # a Wednesday


@pytest.mark.parametrize("hit, anchor, expected", [
    (DateHit("x", None, 2024, 10, 28), None, datetime(2024, 10, 28)),
    (DateHit("x", None, 2024, 10, 28, hour=15, minute=15), None, datetime(2024, 10, 28, 15, 15)),
    (DateHit("x", None, None, 10, 18), ANCHOR, datetime(2024, 10, 18)),
    (DateHit("x", None, None, 10, 30), ANCHOR, datetime(2024, 10, 30)),  # same day
    (DateHit("x", None, None, 12, 24), ANCHOR, datetime(2023, 12, 24)),  # after -> last year
    (DateHit("x", None, None, 10, 18), None, None),
    (DateHit("x", None, None, 2, 29), datetime(2025, 3, 1), datetime(2024, 2, 29)),
    (DateHit("x", None, relative_days=0), ANCHOR, datetime(2024, 10, 30)),
    (DateHit("x", None, relative_days=-1, hour=16, minute=12), ANCHOR,
     datetime(2024, 10, 29, 16, 12)),
    (DateHit("x", None, relative_days=-1), datetime(2024, 3, 1, 1, 0), datetime(2024, 2, 29)),
    (DateHit("x", None, relative_days=-1), None, None),
    (DateHit("x", None, weekday=2), ANCHOR, datetime(2024, 10, 30)),   # Wed: the same day
    (DateHit("x", None, weekday=0), ANCHOR, datetime(2024, 10, 28)),   # Mon before
    (DateHit("x", None, weekday=3, hour=10, minute=5), ANCHOR, datetime(2024, 10, 24, 10, 5)),
    (DateHit("x", None, weekday=0), None, None),
    (DateHit("x", None, weekday=4, month=10, day=18), ANCHOR, datetime(2024, 10, 18)),
    (DateHit("x", None), ANCHOR, None),
])
def test_resolve(hit, anchor, expected):
    assert hit.resolve(anchor) == expected


def test_resolve_bare_weekday_is_within_last_week():
    for offset in range(7):
        anchor = datetime(2024, 10, 30) + timedelta(days=offset)
        for wd in range(7):
            got = DateHit("x", None, weekday=wd).resolve(anchor)
            assert got.weekday() == wd
            assert timedelta(0) <= anchor - got < timedelta(days=7)


# --------------------------------------------------------------------------- report

def test_check_fields_report():
    ls = lines("Jane Cooper <jane.cooper@example.com>", "Oct 28, 2024", "Hi, my order is late")
    rep = check_fields(ls, NAME, EMAIL)
    assert isinstance(rep, FieldReport)
    assert rep.name.found and rep.email.found and len(rep.dates) == 1
    assert rep.all_found
    rep2 = check_fields(ls[1:], NAME, EMAIL)
    assert not rep2.all_found and not rep2.name.found and not rep2.email.found


# --------------------------------------------------------------------------- properties

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _h12(dt: datetime) -> str:
    return f"{(dt.hour % 12) or 12}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}"


# name -> (render, shows_year, shows_time, shows_seconds)
FORMATS = {
    "Mon DD, YYYY": (lambda d: f"{MONTHS[d.month - 1][:3]} {d.day:02d}, {d.year}", True, False, False),
    "DD Mon YYYY": (lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}", True, False, False),
    "Month D, YYYY at h:mm PM": (lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year} at {_h12(d)}",
                                 True, True, False),
    "YYYY-MM-DD HH:MM": (lambda d: f"{d:%Y-%m-%d %H:%M}", True, True, False),
    "YYYY-MM-DDHH:MM glued": (lambda d: f"{d:%Y-%m-%d%H:%M}", True, True, False),
    "DD.MM.YYYY": (lambda d: f"{d:%d.%m.%Y}", True, False, False),
    "MM/DD/YYYY": (lambda d: f"{d:%m/%d/%Y}", True, False, False),
    "RFC 2822": (lambda d: f"{WEEKDAYS[d.weekday()][:3]}, {d.day:02d} "
                           f"{MONTHS[d.month - 1][:3]} {d.year} {d:%H:%M:%S} -0400",
                 True, True, True),
    "Weekday, Month Dth": (lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} "
                                     f"{_ordinal(d.day)}", False, False, False),
    "Mon D": (lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}", False, False, False),
    "MonDD,YYYY no spaces": (lambda d: f"{MONTHS[d.month - 1][:3]}{d.day},{d.year}",
                             True, False, False),
    "lowercase": (lambda d: f"{MONTHS[d.month - 1].lower()} {d.day}, {d.year} {_h12(d).lower()}",
                  True, True, False),
    "dotted clock": (lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year} {d:%H.%M}",
                     True, True, False),
}

dates_st = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@given(dt=dates_st, before=st.sampled_from(["", "Sent ", "From: Jane Cooper  ", "· "]),
       after=st.sampled_from(["", " ", "  Read", " · Jane"]))
@settings(max_examples=60, deadline=None)
def test_round_trip(fmt, dt, before, after):
    render, shows_year, shows_time, shows_seconds = FORMATS[fmt]
    text = render(dt)
    hits = find_dates(lines(before + text + after))
    assert len(hits) == 1, (text, hits)
    hit = hits[0]
    assert (hit.month, hit.day) == (dt.month, dt.day), text
    assert hit.year == (dt.year if shows_year else None), text
    if shows_time:
        assert (hit.hour, hit.minute) == (dt.hour, dt.minute), text
        assert hit.second == (dt.second if shows_seconds else None), text
    else:
        assert hit.hour is None, text
    # Resolved against a capture time shortly after, the date comes back whole.
    anchor = dt + timedelta(days=3)
    got = hit.resolve(anchor)
    assert got is not None
    assert got.date() == dt.date(), text


@given(dt=dates_st)
@settings(max_examples=100, deadline=None)
def test_round_trip_relative_and_weekday(dt):
    anchor = dt
    assert one(f"Yesterday {_h12(dt)}").resolve(anchor).date() == dt.date() - timedelta(days=1)
    assert one(f"Today at {dt:%H:%M}").resolve(anchor) == dt.replace(second=0, microsecond=0)
    wd_hit = one(f"{WEEKDAYS[dt.weekday()][:3]} {_h12(dt)}")
    assert wd_hit.resolve(anchor) == dt.replace(second=0, microsecond=0)


@given(st.text(max_size=2000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_find_dates_never_raises_and_is_fast(text):
    hits = find_dates(lines(text))
    assert cpu_seconds(find_dates, lines(text)) < 0.05
    for h in hits:
        assert h.text in text


_date_alphabet = st.sampled_from(list("0123456789 ,.:/-APMapmT") +
                                 ["Oct", "May", "Mon", "Today", "at", "th", "2024", "12", "  "])


@given(st.lists(_date_alphabet, max_size=700).map("".join))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_find_dates_fast_on_date_like_noise(text):
    text = text[:2000]
    assert cpu_seconds(find_dates, lines(text)) < 0.05


@pytest.mark.parametrize("unit", [
    "1", "1.", "1:", "12:", "2024-", "2024-10-", "Oct 1", "Oct ", "Mon, ", "Today at ",
    "1 ", " ", "\t", "11/11/", "1.1.", "Oct 28, 2024 at ", "28th of ", "am ", "12 PM ",
    "Mon ", "Mon 1:00 ", "Today ", "Oct 28 ", "1:00 Mon ", "Yesterday · ",
])
def test_find_dates_no_backtracking_blowup(unit):
    text = (unit * (2048 // len(unit) + 1))[:2048]
    assert cpu_seconds(find_dates, lines(text)) < 0.05


@given(st.text(max_size=300), st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_match_name_never_raises(text, name):
    m = match_name(lines(text, text[::-1]), name)
    assert 0.0 <= m.score <= 100.0
    assert m.found == (m.text is not None) == (m.box is not None)


@given(st.text(max_size=300), st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_match_email_never_raises(text, email):
    m = match_email(lines(text), email)
    assert 0.0 <= m.score <= 100.0
    assert m.found == (m.text is not None) == (m.box is not None)


@given(local=st.from_regex(r"[a-z]{2,10}(\.[a-z]{2,10})?", fullmatch=True),
       domain=st.from_regex(r"[a-z]{3,10}\.(com|org|net|de)", fullmatch=True),
       before=st.sampled_from(["", "To: ", "From: Jane <", "mail "]),
       after=st.sampled_from(["", ">", " wrote:", "."]))
@settings(max_examples=200, deadline=None)
def test_email_found_in_context(local, domain, before, after):
    email = f"{local}@{domain}"
    m = match_email(lines(before + email + after), email)
    assert m.found and m.score == 100.0
    assert m.text == email


@given(local=st.from_regex(r"[a-z]{3,10}", fullmatch=True),
       extra=st.sampled_from(list("abcdefghjkmnpqrstuvwxyz")))
@settings(max_examples=200, deadline=None)
def test_email_extra_letter_is_another_mailbox(local, extra):
    email = f"{local}@example.com"
    assert not match_email(lines(f"{local}{extra}@example.com"), email).found
    assert not match_email(lines(f"{extra}{local}@example.com"), email).found


# --------------------------------------------------------------------------- phrases

def _line(text, x0=0.0, y0=0.0):
    from evidence.ocr.base import Box, OcrLine
    return OcrLine(text, Box(x0, y0, x0 + 10.0 * len(text), y0 + 20.0), 0.99)


def test_find_phrase_exact_fuzzy_and_missing():
    from evidence.fields import find_phrase
    lines = [_line("Jane Cooper"), _line("The preview LOOKS GREAT, thanks!", 0, 100)]
    m = find_phrase(lines, "looks great")
    assert m.found and m.text == "LOOKS GREAT"
    assert m.box.y0 == 100 and m.box.x0 == 120.0 and m.box.x1 == 230.0
    assert find_phrase([_line("The preview looks qreat, thanks!")], "looks great").found
    assert not find_phrase(lines, "refund please").found
    assert not find_phrase(lines, "   ").found
