"""A new user's everyday mistakes each get a message that names the fix (issue 10)."""
from __future__ import annotations

import io
import json
import sys
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from evidence import pipeline
from evidence.case import SCHEMA, load_case
from evidence.cli import Progress, cli
from evidence.errors import CaseError
from evidence.ingest import discover

CLIENT = '[client]\nname = "Jane Cooper"\nemail = "jane.cooper@example.com"\n'


def case_with(tmp_path, toml: str) -> Path:
    (tmp_path / "case.toml").write_text(CLIENT + toml, encoding="utf-8")
    (tmp_path / "screenshots").mkdir(exist_ok=True)
    return tmp_path


# --- case.toml strictness ------------------------------------------------------------

@pytest.mark.parametrize("toml, message", [
    ('[dispte]\nprocessor = "shopify"\n', "unknown [dispte] in case.toml; did you mean 'dispute'?"),
    ('[dispute]\nprocesser = "shopify"\n', "[dispute] has an unknown key 'processer'; did you mean 'processor'?"),
    ('[[screenshot]]\nfile = "screenshots/a.png"\nhightlight = "looks great"\n',
     "[[screenshot]] #1 has an unknown key 'hightlight'; did you mean 'highlight'?"),
    ('respond_by = 2024-11-15\n', "[client] has an unknown key 'respond_by'; it belongs under [dispute]"),
    ('[client.extra]\nx = 1\n', "[client] has an unknown key 'extra'"),
    ('[package]\ndate_order = "DYM"\n', "[package] date_order must be one of DMY, MDY, YMD"),
    ('[[screenshot]]\nfile = "screenshots/a.png"\nproves = "delivery"\n',
     "[[screenshot]] #1 proves must be a list of strings"),
])
def test_typos_in_case_toml_are_errors_with_the_nearest_name(tmp_path, toml, message):
    root = case_with(tmp_path, toml)
    with pytest.raises(CaseError) as e:
        load_case(root)
    assert message in str(e.value) and str(root / "case.toml") in str(e.value)


def test_keys_other_stages_add_are_accepted(tmp_path):
    """Keys from the date, identity, reasons and documents work load without complaint."""
    root = case_with(tmp_path, "")
    (root / "case.toml").write_text('''[client]
name = "Jane Cooper"
email = "jane.cooper@example.com"
aliases = ["J. Cooper"]
emails = ["jc@example.org"]
[package]
date_order = "DMY"
languages = ["en", "de"]
[[screenshot]]
file = "screenshots/a.png"
date_order = "MDY"
proves = ["delivery"]
[[document]]
file = "documents/invoice.pdf"
kind = "invoice"
date = 2024-10-01
note = "The invoice"
proves = ["delivery"]
highlight = "Paid"
[rebuttal]
text = "The client received the work."
''', encoding="utf-8")
    load_case(root)
    assert {"aliases", "emails"} <= set(SCHEMA["client"]) and "text" in SCHEMA["rebuttal"]


# --- files ---------------------------------------------------------------------------

def test_nfd_file_names_match_nfc_case_entries(tmp_path):
    nfc = "Café.png"
    root = case_with(tmp_path, f'[[screenshot]]\nfile = "screenshots/{nfc}"\nnote = "the café"\n')
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    Image.new("RGB", (20, 20)).save(root / "screenshots" / nfd)
    found = discover(load_case(root))
    assert [s.note for s in found.screenshots] == ["the café"] and not found.problems


@pytest.mark.parametrize("make_folder", [True, False])
def test_empty_or_missing_screenshot_folder_says_where_it_looked(tmp_path, make_folder):
    (tmp_path / "case.toml").write_text(CLIENT, encoding="utf-8")
    if make_folder:
        (tmp_path / "screenshots").mkdir()
    r = CliRunner().invoke(cli, ["check", str(tmp_path), "-j", "1"])
    assert r.exit_code == 1
    assert str(tmp_path / "screenshots") in r.output
    assert ("no screenshots found here" if make_folder else "no screenshots/ folder") in r.output


# --- init ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, email, message", [
    ("   ", "jane@example.com", "[client] name is missing"),
    ("Jane Cooper", "jane at example", "is not an email address"),
])
def test_init_validates_before_writing(tmp_path, name, email, message):
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "c"), "--name", name, "--email", email])
    assert r.exit_code == 2 and message in r.output and "nothing written" in r.output
    assert not (tmp_path / "c" / "case.toml").exists()


def test_init_strips_a_trailing_space_and_rerun_explains(tmp_path):
    r = CliRunner().invoke(cli, ["init", str(tmp_path), "--name", "Jane Cooper",
                                 "--email", "jane@example.com "])
    assert r.exit_code == 0, r.output
    assert load_case(tmp_path).client.email == "jane@example.com"
    again = CliRunner().invoke(cli, ["init", str(tmp_path), "--name", "X", "--email", "x@y.z"])
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output


# --- watch, progress, hints ----------------------------------------------------------

def test_watch_refuses_an_unknown_processor_at_start(tmp_path):
    root = case_with(tmp_path, "")
    r = CliRunner().invoke(cli, ["watch", str(root), "--once", "--processor", "foo"])
    assert isinstance(r.exception, CaseError) and r.exception.exit_code == 2
    assert "unknown processor 'foo'" in str(r.exception)


def test_progress_prints_periodic_lines_when_stderr_is_not_a_terminal(monkeypatch):
    clock = iter([0.0, 2.0, 3.0, 8.0, 9.0, 30.0])
    monkeypatch.setattr("evidence.cli.time.monotonic", lambda: next(clock))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    p = Progress(delay=1.0, every=5.0)  # created at t=0
    for done in (1, 2, 3, 4, 10):  # at t = 2, 3, 8, 9, 30
        p(done, 10)
    assert err.getvalue().splitlines() == ["OCR 1/10 screenshots read (2 s)",
                                           "OCR 3/10 screenshots read (8 s)",
                                           "OCR 10/10 screenshots read (30 s)"]
