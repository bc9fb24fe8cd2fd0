"""One bounded walk of every object reachable from the trailer, shared by the
`readable` (damaged or bomb streams) and `active-content` (actions, forms, attachments)
checks; and bounded decoding of a stream's bytes."""
from __future__ import annotations

import zlib

import pikepdf
from pikepdf import Name

from ..units import format_size
from .bounds import MAX_NODES, MAX_OTHER_FILTER_RAW, MAX_STREAM_OUT, MAX_TOTAL_OUT
from .common import first_line


# Actions that run something, reach outside the document or submit data.
_DANGEROUS_ACTIONS = {
    "/JavaScript": "JavaScript action", "/Launch": "Launch action (runs a program)",
    "/SubmitForm": "SubmitForm action", "/ImportData": "ImportData action",
    "/GoToR": "GoToR action (opens another file)", "/GoToE": "GoToE action (opens an embedded file)",
    "/Rendition": "Rendition action (media)", "/RichMediaExecute": "RichMediaExecute action",
    "/Movie": "Movie action", "/Sound": "Sound action", "/ResetForm": "ResetForm action",
    "/SetOCGState": "SetOCGState action", "/Hide": "Hide action",
}


_MEDIA_ANNOTS = {"/FileAttachment": "file attachment annotation",
                 "/RichMedia": "rich media annotation", "/Screen": "screen (media) annotation",
                 "/Movie": "movie annotation", "/Sound": "sound annotation",
                 "/3D": "3D annotation"}


class Scan:
    """One bounded walk of every object reachable from the trailer."""

    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.found: list[tuple[str, tuple[int, int] | None]] = []  # (finding, owner objgen)
        self.warnings: list[str] = []  # active content that is allowed but worth saying
        self.damage: list[str] = []  # readable problems
        self.filespecs: list[tuple[str, pikepdf.Object]] = []  # (name, filespec dict)
        self.embedded_streams = 0
        self.inflated = 0
        self.nodes = 0
        self.page_of: dict[tuple[int, int], int] = {}
        self.xmp: bytes | None = None

    def run(self) -> None:
        pdf = self.pdf
        self._map_pages()
        root = pdf.Root
        if root.get("/OpenAction") is not None:
            self.found.append(("OpenAction (runs when the file opens)", None))
        if root.get("/AcroForm") is not None:
            form = root.AcroForm
            fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
            n = len(fields) if isinstance(fields, pikepdf.Array) else 0
            xfa = " with XFA" if isinstance(form, pikepdf.Dictionary) and "/XFA" in form else ""
            self.found.append((f"interactive form (AcroForm{xfa}, {n} field(s))", None))
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and names.get("/JavaScript") is not None:
            self.found.append(("document-level JavaScript (Names/JavaScript)", None))
        self._walk()

    def _map_pages(self) -> None:
        for i, page in enumerate(self.pdf.pages, 1):
            obj = page.obj
            if obj.is_indirect:
                self.page_of.setdefault(obj.objgen, i)
            annots = obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                for a in list(annots)[:10_000]:
                    if isinstance(a, pikepdf.Dictionary) and a.is_indirect:
                        self.page_of.setdefault(a.objgen, i)
                        act = a.get("/A")
                        if isinstance(act, pikepdf.Dictionary) and act.is_indirect:
                            self.page_of.setdefault(act.objgen, i)

    def where(self, owner: tuple[int, int] | None) -> str:
        if owner is None:
            return ""
        page = self.page_of.get(owner)
        return f" on page {page}" if page else f" (object {owner[0]})"

    def _walk(self) -> None:
        seen: set[tuple[int, int]] = set()
        stack: list[tuple[object, tuple[int, int] | None]] = [(self.pdf.trailer, None)]
        while stack:
            obj, owner = stack.pop()
            if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                continue
            if obj.is_indirect:
                og = obj.objgen
                if og in seen:
                    continue
                seen.add(og)
                owner = og
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.damage.append(f"more than {MAX_NODES} objects reachable; not all were checked")
                return
            if isinstance(obj, pikepdf.Array):
                children = list(obj)
            else:
                children = [v for _, v in obj.items()]
                self._look(obj, owner)
            self.nodes += len(children) // 16  # huge arrays count against the budget too
            for child in children:
                if isinstance(child, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                    if child.is_indirect and child.objgen in seen:
                        continue
                    stack.append((child, owner))

    def _look(self, d: pikepdf.Object, owner: tuple[int, int] | None) -> None:
        where = self.where(owner)
        s = d.get("/S")
        if "/JS" in d or s == Name("/JavaScript"):
            self.found.append((f"JavaScript{where}", owner))
        elif isinstance(s, pikepdf.Name) and str(s) in _DANGEROUS_ACTIONS and str(s) != "/JavaScript":
            self.found.append((f"{_DANGEROUS_ACTIONS[str(s)]}{where}", owner))
        elif s == Name("/URI") and "/URI" in d:
            uri = d.get("/URI")
            self.warnings.append(f"link to {_short(str(uri)) if uri is not None else '?'}{where}")
        aa = d.get("/AA")
        if isinstance(aa, pikepdf.Dictionary) and len(aa.keys()) > 0:
            self.found.append((f"additional actions (AA: {', '.join(sorted(str(k)[1:] for k in aa.keys())[:5])}){where}",
                               owner))
        sub = d.get("/Subtype")
        if sub == Name.Widget:
            self.found.append((f"form field widget{where}", owner))
        elif isinstance(sub, pikepdf.Name) and str(sub) in _MEDIA_ANNOTS and "/Rect" in d:
            self.found.append((f"{_MEDIA_ANNOTS[str(sub)]}{where}", owner))
        if "/EF" in d:
            name = _filespec_name(d)
            self.filespecs.append((name, d))
        if d.get("/Type") == Name("/EmbeddedFile") and isinstance(d, pikepdf.Stream):
            self.embedded_streams += 1
        if isinstance(d, pikepdf.Stream):
            self._inflate(d, owner)

    def _inflate(self, stream: pikepdf.Object, owner) -> None:
        """Check that a Flate stream decodes to its end (a flipped byte breaks the zlib
        checksum), within the output budgets. Other filters are left to the renderer."""
        filters = _filters(stream)
        if filters != ["/FlateDecode"]:
            return
        try:
            raw = stream.read_raw_bytes()
        except (pikepdf.PdfError, RuntimeError, ValueError) as e:
            self.damage.append(f"object {owner[0] if owner else '?'}: stream cannot be read: {first_line(e)}")
            return
        if not raw.strip():
            return  # an empty stream is empty whatever its filter says
        budget = min(MAX_STREAM_OUT, MAX_TOTAL_OUT - self.inflated)
        if budget <= 0:
            if not any("expand" in d for d in self.damage):
                self.damage.append(f"streams expand to more than {format_size(MAX_TOTAL_OUT)} "
                                   "(a decompression bomb?); not all were checked")
            return
        try:
            n, complete = _inflate_size(raw, budget)
        except zlib.error as e:
            self.damage.append(f"object {owner[0] if owner else '?'}: compressed stream is damaged ({e})")
            return
        self.inflated += n
        if n > budget:
            self.damage.append(f"object {owner[0] if owner else '?'}: a stream expands to more than "
                               f"{format_size(budget)} (a decompression bomb?)")
        elif not complete:
            self.damage.append(f"object {owner[0] if owner else '?'}: compressed stream ends early")


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _filters(stream: pikepdf.Object) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    if isinstance(f, pikepdf.Name):
        return [str(f)]
    if isinstance(f, pikepdf.Array):
        return [str(x) for x in f]
    return ["?"]


def _inflate_size(raw: bytes, limit: int) -> tuple[int, bool]:
    """(bytes out, reached the end) of inflating `raw`, stopping after limit+1 bytes."""
    d = zlib.decompressobj()
    total = 0
    data = raw
    chunk = 1 << 22
    while True:
        out = d.decompress(data, chunk)
        total += len(out)
        if total > limit:
            return total, False
        data = d.unconsumed_tail
        if not data:
            break
    if not d.eof:
        out = d.flush()
        total += len(out)
    return total, d.eof


def _inflate(raw: bytes, limit: int) -> bytes | None:
    """Inflate `raw` fully, or None if it is over `limit` or damaged."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or d.unconsumed_tail:
        return None
    return out


def stream_data(stream: pikepdf.Object, limit: int) -> bytes | None:
    """A stream's decoded bytes, bounded; None if it is too big, damaged or exotic."""
    try:
        filters = _filters(stream)
        raw = stream.read_raw_bytes()
        if not filters:
            return raw if len(raw) <= limit else None
        if filters == ["/FlateDecode"]:
            parms = stream.get("/DecodeParms")
            if isinstance(parms, pikepdf.Dictionary) and int(parms.get("/Predictor", 1)) > 1:
                return stream.read_bytes() if len(raw) <= MAX_OTHER_FILTER_RAW else None
            return _inflate(raw, limit)
        if len(raw) <= MAX_OTHER_FILTER_RAW:
            data = stream.read_bytes()
            return data if len(data) <= limit else None
    except (pikepdf.PdfError, RuntimeError, ValueError):
        return None
    return None


def _filespec_name(d: pikepdf.Object) -> str:
    for key in ("/UF", "/F"):
        v = d.get(key)
        if isinstance(v, pikepdf.String):
            return str(v)
    return "(unnamed)"
