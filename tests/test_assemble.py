"""PDF assembly: structure (qpdf), text (pdftotext), fonts (pdffonts), images, manifest,
PDF/A, atomic writing. Inputs are made here with Pillow; OCR lines are hand-made."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import zlib

import pikepdf
import pytest
from PIL import Image, ImageDraw

from evidence import assemble as asm
from evidence.output import OutputError
from evidence.assemble import (AssembleError, CoverInfo, EncodedImage, ExhibitPage,
                               assemble, stream_digest)
from evidence.errors import CaseError, EvidenceError
from evidence.layout import find_cut_rows, page_frame, plan_exhibit
from evidence.manifest import image_stream_digests, read_manifest
from evidence.ocr.base import Box, OcrLine
from evidence.presets import get_preset, load_presets

def as_given(manifest: dict) -> dict:
    """The manifest as the caller gave it: assembly adds the per-page content digests."""
    manifest = dict(manifest)
    digests = manifest.pop("page_content_sha256")
    assert all(isinstance(d, str) and len(d) == 64 for d in digests)
    return manifest


needs_tools = pytest.mark.poppler  # skipped without poppler-utils/qpdf, except in CI

COVER = CoverInfo("Jane Doe", "jane@example.com", "dp_1Qx42", "Stripe", "USD 129.00",
                  "product_not_received", "T-42", respond_by=dt.date(2024, 4, 1),
                  today=dt.date(2024, 3, 20))
MANIFEST = {"version": 1, "case": "dp_1Qx42", "files": [{"name": "Zoë.png", "sha256": "ab" * 32}]}

NOTE_UNICODE = "Café crème, naïve façade: she confirms 👍🏽🎉 — שלום עולם and مرحبا بك 中文 ok"
NOTE_LONG = ("The customer wrote that the parcel arrived in good condition and thanked us "
             "for the quick delivery; this contradicts the product-not-received claim. ") * 3
NOTE_LONG = NOTE_LONG[:400]
NOTE_TALL = "The whole conversation, from first question to the delivery confirmation."
NOTE_DESK = "Order confirmation email, sent to jane@example.com."


# --- inputs ------------------------------------------------------------------------------

def chat(width: int, height: int, texts: list[str]) -> tuple[Image.Image, list[OcrLine]]:
    """A chat-like screenshot: bubbles with dark bars standing for text, blank gaps between.
    The OCR lines say what the bars 'read'; each word carries its line number, so every
    word on a page is unique."""
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    lines, y, i = [], 120, 0
    while y + 150 < height:
        x0 = 40 if i % 2 == 0 else width // 3
        fill = (225, 225, 230) if i % 2 == 0 else (40, 110, 240)
        d.rounded_rectangle((x0, y, x0 + width // 2, y + 110), 28, fill=fill)
        box = Box(x0 + 30, y + 35, x0 + width // 2 - 60, y + 80)
        d.rectangle((box.x0, box.y0, box.x1, box.y1), fill=(20, 20, 20) if i % 2 == 0 else "white")
        unique = " ".join(f"{word}{i}" for word in texts[i % len(texts)].split())
        lines.append(OcrLine(unique, box, 0.95))
        y += 230
        i += 1
    return im, lines


def jpeg(im: Image.Image, quality: int = 70) -> EncodedImage:
    b = io.BytesIO()
    im.save(b, "JPEG", quality=quality)
    return EncodedImage(b.getvalue(), "jpeg", im.width, im.height)


def palette_png(im: Image.Image, colors: int = 32) -> EncodedImage:
    b = io.BytesIO()
    im.quantize(colors).save(b, "PNG", optimize=True)
    return EncodedImage(b.getvalue(), "png", im.width, im.height)


def grey_png(im: Image.Image) -> EncodedImage:
    b = io.BytesIO()
    im.convert("L").save(b, "PNG")
    return EncodedImage(b.getvalue(), "png", im.width, im.height)


def exhibit_pages(number, source, im, lines, *, note, highlight=None, when=None, encode=jpeg,
                  downscale=2, page="letter", date="2024-03-01 14:02"):
    slices = plan_exhibit(im.width, im.height, find_cut_rows(im), page, note=note,
                          highlight=highlight)
    out = []
    for s in slices:
        crop = im.crop((0, s.top, im.width, s.bottom))
        if downscale > 1:  # the fit stage may hand a downscaled grid
            crop = crop.resize((max(1, crop.width // downscale), max(1, crop.height // downscale)))
        on = [ln for ln in lines if s.top <= (ln.box.y0 + ln.box.y1) / 2 < s.bottom]
        out.append(ExhibitPage(number, source, date, when, note, highlight, on, s, encode(crop)))
    return out


@pytest.fixture(scope="module")
def inputs():
    phone, phone_lines = chat(1170, 2532, ["Did my order arrive", "Yes it arrived thanks",
                                           "Tracking says delivered"])
    tall, tall_lines = chat(1170, 9000, ["Hello there", "Parcel delivered Tuesday",
                                         "Refund not needed"])
    desk, desk_lines = chat(1920, 1080, ["Order confirmation 8841"])
    long_, long_lines = chat(1170, 2532, ["Thanks for the quick delivery"])
    pages = []
    pages += exhibit_pages(1, "shots/IMG_0001.jpeg", phone, phone_lines, note=NOTE_UNICODE,
                           highlight=phone_lines[1].box, when="filename")
    pages += exhibit_pages(2, "shots/scroll.png", tall, tall_lines, note=NOTE_TALL,
                           when="exif", encode=palette_png)
    pages += exhibit_pages(3, "mail/desktop.png", desk, desk_lines, note=NOTE_DESK,
                           encode=grey_png, downscale=1, when="mtime")
    pages += exhibit_pages(4, "shots/long-note.jpeg", long_, long_lines, note=NOTE_LONG,
                           when="manual")
    return pages


@pytest.fixture(scope="module")
def package(tmp_path_factory, inputs):
    out = tmp_path_factory.mktemp("pkg") / "evidence.pdf"
    result = assemble(out, COVER, inputs, page_size="letter", draft_failures=3,
                      manifest=MANIFEST, pdfa=False)
    return out, result, inputs


@pytest.fixture(scope="module")
def package_pdfa(tmp_path_factory, inputs):
    out = tmp_path_factory.mktemp("pkga") / "evidence-pdfa.pdf"
    result = assemble(out, COVER, inputs, page_size="letter", draft_failures=None,
                      manifest=MANIFEST, pdfa=True)
    return out, result, inputs


def run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def page_text(path, page: int) -> str:
    return run("pdftotext", "-f", str(page), "-l", str(page), str(path), "-")


def flat(text: str) -> str:
    return " ".join(text.split())


# --- structure -------------------------------------------------------------------------

@needs_tools
def test_qpdf_check_passes(package, package_pdfa):
    for path, _, _ in (package, package_pdfa):
        proc = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No syntax or stream encoding errors" in proc.stdout


def test_result_describes_the_file(package, inputs):
    path, result, _ = package
    assert result.path == path and result.bytes == path.stat().st_size
    assert result.pages == result.cover_pages + len(inputs)
    assert result.cover_pages == 1
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == result.pages
        assert not pdf.is_encrypted
        assert "/JavaScript" not in pdf.Root.get("/Names", {})
        for page in pdf.pages:  # Letter; turned for a landscape capture
            assert sorted([page.mediabox[2], page.mediabox[3]]) == [612, 792]


@needs_tools
def test_every_page_is_real_text_with_footer(package):
    path, result, _ = package
    for n in range(1, result.pages + 1):
        assert f"page {n} of {result.pages} · dp_1Qx42" in page_text(path, n)


@needs_tools
def test_cover_has_case_details_and_index(package):
    path, result, inputs = package
    text = flat(page_text(path, 1))
    for needle in ("Chargeback evidence", "Jane Doe", "jane@example.com", "dp_1Qx42", "Stripe",
                   "USD 129.00", "product_not_received", "T-42", "2024-04-01 (12 days left)",
                   "Exhibit index", "shots/IMG_0001.jpeg", "mail/desktop.png"):
        assert needle in text, needle
    # exhibit 2 spans several pages: the index gives the range
    first = next(i for i, p in enumerate(inputs) if p.exhibit == 2) + 2
    last = max(i for i, p in enumerate(inputs) if p.exhibit == 2) + 2
    assert last > first and f"{first}–{last}" in text
    assert "(from file name)" in text and "(from EXIF)" in text


@needs_tools
def test_headers_name_exhibit_date_source_and_where_the_time_came_from(package):
    path, result, inputs = package
    for i, p in enumerate(inputs):
        text = flat(page_text(path, result.cover_pages + i + 1))
        assert f"Exhibit {p.exhibit} · 2024-03-01 14:02" in text
        assert p.source in text
        remark = {"filename": "(from file name)", "exif": "(from EXIF)",
                  "mtime": "(file modified time)", "manual": "(set manually)"}[p.when_source]
        assert remark in text
        if p.parts > 1:
            assert f"(part {p.part} of {p.parts})" in text


@needs_tools
def test_notes_are_text_in_the_pdf(package):
    path, result, inputs = package
    text = flat(run("pdftotext", str(path), "-"))
    for note in (NOTE_TALL, NOTE_DESK, NOTE_LONG):
        assert flat(note) in text
    # accents render; emoji and right-to-left text degrade to clear substitutes
    assert "Café crème, naïve façade: she confirms [emoji] — [Hebrew text] and [Arabic text] ?? ok" in text


@needs_tools
def test_ocr_words_are_searchable_and_lie_over_the_image(package):
    path, result, inputs = package
    for i, p in enumerate(inputs):
        n = result.cover_pages + i + 1
        text = flat(page_text(path, n))
        for line in p.lines:
            assert line.text in text, (n, line.text)
    # positions: pdftotext -bbox words of an OCR line fall inside the line's box on the page
    i, p = next((i, p) for i, p in enumerate(inputs) if p.exhibit == 1)
    n = result.cover_pages + i + 1
    xml = run("pdftotext", "-f", str(n), "-l", str(n), "-bbox", str(path), "-")
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', xml)]
    line = p.lines[1]
    rect = p.slice.box_to_page(line.box)
    top, bottom = 792 - rect.top, 792 - rect.y  # pdftotext measures from the top
    hits = [w for w in words if w[4] in line.text.split()]
    assert len(hits) >= len(line.text.split())
    for x0, y0, x1, y1, _ in hits:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        assert rect.x - 1 <= cx <= rect.right + 1 and top - 1 <= cy <= bottom + 1
    # the words together span the box's width (horizontal scaling to the box)
    assert min(h[0] for h in hits) == pytest.approx(rect.x, abs=2)
    assert max(h[2] for h in hits) == pytest.approx(rect.right, abs=2)


@needs_tools
def test_draft_stamp_on_every_page(package, package_pdfa):
    path, result, _ = package
    for n in range(1, result.pages + 1):
        assert "DRAFT – 3 checks failed" in page_text(path, n)
    path, result, _ = package_pdfa
    assert "DRAFT" not in run("pdftotext", str(path), "-")


def test_cover_only_package(tmp_path):
    result = assemble(tmp_path / "empty.pdf", COVER, [], draft_failures=0, manifest={"n": 0})
    assert (result.pages, result.cover_pages, result.image_digests) == (1, 1, [None])
    if shutil.which("pdftotext"):
        text = flat(run("pdftotext", str(result.path), "-"))
        assert "No exhibits." in text and "DRAFT – 0 checks failed" in text


def test_draft_with_one_failure_is_singular(tmp_path, inputs):
    out = tmp_path / "one.pdf"
    assemble(out, COVER, inputs[:1], draft_failures=1, manifest={})
    if shutil.which("pdftotext"):
        assert "DRAFT – 1 check failed" in run("pdftotext", str(out), "-")


# --- images ---------------------------------------------------------------------------

def test_jpeg_bytes_are_embedded_unchanged(package):
    path, result, inputs = package
    digests = image_stream_digests(path)
    assert digests == result.image_digests
    assert digests[: result.cover_pages] == [None] * result.cover_pages
    for i, p in enumerate(inputs):
        d = digests[result.cover_pages + i]
        assert d == stream_digest(p.image)
        if p.image.format == "jpeg":
            assert d == hashlib.sha256(p.image.data).hexdigest()
    with pikepdf.open(path) as pdf:
        i = next(i for i, p in enumerate(inputs) if p.image.format == "jpeg")
        (image,) = [x for _, x in pdf.pages[result.cover_pages + i].get_images().items()]
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.read_raw_bytes() == inputs[i].image.data


def test_palette_png_stays_indexed_and_grey_stays_grey(package):
    path, result, inputs = package
    with pikepdf.open(path) as pdf:
        for i, p in enumerate(inputs):
            if p.image.format != "png":
                continue
            (image,) = [x for _, x in pdf.pages[result.cover_pages + i].get_images().items()]
            raw = image.read_raw_bytes()
            assert len(raw) <= len(p.image.data)  # the IDAT data, not a 3x RGB re-encoding
            assert "/SMask" not in image and "/Mask" not in image
            mode = Image.open(io.BytesIO(p.image.data)).mode
            if mode == "P":
                cs = image.ColorSpace
                assert isinstance(cs, pikepdf.Array) and cs[0] == pikepdf.Name.Indexed
                assert cs[1] == pikepdf.Name.DeviceRGB
            else:
                assert mode == "L" and image.ColorSpace == pikepdf.Name.DeviceGray
            # and it decodes to the same pixels
            got = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
            want = Image.open(io.BytesIO(p.image.data)).convert("RGB")
            assert got.tobytes() == want.tobytes()
    png_bytes = sum(len(p.image.data) for p in inputs if p.image.format == "png")
    jpeg_bytes = sum(len(p.image.data) for p in inputs if p.image.format == "jpeg")
    assert result.bytes < png_bytes + jpeg_bytes + 150_000  # fonts, text, structure


@pytest.mark.parametrize("make,match", [
    (lambda: _png(Image.new("RGBA", (20, 30), (1, 2, 3, 100))), "alpha"),
    (lambda: _interlaced(_png(Image.new("RGB", (20, 30)))), "interlaced"),
    (lambda: _png(Image.new("P", (20, 30)), transparency=0), "transparency"),
    (lambda: EncodedImage(_png(Image.new("RGB", (20, 30))).data, "png", 21, 30), "not the 21x30"),
    (lambda: EncodedImage(b"not an image", "jpeg", 20, 30), "cannot be read"),
    (lambda: EncodedImage(b"\x89PNG\r\n\x1a\n\x00\x00", "png", 20, 30), "PNG"),
    (lambda: _damaged(_png(Image.new("RGB", (20, 30)))), "CRC"),
    (lambda: EncodedImage(jpeg(Image.new("RGB", (20, 30))).data, "gif", 20, 30), "format"),
    (lambda: EncodedImage(jpeg(Image.new("CMYK", (20, 30))).data, "jpeg", 20, 30), "CMYK"),
])
def test_images_that_cannot_pass_through_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        asm.pdf_image(make())


def _patch_ihdr(img: EncodedImage, offset: int, value: int, fix_crc: bool) -> EncodedImage:
    data = bytearray(img.data)
    data[16 + offset] = value  # IHDR data starts at byte 16
    if fix_crc:
        data[29:33] = (zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF).to_bytes(4, "big")
    return EncodedImage(bytes(data), img.format, img.width, img.height)


def _interlaced(img: EncodedImage) -> EncodedImage:
    return _patch_ihdr(img, 12, 1, fix_crc=True)


def _damaged(img: EncodedImage) -> EncodedImage:
    return _patch_ihdr(img, 12, 1, fix_crc=False)


def _png(im: Image.Image, **kw) -> EncodedImage:
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return EncodedImage(b.getvalue(), "png", im.width, im.height)


def test_image_of_another_shape_than_its_slice_is_refused(tmp_path, inputs):
    p = inputs[0]
    wrong = jpeg(Image.new("RGB", (300, 300)))
    bad = ExhibitPage(p.exhibit, p.source, p.date_label, None, None, None, [], p.slice, wrong)
    with pytest.raises(ValueError, match="different shape"):
        assemble(tmp_path / "x.pdf", COVER, [bad], manifest={})
    assert list(tmp_path.iterdir()) == []


def test_slices_planned_for_a4_do_not_go_on_letter(tmp_path):
    im, lines = chat(1170, 2532, ["hi"])
    pages = exhibit_pages(1, "a.jpeg", im, lines, note=None, page="a4")
    with pytest.raises(ValueError, match="another page size"):
        assemble(tmp_path / "x.pdf", COVER, pages, page_size="letter", manifest={})
    result = assemble(tmp_path / "a4.pdf", COVER, pages, page_size="a4", manifest={})
    with pikepdf.open(result.path) as pdf:
        assert [round(float(v), 1) for v in pdf.pages[0].mediabox] == [0, 0, 595.3, 841.9]


# --- notes, unicode, highlight ------------------------------------------------------------

@needs_tools
def test_long_note_wraps_inside_its_callout(package):
    path, result, inputs = package
    i, p = next((i, p) for i, p in enumerate(inputs) if p.note == NOTE_LONG)
    n = result.cover_pages + i + 1
    xml = run("pdftotext", "-f", str(n), "-l", str(n), "-bbox", str(path), "-")
    box = p.slice.note_rect
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                       r'(contradicts|product-not-received|delivery;|quick)</word>', xml)
    assert len(words) >= 4
    ys = set()
    for x0, y0, x1, y1, _ in words:
        assert box.x <= float(x0) and float(x1) <= box.right
        assert 792 - box.top <= float(y0) and float(y1) <= 792 - box.y
        ys.add(round(float(y0)))
    assert len(ys) >= 2  # on several lines


@needs_tools
def test_unicode_note_renders(package, tmp_path):
    path, result, inputs = package
    run("pdftoppm", "-r", "40", "-png", "-f", "2", "-l", "2", str(path), str(tmp_path / "p"))
    (png,) = tmp_path.glob("p*.png")
    assert Image.open(png).convert("L").getextrema()[0] < 50  # something dark was drawn


def test_unicode_odds_and_ends_never_crash(tmp_path):
    nasty = ("\x00\x07tab\there \u202eRTL override\u202c 𝕏 \ud800 e\u0301 👨‍👩‍👧‍👦 🇫🇷 1️⃣ "
             "ﷺ ‎ZWSP\u200b " + "x" * 300)
    im, lines = chat(1170, 2532, [nasty, "שלום", "مرحبا", "😀"])
    pages = exhibit_pages(1, "nasty ünïcode 😀.jpeg", im, lines, note=nasty,
                          highlight=lines[0].box, date="2024-03-01 😀")
    cover = CoverInfo("Zoë 😀 שלום", "z@example.com", "dp_😀", "Stripe", "€ 10", nasty, "")
    result = assemble(tmp_path / "u.pdf", cover, pages, draft_failures=2, manifest={"n": nasty})
    assert as_given(read_manifest(result.path)) == {"n": nasty}


def test_highlight_is_drawn_on_its_page_only(package):
    path, result, inputs = package
    with pikepdf.open(path) as pdf:
        i = next(i for i, p in enumerate(inputs) if p.highlight is not None)
        ops = [str(op.operator) for op in pikepdf.parse_content_stream(pdf.pages[result.cover_pages + i])]
        assert "re" in ops and "Do" in ops


# --- manifest -----------------------------------------------------------------------------

def test_manifest_round_trips_as_an_attachment(package):
    path, _, _ = package
    assert as_given(read_manifest(path)) == MANIFEST
    with pikepdf.open(path) as pdf:
        assert "evidence-manifest.json" in pdf.attachments
        spec = pdf.attachments["evidence-manifest.json"]
        assert as_given(json.loads(spec.get_file().read_bytes())) == MANIFEST


def test_manifest_round_trips_in_pdfa_without_attachments(package_pdfa):
    path, _, _ = package_pdfa
    assert as_given(read_manifest(path)) == MANIFEST
    with pikepdf.open(path) as pdf:
        assert len(pdf.attachments) == 0
        assert "/EmbeddedFiles" not in pdf.Root.get("/Names", {})


def test_big_manifest_round_trips_in_pdfa(tmp_path, inputs):
    big = {"lines": ["é line %d " % i * 20 for i in range(2000)]}  # > 32 KB: several chunks
    result = assemble(tmp_path / "big.pdf", COVER, inputs[:1], manifest=big, pdfa=True)
    assert as_given(read_manifest(result.path)) == big
    with pikepdf.open(result.path) as pdf:
        assert all(len(bytes(v)) <= 32767 for k, v in pdf.docinfo.items()
                   if str(k).startswith("/EvidenceManifest"))


def test_no_manifest_reads_as_none(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "blank.pdf")
    assert read_manifest(tmp_path / "blank.pdf") is None
    assert image_stream_digests(tmp_path / "blank.pdf") == [None]


def test_manifest_must_be_json(tmp_path, inputs):
    with pytest.raises(ValueError, match="JSON"):
        assemble(tmp_path / "x.pdf", COVER, inputs[:1], manifest={"when": dt.date(2024, 1, 1)})
    assert list(tmp_path.iterdir()) == []


# --- PDF/A ------------------------------------------------------------------------------

def test_pdfa_metadata_and_output_intent(package_pdfa):
    path, _, _ = package_pdfa
    with pikepdf.open(path) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2"
        assert meta["pdfaid:conformance"] == "B"
        assert "dp_1Qx42" in meta["dc:title"]
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        assert profile.N == 3 and profile.read_bytes()[36:40] == b"acsp"  # an ICC profile
        assert len(pdf.trailer.ID) == 2
        assert not pdf.is_encrypted
        for page in pdf.pages:
            for _, image in page.get_images().items():
                assert "/SMask" not in image
            for _, gs in page.obj.Resources.get("/ExtGState", {}).items():
                assert float(gs.get("/ca", 1)) == 1 and float(gs.get("/CA", 1)) == 1


@needs_tools
def test_all_fonts_embedded(package, package_pdfa):
    for path, _, _ in (package, package_pdfa):
        out = run("pdffonts", str(path)).splitlines()
        rows = out[2:]
        assert rows, out
        for row in rows:
            emb = row[len(out[0].split("emb")[0]):].split()[0]
            assert emb == "yes", row
            assert "Helvetica" not in row


def test_pdfa_passes_pikepdf_validator(package_pdfa):
    pdfa = pytest.importorskip("pikepdf.pdfa", exc_type=ImportError)
    path, _, _ = package_pdfa
    report = pdfa.validate_written(path, "2b")
    assert report.verdict == "pass", "\n".join(str(f) for f in report.findings)


# --- long index -----------------------------------------------------------------------------

@needs_tools
def test_long_index_continues_over_several_pages(tmp_path):
    im, lines = chat(600, 1200, ["hello"])
    pages = []
    for n in range(1, 61):
        pages += exhibit_pages(n, f"shots/screenshot-{n:03d}-with-a-rather-long-name.jpeg", im,
                               lines, note=f"Exhibit {n}: the customer acknowledges the refund "
                               "policy and agrees to the terms of sale.", downscale=4)
    result = assemble(tmp_path / "long.pdf", COVER, pages, manifest={})
    assert result.cover_pages >= 2
    assert asm.cover_page_count(COVER, pages) == result.cover_pages
    assert result.pages == result.cover_pages + 60
    last_cover = flat(page_text(result.path, result.cover_pages))
    assert "Source file" in last_cover  # the header row repeats
    assert "060" in last_cover
    # the index names the right page for exhibit 60
    assert str(result.pages) in last_cover.split()
    assert f"page {result.pages} of {result.pages}" in page_text(result.path, result.pages)
    assert "Exhibit 60 ·" in page_text(result.path, result.pages)


# --- atomic output ---------------------------------------------------------------------------

def test_failure_midway_leaves_old_file_and_no_temp(tmp_path, inputs, monkeypatch):
    out = tmp_path / "evidence.pdf"
    out.write_bytes(b"previous package")

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(asm, "attach", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        assemble(out, COVER, inputs[:1], manifest={})
    assert out.read_bytes() == b"previous package"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.pdf"]


def test_interrupt_while_saving_leaves_old_file_and_no_temp(tmp_path, inputs, monkeypatch):
    out = tmp_path / "evidence.pdf"
    out.write_bytes(b"previous package")
    real_save = pikepdf.Pdf.save

    def interrupted(self, f, *a, **k):
        real_save(self, f, *a, **k)  # the temp file is written ...
        raise KeyboardInterrupt  # ... then Ctrl-C

    monkeypatch.setattr(pikepdf.Pdf, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        assemble(out, COVER, inputs[:1], manifest={})
    assert out.read_bytes() == b"previous package"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.pdf"]


def test_disk_full_is_a_clear_error(tmp_path, inputs, monkeypatch):
    out = tmp_path / "evidence.pdf"

    def full(self, f, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pikepdf.Pdf, "save", full)
    with pytest.raises(OutputError, match="disk full") as e:
        assemble(out, COVER, inputs[:1], manifest={})
    assert e.value.path == out
    assert list(tmp_path.iterdir()) == []


def test_replaces_previous_package(tmp_path, inputs):
    out = tmp_path / "evidence.pdf"
    out.write_bytes(b"previous package")
    result = assemble(out, COVER, inputs[:1], manifest={"v": 2})
    assert as_given(read_manifest(out)) == {"v": 2} and result.bytes == out.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.pdf"]


def test_missing_output_folder_is_a_one_line_error(tmp_path, inputs):
    with pytest.raises(OutputError, match="does not exist") as e:
        assemble(tmp_path / "nope" / "evidence.pdf", COVER, inputs[:1], manifest={})
    assert e.value.path == tmp_path / "nope"
    assert "\n" not in str(e.value) and isinstance(e.value, EvidenceError)


def test_output_path_that_is_a_folder(tmp_path, inputs):
    with pytest.raises(OutputError, match="folder"):
        assemble(tmp_path, COVER, inputs[:1], manifest={})


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder_is_a_one_line_error(tmp_path, inputs):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable") as e:
            assemble(folder / "evidence.pdf", COVER, inputs[:1], manifest={})
        assert e.value.path == folder
    finally:
        folder.chmod(0o700)


def test_verification_catches_a_changed_image(tmp_path, inputs, monkeypatch):
    real = asm.digests_from_pdf
    monkeypatch.setattr(asm, "digests_from_pdf", lambda pdf: [None] + real(pdf)[1:-1] + ["0" * 64])
    with pytest.raises(AssembleError, match="differs"):
        assemble(tmp_path / "x.pdf", COVER, inputs[:1], manifest={})
    assert list(tmp_path.iterdir()) == []


# --- presets -----------------------------------------------------------------------------------

def test_presets_follow_the_limits_table():
    presets = load_presets()
    assert {"stripe", "shopify", "braintree", "adyen", "paypal", "checkout", "mastercard",
            "visa"} <= set(presets)
    s = presets["stripe"]
    assert (s.max_bytes, s.max_pages, s.page_size, s.pdfa) == (4_500_000, 49, "letter", False)
    sh = presets["shopify"]
    assert (sh.max_total_bytes, sh.max_file_bytes, sh.max_bytes, sh.max_pages, sh.pdfa) == \
        (4_000_000, 2_000_000, 2_000_000, 49, True)
    assert presets["adyen"].max_bytes == 2_000_000 and presets["adyen"].max_pages == 19
    assert presets["braintree"].max_bytes == 4_000_000 and presets["braintree"].max_pages == 49
    assert presets["paypal"].max_bytes == 10_000_000
    assert presets["checkout"].max_bytes == 4_000_000
    assert presets["mastercard"].max_bytes == 14_500_000 and presets["mastercard"].max_pages <= 19
    assert presets["visa"].max_bytes == 2_000_000 and presets["visa"].max_pages == 100
    for p in presets.values():
        assert p.source and p.page_size in ("letter", "a4")
    assert get_preset(" Stripe ") == s
    with pytest.raises(CaseError, match="unknown processor"):
        get_preset("venmo")


def test_bad_presets_file_is_refused(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('[x]\nmax_pages = -1\n')
    with pytest.raises(CaseError, match="max_pages"):
        load_presets(bad)
    bad.write_text('[x]\npage_size = "legal"\n')
    with pytest.raises(CaseError, match="page_size"):
        load_presets(bad)
    bad.write_text('[x]\nmax_sise = 5\n')
    with pytest.raises(CaseError, match="unknown key"):
        load_presets(bad)


def test_page_frame_is_shared_by_plan_and_pages():
    frame = page_frame("letter")
    assert frame.content.top < frame.header_baseline < 792
    assert 0 < frame.footer_baseline < frame.content.y


@pytest.mark.parametrize("pdfa", [False, True])
def test_non_image_bytes_measures_the_package_less_its_images(inputs, tmp_path, pdfa):
    """The fit stage budgets this figure: it must be what the real package spends on
    everything but image data, measured with blank stand-ins of the same shapes."""
    from evidence.fit import placeholder
    out = tmp_path / "p.pdf"
    real = assemble(out, COVER, inputs, page_size="letter", draft_failures=3,
                    manifest=MANIFEST, pdfa=pdfa)
    other = real.bytes - sum(p.image.size for p in inputs)
    stand_ins = [ExhibitPage(p.exhibit, p.source, p.date_label, p.when_source, p.note,
                             p.highlight, p.lines, p.slice,
                             placeholder(p.slice.source_width, p.slice.height_px))
                 for p in inputs]
    measured = asm.non_image_bytes(COVER, stand_ins, page_size="letter", draft_failures=3,
                                   manifest=MANIFEST, pdfa=pdfa)
    # A real image's size counts its palette twice (PNG and the dictionary's hex) and its
    # PNG chunk headers, which the package does not carry: within 200 bytes an image, and
    # never far below what the real package spent.
    assert other - 64 * len(inputs) <= measured <= other + 200 * len(inputs), (measured, other)
