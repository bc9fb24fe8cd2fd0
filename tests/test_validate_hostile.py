"""evidence validate on hostile files: each gets a verdict or a clear error within
seconds and bounded memory, never a traceback or a hang, and is never written to.

The corpus is made here, from raw bytes and with pikepdf. Every file is checked twice:
in process (the verdict, the time), and through the CLI in a child process with its
address space capped (exit status, one clear line, no traceback)."""
from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Dictionary, Name

from evidence.validate import MAX_FILE_BYTES, ValidateOptions, validate

SECONDS = 10  # per file, in process; generous for a busy 2-core machine
MEMORY_CAP = 3 * 2**30  # address space of the CLI child process
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> >>"


def raw_pdf(objs: list[bytes], *, trailer_extra: bytes = b"") -> bytes:
    """A classic-xref PDF of `objs` (object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, trailer_extra, xref)
    return bytes(out)


def one_page(extra_catalog: bytes = b"", more: list[bytes] = ()) -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
                    b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>", PAGE, *more])


def saved(pdf: pikepdf.Pdf, path: Path, **kw) -> None:
    pdf.save(path, **kw)


# --- the corpus: name -> (maker, expected exit status, words the verdict must contain) ----

def make_not_pdf(path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))


def make_text(path):
    path.write_text("Dear reviewer, please find attached ...\n" * 50)


def make_empty(path):
    path.write_bytes(b"")


def make_header_only(path):
    path.write_bytes(b"%PDF-1.7\n")


def make_truncated(path):
    data = good_pdf_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_garbage_xref(path):
    data = bytearray(one_page())
    i = data.index(b"xref")
    data[i + 20:i + 60] = b"9" * 40  # offsets that point nowhere
    path.write_bytes(bytes(data))


def make_encrypted(path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    saved(pdf, path, encryption=pikepdf.Encryption(user="secret", owner="owner"))


def make_encrypted_no_user_password(path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    saved(pdf, path, encryption=pikepdf.Encryption(user="", owner="owner"))


def make_page_tree_loop(path):
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Count 2 /Kids [3 0 R 2 0 R] >>", PAGE]))


def make_page_tree_deep(path):
    # /Pages nodes nested 5000 deep, each the only kid of the one above
    n = 5000
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for i in range(n):
        objs.append(b"<< /Type /Pages /Count 1 /Kids [%d 0 R] >>" % (i + 3))
    objs.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << >> >>" % (n + 1))
    path.write_bytes(raw_pdf(objs))


def make_reference_loop(path):
    # objects that refer to each other in a ring, hung off the catalog
    path.write_bytes(one_page(b"/Ring 4 0 R ", [b"[5 0 R]", b"<< /Next 6 0 R >>", b"[4 0 R 5 0 R]"]))


def make_long_chain(path):
    # 150,000 objects, each pointing at the next: more than the walk budget
    n = 150_000
    objs = [b"<< /Type /Catalog /Pages 2 0 R /Chain 4 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>", PAGE]
    objs += [b"[%d 0 R]" % (i + 5) for i in range(n)] + [b"null"]
    path.write_bytes(raw_pdf(objs))


def make_nested_arrays(path):
    path.write_bytes(one_page(b"/Deep 4 0 R ", [b"[" * 5000 + b"]" * 5000]))


def make_nested_dicts(path):
    path.write_bytes(one_page(b"/Deep 4 0 R ", [b"<< /A " * 5000 + b">>" * 5000]))


def make_claims_a_million_pages(path):
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Count 1000000 /Kids [3 0 R] >>", PAGE]))


def make_a_million_kids(path):
    n = 1_000_000  # the same page a million times: 6 MB of "3 0 R "
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Count %d /Kids [" % n + b"3 0 R " * n + b"] >>",
                              PAGE]))


def make_sparse_2gb(path):
    with open(path, "wb") as f:
        f.write(b"%PDF-1.7\n")
        f.truncate(2 * 10**9)


def make_decompression_bomb(path):
    bomb = zlib.compress(b"\0" * (300 * 2**20), 9)  # 300 MB of zeros in ~300 kB
    body = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream"
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
                              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                              b"/Resources << >> /Contents 4 0 R >>", body]))


def make_bad_length(path):
    content = b"q 0 0 1 rg 10 10 100 100 re f Q"
    body = b"<< /Length 9999 >>\nstream\n" + content + b"\nendstream"
    path.write_bytes(raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                              b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
                              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                              b"/Resources << >> /Contents 4 0 R >>", body]))


def make_launch_and_form(path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    widget = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, FT=Name.Tx,
                                          T=pikepdf.String("card"), Rect=[10, 10, 200, 40]))
    launch = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[0, 0, 9, 9],
                                          A=Dictionary(S=Name.Launch, F=pikepdf.String("calc.exe"))))
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([widget, launch]))
    pdf.Root.AcroForm = pdf.make_indirect(Dictionary(Fields=pikepdf.Array([widget])))
    pdf.pages[0].obj.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=pikepdf.String("1")))
    saved(pdf, path)


def make_hidden_attachment(path):
    """An embedded file stream not listed anywhere a reader would show it."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    stream = pdf.make_stream(b"MZ payload")
    stream.Type = Name.EmbeddedFile
    pdf.Root["/Hidden"] = stream
    saved(pdf, path)


_GOOD: dict[str, bytes] = {}


def good_pdf_bytes() -> bytes:
    if "pdf" not in _GOOD:
        from io import BytesIO
        pdf = pikepdf.new()
        for _ in range(3):
            pdf.add_blank_page()
            pdf.pages[-1].contents_add(pdf.make_stream(b"q 0 0 1 rg 10 10 300 300 re f Q" * 200))
        buf = BytesIO()
        pdf.save(buf, compress_streams=True)
        _GOOD["pdf"] = buf.getvalue()
    return _GOOD["pdf"]


# name: (maker, exit status, words in the `readable` (or named) check's detail, check id)
CORPUS = {
    "not-a-pdf": (make_not_pdf, 2, "not a PDF (no %PDF- header)", "readable"),
    "text-file": (make_text, 2, "not a PDF", "readable"),
    "empty": (make_empty, 2, "empty file", "readable"),
    "header-only": (make_header_only, 2, "not a readable PDF", "readable"),
    "truncated": (make_truncated, None, "", "readable"),
    "garbage-xref": (make_garbage_xref, 1, "repaired while reading", "readable"),
    "encrypted": (make_encrypted, 2, "encrypted: it needs a password", "readable"),
    "encrypted-empty-password": (make_encrypted_no_user_password, 1, "encrypted", "readable"),
    "page-tree-loop": (make_page_tree_loop, 2, "page tree loops back on itself", "readable"),
    "page-tree-5000-deep": (make_page_tree_deep, 2, "page tree nests more than 64 levels", "readable"),
    "reference-loop": (make_reference_loop, 0, "", None),
    "150k-reference-chain": (make_long_chain, 1, "more than 100000 objects reachable", "readable"),
    "arrays-5000-deep": (make_nested_arrays, 1, "excessively deeply nested", "readable"),
    "dicts-5000-deep": (make_nested_dicts, 1, "excessively deeply nested", "readable"),
    "claims-1e6-pages": (make_claims_a_million_pages, 1,
                         "page tree claims 1000000 pages but holds 1", "readable"),
    "1e6-kids": (make_a_million_kids, 2, "page tree lists 1000000 pages, over the 10000", "readable"),
    "sparse-2GB": (make_sparse_2gb, 2, "2000.00 MB, over the 200.00 MB this validator reads",
                   "readable"),
    "decompression-bomb": (make_decompression_bomb, 1, "expands to more than", "readable"),
    "bad-length": (make_bad_length, 1, "repaired while reading", "readable"),
    "launch-form-aa": (make_launch_and_form, 1, "Launch action", "active-content"),
    "hidden-attachment": (make_hidden_attachment, 1, "embedded file stream(s) without a file "
                          "specification", "active-content"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    out = {}
    for name, (maker, *_rest) in CORPUS.items():
        path = root / f"{name}.pdf"
        maker(path)
        out[name] = path
    return out


def fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    if st.st_size > MAX_FILE_BYTES:  # do not hash 2 GB of zeros
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        return hashlib.sha256(head).hexdigest(), st.st_size, st.st_mtime_ns
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_file_gets_a_verdict_quickly(corpus, name):
    _, status, words, check_id = CORPUS[name]
    path = corpus[name]
    before = fingerprint(path)
    t0 = time.monotonic()
    report = validate([path], ValidateOptions(thumbnails=True))
    elapsed = time.monotonic() - t0
    assert elapsed < SECONDS, f"{name}: {elapsed:.1f} s"
    assert fingerprint(path) == before  # never written to
    (r,) = report.packages
    if status is not None:
        assert int(report.exit_code) == status, [(c.id, c.status, c.detail) for c in r.checks]
    else:  # truncated: qpdf may or may not manage to repair it, but it never passes
        assert int(report.exit_code) in (1, 2)
        assert r.check("readable").status == "fail"
    if check_id is not None:
        c = r.check(check_id)
        assert c is not None and c.status == "fail" and words in c.detail, (c.id, c.detail)
    if r.unreadable:
        assert [c.id for c in r.checks] == ["readable"]
    if r.check("readable").status != "pass":  # never handed to the renderer
        assert all(p.thumbnail is None for p in r.pages)


def _limit_memory():  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is how memory is capped here")
def test_cli_on_the_whole_corpus_in_bounded_memory(corpus):
    """One CLI run over every hostile file at once, in a child process with its address
    space capped: one verdict line per file, exit 2 (some cannot be read), no traceback."""
    paths = [str(corpus[n]) for n in CORPUS]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    env.pop("EVIDENCE_DEBUG", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", *paths],
                          capture_output=True, text=True, timeout=180, env=env,
                          preexec_fn=_limit_memory)
    elapsed = time.monotonic() - t0
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr
    summary = proc.stdout.rstrip().splitlines()[-len(paths):]
    for name, line in zip(CORPUS, summary):
        assert line.startswith(str(corpus[name]) + ": "), (name, line)
        status = CORPUS[name][1]
        verdict = line.split(": ", 1)[1]
        expected = {0: "PASS", 1: "FAIL", 2: "UNREADABLE"}.get(status)
        if expected:
            assert verdict.startswith(expected), (name, line)
    assert elapsed < 120, elapsed


def test_json_for_one_unreadable_file(corpus):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", "--json",
                           str(corpus["sparse-2GB"])], capture_output=True, text=True,
                          timeout=60, env=env)
    import json

    data = json.loads(proc.stdout)
    assert proc.returncode == 2 and data["ok"] is False
    (pkg,) = data["packages"]
    assert pkg["unreadable"] is True and pkg["bytes"] == 2 * 10**9 and pkg["pages"] == []
    assert pkg["checks"] == [{"id": "readable", "ok": False, "level": "error", "status": "fail",
                              "detail": pkg["checks"][0]["detail"], "findings": [], "pages": []}]


def test_deep_does_not_render_a_damaged_file(corpus):
    """--deep on the decompression bomb: no renderer, no OCR; the fields check says why."""
    report = validate([corpus["decompression-bomb"]], ValidateOptions(deep=True))
    (r,) = report.packages
    assert r.check("fields").status == "fail"
    assert "pages not rendered, the file needs repair" in r.check("fields").detail
    assert not any(p.ocr for p in r.pages)


def test_missing_file_and_folder(tmp_path):
    report = validate([tmp_path / "nope.pdf", tmp_path])
    assert int(report.exit_code) == 2
    assert [p.check("readable").detail for p in report.packages] == ["file not found",
                                                                     "not a regular file"]
