"""Stages `case` (with a case folder: every source unchanged since the build, no
screenshot of the case left out) and `deadline` (the respond-by date)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from .common import dispute, list_of_dicts, str_or_none
from .results import Check


DEADLINE_WARN_DAYS = 3


def check_case(manifest: dict | None, case, all_paths: list[Path]) -> Check:
    from .. import ingest
    from ..imageio import sha256_file

    if manifest is None:
        return Check("case", "warn", f"no manifest to compare with the case {case.root}")
    findings, pages = [], []
    client = (manifest.get("case") or {}).get("client") if isinstance(manifest.get("case"), dict) else None
    if isinstance(client, dict) and (client.get("name"), client.get("email")) != \
            (case.client.name, case.client.email):
        findings.append(f"the package is for {client.get('name')} <{client.get('email')}>, the case "
                        f"for {case.client.name} <{case.client.email}>")
    dispute_id = str_or_none(dispute(manifest).get("id"))
    if dispute_id and case.dispute.id and dispute_id != case.dispute.id:
        findings.append(f"the package is for dispute {dispute_id}, the case for {case.dispute.id}")
    exhibits = list_of_dicts(manifest.get("exhibits"))
    in_package = set()
    for e in exhibits:
        src = e.get("source")
        if not isinstance(src, str):
            continue
        in_package.add(src)
        first = next((p for p in (e.get("pages") or []) if isinstance(p, int)), None)
        where = f"exhibit {e.get('exhibit')} ({src}{f', page {first}' if first else ''})"
        path = case.root / src
        try:
            digest = sha256_file(path)
        except FileNotFoundError:
            findings.append(f"{where}: the source is no longer in the case folder")
            continue
        except OSError as ex:
            findings.append(f"{where}: the source cannot be read: {ex.strerror or ex}")
            continue
        if digest != e.get("source_sha256"):
            findings.append(f"{where}: the source was changed after the build (SHA-256 differs)")
            if first:
                pages.append(first)
    left_out = {x.get("source") for x in list_of_dicts(manifest.get("left_out"))}
    found = ingest.discover(case, exclude=set(all_paths))
    missing = [s.rel for s in found.screenshots if s.rel not in in_package and s.rel not in left_out]
    for rel in missing:
        findings.append(f"{rel}: a screenshot of the case that is not in the package")
    if findings:
        return Check("case", "fail", "; ".join(findings[:3]) +
                     (f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""),
                     findings=findings, pages=pages)
    return Check("case", "pass", f"all {len(in_package)} source(s) unchanged since the build; "
                 f"every screenshot of {case.root.name} is in the package"
                 + (f" or was left out ({len(left_out)})" if left_out else ""))


def check_deadline(manifest: dict | None, case, today: dt.date | None) -> Check | None:
    today = today or dt.date.today()
    raw = dispute(manifest).get("respond_by") if manifest is not None else None
    respond_by: dt.date | None = None
    if manifest is not None and raw is not None:
        try:
            respond_by = dt.date.fromisoformat(str(raw)[:10])
        except ValueError:
            return Check("deadline", "warn", f"the manifest's respond-by date {raw!r} is not a date")
    elif manifest is None and case is not None:
        respond_by = case.dispute.respond_by
    if respond_by is None:
        if manifest is None and case is None:
            return None
        return Check("deadline", "skip", "no respond-by date recorded")
    days = (respond_by - today).days
    if days < 0:
        return Check("deadline", "fail", f"the respond-by date {respond_by} passed {-days} "
                     f"day(s) ago (today is {today})")
    if days == 0:
        return Check("deadline", "warn", f"respond by today ({respond_by})")
    if days <= DEADLINE_WARN_DAYS:
        return Check("deadline", "warn", f"only {days} day(s) left: respond by {respond_by}")
    return Check("deadline", "pass", f"respond by {respond_by} ({days} days left)")
