"""The argument end to end (real OCR, cached per module): the sample case built with a
reason, a rebuttal page, documents as exhibits, the index grouped by type, and the
checklist in `check --json`. Read back with pdftotext and `evidence validate`."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from evidence.manifest import read_manifest
from fixtures.generate import phone_series
from test_documents import make_encrypted, make_invoice, make_javascript

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample-case"
needs_poppler = pytest.mark.poppler


def evidence(*args, cache=None, check=None):
    extra = ["--cache-dir", str(cache)] if cache else []
    p = subprocess.run([sys.executable, "-m", "evidence.cli", *map(str, args), *extra],
                       capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, p.stdout + p.stderr
    return p


def pdftotext(pdf: Path, first: int, last: int | None = None) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last or first), str(pdf),
                           "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ocr-cache")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("argue") / "case"
    shutil.copytree(SAMPLE, root)
    docs = root / "documents"
    docs.mkdir()
    inv = make_invoice(docs / "invoice-2024-118.pdf")
    make_javascript(docs / "tracker.pdf", inv)
    make_encrypted(docs / "locked.pdf", inv)
    return root


def _with_reason(case: Path, reason: str) -> None:
    toml = (case / "case.toml").read_text()
    (case / "case.toml").write_text(re.sub(r'(?m)^reason = .*$', f'reason = "{reason}"', toml))


def _day(iso: str) -> str:
    v = dt.datetime.fromisoformat(iso)
    return f"{v:%b} {v.day}, {v.year}"


@pytest.fixture(scope="module", params=["product_not_received", "13.3"])
def built(request, case, cache, tmp_path_factory):
    _with_reason(case, request.param)
    out = tmp_path_factory.mktemp("pkg") / "evidence.pdf"
    p = evidence("build", case, "--draft", "-o", out, "--json", cache=cache, check=0)
    return request.param, out, json.loads(p.stdout), p.stderr


@needs_poppler
def test_rebuttal_page_names_reason_client_amount_and_dated_exhibits(built):
    reason, out, result, stderr = built
    manifest = read_manifest(out)
    cover = manifest["cover_pages"]
    letter_pages = [n for n in range(1, cover + 1)
                    if re.search(r"(?m)^Rebuttal$", pdftotext(out, n))]
    assert letter_pages == [cover], "the letter is the page after the cover"
    text = " ".join(pdftotext(out, cover).split())
    label = {"product_not_received": "Product not received",
             "13.3": "Visa 13.3 Not as Described or Defective Merchandise/Services"}[reason]
    assert label in text and "Jane Cooper" in text and "249.00 USD" in text
    dates = {e["exhibit"]: _day(e["when"]["value"]) for e in manifest["exhibits"]}
    cited = {int(n): d for n, d in re.findall(r"Exhibit (\d+) \(([A-Z][a-z]{2} \d+, \d{4})", text)}
    assert len(cited) >= 3, text
    assert all(dates[n] == d for n, d in cited.items()), (cited, dates)
    # the same letter, as plain text for the processor's text box, within its limit
    letter = result["rebuttal"]
    assert letter["limit_chars"] == 20_000 and len(letter["text"]) <= 20_000
    assert 200 <= letter["words"] <= 400
    assert " ".join(letter["text"].split())[:200] in text
    # still within the processor's caps, with the letter and the document pages counted
    assert result["pages"] <= result["max_pages"] and result["bytes"] <= result["max_bytes"]
    assert result["pages"] == manifest["page_count"] == len(pikepdf.open(out).pages)


@needs_poppler
def test_invoice_is_its_own_searchable_exhibit_under_invoices_and_bad_pdfs_are_refused(built, cache):
    reason, out, result, stderr = built
    for name, why in (("tracker.pdf", "JavaScript"), ("locked.pdf", "encrypted")):
        line = next(w for w in result["warnings"] if name in w)
        assert why in line and "\n" not in line
        assert name in stderr
    manifest = read_manifest(out)
    inv = next(e for e in manifest["exhibits"] if e["source"].endswith("invoice-2024-118.pdf"))
    assert (inv["kind"], inv["group"], inv["when"]["value"]) == \
        ("invoice", "invoices", "2024-10-05T00:00:00")
    assert inv["exhibit"] == len(manifest["exhibits"])  # the last group comes last
    page_text = pdftotext(out, inv["pages"][0])
    assert "INVOICE 2024-118" in page_text and f"Exhibit {inv['exhibit']}" in page_text
    index = subprocess.run(["pdftotext", "-layout", "-l", str(manifest["cover_pages"] - 1),
                            str(out), "-"], capture_output=True, text=True).stdout.splitlines()
    row = lambda text: next(i for i, line in enumerate(index) if text in line)  # noqa: E731
    heads = [row(h) for h in ("Communications", "Delivered work", "Invoices and receipts")]
    assert heads == sorted(heads)
    assert row("invoice-2024-118.pdf") > heads[2]  # the cover may wrap the name after "/"
    groups = [e["group"] for e in sorted(manifest["exhibits"], key=lambda e: e["exhibit"])]
    assert groups == sorted(groups, key=["communications", "delivered", "invoices"].index)
    v = evidence("validate", out, "--json")
    checks = {c["id"]: c for c in json.loads(v.stdout)["packages"][0]["checks"]}
    for cid in ("readable", "limits", "active-content", "manifest", "order"):
        assert checks[cid]["status"] == "pass", checks[cid]


@needs_poppler
def test_validate_names_an_edited_document_page(built, cache, tmp_path):
    reason, out, result, stderr = built
    if reason != "product_not_received":
        pytest.skip("one package is enough")
    manifest = read_manifest(out)
    inv = next(e for e in manifest["exhibits"] if e["source"].endswith("invoice-2024-118.pdf"))
    n = inv["pages"][0]
    edited = tmp_path / "edited.pdf"
    with pikepdf.open(out) as pdf:
        form = pdf.pages[n - 1].obj.Resources.XObject["/EvidenceDocument"]
        form.write(form.read_bytes().replace(b"249.00", b"149.00"))
        pdf.save(edited)
    v = evidence("validate", edited, "--json", check=1)
    checks = {c["id"]: c for c in json.loads(v.stdout)["packages"][0]["checks"]}
    assert checks["manifest"]["status"] == "fail" and f"page {n}" in checks["manifest"]["detail"]


def test_check_json_lists_the_checklist_with_delivery_missing(tmp_path, cache):
    case = tmp_path / "series"
    phone_series(case, 3)
    import tomli_w
    import tomllib
    data = tomllib.loads((case / "case.toml").read_text())
    data["dispute"] = {**data.get("dispute", {}), "reason": "4855", "amount": "90.00 EUR"}
    entry = data["screenshot"][0]
    first = entry["file"].split("/")[-1]
    entry.update(proves=["acknowledgement"], note="Client orders the logo")
    for other in data["screenshot"][1:]:
        other.pop("note", None)  # the generated notes must not cover anything by chance
    (case / "case.toml").write_text(tomli_w.dumps(data))
    p = evidence("check", case, "--json", cache=cache, check=0)
    report = json.loads(p.stdout)
    assert report["reason"]["category"] == "product_not_received"
    assert report["reason"]["code"] == "4855"
    rows = {r["item"]: r for r in report["checklist"]}
    assert set(rows) == {"order", "delivery", "acknowledgement", "invoice"}
    assert rows["delivery"]["covered"] is False and rows["delivery"]["exhibits"] == []
    ack = rows["acknowledgement"]["exhibits"]
    assert [(e["source"], e["by"]) for e in ack] == [(f"screenshots/{first}", "proves")]
    assert rows["order"]["covered"] and rows["order"]["exhibits"][0]["by"] == "note: orders"
    assert any("'delivery'" in w for w in report["warnings"])
    table = evidence("check", case, cache=cache, check=0).stdout
    assert re.search(r"(?m)^delivery\s+MISSING\s+-$", table)
    free = case / "case.toml"
    free.write_text(free.read_text().replace('reason = "4855"', 'reason = "changed his mind"'))
    report = json.loads(evidence("check", case, "--json", cache=cache, check=0).stdout)
    assert report["checklist"] == [] and report["reason"]["known"] is False
    assert any("not a known reason" in w for w in report["warnings"])
