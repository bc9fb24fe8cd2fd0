"""Stage `order`: exhibits in chronological order of their `when` (within their group),
and none dated far from the case's other dates unless dated by hand."""
from __future__ import annotations

import datetime as dt

from .common import int_or_none, list_of_dicts
from .results import Check


def _when(e: dict) -> dt.datetime | None:
    w = e.get("when")
    v = w.get("value") if isinstance(w, dict) else None
    if not isinstance(v, str):
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return t.replace(tzinfo=None)


def _far_dates(exhibits: list[dict]) -> list[str]:
    """Exhibits dated far outside the case's other dates, unless dated by hand."""
    from ..dates.span import outliers

    dated = [(k, t) for k, e in enumerate(exhibits) if (t := _when(e)) is not None
             and e.get("kind", "conversation") in ("conversation", "site")]  # not documents
    out = []
    for k, mid in outliers(dated).items():
        e = exhibits[k]
        when = e.get("when") if isinstance(e.get("when"), dict) else {}
        if when.get("source") != "manual":
            out.append(f"exhibit {e.get('exhibit')} ({e.get('source')}) is dated "
                       f"{_when(e):%Y-%m-%d}, far from the case's other dates (around "
                       f"{mid:%Y-%m-%d}): a misread date? set it by hand if it is right")
    return out


def check_order(manifest: dict) -> Check:
    exhibits = sorted(list_of_dicts(manifest.get("exhibits")),
                      key=lambda e: int_or_none(e.get("exhibit")) or 0)
    if not exhibits:
        return Check("order", "fail", "the manifest lists no exhibits")
    findings, pages = [], []
    # Exhibits grouped by type (documents.py, reasons.toml [groups]) are chronological
    # within their group, and each group's exhibits stand together.
    last: dict[str, tuple] = {}
    seen_groups: list[str] = []
    for e in exhibits:
        group = e.get("group") if isinstance(e.get("group"), str) else ""
        if group in seen_groups and seen_groups[-1] != group:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}) stands apart from "
                            f"the rest of its group {group!r}")
        if not seen_groups or seen_groups[-1] != group:
            seen_groups.append(group)
        t = _when(e)
        if t is None:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}): no valid date "
                            "(when) in the manifest")
            continue
        prev = last.get(group)
        if prev is not None and t < prev[0]:
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}, {t:%Y-%m-%d %H:%M}) "
                            f"is dated before exhibit {prev[1].get('exhibit')} "
                            f"({prev[1].get('source')}, {prev[0]:%Y-%m-%d %H:%M})"
                            + (f" in group {group!r}" if group else ""))
            pages += [p for p in (e.get("pages") or []) if isinstance(p, int)][:1]
        last[group] = (t, e)
    findings += _far_dates(exhibits)
    if findings:
        return Check("order", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    first, last_t = min(filter(None, map(_when, exhibits))), max(filter(None, map(_when, exhibits)))
    groups = f" within {len(seen_groups)} group(s)" if any(seen_groups) else ""
    # say which dates the order rests on that the screenshots do not show
    weak = [f"exhibit {e.get('exhibit')} ({e.get('source')}): dated from "
            f"{_WHEN_FROM.get(str(e['when'].get('source')), e['when'].get('source'))}"
            for e in exhibits if isinstance(e.get("when"), dict)
            and e["when"].get("source") in _WHEN_FROM]
    note = f"; {len(weak)} dated from file names, EXIF, file times or by hand" if weak else ""
    return Check("order", "pass", f"{len(exhibits)} exhibit(s) in date order{groups}, "
                 f"{first:%Y-%m-%d} to {last_t:%Y-%m-%d}{note}", findings=weak)


_WHEN_FROM = {"mtime": "the file's modified time", "filename": "the file name",
              "exif": "EXIF", "manual": "a date set by hand"}
