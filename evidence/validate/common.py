"""Small helpers every stage uses: one line of an error, and typed reads of a manifest,
which came out of a file someone may have edited (a wrong type reads as missing)."""
from __future__ import annotations


def first_line(e: BaseException | str) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 300 else line[:299] + "…"


def str_or_none(v) -> str | None:
    return v if isinstance(v, str) and v else None


def int_or_none(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def list_of_dicts(v) -> list[dict]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def dispute(manifest: dict | None) -> dict:
    case = manifest.get("case") if isinstance(manifest, dict) else None
    d = case.get("dispute") if isinstance(case, dict) else None
    return d if isinstance(d, dict) else {}
