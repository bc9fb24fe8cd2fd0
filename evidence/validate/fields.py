"""Stage `fields`, as recorded at build time: date, client name and email found in every
exhibit (a site capture needs only a date). deep.py confirms them by OCR."""
from __future__ import annotations

from .common import list_of_dicts
from .results import Check


def found(e: dict, key: str) -> bool:
    f = e.get("fields")
    v = f.get(key) if isinstance(f, dict) else None
    return bool(v.get("found")) if isinstance(v, dict) else False


def required(e: dict, key: str) -> bool:
    """Must this exhibit show `key`? A site capture (the client's website) shows no name
    or email, and is dated by its capture time when it shows no date (as `check` rules)."""
    if e.get("kind") in (None, "conversation"):
        return True
    if key != "date":
        return False
    w = e.get("when")
    return not (isinstance(w, dict) and w.get("value") and w.get("source") != "image")


def check_fields(manifest: dict) -> Check:
    findings, pages = [], []
    exhibits = list_of_dicts(manifest.get("exhibits"))
    for e in exhibits:
        missing = [k for k in ("date", "name", "email") if required(e, k) and not found(e, k)]
        if missing:
            first = next((p for p in (e.get("pages") or []) if isinstance(p, int)), None)
            findings.append(f"exhibit {e.get('exhibit')} ({e.get('source')}"
                            f"{f', page {first}' if first else ''}): "
                            f"{', '.join(missing)} not found at build time")
            if first:
                pages.append(first)
    if manifest.get("draft") is True:
        findings.insert(0, f"DRAFT package: {manifest.get('failed_checks', '?')} check(s) "
                        "failed at build time")
    if findings:
        return Check("fields", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    return Check("fields", "pass", f"date, client name and email found in all {len(exhibits)} "
                 "exhibit(s) at build time")
