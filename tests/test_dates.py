"""Dates by stage (evidence/dates/): languages, numeric order by evidence, the client's
message date chosen by layout, outliers; and the case.toml keys that steer them."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from evidence.case import parse_case
from evidence.dates.filed import rank_dates
from evidence.dates.find import find_dates
from evidence.dates.order import decide, settled_orders
from evidence.dates.span import outliers
from evidence.errors import CaseError
from evidence.fields import check_fields, match_email
from evidence.ocr.base import Box, OcrLine
from evidence.when import resolve_when


def ln(text: str, x0=0.0, y0=0.0, h=20.0) -> OcrLine:
    return OcrLine(text, Box(x0, y0, x0 + 10.0 * len(text), y0 + h), 0.9)


def one(text: str, languages=None):
    hits = find_dates([ln(text)], languages)
    assert len(hits) == 1, (text, hits)
    return hits[0]


# ------------------------------------------------------------------ languages

@pytest.mark.parametrize("text, ymd, weekday", [
    ("15. August", (None, 8, 15), None),
    ("12. Dez. 2019", (2019, 12, 12), None),
    ("Mittwoch, 18. Dezember 2019", (2019, 12, 18), 2),
    ("Mi., 18.12.2019", (2019, 12, 18), 2),
    ("12 februari 2019", (2019, 2, 12), None),
    ("18.12.19", (2019, 12, 18), None),
    ("mardi 3 décembre 2019", (2019, 12, 3), 1),
    ("25 de junio de 2021", (2021, 6, 25), None),
    ("3 de dez. de 2019", (2019, 12, 3), None),
    ("12 dicembre 2019", (2019, 12, 12), None),
    ("0ct 02, 2024", (2024, 10, 2), None),          # OCR's 0 for O
    ("Thu, 10 0ct 2024", (2024, 10, 10), 3),
])
def test_month_and_weekday_names_in_six_languages(text, ymd, weekday):
    h = one(text)
    assert (h.year, h.month, h.day) == ymd and h.weekday == weekday


@pytest.mark.parametrize("text, rel", [
    ("Heute", 0), ("Gestern 09:14", -1), ("Hier", -1), ("Ayer", -1), ("Hoy 10:00", 0),
    ("Ontem", -1), ("Ieri", -1), ("Oggi", 0), ("Gisteren", -1), ("Vandaag", 0),
    ("Aujourd’hui", 0),
])
def test_relative_day_words(text, rel):
    assert one(text).relative_days == rel


def test_languages_narrow_the_search():
    assert find_dates([ln("12. Dez. 2019")], ["en"]) == []
    assert one("12. Dez. 2019", ["de"]).month == 12


@pytest.mark.parametrize("text", ["Sam", "Dom", "Sex", "set 5 reminders here today please",
                                  "Hier klicken um mehr zu lesen"])
def test_foreign_words_are_not_dates(text):
    assert find_dates([ln(text)]) == []


def test_numeric_date_split_over_boxes_is_joined():
    boxes = [OcrLine("02/", Box(0, 0, 30, 20), .9), OcrLine("/10/", Box(32, 0, 70, 20), .9),
             OcrLine("/2024", Box(72, 0, 120, 20), .9)]
    hits = find_dates(boxes)
    assert len(hits) == 1 and hits[0].year == 2024 and {hits[0].month, hits[0].day} == {2, 10}


# ------------------------------------------------------------------ numeric order

def test_weekday_settles_the_order():
    h = one("24/10/02(Wed)")  # Sylpheed: yy/mm/dd
    assert (h.year, h.month, h.day, h.order) == (2024, 10, 2, "YMD") and not h.ambiguous
    h = one("02/10/24(Wed)")
    assert (h.year, h.month, h.day, h.order) == (2024, 10, 2, "DMY")


def test_plain_date_on_the_same_screenshot_settles_the_order():
    hits = find_dates([ln("02/10/2024, 09:14"), ln("28/10/2024", y0=40)])
    assert hits[0].ambiguous
    got = decide(hits)
    assert (got[0].month, got[0].day) == (10, 2) and got[0].order == "DMY"
    assert "28/10/2024" in got[0].order_reason


def test_case_order_and_date_order_setting():
    h = find_dates([ln("02/10/2024")])
    assert decide(h, case_orders={"/": "DMY"})[0].month == 10
    assert decide(h, date_order="MDY")[0].month == 2
    assert decide(h)[0].ambiguous  # nothing settles it: reported, not silently decided
    assert settled_orders(find_dates([ln("28/10/2024")])) == {"/": "DMY"}


def test_capture_time_rules_out_a_future_reading():
    h = find_dates([ln("11/10/2024")])
    got = decide(h, capture=datetime(2024, 10, 20))
    assert (got[0].month, got[0].day) == (10, 11) and not got[0].ambiguous


# ------------------------------------------------------------------ layout

def _when(lines, names=("Jane Cooper",)):
    hits = find_dates(lines)
    client = [i for i, l in enumerate(lines) if any(n in l.text for n in names)]
    ranked = rank_dates(lines, hits, client)
    return resolve_when(hits, filename_time=None, exif_time=None, mtime=datetime(2024, 11, 1),
                        manual=None, kind="conversation", ranked=ranked)


def test_client_row_beats_other_rows_and_quotes():
    lines = [ln("Bob Smith", 0, 0), ln("Oct 1, 2024", 400, 0),
             ln("Jane Cooper", 0, 40), ln("Oct 20, 2024", 400, 40),
             ln("On Tue, Oct 8, 2024 at 5:40 PM Bob wrote:", 0, 200),
             ln("Meeting this Wednesday, Oct 2, 2024 at the office, ok?", 0, 240)]
    w = _when(lines)
    assert w.value.date() == date(2024, 10, 20) and w.reason == "on the client's row"


def test_date_header_wins_and_subject_loses():
    lines = [ln("Subject: invoice of Oct 1, 2024", 0, 0), ln("From: Jane Cooper", 0, 40),
             ln("Date: Oct 9, 2024", 0, 80)]
    w = _when(lines)
    assert w.value.date() == date(2024, 10, 9) and w.reason == "a Date header"


def test_earliest_of_the_clients_own_rows():
    lines = [ln("Jane Cooper", 0, 0), ln("Dec 24, 2019", 400, 0),
             ln("Jane Cooper", 0, 60), ln("Dec 18, 2019", 400, 60)]
    assert _when(lines).value.date() == date(2019, 12, 18)


def test_separator_over_the_clients_message():
    lines = [ln("Monday, February 17", 100, 0), ln("Bob: hello", 0, 40),
             ln("Tuesday, February 18", 100, 100), ln("Jane Cooper", 0, 140),
             ln("thanks, all good", 0, 170)]
    w = _when(lines)
    assert (w.value.month, w.value.day) == (2, 18)
    assert "separator" in w.reason and "year from the weekday" in w.reason


# ------------------------------------------------------------------ outliers, case keys

def test_a_date_years_away_from_the_rest_is_an_outlier():
    dated = [("a", datetime(2024, 10, 2)), ("b", datetime(2024, 10, 9)),
             ("c", datetime(2002, 10, 24)), ("d", datetime(2024, 11, 1))]
    assert set(outliers(dated)) == {"c"}
    assert outliers(dated[:2]) == {}


def test_case_keys_for_identity_and_dates(tmp_path: Path):
    case = parse_case({"client": {"name": "Johanna Doe", "email": "jo@example.com",
                                  "aliases": ["Jojo"], "emails": ["johanna@work.example"]},
                       "package": {"date_order": "dmy", "languages": ["de", "en"]},
                       "screenshot": [{"file": "a.png", "date_order": "YMD"}]},
                      root=tmp_path, path=tmp_path / "case.toml")
    assert case.client.names == ("Johanna Doe", "Jojo")
    assert case.client.all_emails == ("jo@example.com", "johanna@work.example")
    assert case.date_order == "DMY" and case.languages == ("de", "en")
    assert case.entries["a.png"].date_order == "YMD"
    r = check_fields([ln("Jojo"), ln("johanna@work.example", y0=40)], case.client.name,
                     case.client.email, aliases=case.client.aliases, emails=case.client.emails)
    assert r.name.found and r.email.found
    for bad in ({"package": {"date_order": "YDM"}}, {"package": {"languages": ["xx"]}},
                {"client": {"emails": ["nope"]}}):
        data = {"client": {"name": "A B", "email": "a@b.co"}}
        for k, v in bad.items():
            data.setdefault(k, {}).update(v)
        with pytest.raises(CaseError):
            parse_case(data, root=tmp_path, path=tmp_path / "case.toml")


def test_email_wrapped_over_two_lines():
    lines = [ln("Mega Casino <Members@play", 0, 0), ln(".megacasino.com>", 0, 22)]
    m = match_email(lines, "Members@play.megacasino.com")
    assert m.found and m.box.y1 == 42
    assert not match_email(lines, "Members@play.megacasinos.com").found
