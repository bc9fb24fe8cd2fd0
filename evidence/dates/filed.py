"""Which of the dates a screenshot shows is the client's message's: the layout decides.

The OCR boxes say where each date sits. Ranked, best first:

0. a header line labelled as the message's date (`Date:`, `Received:`, `Datum:`, ...);
1. the row of the client's name or email (an open message's sender line, or the client's
   row in a list: among several such rows, the earliest);
2. a line just under the client's name (the date line of a mail header; the nearest);
3. a chat day separator (a line that is only a date) over the client's message, the
   nearest one;
4. any other date (another person's row, app chrome), nearest the client's lines first;
5. last, dates in a subject line, a quoted `On ... wrote:` attribution or running text.

Pure functions over OCR lines and `DateHit`s; `when.resolve_when` takes the ranking.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..ocr.base import OcrLine
from .find import DateHit

__all__ = ["Ranked", "rank_dates", "TIER_REASONS", "NEAREST_TIERS"]
# Tiers where the date nearest the client's lines wins; in the others, the earliest.
NEAREST_TIERS = (2, 3, 4)

_HEADER = re.compile(
    r"^\W{0,3}(date|received|sent|datum|gesendet|empfangen|fecha|enviado|recibido|data|"
    r"envoy[ée]|re[çc]u|inviato|ricevuto|verzonden|ontvangen|verstuurd)\s?:", re.I)
_SUBJECT = re.compile(
    r"^\W{0,3}(subject|betreff|objet|asunto|assunto|oggetto|onderwerp|re|fwd?|aw|wg|tr)\s?:",
    re.I)
_QUOTED = re.compile(
    r"\b(wrote|schrieb|a [ée]crit|escribi[óo]|escreveu|ha scritto|scrisse|schreef)\b\s*:?|"
    r"^\s*(>|on .{4,80}$)", re.I)

TIER_REASONS = {
    0: "a Date header",
    1: "on the client's row",
    2: "header under the client's name",
    3: "day separator over the client's message",
    4: "elsewhere on the screen",
    5: "only in a subject, quote or message text",
}


@dataclass(frozen=True)
class Ranked:
    tier: int
    reason: str
    hit: DateHit
    distance: float  # to the nearest client line, in pixels (0 on it); ties broken by it


def _same_row(a: OcrLine, b: OcrLine) -> bool:
    h = min(a.box.height, b.box.height)
    overlap = min(a.box.y1, b.box.y1) - max(a.box.y0, b.box.y0)
    return h > 0 and overlap >= 0.5 * h


def _beside(client: OcrLine, ln: OcrLine) -> bool:
    """`ln` is on the client's row, at or right of the client's text (a list row's date
    sits at its right; a box in another pane to the left is not this row)."""
    return client is ln or (_same_row(client, ln) and ln.box.x1 > client.box.x1
                             and ln.box.x0 >= client.box.x0 - client.box.height)


def _under(client: OcrLine, ln: OcrLine) -> float | None:
    """The gap from the client's line to `ln` when `ln` is just under it (or touches it
    from above, as a list row's subject line does), in the same column; else None."""
    h = max(client.box.height, 1.0)
    if ln.box.x1 <= client.box.x0:
        return None  # another column to the left
    below = ln.box.y0 - client.box.y1
    if 0 <= below <= 2.5 * h:
        return below
    above = client.box.y0 - ln.box.y1
    if -0.2 * h <= above <= 0.4 * h and not _same_row(client, ln):
        return max(above, 0.0)
    return None


def _distance(a: OcrLine, b: OcrLine) -> float:
    ax, ay = (a.box.x0 + a.box.x1) / 2, (a.box.y0 + a.box.y1) / 2
    bx, by = (b.box.x0 + b.box.x1) / 2, (b.box.y0 + b.box.y1) / 2
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5


def _words_outside(text: str, hit: DateHit) -> int:
    rest = text.replace(hit.text, " ", 1)
    return len(re.findall(r"[^\W\d_]{2,}", rest))


def _is_separator(line: OcrLine, hit: DateHit) -> bool:
    """The line is only this date (perhaps with a clock): a chat's day divider."""
    return _words_outside(line.text, hit) == 0 and len(hit.text) >= 0.6 * len(
        line.text.strip())


def rank_dates(lines: Sequence[OcrLine], hits: Sequence[DateHit],
               client_lines: Sequence[int]) -> list[Ranked]:
    """Every hit with its tier and reason, best first (within a tier, top to bottom)."""
    client = [lines[i] for i in client_lines if 0 <= i < len(lines)]
    # In a chat the client's name is often also the window title: the message itself is
    # the first client line below a separator, so separators count against every one.
    out: list[Ranked] = []
    for h in hits:
        if not 0 <= h.line < len(lines):
            out.append(Ranked(4, TIER_REASONS[4], h, float("inf")))
            continue
        ln = lines[h.line]
        nxt = lines[h.line + 1].text if h.line + 1 < len(lines) else ""
        dist = min((_distance(c, ln) for c in client), default=float("inf"))
        gaps = [g for g in (_under(c, ln) for c in client) if g is not None]
        if _SUBJECT.match(ln.text) or _QUOTED.search(ln.text) or (
                re.match(r"\s*on\b", ln.text, re.I) and _QUOTED.search(nxt)):
            tier = 5
        elif _HEADER.match(ln.text):
            tier = 0
        elif any(_beside(c, ln) for c in client):
            tier = 1
        elif gaps and _words_outside(ln.text, h) <= 3:
            tier, dist = 2, min(gaps)
        elif _is_separator(ln, h) and (not client or any(c.box.y0 > ln.box.y1 for c in client)):
            tier = 3
        elif _words_outside(ln.text, h) > 4:
            tier = 5  # running text: `Meeting this Wednesday 9am`, `Pending till 04/27/2026`
        else:
            tier = 4
        out.append(Ranked(tier, TIER_REASONS[tier], h, dist))
    order = {id(r): k for k, r in enumerate(out)}
    # Separators: the one nearest above the client's message governs it.
    return sorted(out, key=lambda r: (r.tier, r.distance if r.tier in NEAREST_TIERS else 0,
                                      order[id(r)]))
