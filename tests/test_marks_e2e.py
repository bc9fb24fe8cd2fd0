"""End to end: highlights and leaders never hide the evidence (issue 11).

The sample case and a generated case (highlights at a line's start, at its end, across
two lines and inside a bubble, on light and dark phone screenshots) are built twice:
as they are, and with the outline and leader drawing switched off (same layout). The
exhibit pages are rendered with pypdfium2 at the source screenshot's resolution:
- the pixels that differ between the two renders are the marks; none may lie inside
  any OCR word box of the source screenshot;
- the marked page is OCRed: every word of the highlighted lines and of the lines just
  above and below reads as on the source screenshot (letter for letter; a space that
  the recogniser drops is tolerated).
Real engine (rapidocr) on real images; no stubs.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from evidence import annotate, pipeline
from evidence.highlight import locate, words_of
from evidence.ocr import OcrCache, make_engine, run_ocr
from evidence.ocr.tiling import recognize_tiled
from fixtures.generate import Message as M, Shot, write_case

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample-case"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _build(case: Path, out: Path, cache: Path, *, marks: bool, monkeypatch) -> Path:
    with monkeypatch.context() as m:
        if not marks:
            m.setattr(annotate, "draw_outline", lambda *a, **k: None)
            m.setattr(annotate, "draw_leader", lambda *a, **k: None)
        pipeline.build(case, pipeline.BuildOptions(output=out, draft=True, cache_dir=cache,
                                                   workers=1, keep_duplicates=True))
    return out


def _placement(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """(x, y, w, h) in pt of the page's one image, from the `cm` before its `Do`."""
    ctm = None
    for operands, op in pikepdf.parse_content_stream(page):
        if str(op) == "cm":
            ctm = [float(v) for v in operands]
        elif str(op) == "Do" and ctm is not None:
            a, _b, _c, d, e, f = ctm
            return e, f, a, d
    raise AssertionError("no image on the page")


def _norm(text: str) -> str:
    return " ".join(text.split())


def _check_pages(case: Path, marked: Path, clean: Path, engine, cache: Path) -> list[str]:
    """Every problem found on the highlighted exhibit pages (empty: all good)."""
    problems = []
    with pikepdf.open(marked) as pdf:
        from evidence.manifest import manifest_from_pdf

        man = manifest_from_pdf(pdf, marked)
        placements = {p - 1: _placement(pdf.pages[p - 1]) for ex in man["exhibits"]
                      if ex.get("highlight") for p in ex["pages"][:1]}
    doc_m, doc_c = pdfium.PdfDocument(str(marked)), pdfium.PdfDocument(str(clean))
    checked = 0
    for ex in man["exhibits"]:
        if not ex.get("highlight"):
            continue
        src = case / ex["source"]
        ocr = run_ocr([(src, _sha(src))], "rapidocr", cache=OcrCache(cache), workers=1)[src]
        hl = locate(ocr.lines, ex["highlight"])
        assert hl is not None, ex["source"]
        page_i = ex["pages"][0] - 1
        x, y, w, h = placements[page_i]
        k = ocr.width / w  # px per pt: the render has the source's resolution
        pm = doc_m[page_i].render(scale=k).to_pil().convert("RGB")
        pc = doc_c[page_i].render(scale=k).to_pil().convert("RGB")
        H = pm.height
        diff = np.abs(np.asarray(pm, np.int16) - np.asarray(pc, np.int16)).max(axis=2) > 40
        if not diff.any():
            problems.append(f"{ex['source']}: no mark drawn at all")
        # source px -> render px
        ox, oy = x * k, H - (y + h) * k
        sy = h * k / ocr.height
        for line in ocr.lines:
            for text, b, _s, _e in words_of(line):
                x0, x1 = int(ox + b.x0), int(np.ceil(ox + b.x1))
                y0, y1 = int(oy + b.y0 * sy), int(np.ceil(oy + b.y1 * sy))
                hit = diff[max(y0, 0):y1, max(x0, 0):x1]
                if hit.any():
                    problems.append(f"{ex['source']}: a mark crosses {text!r} "
                                    f"({int(hit.sum())} px)")
        # read the marked page back where the screenshot is
        area = (int(ox), int(oy), int(ox + w * k), int(oy + h * k))
        read = recognize_tiled(engine, pm.crop(area))
        read_clean = None
        wanted = set()
        for i in hl.lines:
            wanted |= {i - 1, i, i + 1}
        for i in sorted(j for j in wanted if 0 <= j < len(ocr.lines)):
            line = ocr.lines[i]
            got = _line_as_read(read, line)
            # word for word; a space the recogniser drops beside an outline (it read
            # "itlooks" once) is tolerated, any changed letter is not
            if got.replace(" ", "") != _norm(line.text).replace(" ", ""):
                # a difference that the unmarked page shows too comes from printing the
                # screenshot (resampling), not from the marks: the same words must read
                read_clean = read_clean or recognize_tiled(engine, pc.crop(area))
                if _line_as_read(read_clean, line) == got:
                    continue
                problems.append(f"{ex['source']}: {line.text!r} reads {got!r} on the page")
        checked += 1
    assert checked, "no highlighted exhibit was checked"
    return problems


def _line_as_read(read, line) -> str:
    """The words read on the page where the source `line` is (the page's OCR may cut
    the line where an outline runs: its pieces are joined left to right)."""
    pieces = sorted((r for r in read if _overlap(r.box, line.box) > 0.5),
                    key=lambda r: r.box.x0)
    return _norm(" ".join(r.text for r in pieces))


def _overlap(a, b) -> float:
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return 0.0
    return ix * iy / max(1e-6, min(a.width * a.height, b.width * b.height))


@pytest.fixture(scope="module")
def engine():
    return make_engine("rapidocr")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    # EVIDENCE_TEST_OCR_CACHE: a warm cache folder, to iterate quickly by hand
    import os

    return Path(os.environ.get("EVIDENCE_TEST_OCR_CACHE") or tmp_path_factory.mktemp("cache"))


def test_sample_case_marks_cross_no_word(tmp_path, monkeypatch, engine, cache):
    case = tmp_path / "sample"
    shutil.copytree(SAMPLE, case)
    marked = _build(case, tmp_path / "m.pdf", cache, marks=True, monkeypatch=monkeypatch)
    clean = _build(case, tmp_path / "c.pdf", cache, marks=False, monkeypatch=monkeypatch)
    problems = _check_pages(case, marked, clean, engine, cache / "ocr")
    assert not problems, "\n".join(problems)


LONG = ("The new logo looks perfect on the shop window and on the packaging we "
        "printed last week for the market")


def _generated_case(root: Path, cache: Path) -> Path:
    """Two phone shots with long bubbles; then four highlights per shot, chosen from
    what OCR reads: a line's first words, its last words, across two lines, inside."""
    from datetime import datetime

    base = [Shot("light.png", layout="phone_light", date=datetime(2024, 10, 11),
                 messages=[M("Here are the final files, all formats", me=True),
                           M(LONG), M("Thanks again, talk soon", time="2:47 PM")]),
            Shot("dark.png", layout="phone_dark", date=datetime(2024, 10, 12),
                 messages=[M("Did the printer get the files?", me=True), M(LONG)])]
    write_case(root, base, dispute={})
    shots = root / "screenshots"
    entries = []
    for name in ("light.png", "dark.png"):
        src = shots / name
        ocr = run_ocr([(src, _sha(src))], "rapidocr", cache=OcrCache(cache / "ocr"),
                      workers=1)[src]
        lines = ocr.lines
        k = next(i for i in range(len(lines) - 1)
                 if len(lines[i].text.split()) >= 4 and len(lines[i + 1].text.split()) >= 2
                 and lines[i + 1].box.y0 - lines[i].box.y1 < lines[i].box.height)
        a, b = lines[k].text.split(), lines[k + 1].text.split()
        picks = {"start": " ".join(a[:2]), "end": " ".join(a[-2:]),
                 "across": f"{a[-1]} {b[0]}", "inside": " ".join(a[1:3])}
        for what, phrase in picks.items():
            copy = shots / f"{what}-{name}"
            shutil.copyfile(src, copy)
            entries.append((copy.name, phrase))
        src.unlink()
    toml = ['[client]', 'name = "Jane Cooper"', 'email = "jane.cooper@example.com"', '']
    for file, phrase in entries:
        toml += ['[[screenshot]]', f'file = "screenshots/{file}"',
                 f'note = "The client is happy with the result ({phrase})"',
                 f'highlight = "{phrase}"', '']
    (root / "case.toml").write_text("\n".join(toml), encoding="utf-8")
    return root


def test_generated_highlights_cross_no_word(tmp_path, monkeypatch, engine, cache):
    case = _generated_case(tmp_path / "gen", cache)
    marked = _build(case, tmp_path / "m.pdf", cache, marks=True, monkeypatch=monkeypatch)
    clean = _build(case, tmp_path / "c.pdf", cache, marks=False, monkeypatch=monkeypatch)
    problems = _check_pages(case, marked, clean, engine, cache / "ocr")
    assert not problems, "\n".join(problems)
