"""The cover page: no empty fields or dangling separators, file names broken only at
separators, failed exhibits marked in a draft; and the HTML validation report."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import pytest
from PIL import Image

from evidence import annotate
from evidence.assemble import CoverInfo, ExhibitPage, assemble
from evidence.cover import Wording, short_reason, wrap_name
from evidence.validate import Check, PackageReport, PageFinding, ValidationReport
from evidence.validate.html import render_html
from test_assemble import chat, exhibit_pages, jpeg

NO_DISPUTE = CoverInfo("Jane Cooper", "jane.cooper@example.com", "", "", "", "")
LONG_NAME = "screenshots/very_long-file.name-from-a-phone_export_2024-10-25_at_16.20.05_v2.png"


def _pages(failures=()) -> list[ExhibitPage]:
    im, lines = chat(585, 1266, ["Did my order arrive", "Yes it arrived thanks"])
    out = []
    for n, (src, when) in enumerate([("screenshots/order-email.png", None),
                                     ("screenshots/IMG_4466.png", "mtime"),
                                     (LONG_NAME, "filename")], 1):
        for p in exhibit_pages(n, src, im, lines, note="Client confirms", when=when,
                               encode=jpeg):
            out.append(dataclasses.replace(p, failures=tuple(failures) if n == 2 else ()))
    return out


def _cover_text(tmp_path, cover, pages, **kw) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = tmp_path / "p.pdf"
    assemble(out, cover, pages, manifest={"version": 1}, **kw)
    return subprocess.run(["pdftotext", "-layout", "-l", "1", str(out), "-"],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.poppler
def test_cover_without_dispute_has_no_empty_rows_or_dangling_separators(tmp_path):
    text = _cover_text(tmp_path, NO_DISPUTE, _pages())
    for label in ("Dispute ID", "Processor", "Amount", "Reason", "Ticket", "Respond by"):
        assert label not in text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        assert not ln.endswith("·") and not ln.startswith("·"), ln
        assert "· ·" not in ln and ln not in ("–", "-"), ln
        assert not re.fullmatch(r"(Client|Email)", ln), f"label without value: {ln}"
    assert "page 1 of 4" in lines  # the footer without "· <dispute id>"
    assert "Dispute" not in text
    with_dispute = _cover_text(tmp_path, dataclasses.replace(
        NO_DISPUTE, dispute_id="dp_42", processor="stripe"), _pages())
    assert "Dispute dp_42 · stripe" in with_dispute and "page 1 of 4 · dp_42" in with_dispute


@pytest.mark.poppler
def test_index_names_unbroken_and_failed_exhibits_marked(tmp_path):
    pages = _pages(failures=["client email 'jane.cooper@example.com' not found"])
    text = _cover_text(tmp_path, NO_DISPUTE, pages, draft_failures=1)
    assert "IMG_4466.png" in text and "order-email.png" in text  # never "IMG_4466.pn / g"
    assert "FAILED" in text and "Check failed: email not found" in text
    assert "modified" in text and "(from file" in text  # dates not from the image say so
    assert text.count("FAILED") == 1
    clean = _cover_text(tmp_path, NO_DISPUTE, pages)  # not a draft: nothing marked
    assert "FAILED" not in clean


def test_wrap_name_breaks_only_at_separators_and_shortens_in_the_middle():
    annotate.register_fonts()
    for width in (60, 90, 140, 400):
        lines = wrap_name(LONG_NAME, width)
        assert all(annotate.text_width(ln, annotate.FONT, 10) <= width + 0.01 for ln in lines)
        joined = "".join(lines)
        for a, b in zip(lines, lines[1:]):  # each break follows a separator
            assert a[-1] in "/_-. " or a.endswith("…"), (a, b)
        if "…" in joined:
            head, tail = joined.split("…")
            assert LONG_NAME.startswith(head) and LONG_NAME.endswith(tail)
            assert joined.endswith(".png")
        else:
            assert joined == LONG_NAME
    assert wrap_name("screenshots/IMG_4466.png", 120) == ["screenshots/IMG_4466.png"] or \
        wrap_name("screenshots/IMG_4466.png", 120) == ["screenshots/", "IMG_4466.png"]


def test_short_reason():
    assert short_reason("client email 'a@b.c' not found") == "email not found"
    assert short_reason("client name 'Jane' not found") == "name not found"
    assert short_reason("no message date visible") == "no message date visible"


def test_wording_drops_parts_with_empty_placeholders():
    w = Wording({})
    assert w.fill_parts("page ${page} of ${pages} · ${dispute_id}", page=1, pages=3,
                        dispute_id="") == "page 1 of 3"
    assert w.fill_parts("Dispute ${dispute_id} · ${processor}", dispute_id="",
                        processor="") == ""
    assert w.fill_parts("A · ${x}", x="y") == "A · y"


def test_html_report_each_fact_once_failures_red_names_unbroken():
    findings = ["exhibit 2 (screenshots/IMG_4466.png, page 3): email not found at build time",
                "exhibit 3 (a_b-c.png, page 4): date not found at build time"]
    checks = [Check("fields", "fail", "; ".join(findings), findings=findings, pages=[3, 4]),
              Check("order", "pass", "3 exhibit(s) in date order")]
    pages = [PageFinding(1, image="cover"),
             PageFinding(2, exhibit=1, source="screenshots/order-email.png", image="ok",
                         date="Oct 8, 2024", name=True, email=True, date_source="mtime"),
             PageFinding(3, exhibit=2, source="screenshots/IMG_4466.png", image="ok",
                         date=None, name=True, email=False)]
    from pathlib import Path

    report = ValidationReport([PackageReport(Path("/x/evidence-package_v2.pdf"), checks, pages)])
    html = render_html(report)
    assert html.count(findings[0]) == 1  # not in the detail and again in the list
    assert "image cover" not in html and "Page 1 · cover" in html
    assert '<span class="no">NONE FOUND</span>' in html  # a missing date is red
    assert "file modified time" in html
    assert "break-all" not in html
    assert "IMG_<wbr>4466.<wbr>png" in html  # breaks only after separators
