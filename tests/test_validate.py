"""evidence validate: a package built by the real pipeline passes, and each kind of
tampering after the build fails the right check, naming the page; the JSON, the table,
the HTML report and the exit codes; --deep with the real rapidocr; a property test over
mutated packages. Hostile files are in test_validate_hostile.py."""
from __future__ import annotations

import datetime as dt
import hashlib
import html.parser
import io
import json
import random
import shutil
import tempfile
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pikepdf import Dictionary, Name
from PIL import Image, ImageDraw

from evidence import pipeline
from evidence.cli import cli
from evidence.errors import CaseError, EvidenceError
from evidence.manifest import MANIFEST_NAME, image_stream_digests, read_manifest
from evidence.validate import CHECK_IDS, ValidateOptions, validate
from evidence.validate.html import render_html
from fixtures.generate import phone_series

TODAY = dt.date(2024, 11, 1)  # the fixture dispute's respond-by date is 2024-11-15
N_SHOTS = 4


# --- the package under test: the real build of a passing case -------------------------

def build_case(case: Path, cache: Path) -> Path:
    result = pipeline.build(case, pipeline.BuildOptions(cache_dir=cache, today=TODAY))
    assert not result.failed and not result.draft
    return result.output


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(case folder, package, OCR cache) — never modified by the tests: copy first."""
    root = tmp_path_factory.mktemp("validate")
    case = root / "case"
    phone_series(case, N_SHOTS)
    return case, build_case(case, root / "ocr-cache"), root / "ocr-cache"


@pytest.fixture
def package(built, tmp_path) -> Path:
    out = tmp_path / "package.pdf"
    shutil.copyfile(built[1], out)
    return out


@pytest.fixture
def case_copy(built, tmp_path) -> Path:
    dst = tmp_path / "case"
    shutil.copytree(built[0], dst)
    return dst


def run(path: Path, **kw):
    kw.setdefault("today", TODAY)
    return validate([path], ValidateOptions(**kw)).packages[0]


def failed(report) -> set[str]:
    return {c.id for c in report.checks if not c.ok and c.level == "error"}


def manifest_of(path: Path) -> dict:
    m = read_manifest(path)
    assert m is not None
    return m


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# --- mutations (each writes a new file) --------------------------------------------------

def mutate(src: Path, dst: Path, fn) -> Path:
    with pikepdf.open(src) as pdf:
        fn(pdf)
        pdf.save(dst)
    return dst


def remove_page(index: int):
    def fn(pdf):
        del pdf.pages[index]
    return fn


def swap_pages(i: int, j: int):
    def fn(pdf):
        kids = pdf.Root.Pages.Kids  # the build writes a flat page tree
        assert len(kids) == len(pdf.pages)
        a, b = kids[i], kids[j]
        kids[i], kids[j] = b, a
    return fn


def jpeg_bytes(colour=(200, 40, 40), size=(300, 600), text="REPLACED") -> tuple[bytes, int, int]:
    im = Image.new("RGB", size, colour)
    ImageDraw.Draw(im).text((20, 20), text, fill="white")
    b = io.BytesIO()
    im.save(b, "JPEG", quality=80)
    return b.getvalue(), im.width, im.height


def replace_image(index: int, colour=(200, 40, 40)):
    def fn(pdf):
        page = pdf.pages[index]
        (_, xobj), = [(k, v) for k, v in page.obj.Resources.XObject.items()
                      if v.get("/Subtype") == Name.Image]
        data, w, h = jpeg_bytes(colour)
        xobj.write(data, filter=Name.DCTDecode)
        for key in ("/DecodeParms", "/SMask", "/Mask", "/Decode"):
            if key in xobj:
                del xobj[key]
        xobj.Width, xobj.Height, xobj.BitsPerComponent = w, h, 8
        xobj.ColorSpace = Name.DeviceRGB
    return fn


def cover_page_with_white(index: int):
    """Paint the whole page white on top: the image stream (and its digest) is unchanged,
    but nothing on the page is legible any more."""
    def fn(pdf):
        page = pdf.pages[index]
        page.contents_add(pikepdf.Stream(pdf, b"q 1 1 1 rg 0 0 2000 2000 re f Q"), prepend=False)
    return fn


def javascript_open_action(pdf):
    pdf.Root.OpenAction = pdf.make_indirect(Dictionary(
        Type=Name.Action, S=Name.JavaScript, JS=pikepdf.String("app.alert('hi')")))


def foreign_attachment(pdf):
    pdf.attachments["invoice.pdf.exe"] = pikepdf.AttachedFileSpec(
        pdf, b"MZ\x90\x00 not really a program", filename="invoice.pdf.exe",
        mime_type="application/octet-stream")


def pad(nbytes: int):
    """Grow the file with an incompressible, unreferenced-by-content stream."""
    def fn(pdf):
        pdf.Root["/Padding"] = pdf.make_stream(random.Random(1).randbytes(nbytes))
    return fn


def rewrite_manifest(change):
    def fn(pdf):
        data = json.loads(pdf.attachments[MANIFEST_NAME].get_file().read_bytes())
        change(data)
        pdf.attachments[MANIFEST_NAME] = pikepdf.AttachedFileSpec(
            pdf, json.dumps(data).encode(), filename=MANIFEST_NAME, mime_type="application/json")
    return fn


def strip_manifest(pdf):
    del pdf.attachments[MANIFEST_NAME]
    if "/AF" in pdf.Root:
        del pdf.Root["/AF"]


# --- the package passes ------------------------------------------------------------------

def test_built_package_passes_every_check(built):
    case, pkg, _ = built
    before = fingerprint(pkg)
    r = run(pkg, case_dir=case)
    assert r.ok and not r.unreadable, [(c.id, c.status, c.detail) for c in r.checks]
    assert [c.id for c in r.checks] == list(CHECK_IDS)
    assert all(c.status == "pass" for c in r.checks), [(c.id, c.detail) for c in r.checks]
    m = manifest_of(pkg)
    assert r.page_count == m["page_count"] == len(r.pages)
    digests = image_stream_digests(pkg)
    for row in m["pages"]:
        p = r.pages[row["page"] - 1]
        assert (p.exhibit, p.source, p.image) == (row["exhibit"], row["source"], "ok")
        assert digests[row["page"] - 1] == row["image_sha256"]
    assert [p.image for p in r.pages[:m["cover_pages"]]] == ["cover"] * m["cover_pages"]
    assert fingerprint(pkg) == before  # validation never writes to the package


def test_processor_and_caps_from_options(package):
    r = run(package, processor="adyen")
    assert r.ok and "Adyen" in r.check("limits").detail
    r = run(package, max_size=50_000)
    assert failed(r) == {"limits"}
    assert "over the 50 kB cap (--max-size)" in r.check("limits").detail
    r = run(package, max_pages=2)
    assert failed(r) == {"limits"} and "over the 2-page cap" in r.check("limits").detail
    with pytest.raises(CaseError):
        run(package, processor="no-such-processor")


def test_pdfa_preset_needs_pdfa_markers(package):
    r = run(package, processor="shopify")  # Shopify wants PDF/A-2b; this package is not
    assert "limits" in failed(r)
    detail = r.check("limits").detail
    assert "PDF/A-2b required by Shopify Payments" in detail and "output intent" in detail


# --- each kind of tampering fails the right check, naming the page ---------------------

def test_page_removed(package, tmp_path):
    m = manifest_of(package)
    row = m["pages"][1]  # the second exhibit page
    bad = mutate(package, tmp_path / "removed.pdf", remove_page(row["page"] - 1))
    r = run(bad)
    assert failed(r) == {"manifest"}
    c = r.check("manifest")
    assert f"page {row['page']} (exhibit {row['exhibit']}, {row['source']}): removed" in c.detail
    assert f"the package has {m['page_count'] - 1} pages, the manifest {m['page_count']}" in c.detail
    assert row["page"] in c.pages


def test_two_pages_swapped(package, tmp_path):
    m = manifest_of(package)
    a, b = m["pages"][0], m["pages"][1]
    bad = mutate(package, tmp_path / "swapped.pdf", swap_pages(a["page"] - 1, b["page"] - 1))
    assert len(pikepdf.open(bad).pages) == m["page_count"]
    r = run(bad)
    assert failed(r) == {"manifest"}
    c = r.check("manifest")
    for row, now in ((a, b["page"]), (b, a["page"])):
        assert f"page {row['page']} (exhibit {row['exhibit']}, {row['source']}) is now page {now}" in \
            " ".join(c.findings)
    assert {a["page"], b["page"]} <= set(c.pages)
    assert {r.pages[a["page"] - 1].image, r.pages[b["page"] - 1].image} == {"moved"}


def test_exhibit_image_replaced(package, tmp_path):
    m = manifest_of(package)
    row = m["pages"][2]
    bad = mutate(package, tmp_path / "replaced.pdf", replace_image(row["page"] - 1))
    r = run(bad)
    assert failed(r) == {"manifest"}
    c = r.check("manifest")
    assert c.detail == f"page {row['page']} (exhibit {row['exhibit']}, {row['source']}): the image was replaced"
    assert c.pages == [row["page"]] and r.pages[row["page"] - 1].image == "changed"


def test_text_edited_after_the_build_names_the_page(package, tmp_path):
    """Changing what a page says (here: the cover's amount) keeps every image digest,
    but not the page's content digest."""
    def edit_cover(pdf):
        page = pdf.pages[0]
        page.contents_add(pikepdf.Stream(pdf, b"q 1 1 1 rg 100 100 200 20 re f Q"), prepend=False)
    bad = mutate(package, tmp_path / "edited.pdf", edit_cover)
    r = run(bad)
    assert failed(r) == {"manifest"}
    c = r.check("manifest")
    assert c.pages == [1] and "page 1 (cover page)" in c.detail


def test_page_added(package, tmp_path):
    m = manifest_of(package)

    def add(pdf):
        pdf.add_blank_page(page_size=(612, 792))
    r = run(mutate(package, tmp_path / "added.pdf", add))
    assert failed(r) == {"manifest"}
    n = m["page_count"] + 1
    assert f"page {n}: a page the manifest does not list (added)" in r.check("manifest").detail


def incremental_update(src: Path, dst: Path) -> Path:
    """Append a revision the way an editor saving in place does: a new Info dictionary,
    an xref section for it and a trailer pointing back at the previous one."""
    data = src.read_bytes()
    with pikepdf.open(src) as pdf:
        size = int(pdf.trailer.Size)
        root = pdf.Root.objgen
    prev = int(data[data.rindex(b"startxref") + 9:].split()[0])
    body = b"%d 0 obj\n<< /Title (edited in place) >>\nendobj\n" % size
    start = len(data) + 1
    xref = start + len(body)
    tail = (b"\n" + body + b"xref\n%d 1\n%010d 00000 n \n" % (size, start)
            + b"trailer\n<< /Size %d /Root %d %d R /Info %d 0 R /Prev %d >>\n" % (
                size + 1, root[0], root[1], size, prev)
            + b"startxref\n%d\n%%%%EOF\n" % xref)
    dst.write_bytes(data + tail)
    return dst


def test_incremental_update_after_the_build_is_a_warning(package, tmp_path):
    edited = incremental_update(package, tmp_path / "edited.pdf")
    with pikepdf.open(edited) as pdf:
        assert str(pdf.docinfo.Title) == "edited in place" and not pdf.get_warnings()
    r = run(edited)
    assert r.ok and not failed(r)
    c = r.check("manifest")
    assert c.status == "warn" and c.detail.startswith("the file was changed after the build "
                                                      "(1 incremental update(s))")


def test_file_grown_over_the_cap(package, tmp_path):
    bad = mutate(package, tmp_path / "big.pdf", pad(4_600_000))
    assert bad.stat().st_size > 4_500_000
    r = run(bad)
    assert failed(r) == {"limits"}
    assert "over the 4.50 MB cap (Stripe)" in r.check("limits").detail


def test_javascript_open_action(package, tmp_path):
    r = run(mutate(package, tmp_path / "js.pdf", javascript_open_action))
    assert failed(r) == {"active-content"}
    c = r.check("active-content")
    assert "OpenAction" in c.detail and "JavaScript" in c.detail


def test_javascript_on_a_page_is_named(package, tmp_path):
    def link(pdf):
        page = pdf.pages[2]
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Link, Rect=[0, 0, 100, 100],
            A=Dictionary(S=Name.JavaScript, JS=pikepdf.String("this.print()"))))]))
    r = run(mutate(package, tmp_path / "js-page.pdf", link))
    c = r.check("active-content")
    assert failed(r) == {"active-content"} and "JavaScript on page 3" in c.detail and c.pages == [3]


def test_foreign_attachment(package, tmp_path):
    r = run(mutate(package, tmp_path / "attached.pdf", foreign_attachment))
    assert failed(r) == {"active-content"}
    assert "embedded file 'invoice.pdf.exe'" in r.check("active-content").detail
    assert r.check("manifest").status == "pass"  # the manifest itself is still fine


def test_source_screenshot_edited_after_the_build(package, case_copy):
    m = manifest_of(package)
    ex = m["exhibits"][1]
    shot = case_copy / ex["source"]
    im = Image.open(shot).convert("RGB")
    im.putpixel((5, 5), (255, 0, 255))
    im.save(shot)
    r = run(package, case_dir=case_copy)
    assert failed(r) == {"case"}
    c = r.check("case")
    assert c.detail == (f"exhibit {ex['exhibit']} ({ex['source']}, page {ex['pages'][0]}): "
                        "the source was changed after the build (SHA-256 differs)")
    assert c.pages == [ex["pages"][0]]


def test_screenshot_missing_from_the_package(package, case_copy):
    Image.new("RGB", (400, 800), "white").save(case_copy / "screenshots" / "late.png")
    r = run(package, case_dir=case_copy)
    assert failed(r) == {"case"}
    assert "screenshots/late.png: a screenshot of the case that is not in the package" in \
        r.check("case").detail


def test_left_out_duplicates_are_not_missing(built, tmp_path):
    case = tmp_path / "dup-case"
    shutil.copytree(built[0], case)
    src = sorted((case / "screenshots").glob("*.png"))[0]
    shutil.copyfile(src, case / "screenshots" / "zz-copy.png")
    (case / "evidence.pdf").unlink()
    pkg = build_case(case, built[2])  # OCR cache: same images, nothing is read again
    m = manifest_of(pkg)
    assert [x["source"] for x in m["left_out"]] == ["screenshots/zz-copy.png"]
    r = run(pkg, case_dir=case)
    assert r.ok and r.check("case").status == "pass", r.check("case").detail


def test_case_for_another_client(package, case_copy):
    toml = (case_copy / "case.toml").read_text()
    (case_copy / "case.toml").write_text(toml.replace("jane.cooper@example.com", "jc@example.org"))
    r = run(package, case_dir=case_copy)
    assert failed(r) == {"case"} and "the package is for Jane Cooper" in r.check("case").detail


def test_deadline(package):
    r = run(package, today=dt.date(2024, 11, 20))
    assert failed(r) == {"deadline"}
    assert r.check("deadline").detail == \
        "the respond-by date 2024-11-15 passed 5 day(s) ago (today is 2024-11-20)"
    r = run(package, today=dt.date(2024, 11, 13))
    assert r.ok and r.check("deadline").status == "warn" and not r.check("deadline").ok
    assert r.check("deadline").level == "warning"
    r = run(package, today=dt.date(2024, 11, 15))
    assert r.ok and r.check("deadline").detail == "respond by today (2024-11-15)"


def test_order_from_the_manifest(package, tmp_path):
    def earlier(data):
        data["exhibits"][2]["when"]["value"] = "2024-01-01T10:00:00"
    m = manifest_of(package)
    ex2, ex3 = m["exhibits"][1], m["exhibits"][2]
    r = run(mutate(package, tmp_path / "order.pdf", rewrite_manifest(earlier)))
    assert failed(r) == {"order"}
    assert r.check("order").detail.startswith(
        f"exhibit 3 ({ex3['source']}, 2024-01-01 10:00) is dated before exhibit 2 ({ex2['source']}")
    assert r.check("order").pages == ex3["pages"][:1]


def test_order_fails_a_date_far_outside_the_case_unless_set_by_hand(package, tmp_path):
    def misread(data):  # 2002 among 2024: first in order, but a misread year
        data["exhibits"][0]["when"] = {"value": "2002-10-24T00:00:00", "source": "image"}
    r = run(mutate(package, tmp_path / "far.pdf", rewrite_manifest(misread)))
    assert failed(r) == {"order"}
    assert "dated 2002-10-24, far from the case's other dates" in r.check("order").detail

    def by_hand(data):
        data["exhibits"][0]["when"] = {"value": "2002-10-24T00:00:00", "source": "manual"}
    r = run(mutate(package, tmp_path / "manual.pdf", rewrite_manifest(by_hand)))
    assert r.check("order").ok


def test_fields_from_the_manifest(package, tmp_path):
    def lost(data):
        data["exhibits"][0]["fields"]["email"]["found"] = False
        data["exhibits"][1]["kind"] = "site"  # a site capture needs only a date
        data["exhibits"][1]["fields"]["name"]["found"] = False
        data["exhibits"][2]["kind"] = "site"  # ... or a capture time, when it shows none
        data["exhibits"][2]["fields"]["date"]["found"] = False
        data["exhibits"][2]["when"]["source"] = "filename"
    m = manifest_of(package)
    r = run(mutate(package, tmp_path / "fields.pdf", rewrite_manifest(lost)))
    assert failed(r) == {"fields"}
    ex = m["exhibits"][0]
    assert r.check("fields").detail == (f"exhibit 1 ({ex['source']}, page {ex['pages'][0]}): "
                                        "email not found at build time")


def test_broken_manifest(package, tmp_path):
    def garbage(pdf):
        pdf.attachments[MANIFEST_NAME] = pikepdf.AttachedFileSpec(
            pdf, b"{not json", filename=MANIFEST_NAME, mime_type="application/json")
    r = run(mutate(package, tmp_path / "garbage.pdf", garbage))
    assert failed(r) == {"manifest"} and "not valid JSON" in r.check("manifest").detail

    def wrong_shape(data):
        data["pages"] = "everything is fine"
        data["exhibits"] = [7, None, {"exhibit": "x"}]
    r = run(mutate(package, tmp_path / "shape.pdf", rewrite_manifest(wrong_shape)))
    assert "manifest" in failed(r) and "field pages = " in r.check("manifest").detail


@pytest.mark.parametrize("damage, field", [
    (lambda d: d["exhibits"][0].__setitem__("pages", 5), "field exhibits[0].pages = 5"),
    (lambda d: d.__setitem__("cover_pages", 200_000_000), "field cover_pages = 200000000"),
    (lambda d: d["pages"][0].__setitem__("page", 10 ** 12), "field pages[0].page = "),
    (lambda d: d["exhibits"][0].__setitem__("pages", [1, 2, 10 ** 9]), "field exhibits[0].pages[2]"),
    (lambda d: d["case"].__setitem__("client", "Jane"), "field case.client = 'Jane'"),
])
def test_damaged_manifest_is_a_manifest_failure_naming_the_field(package, tmp_path, damage, field):
    """The manifest is untrusted: a wrong type or a page number beyond the file is a
    `manifest` failure naming the field, never an internal error or a 24 GB allocation."""
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = run(mutate(package, tmp_path / "damaged.pdf", rewrite_manifest(damage)))
    assert "manifest" in failed(r) and not r.unreadable
    assert field in r.check("manifest").detail
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_control_characters_in_the_manifest_stay_on_one_line(package, tmp_path):
    def newline(d):
        d["exhibits"][0]["source"] = "evil\nname\x1b[31m.png"
        d["exhibits"][0]["fields"]["email"]["found"] = False  # so the source is named
    out = tmp_path / "new\nline.pdf"
    mutate(package, out, rewrite_manifest(newline))
    res = CliRunner().invoke(cli, ["validate", str(out)])
    assert res.exit_code == 1
    assert "\x1b" not in res.output and "evil\\nname\\x1b[31m.png" in res.output
    assert "new\\nline.pdf" in res.output and "new\nline" not in res.output


def test_foreign_package_gets_a_warning_not_a_failure(package, tmp_path):
    foreign = mutate(package, tmp_path / "foreign.pdf", strip_manifest)
    r = run(foreign)
    assert r.ok and not failed(r)
    c = r.check("manifest")
    assert (c.status, c.level, c.ok) == ("warn", "warning", False)
    assert c.detail.startswith("no manifest (not built by evidence)")
    assert {x.id for x in r.checks} == {"readable", "limits", "active-content", "manifest"}
    # still checked for the structural problems
    r = run(mutate(foreign, tmp_path / "foreign-js.pdf", javascript_open_action))
    assert failed(r) == {"active-content"}


def test_pdfa_package_manifest_in_document_info(built, tmp_path):
    """A PDF/A build carries the manifest in the document info and passes Shopify's check."""
    case = tmp_path / "pdfa-case"
    shutil.copytree(built[0], case)
    (case / "evidence.pdf").unlink()
    toml = (case / "case.toml").read_text()
    (case / "case.toml").write_text(toml.replace('processor = "stripe"', 'processor = "shopify"'))
    pkg = build_case(case, built[2])
    with pikepdf.open(pkg) as pdf:
        assert MANIFEST_NAME not in pdf.attachments
    r = run(pkg, case_dir=case)
    assert r.ok and all(c.status == "pass" for c in r.checks), [(c.id, c.detail) for c in r.checks]
    assert "PDF/A-2b" in r.check("limits").detail
    bad = mutate(pkg, tmp_path / "not-pdfa.pdf", lambda pdf: pdf.Root.__delitem__("/OutputIntents"))
    r = run(bad)
    assert failed(r) == {"limits"} and "no PDF/A output intent" in r.check("limits").detail


# --- CLI: table, JSON, exit codes ------------------------------------------------------

def cli_run(args: list[str]):
    return CliRunner().invoke(cli, ["validate", *args, "--today", TODAY.isoformat()])


def test_cli_table_and_exit_codes(package, tmp_path):
    ok = cli_run([str(package)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"{package}: PASS")
    for cid in CHECK_IDS[:6]:
        assert f"\n{cid} " in ok.output
    bad = mutate(package, tmp_path / "js.pdf", javascript_open_action)
    r = cli_run([str(package), str(bad)])
    assert r.exit_code == 1
    lines = r.output.rstrip().splitlines()
    assert lines[-2].startswith(f"{package}: PASS") and lines[-1].startswith(f"{bad}: FAIL (1 failed: active-content)")
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"hello, not a pdf")
    r = cli_run([str(package), str(bad), str(junk)])
    assert r.exit_code == 2 and f"{junk}: UNREADABLE (not a PDF (no %PDF- header): it is a text file)" in r.output
    r = cli_run([str(package), "--processor", "nope"])
    assert r.exit_code != 0


def test_cli_json_shape(package, tmp_path):
    bad = mutate(package, tmp_path / "removed.pdf", remove_page(2))
    r = cli_run([str(package), str(bad), "--json"])
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and [p["file"] for p in data["packages"]] == [str(package), str(bad)]
    good, broken = data["packages"]
    assert good["ok"] is True and broken["ok"] is False
    for pkg in data["packages"]:
        for c in pkg["checks"]:
            assert set(c) >= {"id", "ok", "level", "detail"}
            assert isinstance(c["ok"], bool) and c["level"] in ("error", "warning")
        for p in pkg["pages"]:
            assert set(p) >= {"page", "exhibit", "source", "date", "name", "email"}
    m = manifest_of(package)
    row = m["pages"][1]
    page = good["pages"][row["page"] - 1]
    ex = next(e for e in m["exhibits"] if e["exhibit"] == row["exhibit"])
    assert (page["exhibit"], page["source"], page["date"], page["name"], page["email"]) == \
        (row["exhibit"], row["source"], ex["date_text"], True, True)
    (man,) = [c for c in broken["checks"] if c["id"] == "manifest"]
    assert man["ok"] is False and man["level"] == "error" and 3 in man["pages"]


# --- the HTML report ---------------------------------------------------------------------

class Parsed(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse_html(text: str) -> Parsed:
    p = Parsed()
    p.feed(text)
    p.close()
    return p


def assert_self_contained(p: Parsed) -> None:
    assert not [t for t, _ in p.tags if t in ("script", "iframe", "object", "embed", "link", "base")]
    for tag, attrs in p.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, k)
            if k in ("src", "href", "action", "data", "srcset", "poster", "background"):
                assert v.startswith(("data:image/png;base64,", "#")), (tag, k, v[:60])


def test_html_report(package, tmp_path):
    bad = mutate(package, tmp_path / "replaced.pdf", replace_image(3))
    before = fingerprint(package), fingerprint(bad)
    out = tmp_path / "report.html"
    r = cli_run([str(package), str(bad), "--html", str(out)])
    assert r.exit_code == 1 and f"wrote {out}" in r.output
    assert (fingerprint(package), fingerprint(bad)) == before
    report = validate([package, bad], ValidateOptions(today=TODAY))
    text = out.read_text("utf-8")
    p = parse_html(text)
    assert_self_contained(p)
    assert "http://" not in text and "https://" not in text  # no URL at all, not even as text
    body = "".join(p.text)
    for pkg_report in report.packages:
        for c in pkg_report.checks:
            assert c.detail in body, c.detail
            for f in c.findings:
                assert f in body
        assert [a["data-check"] for t, a in p.tags if t == "tr" and "data-check" in a]
    sections = [a["id"] for t, a in p.tags if t == "section"]
    assert sections == ["pkg1", "pkg2"]
    n = report.packages[0].page_count
    for k in (1, 2):  # every page, with its thumbnail beside its findings
        ids = [a["id"] for t, a in p.tags if t == "div" and a.get("id", "").startswith(f"pkg{k}-page-")]
        assert ids == [f"pkg{k}-page-{i}" for i in range(1, n + 1)]
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) == 2 * n and all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert "the image was replaced" in body and "image differs from the build" in body


def test_html_escapes_what_comes_from_the_package(package, tmp_path):
    evil = '<script>alert("x")</script><img src="https://evil.example/x.png">'

    def change(data):
        data["pages"][0]["source"] = evil
        data["exhibits"][0]["source"] = evil
    bad = mutate(package, tmp_path / "evil.pdf", rewrite_manifest(change))
    report = validate([bad], ValidateOptions(today=TODAY, thumbnails=True))
    text = render_html(report)
    p = parse_html(text)
    assert_self_contained(p)
    assert evil in "".join(p.text)  # shown as text, not markup


def test_html_for_unreadable_file(tmp_path):
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"\x89PNG not a pdf")
    out = tmp_path / "r.html"
    r = cli_run([str(junk), "--html", str(out)])
    assert r.exit_code == 2
    p = parse_html(out.read_text())
    assert_self_contained(p)
    assert "not a PDF" in "".join(p.text)


# --- --deep with the real engine -----------------------------------------------------------

def test_deep_confirms_fields_and_catches_an_illegible_exhibit(package, tmp_path):
    m = manifest_of(package)
    row = m["pages"][1]
    blank = mutate(package, tmp_path / "illegible.pdf", cover_page_with_white(row["page"] - 1))
    before = fingerprint(package), fingerprint(blank)
    report = validate([package, blank], ValidateOptions(today=TODAY, deep=True, workers=2))
    assert (fingerprint(package), fingerprint(blank)) == before
    good, bad = report.packages
    assert good.ok, [(c.id, c.detail) for c in good.checks]
    assert "confirmed by OCR of 4 rendered page(s)" in good.check("fields").detail
    for p in good.pages[m["cover_pages"]:]:
        assert p.ocr and p.date and p.name and p.email, p
    ex = next(e for e in m["exhibits"] if e["exhibit"] == row["exhibit"])
    assert p.date is not None
    assert good.pages[row["page"] - 1].date == ex["date_text"]
    # the image stream is untouched: the page's content digest and OCR both tell that the
    # page no longer shows what was built
    assert failed(bad) == {"fields", "manifest"}
    assert bad.check("manifest").pages == [row["page"]]
    assert "text or drawings were changed" in bad.check("manifest").detail
    c = bad.check("fields")
    assert (f"exhibit {row['exhibit']} ({row['source']}, page {row['page']}): date, name, email "
            "not legible on the page (OCR)") in c.detail
    assert c.pages == [row["page"]]


def test_deep_foreign_package_with_client_from_options(package, tmp_path):
    def foreign_two_pages(pdf):  # no manifest; just the last two screenshots' pages
        strip_manifest(pdf)
        while len(pdf.pages) > 2:
            del pdf.pages[0]
    foreign = mutate(package, tmp_path / "foreign.pdf", foreign_two_pages)
    r = CliRunner().invoke(cli, ["validate", str(foreign), "--deep", "--json", "-j", "2",
                                 "--client-name", "Jane Cooper",
                                 "--client-email", "jane.cooper@example.com"])
    assert r.exit_code == 0, r.output
    (pkg,) = json.loads(r.stdout)["packages"]
    assert len(pkg["pages"]) == 2
    for p in pkg["pages"]:  # every page on its own
        assert p["date"] and p["name"] is True and p["email"] is True, p
    (fields,) = [c for c in pkg["checks"] if c["id"] == "fields"]
    assert fields["ok"] and "date, client name and email found on every page" in fields["detail"]
    # someone else's name and address are not found
    r = validate([foreign], ValidateOptions(deep=True, workers=2, client_name="Robert Smith",
                                            client_email="bob@example.org")).packages[0]
    assert failed(r) == {"fields"}
    assert all(p.name is False and p.email is False and p.date for p in r.pages)
    assert r.check("fields").pages == [1, 2]


# --- properties ----------------------------------------------------------------------------

class Pristine(tuple):
    def __repr__(self) -> str:  # hypothesis prints its arguments: keep it short
        return "<the built package>"


@pytest.fixture(scope="module")
def pristine(built) -> tuple[bytes, list[tuple[int, int]], dict]:
    """The package bytes, the byte ranges of its exhibit image streams, its manifest."""
    data = built[1].read_bytes()
    ranges = []
    with pikepdf.open(built[1]) as pdf:
        for page in pdf.pages:
            for _, x in page.obj.Resources.get("/XObject", {}).items():
                if x.get("/Subtype") == Name.Image:
                    raw = x.read_raw_bytes()
                    if len(raw) > 1000:
                        start = data.find(raw)
                        assert start > 0 and data.find(raw, start + 1) == -1
                        ranges.append((start, start + len(raw)))
    return Pristine((data, ranges, manifest_of(built[1])))


def _validate_bytes(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.pdf"
        path.write_bytes(data)
        try:
            return validate([path], ValidateOptions(today=TODAY)).packages[0]
        except EvidenceError:
            return None


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**9), st.lists(st.integers(0, 10**9), min_size=1,
                                                                  max_size=8), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**9)),
    st.tuples(st.just("replace"), st.integers(0, 10**9), st.integers(0, 2**24 - 1)),
)


@settings(max_examples=40, deadline=dt.timedelta(seconds=10),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation)
def test_mutated_package_never_passes(pristine, m):
    data, ranges, manifest = pristine
    kind = m[0]
    if kind == "flip":  # bytes flipped inside one exhibit's image stream
        _, which, offsets, xor = m
        start, end = ranges[which % len(ranges)]
        buf = bytearray(data)
        for o in {o % (end - start) for o in offsets}:  # twice the same byte would undo it
            buf[start + o] ^= xor
        mutated = bytes(buf)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "a.pdf", Path(tmp) / "b.pdf"
            src.write_bytes(data)
            n = manifest["page_count"]
            if kind == "delete":
                mutate(src, dst, remove_page(m[1] % n))
            else:
                rows = manifest["pages"]
                colour = ((m[2] >> 16) & 255, (m[2] >> 8) & 255, m[2] & 255)
                mutate(src, dst, replace_image(rows[m[1] % len(rows)]["page"] - 1, colour))
            mutated = dst.read_bytes()
    r = _validate_bytes(mutated)
    assert r is None or not r.ok, [(c.id, c.status, c.detail) for c in r.checks]


@settings(max_examples=60, deadline=dt.timedelta(seconds=10),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=20),
       st.one_of(st.none(), st.integers(0, 10**9)))
def test_random_damage_gives_a_verdict_not_a_crash(pristine, flips, cut):
    """Anywhere in the file: validation returns a report or raises a project error."""
    buf = bytearray(pristine[0])
    for offset, xor in flips:
        buf[offset % len(buf)] ^= xor
    if cut is not None:
        del buf[cut % len(buf):]
    r = _validate_bytes(bytes(buf))
    if r is not None:
        assert r.checks and all(c.id in CHECK_IDS for c in r.checks)
        json.dumps(r.to_json())


@pytest.mark.parametrize("damage", [pikepdf.Array([1, 2]), Name("/Broken"), 7])
def test_page_resources_damaged_into_another_type_is_a_verdict_not_a_crash(pristine, damage):
    """A byte flip can turn a page's /XObject (or /Resources) dictionary into a number or a
    name; the image digest check then finds no image on that page, it does not crash (found
    by the random-damage test above: `items() not available on this type`)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "a.pdf", Path(tmp) / "b.pdf"
        src.write_bytes(pristine[0])
        row = pristine[2]["pages"][0]

        def fn(pdf):
            pdf.pages[row["page"] - 1].obj.Resources.XObject = damage
        mutate(src, dst, fn)
        r = _validate_bytes(dst.read_bytes())
    assert r is not None and not r.ok
    assert all(c.id in CHECK_IDS for c in r.checks)
