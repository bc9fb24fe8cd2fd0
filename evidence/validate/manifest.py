"""Stage `manifest`: the manifest is there and reads (as untrusted input: schema.py),
and every exhibit page's image is the one the manifest recorded, so a page removed,
added, replaced or moved after the build is named."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pikepdf

from ..manifest import INFO_PREFIX, MANIFEST_NAME, content_digests_from_pdf
from .bounds import MAX_MANIFEST_BYTES
from .common import first_line, int_or_none, list_of_dicts, str_or_none
from .fields import found
from .results import Check, PackageReport
from .scan import Scan, stream_data
from .schema import manifest_problem


def read_manifest(pdf: pikepdf.Pdf, scan: Scan, page_count: int
                  ) -> tuple[dict | None, str | None, object]:
    """(manifest, error, the filespec it came from): the manifest wherever it travels,
    bounded; one that does not match the schema is trusted in nothing."""
    manifest, error, spec = _read_json(pdf, scan)
    if manifest is not None and (bad := manifest_problem(manifest, page_count)) is not None:
        manifest, error = None, f"the manifest is damaged: {bad}"  # trust none of it
    return manifest, error, spec


def _read_json(pdf: pikepdf.Pdf, scan: Scan) -> tuple[dict | None, str | None, object]:
    """(manifest, error, the filespec it came from) — wherever it travels; bounded."""
    specs = [d for name, d in scan.filespecs if name == MANIFEST_NAME]
    text: str | None = None
    spec = None
    if specs:
        spec = specs[0]
        ef = spec.get("/EF")
        stream = None
        if isinstance(ef, pikepdf.Dictionary):
            stream = ef.get("/UF") if isinstance(ef.get("/UF"), pikepdf.Stream) else ef.get("/F")
        if not isinstance(stream, pikepdf.Stream):
            return None, "the manifest attachment has no file stream", spec
        data = stream_data(stream, MAX_MANIFEST_BYTES)
        if data is None:
            return None, "the manifest attachment cannot be decoded (damaged or too large)", spec
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "the manifest attachment is not UTF-8 text", spec
    else:
        info = pdf.trailer.get("/Info")
        if isinstance(info, pikepdf.Dictionary):
            chunks = []
            for k in info.keys():
                m = re.match(rf"^/{INFO_PREFIX}(\d+)$", str(k))
                if m:
                    v = info.get(k)
                    chunks.append((int(m.group(1)), str(v) if isinstance(v, pikepdf.String) else ""))
            if chunks:
                chunks.sort()
                if [c for c, _ in chunks] != list(range(1, len(chunks) + 1)):
                    return None, "the manifest chunks in the document info are incomplete", None
                text = "".join(v for _, v in chunks)
    if text is None:
        return None, None, None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        return None, f"the manifest is not valid JSON: {first_line(e)}", spec
    if not isinstance(value, dict):
        return None, "the manifest is not a JSON object", spec
    if value.get("tool") != "evidence":
        return None, "the manifest was not written by evidence (no \"tool\": \"evidence\")", spec
    return value, None, spec


def check_manifest(pdf: pikepdf.Pdf, path: Path, manifest: dict | None, error: str | None,
                   digests: list[str | None], report: PackageReport) -> Check:
    """The `manifest` verdict; marks each of report.pages with what it should be and
    whether its image is still the one built."""
    if error is not None:
        return Check("manifest", "fail", error)
    if manifest is None:
        return Check("manifest", "warn", "no manifest (not built by evidence): "
                     "page integrity, order and recorded fields cannot be checked")
    check = _compare_pages(manifest, digests, report, content_digests_from_pdf(pdf))
    revisions = _revisions(path) - (1 if pdf.is_linearized else 0)
    if revisions > 1:  # pikepdf writes a package in one piece
        note = (f"the file was changed after the build ({revisions - 1} incremental "
                "update(s)): the images still match, but changed text or drawings on a page "
                "cannot be detected")
        check.findings.append(note)
        if check.status == "pass":
            check.status, check.detail = "warn", note
    return check


def _label(row: dict) -> str:
    ex = int_or_none(row.get("exhibit"))
    src = row.get("source") if isinstance(row.get("source"), str) else "?"
    parts = int_or_none(row.get("parts")) or 1
    part = f", part {int_or_none(row.get('part'))}/{parts}" if parts > 1 and int_or_none(row.get("part")) else ""
    return f"exhibit {ex if ex is not None else '?'}, {src}{part}"


def _compare_pages(manifest: dict, digests: list[str | None], report: PackageReport,
                   content: list[str | None] | None = None) -> Check:
    rows = list_of_dicts(manifest.get("pages"))
    cover = int_or_none(manifest.get("cover_pages"))
    count = int_or_none(manifest.get("page_count"))
    exhibits = {int_or_none(e.get("exhibit")): e for e in list_of_dicts(manifest.get("exhibits"))}
    if cover is None or count is None or not rows:
        return Check("manifest", "fail", "the manifest has no page list (cover_pages, page_count, "
                     "pages): the pages cannot be checked")
    findings: list[str] = []
    named: set[int] = set()
    rows = sorted(rows, key=lambda r: int_or_none(r.get("page")) or 0)
    if [int_or_none(r.get("page")) for r in rows] != list(range(cover + 1, cover + len(rows) + 1)) \
            or count != cover + len(rows):
        findings.append("the manifest's page list is inconsistent (page numbers or page_count)")
    n = len(digests)
    if count != n:
        what = "removed" if n < count else "added"
        findings.append(f"the package has {n} pages, the manifest {count}: "
                        f"{abs(count - n)} page(s) {what}")
    expected: list[str | None] = [None] * cover + [
        r.get("image_sha256") if isinstance(r.get("image_sha256"), str) else "?" for r in rows]
    labels = ["cover page"] * cover + [_label(r) for r in rows]
    m = len(expected)
    for f in report.pages:  # what each page of the document should be
        i = f.page - 1
        if i < min(cover, m):
            f.image = "cover" if digests[i] is None else "added"
        elif i < m:
            r = rows[i - cover]
            f.exhibit, f.source = int_or_none(r.get("exhibit")), str_or_none(r.get("source"))
            f.part, f.parts = int_or_none(r.get("part")), int_or_none(r.get("parts"))
            e = exhibits.get(f.exhibit) or {}
            f.kind = str_or_none(e.get("kind"))
            f.date = str_or_none(e.get("date_text"))
            w = e.get("when")
            f.date_source = str_or_none(w.get("source")) if isinstance(w, dict) else None
            f.name = None if f.kind == "site" else found(e, "name")
            f.email = None if f.kind == "site" else found(e, "email")

    def mark(j: int, image: str, problem: str) -> None:
        report.pages[j].image = image
        report.pages[j].problems.append(problem)
        named.add(j + 1)

    known = set(x for x in expected if x is not None)
    where_now: dict[str, list[int]] = {}
    for j, d in enumerate(digests):
        if d is not None:
            where_now.setdefault(d, []).append(j)
    sm = difflib.SequenceMatcher(a=expected, b=digests, autojunk=False)
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op == "equal":
            for j in range(b0, b1):
                if digests[j] is not None:
                    report.pages[j].image = "ok"
            if a0 != b0:  # a whole run of pages sits elsewhere
                if n != m:
                    span = (f"pages {a0 + 1}-{a1}" if a1 - a0 > 1 else f"page {a0 + 1}")
                    now = (f"{b0 + 1}-{b1}" if b1 - b0 > 1 else f"{b0 + 1}")
                    findings.append(f"{span} ({labels[a0]}{' …' if a1 - a0 > 1 else ''}) "
                                    f"are now {now}, shifted by the pages removed or added")
                    for j in range(b0, b1):
                        report.pages[j].image = "moved"
                        report.pages[j].problems.append(f"was page {j - b0 + a0 + 1}")
                else:
                    for i in range(a0, a1):
                        j = i - a0 + b0
                        findings.append(f"page {i + 1} ({labels[i]}) is now page {j + 1}: "
                                        "pages were reordered")
                        mark(j, "moved", f"should be page {i + 1} ({labels[i]})")
                        named.add(i + 1)
            continue
        replaced: set[int] = set()
        for i in range(a0, a1):
            want = expected[i]
            if want is None:
                findings.append(f"page {i + 1} ({labels[i]}): missing")
                named.add(i + 1)
                continue
            now = where_now.get(want, [])
            if now:
                j = now[0]
                findings.append(f"page {i + 1} ({labels[i]}) is now page {j + 1}: "
                                "pages were moved or reordered")
                mark(j, "moved", f"should be page {i + 1} ({labels[i]})")
                named.add(i + 1)
                continue
            j = i - a0 + b0  # the page of the document in its place, if any
            if op == "replace" and j < b1 and digests[j] is not None and digests[j] not in known:
                findings.append(f"page {i + 1} ({labels[i]}): the image was replaced")
                mark(j, "changed", f"image differs from the build ({labels[i]})")
                replaced.add(j)
            elif op == "replace" and j < b1 and digests[j] is None:
                findings.append(f"page {i + 1} ({labels[i]}): the exhibit image is gone from the page")
                mark(j, "changed", f"no exhibit image ({labels[i]})")
                replaced.add(j)
            else:
                findings.append(f"page {i + 1} ({labels[i]}): removed")
                named.add(i + 1)
        for j in range(b0, b1):
            d = digests[j]
            if j in replaced or (d is not None and d in known):
                continue
            if d is None:
                findings.append(f"page {j + 1}: a page the manifest does not list (added)")
            else:
                findings.append(f"page {j + 1}: an image the manifest does not list "
                                "(page added or image replaced)")
            mark(j, "added", "not in the manifest")
    for ex, e in exhibits.items():  # the exhibit and page lists must agree
        listed = e.get("pages")
        rows_of = [int_or_none(r.get("page")) for r in rows if int_or_none(r.get("exhibit")) == ex]
        if isinstance(listed, list) and listed != rows_of:
            findings.append(f"exhibit {ex}: the manifest's exhibit and page lists disagree")
    contents = manifest.get("page_content_sha256")
    if isinstance(contents, list) and len(contents) == n == m and content is not None:
        for j, (want, got) in enumerate(zip(contents, content)):
            if isinstance(want, str) and want != got and j + 1 not in named:
                findings.append(f"page {j + 1} ({labels[j]}): its text or drawings were "
                                "changed after the build")
                mark(j, "changed", "text or drawings differ from the build")
    findings = list(dict.fromkeys(findings))
    if findings:
        return Check("manifest", "fail", "; ".join(findings[:4]) +
                     (f" (+{len(findings) - 4} more)" if len(findings) > 4 else ""),
                     findings=findings, pages=sorted(named))
    return Check("manifest", "pass", f"{len(rows)} exhibit page(s) match the manifest's image "
                 f"digests; {cover} cover page(s); built "
                 f"{str_or_none(manifest.get('built_at')) or '?'}")


def _revisions(path: Path, limit: int = 1000) -> int:
    """How many times the file was written: one `startxref` per revision (bounded scan)."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            count, pos = 0, mm.find(b"startxref")
            while pos != -1 and count < limit:
                count += 1
                pos = mm.find(b"startxref", pos + 9)
            return count
    except (OSError, ValueError):
        return 1
