"""Dispute reasons and the completeness checklist (templates/reasons.toml).

    reason = resolve_reason("13.3")      # Reason(category="product_unacceptable", ...)
    rows = checklist(reason, exhibits)   # per item: which exhibits cover it, or missing

An `Exhibit` here is what the checklist and the rebuttal letter need to know about one
exhibit of the package (screenshot or document), in package order; the pipeline makes
them (`pipeline.exhibit_facts`). Pure functions: no files but the template are read.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from .errors import CaseError
from .presets import load_toml

REASONS_FILE = "reasons.toml"


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    words: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    sources: tuple[dict, ...] = ()  # {"title", "url"}


@dataclass(frozen=True)
class Reason:
    text: str  # as written in case.toml
    category: str | None  # None: free text, not a known reason
    label: str  # what people read: "Product not received"
    code: str | None = None  # the network code, when one was given
    network: str | None = None
    code_title: str | None = None
    claim: str = ""
    argument: str = ""
    items: tuple[Item, ...] = ()

    @property
    def known(self) -> bool:
        return self.category is not None

    @property
    def display(self) -> str:
        """The reason as the cover and the letter name it."""
        if self.code:
            return f"{self.network} {self.code} {self.code_title} ({self.label})"
        return self.label

    def to_json(self) -> dict:
        return {"text": self.text, "known": self.known, "category": self.category,
                "label": self.label, "code": self.code, "network": self.network,
                "code_title": self.code_title}


@dataclass(frozen=True)
class Exhibit:
    number: int
    source: str  # file, relative to the case
    kind: str  # conversation, site, invoice, policy, delivery, other
    group: str  # group id (templates/reasons.toml [groups])
    date_label: str
    note: str | None = None
    highlight: str | None = None
    proves: tuple[str, ...] = ()
    text: str = ""  # a document's extracted text (screenshots: empty, their OCR is noisy)
    when: dt.datetime | None = None

    @property
    def sort(self) -> dt.datetime:
        return self.when or dt.datetime.max


@dataclass
class ChecklistRow:
    item: Item
    covered_by: list[tuple[Exhibit, str]] = field(default_factory=list)  # (exhibit, why)

    @property
    def covered(self) -> bool:
        return bool(self.covered_by)

    def to_json(self) -> dict:
        return {"item": self.item.id, "label": self.item.label, "covered": self.covered,
                "exhibits": [{"exhibit": e.number, "source": e.source, "by": why}
                             for e, why in self.covered_by],
                "sources": [dict(s) for s in self.item.sources]}


@functools.lru_cache(maxsize=4)
def _template() -> dict:
    return load_toml(REASONS_FILE)


def template() -> dict:
    return _template()


def _items(raw: list, sources: dict) -> tuple[Item, ...]:
    out = []
    for d in raw:
        refs = d.get("source", [])
        refs = [refs] if isinstance(refs, str) else refs
        missing = [r for r in refs if r not in sources]
        if missing:
            raise CaseError(f"reason item {d.get('id')!r}: unknown source {missing[0]!r}",
                            REASONS_FILE)
        out.append(Item(id=str(d["id"]), label=str(d["label"]),
                        words=tuple(str(w).lower() for w in d.get("words", [])),
                        kinds=tuple(d.get("kinds", [])),
                        sources=tuple(sources[r] for r in refs)))
    return tuple(out)


def _normalise(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def resolve_reason(text: str | None) -> Reason | None:
    """The reason `[dispute] reason` names: a category, a network code, or free text.
    None when the case gives no reason."""
    if text is None or not text.strip():
        return None
    t = template()
    reasons, codes, sources = t.get("reason", {}), t.get("codes", {}), t.get("sources", {})
    raw = text.strip()
    code = re.sub(r"^(visa|mastercard|mc)\s*", "", raw, flags=re.I).strip()
    entry = codes.get(code)
    category = entry["category"] if entry else _normalise(raw)
    category = t.get("aliases", {}).get(category, category)
    if category not in reasons:
        return Reason(text=raw, category=None, label=raw)
    r = reasons[category]
    return Reason(text=raw, category=category, label=r["label"],
                  code=code if entry else None, network=entry["network"] if entry else None,
                  code_title=entry["title"] if entry else None, claim=r.get("claim", ""),
                  argument=r.get("argument", ""), items=_items(r.get("item", []), sources))


def known_reasons() -> list[str]:
    t = template()
    return list(t.get("reason", {})) + list(t.get("codes", {}))


def group_of(kind: str) -> str:
    """The index group an exhibit of this kind goes to."""
    g = template().get("groups", {})
    return g.get("kinds", {}).get(kind, g.get("order", ["other"])[-1])


def group_order(group: str) -> int:
    order = template().get("groups", {}).get("order", [])
    return order.index(group) if group in order else len(order)


def group_label(group: str) -> str:
    return str(template().get("groups", {}).get(group, group))


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.I) is not None


def covers(item: Item, e: Exhibit) -> str | None:
    """Why exhibit `e` covers `item` ("proves", "kind", "note: word", "text: word"), or None."""
    if item.id in e.proves:
        return "proves"
    if e.kind in item.kinds:
        return f"kind {e.kind}"
    for word in item.words:
        if e.note and _has_word(e.note, word):
            return f"note: {word}"
    for word in item.words:
        if e.text and _has_word(e.text, word):
            return f"text: {word}"
    return None


def checklist(reason: Reason | None, exhibits: list[Exhibit]) -> list[ChecklistRow]:
    if reason is None or not reason.known:
        return []
    rows = []
    for item in reason.items:
        row = ChecklistRow(item)
        for e in exhibits:
            why = covers(item, e)
            if why:
                row.covered_by.append((e, why))
        rows.append(row)
    return rows


def unknown_proves(reason: Reason | None, exhibits: list[Exhibit]) -> list[str]:
    """`proves` names that are not items of the case's reason (likely typos)."""
    if reason is None or not reason.known:
        return []
    ids = {i.id for i in reason.items}
    return [f"{e.source}: proves {p!r} is not an item of {reason.label!r} "
            f"(items: {', '.join(sorted(ids))})" for e in exhibits for p in e.proves
            if p not in ids]
