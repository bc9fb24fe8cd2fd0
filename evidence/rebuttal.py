"""The rebuttal letter: the page after the cover, and the text for a processor's text box.

    text = draft(case, reason, exhibits, rows)          # from templates/rebuttal.toml
    chosen = letter(case, reason, exhibits, rows)       # rebuttal.md / [rebuttal] text win

The draft names the reason, the client, the amount and the exhibits' dates, then cites
the exhibits that answer the reason's checklist (by number and date, with the note and
the highlighted phrase quoted), most useful first, within the template's word budget.
Plain text: paragraphs separated by blank lines, list items starting with "- ".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from .case import Case
from .errors import CaseError
from .presets import load_toml
from .reasons import ChecklistRow, Exhibit, Reason

TEMPLATE = "rebuttal.toml"
CASE_FILE = "rebuttal.md"
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Letter:
    text: str
    source: str  # "draft", "rebuttal.md" or "case.toml"

    @property
    def words(self) -> int:
        return word_count(self.text)


def word_count(text: str) -> int:
    return len(re.findall(r"[^\s\-–—•]+", text))


def _fill(text: str, **names) -> str:
    try:
        return Template(str(text)).substitute({k: str(v) for k, v in names.items()})
    except (KeyError, ValueError) as e:
        raise CaseError(f"template text {text!r}: unknown or bad placeholder {e}", TEMPLATE) from None


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?\u201d" else text + "."


def draft(case: Case, reason: Reason | None, exhibits: list[Exhibit],
          rows: list[ChecklistRow]) -> str:
    t = load_toml(TEMPLATE)
    names = dict(client_name=case.client.name, client_email=case.client.email,
                 amount=case.dispute.amount or "the disputed amount",
                 dispute_id=case.dispute.id or "", exhibits=len(exhibits),
                 reason=reason.display if reason else "not stated",
                 claim=reason.claim if reason and reason.known else "",
                 argument=reason.argument if reason and reason.known else t["unknown_argument"])
    if exhibits:
        names["first_date"] = min(exhibits, key=lambda e: e.sort).date_label
        names["last_date"] = max(exhibits, key=lambda e: e.sort).date_label
    else:
        names["first_date"] = names["last_date"] = "-"
    head = [_fill(t["subject"], **names), _fill(t["opening"], **names).strip(),
            _fill(reason.argument if reason and reason.known else t["unknown_argument"], **names)]
    covered = [r for r in rows if r.covered]
    tail = []
    if covered:
        tail.append(_fill(t["covered"], covered="; ".join(
            f"{r.item.label.lower()} (Exhibit{'s' if len(r.covered_by) > 1 else ''} "
            f"{', '.join(str(e.number) for e, _ in r.covered_by[:4])})" for r in covered)))
    tail.append(_fill(t["closing"], **names))
    budget = int(t.get("max_words", 400))
    used = sum(word_count(x) for x in head + tail) + word_count(t["facts"]) + 6

    def cite(e: Exhibit) -> str:
        note = e.note or _fill(t["no_note"], file=Path(e.source).name)
        line = _fill(t["cite"], number=e.number, date=e.date_label, note=_sentence(note))
        if e.highlight:
            line += _fill(t["quote"], phrase=e.highlight)
        return line

    score = {e.number: sum(1 for r in rows for x, _ in r.covered_by if x is e) for e in exhibits}
    ranked = sorted(exhibits, key=lambda e: (-score[e.number], not e.highlight, not e.note,
                                             e.number))
    chosen: list[Exhibit] = []
    least = int(t.get("min_words", 200))
    for e in ranked:  # exhibits that say nothing only while the letter is short of facts
        if not (score[e.number] or e.highlight or e.note) and len(chosen) >= 3 and used >= least:
            continue
        n = word_count(cite(e))
        if used + n > budget:
            continue
        chosen.append(e)
        used += n
    chosen.sort(key=lambda e: e.number)
    body = [_fill(t["facts"], **names)] if chosen else []
    body += ["- " + cite(e) for e in chosen]
    return "\n\n".join(head[:1] + ["\n".join([head[1], "", head[2]])] + ["\n".join(body)] + tail
                       ).replace("\n\n\n", "\n\n").strip() + "\n"


def letter(case: Case, reason: Reason | None, exhibits: list[Exhibit],
           rows: list[ChecklistRow], *, always: bool = False) -> Letter | None:
    """The letter the package carries: rebuttal.md, else [rebuttal] text, else the draft;
    None for a case that gives no reason and no letter (unless `always`)."""
    path = case.root / CASE_FILE
    if path.is_file():
        try:
            raw = path.read_bytes()[:MAX_FILE_BYTES]
        except OSError as e:
            raise CaseError(f"cannot read: {e.strerror or e}", path) from None
        text = raw.decode("utf-8-sig", errors="replace").strip()
        if text:
            return Letter(from_markdown(text), CASE_FILE)
    if case.rebuttal:
        return Letter(from_markdown(case.rebuttal), "case.toml")
    if reason is None and not always:
        return None
    return Letter(draft(case, reason, exhibits, rows), "draft")


def from_markdown(text: str) -> str:
    """Markdown as people write it for a letter, as plain text: headings, emphasis and
    list markers reduced to words (the letter is set as plain paragraphs)."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = re.sub(r"^\s{0,3}#{1,6}\s*", "", line)
        line = re.sub(r"^\s*[*+]\s+", "- ", line)
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
        line = re.sub(r"(?<!\w)[*_](\S.*?\S|\S)[*_](?!\w)", r"\1", line)
        out.append(line.rstrip())
    return "\n".join(out).strip() + "\n"


def for_text_field(text: str, limit: int | None) -> str:
    """The letter for a processor's text box: within `limit` characters, cut at a
    paragraph (else a word) boundary with an ellipsis."""
    if limit is None or len(text) <= limit:
        return text
    cut = text[:max(0, limit - 1)]
    at = cut.rfind("\n\n")
    if at < limit // 2:
        at = cut.rfind(" ")
    return cut[:at if at > 0 else len(cut)].rstrip() + "…"


def paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


def rebuttal_path(case_dir: Path) -> Path:
    return Path(case_dir) / CASE_FILE
