"""End to end on the real engine: `evidence check` over the committed sample case agrees
with the generator's truth for every screenshot (verdict, which field failed, when)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample-case"


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    p = subprocess.run([sys.executable, "-m", "evidence.cli", "check", str(SAMPLE), "--json",
                        "--cache-dir", str(cache)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1, p.stderr  # the sample holds screenshots built to fail
    return json.loads(p.stdout), cache


def test_every_screenshot_matches_truth(sample_report):
    report, _ = sample_report
    truth = json.loads((SAMPLE / "truth.json").read_text())
    got = {s["file"]: s for s in report["screenshots"]}
    assert set(got) == {t["file"] for t in truth["screenshots"]}
    for t in truth["screenshots"]:
        s = got[t["file"]]
        assert s["ok"] == t["ok"], t["file"]
        assert s["kind"] == t["kind"]
        if t["kind"] == "conversation":
            assert s["name"]["found"] == t["name_found"], t["file"]
            assert s["email"]["found"] == t["email_found"], t["file"]
            assert s["date"]["found"] == t["date_found"], t["file"]
        assert {k: s["when"][k] for k in ("value", "source")} == {
            "value": t["when"], "source": t["when_source"]}, t["file"]
        if t["when_source"] == "image":  # which date, and why (issue 9)
            assert s["when"]["text"] and s["when"]["reason"], t["file"]
    assert report["ok"] is False


def test_second_run_reads_the_cache(sample_report):
    report, cache = sample_report
    entries = list(Path(cache).rglob("*.json"))
    # one OCR reading per screenshot (second looks at failing dark ones live apart)
    assert len(list((Path(cache) / "ocr").rglob("*.json"))) == len(report["screenshots"])
    before = {p: p.stat().st_mtime_ns for p in entries}
    p = subprocess.run([sys.executable, "-m", "evidence.cli", "check", str(SAMPLE), "--json",
                        "--cache-dir", str(cache)], capture_output=True, text=True, cwd=ROOT)
    assert json.loads(p.stdout) == report
    assert {p: p.stat().st_mtime_ns for p in Path(cache).rglob("*.json")} == before


def test_bad_inputs_each_get_one_line_and_the_rest_is_checked(tmp_path, sample_report):
    _, cache = sample_report
    case = tmp_path / "case"
    shutil.copytree(SAMPLE, case)
    s = case / "screenshots"
    (s / "zero.png").write_bytes(b"")
    (s / "text.png").write_text("this is not an image")
    good = (s / "IMG_4471.png").read_bytes()
    (s / "truncated.png").write_bytes(good[: len(good) // 2])
    from PIL import Image
    Image.new("1", (30000, 30000)).save(s / "bomb.png")
    (s / "loop.png").symlink_to(s / "loop.png")
    p = subprocess.run([sys.executable, "-m", "evidence.cli", "check", str(case), "--json",
                        "--cache-dir", str(cache)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    report = json.loads(p.stdout)
    errors = {Path(x["file"]).name: x.get("error") for x in report["screenshots"] if x.get("error")}
    errors.update({Path(x["file"]).name: x["error"] for x in report["problems"]})
    assert "empty" in errors["zero.png"]
    assert "not an image" in errors["text.png"]
    assert "truncated" in errors["truncated.png"]
    assert "Mpx" in errors["bomb.png"] or "too large" in errors["bomb.png"]
    assert "link" in errors["loop.png"]
    err_lines = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    for name in ["zero.png", "text.png", "truncated.png", "bomb.png", "loop.png"]:
        assert sum(name in line for line in err_lines) == 1, (name, p.stderr)
    ok = [x for x in report["screenshots"] if x["ok"]]
    assert len(ok) == 12  # the sample's passing screenshots were still checked
