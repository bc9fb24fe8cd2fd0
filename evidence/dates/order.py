"""Which reading of a numeric date (`02/10/2024`: DMY or MDY? `24/10/02`: YMD?) — decided
by evidence, never by a fixed order.

Evidence, strongest first: the order set in case.toml (`date_order`, per screenshot or
for the package); the weekday shown beside the date (settled in `find`); another date
on the same screenshot written the same way whose order is plain (`28/10/2024`); the
order the case's other screenshots settled (one app, one format); and plausibility (a
message is not dated after the screenshot was taken). What none of these settles stays
`ambiguous`, and `check` says so.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from .find import ORDERS, DateHit

__all__ = ["decide", "settled_orders", "ORDERS"]


def settled_orders(hits: Iterable[DateHit]) -> dict[str, str]:
    """separator -> the one order the plain (or settled) numeric dates of `hits` use."""
    by_sep: dict[str, set[str]] = {}
    for h in hits:
        if not h.sep or not h.order:
            continue
        if h.readings and len(h.readings) > 1 and h.order_reason is None:
            continue
        if not h.readings and h.order == "YMD":
            continue  # ISO dates say nothing about how this app writes d/m
        by_sep.setdefault(h.sep, set()).add(h.order)
    return {sep: next(iter(o)) for sep, o in by_sep.items() if len(o) == 1}


def decide(hits: Sequence[DateHit], *, date_order: str | None = None,
           date_order_source: str = "date_order in case.toml",
           case_orders: dict[str, str] | None = None,
           capture: datetime | None = None) -> list[DateHit]:
    """The hits with each ambiguous numeric date read by the strongest evidence."""
    own = settled_orders(hits)
    out = []
    for h in hits:
        if len(h.readings) < 2 or h.order_reason is not None:
            out.append(h)
            continue
        orders = [r[0] for r in h.readings]
        if date_order in orders:
            h = h.with_order(date_order, date_order_source)
        elif own.get(h.sep) in orders:
            other = next(x for x in hits if x is not h and x.sep == h.sep
                         and x.order == own[h.sep])
            h = h.with_order(own[h.sep], f"read like {other.text!r} on this screenshot")
        elif case_orders and case_orders.get(h.sep) in orders:
            h = h.with_order(case_orders[h.sep], "as the case's other screenshots")
        elif capture is not None:
            fits = [r for r in h.readings if datetime(*r[1:]) <= capture]
            if len({r[1:] for r in fits}) == 1:
                h = h.with_order(fits[0][0], "the others are after the capture time")
        out.append(h)
    return out
