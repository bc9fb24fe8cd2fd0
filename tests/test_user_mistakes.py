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
    ('[[screenshot]]\nfile = "screenshots/a.png"\nproves = 3\n',
     "[[screenshot]] #1 proves must be a list of strings (or one string)"),
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


# --- with the real OCR engine ---------------------------------------------------------

REF_LAYOUTS = [(layout, font, size) for layout in ("phone_light", "phone_dark", "email",
                                                    "helpdesk", "teamchat")
               for font, size in (("vera", None), ("default", None))] + [
    ("phone_light", "vera", 19), ("email", "default", 15)]  # 12 layouts


def ref_shots(refs: int = 5):
    """12 layouts, each rendered `refs` times, differing only in a reference number."""
    from fixtures.generate import Message, Shot
    shots = []
    for i, (layout, font, size) in enumerate(REF_LAYOUTS):
        for k in range(1, refs + 1):
            shots.append(Shot(
                f"L{i:02d}-ref{k}.png", layout=layout, font=font, font_size=size,
                date=datetime(2024, 10, 3 + i, 10, 15), date_style="mdy",
                title="Order follow-up",
                messages=[Message("The final files are attached"),
                          Message(f"Ref PROOF-A{i + 1}-{k}", me=True),
                          Message("Received, thank you")]))
    return shots


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("ocr-cache"))}


@pytest.mark.slow
def test_sixty_screenshots_differing_in_a_reference_are_sixty_exhibits(tmp_path, cache_env,
                                                                        monkeypatch):
    """Issue 10's case: one number differs, so every screenshot is different evidence;
    a re-saved, a resized and a recompressed copy of three of them are still left out."""
    from fixtures.generate import write_case
    for k, v in cache_env.items():
        monkeypatch.setenv(k, v)
    write_case(tmp_path, ref_shots(), overwrite=True, optimize=False)
    shots = tmp_path / "screenshots"
    with Image.open(shots / "L00-ref1.png") as im:
        im.convert("RGB").save(shots / "L00-ref1 resaved.jpg", quality=80)
    with Image.open(shots / "L02-ref2.png") as im:
        im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS).save(
            shots / "L02-ref2 small.png")
    with Image.open(shots / "L04-ref3.png") as im:
        im.convert("RGB").save(shots / "L04-ref3 q50.webp", quality=50)
    result = pipeline.build(tmp_path, pipeline.BuildOptions(
        output=tmp_path / "pkg.pdf", draft=True, max_pages=200, max_size=50_000_000, workers=2))
    copies = {"screenshots/L00-ref1 resaved.jpg": "screenshots/L00-ref1.png",
              "screenshots/L02-ref2 small.png": "screenshots/L02-ref2.png",
              "screenshots/L04-ref3 q50.webp": "screenshots/L04-ref3.png"}
    assert {d["source"]: d["reason"] for d in result.left_out} == {
        c: f"duplicate of {o}" for c, o in copies.items()}
    assert result.exhibits == 60 and not set(copies) & set(result.order)


@pytest.fixture(scope="module")
def annotated_case(tmp_path_factory):
    from fixtures.generate import phone_series
    root = tmp_path_factory.mktemp("annotated")
    phone_series(root, 2, seed=5)
    shots = sorted((root / "screenshots").glob("*.png"))
    original = shots[0]
    copy = original.with_name(original.stem + " copy.png")
    copy.write_bytes(original.read_bytes())  # Finder's "copy": sorts before the original
    assert copy.name < original.name
    text = (root / "case.toml").read_text(encoding="utf-8")
    entry = f'file = "screenshots/{original.name}"\n'
    assert entry in text
    text = text.replace(entry, entry + 'note = "The client approves"\n'
                                       'highlight = "no such phrase anywhere"\n')
    (root / "case.toml").write_text(text, encoding="utf-8")
    return root, original, copy


def test_check_verifies_highlights_and_the_annotated_copy_is_kept(annotated_case, cache_env):
    root, original, copy = annotated_case
    r = CliRunner().invoke(cli, ["check", str(root), "--json", "-j", "1"], env=cache_env)
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    by_file = {Path(s["file"]).name: s for s in data["screenshots"]}
    assert by_file[original.name]["failures"] == [
        "highlight 'no such phrase anywhere' is not on the screenshot"]
    (dup,) = data["duplicates"]
    assert (Path(dup["file"]).name, Path(dup["duplicate_of"]).name) == (copy.name, original.name)
    assert "same picture: 0 of 1024 hash bits differ; the same text" in dup["matched"]


def test_every_screenshot_failing_the_email_suggests_case_toml(annotated_case, cache_env,
                                                               tmp_path):
    import shutil
    root, _, _ = annotated_case
    case = tmp_path / "case"
    shutil.copytree(root, case)
    toml = (case / "case.toml").read_text(encoding="utf-8")
    (case / "case.toml").write_text(toml.replace("jane.cooper@example.com", "jane@example.com"),
                                    encoding="utf-8")
    r = CliRunner().invoke(cli, ["check", str(case), "-j", "1"], env=cache_env)
    assert r.exit_code == 1
    assert ("hint: every screenshot fails the email check: is [client] email "
            "'jane@example.com' in case.toml spelled as the conversation shows it?") in r.output
    assert "fails the name check" not in r.output
