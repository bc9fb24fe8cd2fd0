"""The cover page: the case's identifiers and the exhibit index, then the rebuttal letter.

Wording comes from templates/cover.toml (`Wording`). What the cover shows:
- the title and a subtitle, each made of parts joined by " · "; a part whose every
  placeholder is empty is left out with its separator (no "Dispute ·" without an id);
- one row per case field whose placeholders are not all empty (no blank Dispute ID row);
- the exhibit index: a list of `IndexRow`s, grouped by `group` (a heading row when the
  group changes, so other kinds of exhibit can be listed in their own block). File
  names wrap only after `/ _ - .` or a space, and a name too long for its cell is
  shortened in the middle; a failed exhibit (in a draft) says so and why.

`draw_cover` flows the story over as many pages as it takes.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Callable, Sequence
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Frame as RlFrame, Paragraph, Spacer, Table, TableStyle

from . import annotate
from .annotate import FONT, FONT_BOLD
from .errors import EvidenceError
from .layout import Frame, LayoutError
from .presets import load_toml

COVER_TEMPLATE = "cover.toml"
SEPARATOR = " · "
MAX_NAME_LINES = 3  # a file name longer than this many lines of its cell is shortened


@dataclass(frozen=True)
class CoverInfo:
    client_name: str
    client_email: str
    dispute_id: str
    processor: str
    amount: str  # as it should read, e.g. "USD 129.00"
    reason: str
    ticket: str = ""
    respond_by: dt.date | None = None
    today: dt.date | None = None  # for "N days left"; default: the local date
    rebuttal: str = ""  # the letter (plain text), set on its own page after the cover


@dataclass
class IndexRow:
    """One line of the exhibit index."""

    exhibit: str  # its number as shown ("3", or "D1" for another kind)
    date: str  # with where it came from, when not the image
    source: str  # file name, relative to the case
    note: str
    first: int = 0  # first and last page
    last: int = 0
    failed: tuple[str, ...] = ()  # why its checks failed (drafts only)
    group: str = ""  # rows are listed by group, in the order groups first appear
    cells: dict[str, str] = field(default_factory=dict)  # extra columns by key


class Wording:
    """The cover template (templates/cover.toml), with `${name}` substitution."""

    def __init__(self, data: dict, where: str = COVER_TEMPLATE):
        self.data, self.where = data, where

    @classmethod
    def load(cls, path: Path | str | None = None) -> "Wording":
        return cls(load_toml(COVER_TEMPLATE, path), str(path or COVER_TEMPLATE))

    def get(self, dotted: str):
        node = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise EvidenceError(f"template has no {dotted!r}", self.where)
            node = node[part]
        return node

    def fill(self, text: str, **names) -> str:
        try:
            return Template(str(text)).substitute({k: str(v) for k, v in names.items()})
        except (KeyError, ValueError) as e:
            raise EvidenceError(f"template text {text!r}: unknown or bad placeholder {e}",
                                self.where) from None

    def say(self, dotted: str, **names) -> str:
        return self.fill(self.get(dotted), **names)

    def fill_parts(self, text: str, **names) -> str:
        """`fill`, leaving out every " · "-separated part whose placeholders are all
        empty (a part without placeholders stays)."""
        kept = []
        for part in str(text).split(SEPARATOR):
            used = _placeholders(part)
            if used and not any(str(names.get(k, "")).strip() for k in used):
                continue
            kept.append(self.fill(part, **names))
        return SEPARATOR.join(p for p in kept if p.strip())

    def say_parts(self, dotted: str, **names) -> str:
        return self.fill_parts(self.get(dotted), **names)


def _placeholders(text: str) -> set[str]:
    return {m.group("named") or m.group("braced")
            for m in Template.pattern.finditer(str(text))
            if m.group("named") or m.group("braced")}


def respond_by(w: Wording, cover: CoverInfo) -> str:
    """The respond-by wording; "" when there is no date (the row is left out)."""
    if cover.respond_by is None:
        return ""
    today = cover.today or dt.date.today()
    days = (cover.respond_by - today).days
    key = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, "future" if days > 0 else "past")
    return w.say(f"respond_by.{key}", date=cover.respond_by.isoformat(), days=abs(days))


def names(w: Wording, cover: CoverInfo, exhibits: int) -> dict[str, str]:
    return dict(client_name=cover.client_name, client_email=cover.client_email,
                dispute_id=cover.dispute_id, processor=cover.processor, amount=cover.amount,
                reason=cover.reason, ticket=cover.ticket, respond_by=respond_by(w, cover),
                exhibits=str(exhibits))


def title(w: Wording, cover: CoverInfo) -> str:
    """The document title (PDF metadata): with the dispute id, else the client."""
    n = names(w, cover, 0)
    return w.fill_parts(w.data.get("cover", {}).get(
        "doc_title", "Chargeback evidence · ${dispute_id} · ${client_name}"), **n)


# --- file names ----------------------------------------------------------------------

_BREAK_AFTER = re.compile(r"(?<=[/_\-. ])")
_BREAK_AFTER_FOLDER = re.compile(r"(?<=[/ ])")  # tried first: folders and words stay whole


def wrap_name(name: str, width: float, font: str = FONT, size: float = 10.0,
              max_lines: int = MAX_NAME_LINES) -> list[str]:
    """`name` in lines at most `width` pt wide, broken only after / _ - . or a space;
    a name that needs more than `max_lines` lines, or holds a piece too wide for one,
    is shortened in the middle with "…" first."""
    name = " ".join(annotate.displayable(name).split())

    def fits(s: str) -> bool:
        return annotate.text_width(s, font, size) <= width

    def lines_of(s: str) -> list[str] | None:
        return split(s, _BREAK_AFTER_FOLDER) or split(s, _BREAK_AFTER)

    def split(s: str, breaks: re.Pattern) -> list[str] | None:
        out, line = [], ""
        for piece in breaks.split(s):
            if not piece:
                continue
            if fits(line + piece):
                line += piece
                continue
            if not fits(piece):
                return None
            out.append(line.rstrip())
            line = piece
        out.append(line.rstrip())
        out = [x for x in out if x]
        return out if len(out) <= max_lines else None

    got = lines_of(name)
    if got is not None:
        return got
    # shorten in the middle: keep the start and the end (the extension), "…" between
    keep = len(name)
    while keep > 2:
        keep -= 1
        head, tail = name[: (keep + 1) // 2], name[len(name) - keep // 2:]
        got = lines_of(head + "…" + tail)
        if got is not None:
            return got
    return [name[:1] + "…"]


def short_reason(message: str) -> str:
    """A check's failure as a few words for the index: "email not found"."""
    m = re.sub(r"\s*'[^']*'|\s*\"[^\"]*\"", "", str(message)).strip()
    m = re.sub(r"^client\s+", "", m)
    return m


# --- the story -----------------------------------------------------------------------

def _styles() -> dict[str, ParagraphStyle]:
    annotate.register_fonts()
    base = dict(fontName=FONT, textColor=black)
    return {
        "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=22, leading=27),
        "subtitle": ParagraphStyle("subtitle", fontSize=13, leading=17, spaceBefore=2,
                                   textColor=Color(0.25, 0.25, 0.25), fontName=FONT),
        "intro": ParagraphStyle("intro", fontSize=11, leading=15, **base),
        "label": ParagraphStyle("label", fontName=FONT_BOLD, fontSize=11, leading=14),
        "value": ParagraphStyle("value", fontSize=11, leading=14, **base),
        "heading": ParagraphStyle("heading", fontName=FONT_BOLD, fontSize=14, leading=18),
        "group": ParagraphStyle("group", fontName=FONT_BOLD, fontSize=10.5, leading=13),
        "th": ParagraphStyle("th", fontName=FONT_BOLD, fontSize=10, leading=12.5,
                             textColor=white),
        "td": ParagraphStyle("td", fontSize=10, leading=12.5, **base),
        "name": ParagraphStyle("name", fontSize=10, leading=12.5, splitLongWords=0, **base),
        "failed": ParagraphStyle("failed", fontName=FONT_BOLD, fontSize=10, leading=12.5,
                                 textColor=annotate.DRAFT),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    safe = escape(annotate.displayable(text)).replace("\n", "<br/>")
    return Paragraph(safe, style)


PAD = 6.0  # reportlab's default cell padding, left and right


def _index_table(w: Wording, rows: Sequence[IndexRow], width: float, st) -> Table:
    columns = w.get("index.columns")
    total = sum(float(c["width"]) for c in columns) or 1.0
    widths = [width * float(c["width"]) / total for c in columns]
    max_chars = int(w.data.get("index", {}).get("note_max_chars", 180))
    failed_label = str(w.data.get("index", {}).get("failed", "FAILED"))
    data = [[_p(c["label"], st["th"]) for c in columns]]
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),  # else reportlab selects Helvetica
        ("BACKGROUND", (0, 0), (-1, 0), HexColor("#222222")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, Color(0.7, 0.7, 0.7)),
        ("BOX", (0, 0), (-1, -1), 0.75, black),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]
    groups = list(dict.fromkeys(r.group for r in rows))
    shade = 0
    for group in groups:
        if group:
            data.append([_p(group, st["group"])] + [""] * (len(columns) - 1))
            r = len(data) - 1
            style += [("SPAN", (0, r), (-1, r)), ("BACKGROUND", (0, r), (-1, r),
                                                   HexColor("#DDDDDD"))]
        for row in (r for r in rows if r.group == group):
            pages = w.say("index.pages_one", first=row.first) if row.first == row.last else \
                w.say("index.pages_many", first=row.first, last=row.last)
            cells = []
            for c, cw in zip(columns, widths):
                key = c["key"]
                if key == "source":
                    lines = wrap_name(row.source, cw - 2 * PAD)
                    cells.append(Paragraph("<br/>".join(escape(x) for x in lines), st["name"]))
                elif key == "exhibit" and row.failed:
                    cells.append([_p(row.exhibit, st["td"]), _p(failed_label, st["failed"])])
                elif key == "note" and row.failed:
                    why = "; ".join(short_reason(f) for f in row.failed)
                    cells.append([_p(annotate.ellipsize(row.note, max_chars), st["td"]),
                                  _p(w.fill(w.data.get("index", {}).get(
                                      "failed_why", "Check failed: ${why}"), why=why),
                                     st["failed"])])
                else:
                    value = {"exhibit": row.exhibit, "date": row.date, "page": pages,
                             "note": annotate.ellipsize(row.note, max_chars)}.get(
                                 key, row.cells.get(key, ""))
                    cells.append(_p(value, st["td"]))
            data.append(cells)
            r = len(data) - 1
            if shade % 2:
                style.append(("BACKGROUND", (0, r), (-1, r), HexColor("#F0F0F0")))
            shade += 1
    t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle(style))
    return t


def cover_story(w: Wording, cover: CoverInfo, rows: Sequence[IndexRow], width: float) -> list:
    st = _styles()
    n = names(w, cover, len(rows))
    story: list = [_p(w.say_parts("cover.title", **n), st["title"])]
    subtitle = w.say_parts("cover.subtitle", **n)
    if subtitle:
        story.append(_p(subtitle, st["subtitle"]))
    story.append(Spacer(1, 10))
    intro = w.data.get("cover", {}).get("intro")
    if intro:
        story += [_p(w.fill(intro, **n), st["intro"]), Spacer(1, 12)]
    fields = []
    for f in w.get("cover.fields"):
        used = _placeholders(f["value"])
        if used and not any(str(n.get(k, "")).strip() for k in used):
            continue  # an empty field is left out, not printed blank
        fields.append([_p(f["label"], st["label"]), _p(w.fill(f["value"], **n), st["value"])])
    if fields:
        t = Table(fields, colWidths=[width * 0.24, width * 0.76], hAlign="LEFT")
        t.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), FONT),  # else reportlab selects Helvetica
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, Color(0.75, 0.75, 0.75)),
            ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ]))
        story += [t, Spacer(1, 18)]
    story.append(_p(w.say("index.heading"), st["heading"]))
    story.append(Spacer(1, 6))
    if not rows:
        story.append(_p(w.say("index.empty"), st["value"]))
        return story
    story.append(_index_table(w, rows, width, st))
    return story


def letter_story(text: str) -> list:
    """The rebuttal letter (see rebuttal.py): its own page after the cover."""
    from .rebuttal import load_toml, paragraphs
    if not text.strip():
        return []
    st = _styles()
    body = ParagraphStyle("letter", parent=st["intro"], fontSize=11, leading=14.5, spaceAfter=7)
    brk = Spacer(1, 0)
    brk.evidence_new_page = True
    story: list = [brk, _p(str(load_toml("rebuttal.toml").get("title", "Rebuttal")),
                           st["title"]), Spacer(1, 8)]
    for para in paragraphs(text):
        story.append(_p(para, body))
    return story


def draw_cover(c, w: Wording, frame: Frame, cover: CoverInfo, rows: Sequence[IndexRow],
               furniture: Callable[[int], None]) -> int:
    """Draw the cover pages on `c`, calling `furniture(page_no)` on each; return how
    many there were."""
    area = frame.content
    # the cover has no header line: its text uses the header band too
    story = cover_story(w, cover, rows, area.width) + letter_story(cover.rebuttal)
    n = 0
    while story:
        n += 1
        if n > 500:
            raise LayoutError("the cover page does not end (index too long?)")
        box = RlFrame(area.x, area.y, area.width, frame.header_baseline + 14 - area.y,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        drew = False
        while story:
            if getattr(story[0], "evidence_new_page", False):  # the letter starts a page
                story.pop(0)
                if drew:
                    break
                continue
            if box.add(story[0], c, trySplit=0):
                story.pop(0)
                drew = True
                continue
            parts = box.split(story[0], c)
            if len(parts) >= 2 and box.add(parts[0], c, trySplit=0):
                story[0:1] = parts[1:]
                drew = True
            break
        if not drew:
            raise LayoutError("a cover page element is too large for the page")
        furniture(n)
        c.showPage()
    return n
