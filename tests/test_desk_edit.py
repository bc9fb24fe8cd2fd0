"""Documents, `proves` and the rebuttal letter edited in the desk (issue 14 over issue
13's case.toml keys), on SQLite and a throwaway PostgreSQL: upload with the CLI's
screening, edit, delete, authorization, CSRF, version checks, the audit log, and a case
exported from the desk that the CLI builds with the document and the letter in it."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Dictionary, Name
from sqlalchemy import select
from starlette.testclient import TestClient

from desk_support import (PASSWORD, ROOT, SAMPLE, Client, RecordingRunner, invoice_pdf,
                          pdf_bytes, postgres_cluster, reset_database)
from evidence.desk.app import create_app
from evidence.desk.config import DeskConfig
from evidence.desk.models import Audit, Case
from evidence.desk.server import add_user

pytestmark = pytest.mark.postgres

SHOT = SAMPLE / "screenshots" / "IMG_4471.png"
LETTER = ("Jane Cooper received the logo files on October 9, 2024 and thanked us for them. "
          "Exhibit 2 is the paid invoice for the Logo Starter package.")


INVOICE = invoice_pdf()


def hostile(kind: str) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(INVOICE)) as pdf:
        if kind == "javascript":
            pdf.Root.OpenAction = pdf.make_indirect(Dictionary(
                Type=Name.Action, S=Name.JavaScript, JS=pikepdf.String("app.alert('hi')")))
            pdf.save(out)
        else:
            pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret", R=6))
    return out.getvalue()


def long_pdf(pages: int) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(INVOICE)) as pdf:
        for _ in range(pages - 1):
            pdf.pages.append(pdf.pages[0])
        pdf.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def pg_url():
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, tmp_path):
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        reset_database(url)
    cfg = DeskConfig(tmp_path / "data", database_url=url)
    runner = RecordingRunner(cfg)
    for email, role in (("dev@example.com", "developer"), ("other@example.com", "developer"),
                        ("admin@example.com", "admin")):  # in-process: `users add` minus a start
        add_user(cfg.data, url, email, role, PASSWORD)
    app = create_app(cfg, runner)
    app.state.runner = runner
    yield cfg, app
    cfg.db.engine.dispose()


def _ids(page: str, what: str) -> list[int]:
    return [int(x) for x in re.findall(rf'id="{what}-(\d+)"', page)]


def _version(page: str, action: str) -> str:
    m = re.search(rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" '
                  rf'value="[^"]*"><input type="hidden" name="version" value="(\d+)"', page)
    return m.group(1)


def test_documents_proves_and_letter_from_upload_to_cli_build(desk, tmp_path):
    cfg, app = desk
    with TestClient(app) as h1, TestClient(app) as h2, TestClient(app) as h3:
        dev, other, admin = (Client(h1, "dev@example.com"), Client(h2, "other@example.com"),
                             Client(h3, "admin@example.com"))
        r = dev.post("/cases/new", {"client_name": "Jane Cooper", "amount": "249.00 USD",
                                    "client_email": "jane.cooper@example.com",
                                    "reason": "product_not_received"})
        cid = int(str(r.url).rsplit("/", 1)[1])
        r = dev.post(f"/cases/{cid}/upload", files=[("files", (SHOT.name, SHOT.read_bytes(),
                                                               "image/png"))],
                     headers={"accept": "application/json"})
        assert r.json()["stored"] == [SHOT.name]
        with cfg.db.session() as s:
            folder = cfg.case_dir(s.get(Case, cid).folder)

        # upload: the invoice goes in; hostile and foreign files are refused, one line each
        files = [("files", ("invoice-118.pdf", INVOICE, "application/pdf")),
                 ("files", ("tracker.pdf", hostile("javascript"), "application/pdf")),
                 ("files", ("locked.pdf", hostile("encrypted"), "application/pdf")),
                 ("files", ("cut.pdf", INVOICE[:400], "application/pdf")),
                 ("files", ("notes.txt", b"just words", "text/plain")),
                 ("files", ("long.pdf", long_pdf(31), "application/pdf")),
                 ("files", ("big.pdf", b"%PDF-1.7\n" + b"0" * 20_000_000, "application/pdf"))]
        r = dev.post(f"/cases/{cid}/documents", files=files)
        assert r.status_code == 400
        for name, why in (("tracker.pdf", "JavaScript"), ("locked.pdf", "encrypted"),
                          ("cut.pdf", "PDF refused"), ("notes.txt", "not a PDF, PNG, JPEG"),
                          ("long.pdf", "31 pages, over the 30"),
                          ("big.pdf", "over the 20 MB limit for one document")):
            assert re.search(rf"{re.escape(name)}: [^·]*{why}", r.text, re.I), (name, r.text)
        assert "kept: invoice-118.pdf" in r.text and "Traceback" not in r.text
        stored = sorted(p.name for p in (folder / "documents").iterdir())
        assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{8}-invoice-118\.pdf", stored[0])
        assert list(cfg.tmp_dir.iterdir()) == []

        # a scan (PNG) takes the image path; its kind is guessed from its name as the CLI does
        r = dev.post(f"/cases/{cid}/documents", files=[(
            "files", ("delivery-proof.png", (SAMPLE / "screenshots" / "IMG_4480.png").read_bytes(),
                      "image/png"))], headers={"accept": "application/json"})
        assert r.json() == {"ok": True, "stored": ["delivery-proof.png"], "refused": []}
        page = dev.get(f"/cases/{cid}").text
        assert "delivery, 1 page" in page
        scan_id = _ids(page, "doc")[1]
        scan_url = f"/cases/{cid}/documents/{scan_id}/delete"
        assert dev.post(scan_url, {"version": _version(page, scan_url)}).status_code == 200
        assert sorted(p.name for p in (folder / "documents").iterdir()) == stored

        page = dev.get(f"/cases/{cid}").text
        [doc_id] = _ids(page, "doc")
        [shot_id] = _ids(page, "shot")
        doc_url, shot_url = f"/cases/{cid}/documents/{doc_id}", f"/cases/{cid}/shots/{shot_id}"
        assert 'value="invoice"' in page and 'value="delivery"' in page  # the reason's items
        doc_v = _version(page, doc_url)
        edit = {"version": doc_v, "title": "Invoice 118", "kind": "invoice",
                "note": "Paid invoice for the Logo Starter package", "manual_date": "2024-10-05",
                "proves": ["invoice", "order"]}

        # another developer, no CSRF token, a proves item of another reason: refused
        assert other.post(doc_url, edit).status_code == 403
        assert other.get(f"{doc_url}/file").status_code == 403
        assert other.post(f"/cases/{cid}/rebuttal", {"version": "1", "text": "x"}).status_code == 403
        assert other.post(f"/cases/{cid}/documents", files=[("files", ("i.pdf", INVOICE))]
                          ).status_code == 403
        assert h1.post(doc_url, data=edit).status_code == 403  # no csrf field
        r = dev.post(doc_url, {**edit, "proves": ["invoice", "approval"]})
        assert r.status_code == 400 and "&#39;approval&#39; is not an item of" in r.text

        r = dev.post(doc_url, edit)
        assert r.status_code == 200
        assert dev.post(doc_url, {**edit, "note": "stale tab"}).status_code == 409
        r = dev.post(shot_url, {"version": _version(page, shot_url), "kind": "conversation",
                                "note": "Client confirms the files arrived",
                                "proves": ["acknowledgement", "delivery"]})
        assert r.status_code == 200
        got = dev.get(f"{doc_url}/file")
        assert got.content == INVOICE and "attachment" in got.headers["content-disposition"]

        # the letter: the case's version guards it; too long is refused with the limit
        v = dev.version(cid)
        r = dev.post(f"/cases/{cid}/rebuttal", {"version": v, "text": "x" * 20_001})
        assert r.status_code == 400 and "20,000" in r.text
        assert dev.post(f"/cases/{cid}/rebuttal", {"version": v, "text": LETTER}).status_code == 200
        assert dev.post(f"/cases/{cid}/rebuttal", {"version": v, "text": "stale"}).status_code == 409

        # the draft build carries the letter: its text and its page are on the case page
        dev.post(f"/cases/{cid}/jobs", {"kind": "draft"})
        assert app.state.runner.run_all() == ["done", "done"]  # the check, the draft
        page = dev.get(f"/cases/{cid}").text
        preview = re.search(r'<pre class="letter" id="letter-preview">(.*?)</pre>', page, re.S)
        assert preview and preview.group(1).strip() == LETTER
        letter_png = re.search(rf'src="(/cases/{cid}/pages/(\d+)\.png)\?j=\d+" alt="the letter', page)
        assert letter_png and letter_png.group(2) == "2"  # after a one-page cover
        assert dev.get(letter_png.group(1)).content.startswith(b"\x89PNG")

        toml = tomllib.loads((folder / "case.toml").read_text())
        assert toml["rebuttal"] == {"text": LETTER}
        [d] = toml["document"]
        assert d == {"file": f"documents/{stored[0]}", "kind": "invoice", "proves": ["invoice", "order"],
                     "title": "Invoice 118",  # the desk's title is case.toml's, so it travels
                     "note": "Paid invoice for the Logo Starter package",
                     "date": __import__("datetime").date(2024, 10, 5)}
        assert toml["screenshot"][0]["proves"] == ["acknowledgement", "delivery"]

        # an admin sees it all; the audit names who did what
        page = admin.get(f"/cases/{cid}").text
        assert "Invoice 118" in page and LETTER in page
        with cfg.db.session() as s:
            rows = s.scalars(select(Audit).where(Audit.case_id == cid).order_by(Audit.id)).all()
            log = [(a.user.email, a.action, a.detail) for a in rows]
        assert ("dev@example.com", "document uploaded", "invoice-118.pdf") in log
        assert any(a == "upload refused" and "tracker.pdf" in d for _, a, d in log)
        assert any(a == "document edited" and "proves = invoice order" in d for _, a, d in log)
        assert ("dev@example.com", "rebuttal edited", f"{len(LETTER.split())} words") in log

        export = dev.get(f"/cases/{cid}/export.zip")
        assert export.status_code == 200
        # the export imports back as the same case (documents, proves and letter kept)
        r = dev.post("/cases/import", files={"archive": ("c.zip", export.content, "application/zip")})
        assert r.status_code == 200 and "1 document(s), a rebuttal letter" in r.text
        cid2 = int(re.search(r"/cases/(\d+)", str(r.url)).group(1))
        with cfg.db.session() as s:
            again = tomllib.loads((cfg.case_dir(s.get(Case, cid2).folder) / "case.toml").read_text())
        assert again == toml

        # removing the document takes its file and its entry
        page = dev.get(f"/cases/{cid}").text
        r = dev.post(f"{doc_url}/delete", {"version": _version(page, f"{doc_url}/delete")})
        assert r.status_code == 200 and not any((folder / "documents").iterdir())
        assert "document" not in tomllib.loads((folder / "case.toml").read_text())

    # the exported folder builds with the CLI: the invoice is an exhibit, the letter is ours
    with zipfile.ZipFile(io.BytesIO(export.content)) as z:
        z.extractall(tmp_path / "export")
    [case_dir] = (tmp_path / "export").iterdir()
    out = tmp_path / "cli.pdf"
    r = subprocess.run([sys.executable, "-m", "evidence.cli", "build", str(case_dir), "--draft",
                        "-o", str(out), "--json", "-j", "1", "--cache-dir", str(cfg.cache_dir)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode in (0, 1) and out.exists(), r.stderr
    result = json.loads(r.stdout)
    assert result["exhibits"] == 2 and result["rebuttal"]["source"] == "case.toml"
    assert any(row["item"] == "invoice" and row["covered"] for row in result["checklist"])
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(str(out))
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    pdf.close()
    flat = " ".join(text.split())
    assert "INVOICE 2024-118" in flat and "Paid invoice for the Logo Starter package" in flat
    assert "Exhibit 2 is the paid invoice for the Logo Starter package." in flat


def test_an_imported_folder_keeps_its_documents_proves_and_rebuttal_md(desk, tmp_path):
    cfg, app = desk
    toml = ('[client]\nname = "Jane Cooper"\nemail = "jane.cooper@example.com"\n'
            '[dispute]\nreason = "13.1"\n'
            '[[screenshot]]\nfile = "screenshots/IMG_4471.png"\nproves = ["acknowledgement"]\n'
            '[[document]]\nfile = "papers/inv.pdf"\nkind = "invoice"\nproves = ["invoice"]\n'
            'note = "The paid invoice"\ndate = 2024-10-05\n')
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("c/case.toml", toml)
        z.writestr("c/screenshots/IMG_4471.png", SHOT.read_bytes())
        z.writestr("c/papers/inv.pdf", INVOICE)
        z.writestr("c/documents/terms.pdf", pdf_bytes("Terms", ["Refunds within 14 days."]))
        z.writestr("c/documents/tracker.pdf", hostile("javascript"))
        z.writestr("c/rebuttal.md", "# Our answer\n\nThe files were **delivered**.\n")
    with TestClient(app) as http:
        dev = Client(http, "dev@example.com")
        r = dev.post("/cases/import", files={"archive": ("c.zip", archive.getvalue())})
        assert r.status_code == 200 and "2 document(s), a rebuttal letter" in r.text
        assert re.search(r"refused: tracker.pdf: PDF refused: [^<]*JavaScript", r.text)
        with cfg.db.session() as s:
            case = s.scalars(select(Case)).one()
            folder = cfg.case_dir(case.folder)
            docs = {d.file: (d.kind, d.proves, d.note, str(d.manual_date)) for d in case.documents}
            assert case.rebuttal_text.startswith("# Our answer")
            assert case.shots[0].proves == "acknowledgement"
        assert docs == {"papers/inv.pdf": ("invoice", "invoice", "The paid invoice", "2024-10-05"),
                        "documents/terms.pdf": ("policy", "", "", "None")}
        assert not (folder / "documents" / "tracker.pdf").exists()
        got = tomllib.loads((folder / "case.toml").read_text())
        assert got["rebuttal"]["text"].startswith("# Our answer")
        assert [d["file"] for d in got["document"]] == ["documents/terms.pdf", "papers/inv.pdf"]
        with zipfile.ZipFile(io.BytesIO(dev.get(f"/cases/{case.id}/export.zip").content)) as z:
            names = sorted(n.split("/", 1)[1] for n in z.namelist())
        assert names == ["case.toml", "documents/terms.pdf", "papers/inv.pdf",
                         "screenshots/IMG_4471.png"]
