"""Stage `readable`: the file opens, and its page tree is sane.

Before qpdf parses anything: the file's size and its first bytes. Before qpdf builds its
page list: the page tree, walked by hand (bounded, loop-proof). A file that cannot be
read at all raises Unreadable; damage that can be read past is a finding of the check.
"""
from __future__ import annotations

from pathlib import Path

import pikepdf
from pikepdf import Name

from ..imageio import sniff
from ..units import format_size
from .bounds import MAX_FILE_BYTES, MAX_PAGES, MAX_TREE_DEPTH
from .common import first_line
from .results import Check, PackageReport


class Unreadable(Exception):
    """This file cannot be read at all (internal: becomes a failed `readable` check)."""


def open_pdf(path: Path, report: PackageReport) -> pikepdf.Pdf:
    """`path` opened read-only, once its size (report.size) and first bytes say it may be
    a PDF; raise Unreadable if it cannot be read at all."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise Unreadable("file not found") from None
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror or e}") from None
    if not path.is_file():
        raise Unreadable("not a regular file")
    report.size = st.st_size
    if st.st_size == 0:
        raise Unreadable("empty file (0 bytes)")
    if st.st_size > MAX_FILE_BYTES:
        raise Unreadable(f"{format_size(st.st_size)}, over the {format_size(MAX_FILE_BYTES)} "
                         "this validator reads (no processor accepts a file this large); not opened")
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror or e}") from None
    if b"%PDF-" not in head:
        what = sniff(head)
        raise Unreadable("not a PDF (no %PDF- header)" +
                         ("" if what.startswith("not ") else f": it is {what}"))
    try:
        # inherit_page_attributes=False: qpdf would walk the whole page tree while
        # opening; we walk it ourselves first, with bounds.
        return pikepdf.open(path, inherit_page_attributes=False)
    except pikepdf.PasswordError:
        raise Unreadable("encrypted: it needs a password to open "
                         "(processors refuse encrypted PDFs)") from None
    except (pikepdf.PdfError, RuntimeError, ValueError, OSError) as e:
        raise Unreadable(f"not a readable PDF: {_strip_file(first_line(e), path)}") from None


def structure(pdf: pikepdf.Pdf) -> tuple[int, list[str]]:
    """(the page count qpdf sees, what is wrong with the structure: the page tree, no
    pages, encryption); raise Unreadable for a page tree qpdf must not be let loose on."""
    problems: list[str] = []
    leaves, tree_problems = _walk_page_tree(pdf)
    problems += tree_problems
    pages = pdf.pages
    n = len(pages)
    if n != leaves:
        problems.append(f"qpdf sees {n} pages, the page tree {leaves}")
    if n == 0:
        problems.append("the document has no pages")
    if pdf.is_encrypted:
        problems.append("encrypted (processors refuse encrypted PDFs; PDF/A forbids it)")
    return n, problems


def check_readable(pdf: pikepdf.Pdf, path: Path, page_count: int, problems: list[str]) -> Check:
    """The `readable` verdict: the problems the stages found while reading, the repairs
    qpdf made so far (its warnings), bytes after the last %%EOF and the file's suffix."""
    warnings = [_strip_file(first_line(w), path) for w in pdf.get_warnings() if w]
    if warnings:
        more = f" (+{len(warnings) - 2} more)" if len(warnings) > 2 else ""
        problems.insert(0, f"repaired while reading: {'; '.join(warnings[:2])}{more}")
    notes = []  # readable, with a warning
    trailing = _after_last_eof(path)
    if trailing is not None:
        (problems if trailing[0] == "fail" else notes).append(trailing[1])
    if path.suffix.lower() != ".pdf":
        notes.append(f"named {path.suffix or 'without an extension'} but it is a PDF: "
                     "name it .pdf before uploading")
    if problems:
        return Check("readable", "fail", "; ".join(problems[:3]) +
                     (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
                     findings=problems + notes + [f"qpdf: {w}" for w in warnings[:50]])
    if notes:
        return Check("readable", "warn", "; ".join(notes), findings=notes)
    return Check("readable", "pass",
                 f"PDF {pdf.pdf_version}, {page_count} page(s), opens without repair")


def _after_last_eof(path: Path) -> tuple[str, str] | None:
    """Bytes after the last %%EOF: none in a package this tool writes. Another file's
    signature there (a ZIP appended: a polyglot) fails; other stray bytes warn."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = mm.rfind(b"%%EOF")
            if pos < 0:
                return "warn", "no %%EOF marker at the end of the file (truncated?)"
            tail = mm[pos + 5: pos + 5 + 4096].lstrip(b"\r\n\t \x00\x0c")
            extra = len(mm) - (pos + 5)
    except (OSError, ValueError):
        return None
    if not tail:
        return None
    what = sniff(tail[:64])
    if what.startswith("not ") or what == "a text file":
        return "warn", (f"{format_size(extra)} after the last %%EOF: data a PDF reader "
                        "ignores (a processor may reject the file)")
    return "fail", (f"a polyglot: {what} is appended after the last %%EOF "
                    f"({format_size(extra)}); rebuild the package or remove the extra data")


def _strip_file(text: str, path: Path) -> str:
    """qpdf's message without the file name it starts with (the report names the file)."""
    if text.startswith(str(path)):
        return text[len(str(path)):].lstrip(", :")
    return text


def _walk_page_tree(pdf: pikepdf.Pdf) -> tuple[int, list[str]]:
    """Count the leaves of the page tree without trusting it; raise Unreadable if qpdf
    must not be let loose on it (loops, too many pages, too deep)."""
    root = pdf.Root
    if not isinstance(root, pikepdf.Dictionary):
        raise Unreadable("no document catalog (/Root)")
    top = root.get("/Pages")
    if not isinstance(top, pikepdf.Dictionary):
        raise Unreadable("no page tree (/Root /Pages)")
    problems: list[str] = []
    claimed = top.get("/Count")
    leaves = 0
    seen: set[tuple[int, int]] = set()
    path: list[tuple[int, int]] = []
    # iterative depth-first walk; a node seen before is a loop or a shared node
    stack: list[tuple[object, int]] = [(top, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise Unreadable(f"page tree nests more than {MAX_TREE_DEPTH} levels deep")
        if not isinstance(node, pikepdf.Dictionary):
            problems.append("page tree holds something that is not a page")
            continue
        og = node.objgen
        if og != (0, 0):
            if og in seen:
                if node.get("/Kids") is not None:
                    raise Unreadable("page tree loops back on itself")
                problems.append(f"page object {og[0]} appears more than once in the page tree")
                leaves += 1
                continue
            seen.add(og)
        kids = node.get("/Kids")
        if kids is None or node.get("/Type") == Name.Page:
            leaves += 1
            if leaves > MAX_PAGES:
                raise Unreadable(f"more than {MAX_PAGES} pages (no processor accepts over 100); "
                                 "not read")
            continue
        if not isinstance(kids, pikepdf.Array):
            problems.append("page tree node with /Kids that is not an array")
            continue
        if len(kids) > MAX_PAGES:
            raise Unreadable(f"page tree lists {len(kids)} pages, over the {MAX_PAGES} this "
                             "validator reads (no processor accepts over 100); not read")
        stack.extend((k, depth + 1) for k in reversed(list(kids)))
    del path
    if isinstance(claimed, int) and int(claimed) != leaves:
        problems.append(f"page tree claims {int(claimed)} pages but holds {leaves}")
    elif not isinstance(claimed, int):
        problems.append("page tree has no valid /Count")
    return leaves, problems
