"""Documents as exhibits, without OCR: discovery, screening with validate's checks,
text extraction and dating. The end-to-end build is in test_argue_e2e.py."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Dictionary, Name
from reportlab.pdfgen import canvas

from evidence import documents
from evidence.case import load_case

INVOICE_LINES = ["Invoice date: October 5, 2024", "Due: 2024-10-19",
                 "Bill to: Jane Cooper <jane.cooper@example.com>",
                 "Logo Starter package ........ 249.00 USD", "Paid by card. Thank you!"]


def make_pdf(path: Path, title: str, lines=(), pages: int = 1) -> Path:
    c = canvas.Canvas(str(path))
    for p in range(pages):
        c.setFont("Helvetica-Bold", 20)
        c.drawString(72, 760, f"{title}" + (f" (page {p + 1})" if pages > 1 else ""))
        c.setFont("Helvetica", 12)
        for i, t in enumerate(lines):
            c.drawString(72, 720 - 20 * i, t)
        c.showPage()
    c.save()
    return path


def make_invoice(path: Path) -> Path:
    return make_pdf(path, "INVOICE 2024-118", INVOICE_LINES)


def make_javascript(path: Path, src: Path) -> Path:
    with pikepdf.open(src) as pdf:
        pdf.Root.OpenAction = pdf.make_indirect(Dictionary(
            Type=Name.Action, S=Name.JavaScript, JS=pikepdf.String("app.alert('hi')")))
        pdf.save(path)
    return path


def make_encrypted(path: Path, src: Path) -> Path:
    with pikepdf.open(src) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(owner="owner", user="secret", R=6))
    return path


@pytest.fixture
def case(tmp_path):
    (tmp_path / "case.toml").write_text(
        '[client]\nname = "Jane Cooper"\nemail = "jane.cooper@example.com"\n'
        '[[document]]\nfile = "papers/terms.pdf"\nkind = "policy"\ndate = 2024-09-01\n'
        'note = "Refund policy the client accepted"\nproves = ["policy"]\n')
    docs = tmp_path / "documents"
    docs.mkdir()
    (tmp_path / "papers").mkdir()
    inv = make_invoice(docs / "inv-118.pdf")
    make_javascript(docs / "tracker.pdf", inv)
    make_encrypted(docs / "locked.pdf", inv)
    (docs / "broken.pdf").write_bytes(inv.read_bytes()[:400])
    (docs / "notes.docx").write_bytes(b"PK\x03\x04 not a pdf")
    make_pdf(tmp_path / "papers" / "terms.pdf", "Terms and refund policy",
             ["Revisions: two rounds included.", "Refunds within 14 days."], pages=2)
    return load_case(tmp_path)


def test_invoice_is_read_dated_and_kinded_while_bad_pdfs_are_refused_by_name(case):
    found = documents.discover(case)
    by_rel = {d.rel: d for d in found.pdfs}
    assert sorted(by_rel) == ["documents/inv-118.pdf", "papers/terms.pdf"]
    inv = by_rel["documents/inv-118.pdf"]
    assert inv.kind == "invoice" and inv.pages == 1
    assert "INVOICE 2024-118" in inv.text and "249.00 USD" in inv.text
    assert (inv.when.value, inv.when.source) == (dt.datetime(2024, 10, 5), "text")
    terms = by_rel["papers/terms.pdf"]
    assert (terms.kind, terms.pages, terms.proves) == ("policy", 2, ("policy",))
    assert (terms.when.value, terms.when.source) == (dt.datetime(2024, 9, 1), "manual")
    refused = {p.path.name: p.message for p in found.problems}
    assert set(refused) == {"tracker.pdf", "locked.pdf", "broken.pdf", "notes.docx"}
    assert "JavaScript" in refused["tracker.pdf"] or "OpenAction" in refused["tracker.pdf"]
    assert "encrypted" in refused["locked.pdf"]
    assert refused["broken.pdf"].startswith("PDF refused")
    for p in found.problems:  # one line each, naming the file
        assert "\n" not in str(p) and p.path.name in str(p)


def test_a_scan_is_read_like_a_screenshot_with_its_document_kind(tmp_path):
    from PIL import Image

    (tmp_path / "case.toml").write_text('[client]\nname = "A B"\nemail = "a@b.co"\n')
    (tmp_path / "documents").mkdir()
    Image.new("RGB", (40, 60), "white").save(tmp_path / "documents" / "receipt-scan.png")
    found = documents.discover(load_case(tmp_path))
    assert [(s.rel, s.kind) for s in found.scans] == [("documents/receipt-scan.png", "invoice")]
    assert not found.pdfs and not found.problems


def test_page_import_keeps_text_and_its_digest_reads_back(tmp_path):
    from evidence.manifest import digests_from_pdf

    src = make_invoice(tmp_path / "inv.pdf")
    digests = documents.page_digests(src)
    out = pikepdf.new()
    out.add_blank_page(page_size=(612, 792))
    page = documents.DocumentPage(exhibit=1, source="inv.pdf", date_label="Oct 5, 2024",
                                  when_source="text", note=None, path=src, index=0, count=1,
                                  digest=digests[0])
    got = documents.place(out, out.pages[0], page, (36, 36, 576, 756))
    assert got == digests[0]
    out.save(tmp_path / "pkg.pdf")
    with pikepdf.open(tmp_path / "pkg.pdf") as pdf:
        assert digests_from_pdf(pdf) == [digests[0]]
        import pypdfium2 as pdfium
        doc = pdfium.PdfDocument(str(tmp_path / "pkg.pdf"))
        assert "INVOICE 2024-118" in doc[0].get_textpage().get_text_range()
        doc.close()


def test_date_from_text_takes_the_earliest_full_date():
    w, text = documents.date_document("Due 2024-10-19\nIssued October 5, 2024\nOct 1",
                                      None, dt.datetime(2030, 1, 1))
    assert (w.value, w.source, text) == (dt.datetime(2024, 10, 5), "text", "October 5, 2024")
    w, _ = documents.date_document("no dates here", None, dt.datetime(2030, 1, 1))
    assert (w.value, w.source) == (dt.datetime(2030, 1, 1), "mtime")


def test_kind_is_guessed_from_name_then_text():
    assert documents.guess_kind("documents/Invoice-7.pdf", "") == "invoice"
    assert documents.guess_kind("documents/x.pdf", "TERMS OF SERVICE\n...") == "policy"
    assert documents.guess_kind("documents/ups.pdf", "Tracking number 1Z") == "delivery"
    assert documents.guess_kind("documents/x.pdf", "hello") == "other"


def test_pdfa_packages_take_only_documents_with_embedded_fonts(tmp_path):
    from evidence import annotate

    plain = make_invoice(tmp_path / "plain.pdf")  # Helvetica, not embedded
    assert documents.pdfa_problem(plain) == "font Helvetica is not embedded"
    annotate.register_fonts()
    c = canvas.Canvas(str(tmp_path / "embedded.pdf"), initialFontName=annotate.FONT)
    c.setFont(annotate.FONT, 14)
    c.drawString(72, 720, "INVOICE 7 - fonts embedded")
    c.save()
    assert documents.pdfa_problem(tmp_path / "embedded.pdf") is None
