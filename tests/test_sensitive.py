"""Issue 6 wired end to end: card numbers never reach the package; duplicates are left out."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from evidence import redact
from evidence.ocr import run_ocr
from fixtures.generate import Message, Shot, write_case

ROOT = Path(__file__).resolve().parent.parent
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"]


def run(*args, cache):
    p = subprocess.run([sys.executable, "-m", "evidence.cli", *map(str, args), "--cache-dir",
                        str(cache)], capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in p.stderr, p.stderr
    return p


@pytest.fixture(scope="module")
def card_case(tmp_path_factory):
    case = tmp_path_factory.mktemp("cards")
    shots = [Shot(f"IMG_{100 + i}.png", date=datetime(2024, 10, 1 + i, 10, 5),
                  date_style="mdy", note=f"Card shared in chat {i}",
                  messages=[Message("Here is the card for the deposit"),
                            Message(f"{card}", time="10:05 AM"),
                            Message("Thanks, charging it now", me=True)])
             for i, card in enumerate(CARDS)]
    write_case(case, shots)
    return case


@pytest.mark.poppler
def test_check_reports_and_build_redacts_card_numbers(card_case, tmp_path):
    cache = tmp_path / "cache"
    p = run("check", card_case, "--json", cache=cache)
    report = json.loads(p.stdout)
    assert p.returncode == 0, p.stdout
    labels = {s["file"]: s["redact"] for s in report["screenshots"]}
    for i, card in enumerate(CARDS):
        assert labels[f"screenshots/IMG_{100 + i}.png"] == [f"card ending {card[-4:]}"]
    out = tmp_path / "p.pdf"
    p = run("build", card_case, "-o", out, "--json", cache=cache)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert len(result["redacted"]) == 3
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    digits = re.sub(r"\D", "", text)
    for card in CARDS:
        assert re.sub(r"\D", "", card) not in digits
        assert not redact.find_card_numbers(text)
    # OCR of the rendered pages: no Luhn-valid number, the fields still legible
    from evidence import fields
    from evidence.manifest import read_manifest
    m = read_manifest(out)
    assert all(e["redactions"] for e in m["exhibits"])
    assert "1111 1111" not in json.dumps(m)
    jobs = []
    for row in m["pages"]:
        stem = tmp_path / f"page{row['page']}"
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "-f", str(row["page"]),
                        "-l", str(row["page"]), str(out), str(stem)], check=True)
        jobs.append((Path(f"{stem}.png"), f"x{row['page']}"))
    for path, r in run_ocr(jobs, "rapidocr", cache=None).items():
        assert not redact.find_redactions(r.lines), path
        f = fields.check_fields(r.lines, "Jane Cooper", "jane.cooper@example.com")
        assert f.name.found and f.email.found and f.dates, path


def test_duplicates_reported_left_out_and_kept_on_request(card_case, tmp_path):
    import shutil
    case = tmp_path / "case"
    shutil.copytree(card_case, case)
    src = case / "screenshots" / "IMG_100.png"
    with Image.open(src) as im:
        im.convert("RGB").resize((im.width * 3 // 4, im.height * 3 // 4)).save(
            case / "screenshots" / "IMG_100 copy.jpg", quality=60)
    cache = tmp_path / "cache"
    report = json.loads(run("check", case, "--json", cache=cache).stdout)
    # IMG_100.png carries the case's note, so it is the copy kept (issue 10), though
    # "IMG_100 copy.jpg" sorts first
    (dup,) = report["duplicates"]
    assert (dup["file"], dup["duplicate_of"]) == ("screenshots/IMG_100 copy.jpg",
                                                  "screenshots/IMG_100.png")
    assert "the same text" in dup["matched"]
    p = run("build", case, "-o", tmp_path / "a.pdf", "--json", cache=cache)
    result = json.loads(p.stdout)
    assert "screenshots/IMG_100 copy.jpg" not in result["order"] and len(result["order"]) == 3
    assert "left out" in p.stderr
    p = run("build", case, "-o", tmp_path / "b.pdf", "--json", "--keep-duplicates", cache=cache)
    assert len(json.loads(p.stdout)["order"]) == 4


def test_validate_deep_fails_a_package_that_shows_a_card_number(card_case, tmp_path):
    """An unredacted page (a PDF made straight from the screenshot) fails `card-numbers`
    and names the page; the package evidence built from the same case passes it."""
    raw = tmp_path / "raw.pdf"
    with Image.open(card_case / "screenshots" / "IMG_100.png") as im:
        im.convert("RGB").save(raw, resolution=150)
    built = tmp_path / "built.pdf"
    assert run("build", card_case, "-o", built, cache=tmp_path / "cache").returncode == 0
    args = ["validate", raw, built, "--deep", "--json", "--client-name", "Jane Cooper",
            "--client-email", "jane.cooper@example.com"]
    p = subprocess.run([sys.executable, "-m", "evidence.cli", *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in p.stderr
    report = {Path(x["file"]).name: x for x in json.loads(p.stdout)["packages"]}
    cards = {name: next(c for c in r["checks"] if c["id"] == "card-numbers")
             for name, r in report.items()}
    assert cards["raw.pdf"]["ok"] is False and "page 1" in cards["raw.pdf"]["detail"]
    assert "card ending 1111" in cards["raw.pdf"]["detail"]
    assert "4111 1111 1111 1111" not in p.stdout
    assert cards["built.pdf"]["ok"] is True
    assert p.returncode == 1
