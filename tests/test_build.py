"""`evidence build` end to end: real OCR (cached per session), real PDF, checked with
qpdf, pdftotext, pdftoppm and OCR of the rendered pages."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evidence import fields
from evidence.manifest import image_stream_digests, read_manifest
from evidence.ocr import run_ocr
from fixtures.generate import phone_series

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample-case"

needs_poppler = pytest.mark.poppler  # skipped without poppler-utils/qpdf, except in CI


@pytest.fixture(scope="session")
def ocr_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ocr-cache")


def evidence(*args, cache, check=None):
    p = subprocess.run([sys.executable, "-m", "evidence.cli", *map(str, args),
                        "--cache-dir", str(cache)], capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, p.stdout + p.stderr
    return p


def pdftotext(pdf: Path, page: int | None = None, layout: bool = True) -> str:
    args = ["pdftotext"] + (["-layout"] if layout else [])
    if page:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run(args + [str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def rendered_fields(pdf: Path, pages: list[int], tmp: Path, cache: Path, name: str, email: str):
    """OCR of the rendered pages (pdftoppm, 150 dpi): per page, what check_fields sees."""
    out = {}
    jobs = []
    for n in pages:
        stem = tmp / f"p{n}"
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "-f", str(n), "-l",
                        str(n), str(pdf), str(stem)], check=True)
        jobs.append((Path(f"{stem}.png"), f"page-{n}-{pdf.stat().st_mtime_ns}"))
    results = run_ocr(jobs, "rapidocr", cache=None)
    for n, (path, _) in zip(pages, jobs):
        r = results[path]
        out[n] = fields.check_fields(r.lines, name, email)
    return out


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory, ocr_cache):
    out = tmp_path_factory.mktemp("sample") / "sample.pdf"
    p = evidence("build", SAMPLE, "--draft", "-o", out, "--json", cache=ocr_cache, check=0)
    return out, json.loads(p.stdout)


@needs_poppler
def test_sample_package_is_valid_sorted_searchable_and_legible(sample_build, ocr_cache, tmp_path):
    pdf, result = sample_build
    truth = json.loads((SAMPLE / "truth.json").read_text())
    assert subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True).returncode == 0
    assert result["order"] == truth["order"]
    assert result["draft"] is True and len(result["failed"]) == 3
    text = pdftotext(pdf)
    flat = " ".join(pdftotext(pdf, layout=False).split())
    for t in truth["screenshots"]:
        if t["note"]:
            assert " ".join(t["note"].split())[:60] in flat, t["file"]
    manifest = read_manifest(pdf)
    assert manifest["draft"] is True
    pages = {row["source"]: row["page"] for row in manifest["pages"]}
    assert text.count(truth["client"]["email"]) >= 1
    for n in range(1, result["pages"] + 1):
        assert "DRAFT" in pdftotext(pdf, n), f"page {n} has no draft stamp"
    passing = [t for t in truth["screenshots"] if t["ok"] and t["kind"] == "conversation"]
    seen = rendered_fields(pdf, [pages[t["file"]] for t in passing], tmp_path, ocr_cache,
                           truth["client"]["name"], truth["client"]["email"])
    for t in passing:
        f = seen[pages[t["file"]]]
        assert f.name.found and f.email.found and f.dates, (t["file"], f)
        # the email is also in the invisible text layer of its own page
        assert truth["client"]["email"] in pdftotext(pdf, pages[t["file"]]).replace(" ", "")


def test_manifest_describes_every_page(sample_build):
    pdf, result = sample_build
    m = read_manifest(pdf)
    digests = image_stream_digests(pdf)
    assert m["page_count"] == len(digests) == result["pages"]
    assert [e["source"] for e in m["exhibits"]] == result["order"]
    for row in m["pages"]:
        assert digests[row["page"] - 1] == row["image_sha256"]
    for e in m["exhibits"]:
        src = SAMPLE / e["source"]
        import hashlib
        assert hashlib.sha256(src.read_bytes()).hexdigest() == e["source_sha256"]
        assert e["when"]["source"] in {"image", "filename", "exif", "mtime", "manual"}


def test_strict_build_writes_nothing_and_keeps_the_old_package(sample_build, ocr_cache, tmp_path):
    pdf, _ = sample_build
    out = tmp_path / "pkg.pdf"
    shutil.copy(pdf, out)
    before = out.read_bytes()
    p = evidence("build", SAMPLE, "-o", out, cache=ocr_cache, check=1)
    for bad in ["IMG_4490.png", "Screenshot_20241026-093000.png", "janet-thread.png"]:
        assert bad in p.stderr
    assert out.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["pkg.pdf"]


@pytest.fixture(scope="module")
def series60(tmp_path_factory):
    case = tmp_path_factory.mktemp("series60")
    return case, phone_series(case, 60)


@needs_poppler
@pytest.mark.parametrize("cap", ["4.5MB", "2MB"])
def test_60_screenshots_fit_the_cap_and_stay_legible(series60, ocr_cache, tmp_path, cap):
    case, truth = series60
    out = tmp_path / "p.pdf"
    p = evidence("build", case, "-o", out, "--max-size", cap, "--max-pages", "100", "--json",
                 cache=ocr_cache, check=0)
    result = json.loads(p.stdout)
    limit = {"4.5MB": 4_500_000, "2MB": 2_000_000}[cap]
    assert out.stat().st_size == result["bytes"] <= limit
    assert result["order"] == truth["order"]
    m = read_manifest(out)
    pages = [row["page"] for row in m["pages"]]
    seen = rendered_fields(out, pages, tmp_path, ocr_cache, truth["client"]["name"],
                           truth["client"]["email"])
    missing = [(n, f.name.found, f.email.found, bool(f.dates)) for n, f in seen.items()
               if not (f.name.found and f.email.found and f.dates)]
    assert not missing, missing


def test_a_case_that_cannot_fit_exits_3_without_writing(series60, ocr_cache, tmp_path):
    case, _ = series60
    out = tmp_path / "p.pdf"
    # 600 kB fits since the fit ladder lowers palette colours (585 kB): 200 kB leaves the
    # 60 images ~70 kB after the measured ~130 kB of pages, text and fonts
    p = evidence("build", case, "-o", out, "--max-size", "200kB", "--max-pages", "100",
                 cache=ocr_cache, check=3)
    assert "over" in p.stderr or "no room" in p.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_page_cap_is_enforced(series60, ocr_cache, tmp_path):
    case, _ = series60
    p = evidence("build", case, "-o", tmp_path / "p.pdf", "--processor", "mastercard",
                 cache=ocr_cache, check=3)
    assert "pages" in p.stderr and "18" in p.stderr


def test_highlight_missing_from_screenshot_is_a_failure(tmp_path, ocr_cache):
    case = tmp_path / "case"
    shutil.copytree(SAMPLE, case)
    toml = (case / "case.toml").read_text()
    toml = toml.replace('highlight = "looks great"', 'highlight = "refund denied"')
    assert "refund denied" in toml
    (case / "case.toml").write_text(toml)
    p = evidence("build", case, "--draft", "--json", "-o", tmp_path / "x.pdf", cache=ocr_cache,
                 check=0)
    assert "screenshots/IMG_4471.png" in json.loads(p.stdout)["failed"]


def test_a_20000_px_capture_is_split_across_pages_not_shrunk(tmp_path, ocr_cache):
    from fixtures.generate import tall_screenshot
    case = tmp_path / "case"
    (case / "screenshots").mkdir(parents=True)
    (case / "case.toml").write_text('[client]\nname = "Jane Cooper"\n'
                                    'email = "jane.cooper@example.com"\n')
    tall_screenshot(height=20000).save(case / "screenshots" / "scroll.png")
    out = tmp_path / "p.pdf"
    p = evidence("build", case, "-o", out, "--json", cache=ocr_cache, check=0)
    result = json.loads(p.stdout)
    m = read_manifest(out)
    (exhibit,) = m["exhibits"]
    assert len(exhibit["pages"]) >= 5 and result["pages"] == 1 + len(exhibit["pages"])
    parts = [row for row in m["pages"]]
    assert [r["part"] for r in parts] == list(range(1, len(parts) + 1))
    # every page's image keeps the capture's full width: split, never shrunk to fit
    import pikepdf
    with pikepdf.open(out) as pdf:
        from evidence.manifest import page_image
        widths = {int(page_image(pdf.pages[r["page"] - 1]).Width) for r in parts}
    assert min(widths) >= 500
