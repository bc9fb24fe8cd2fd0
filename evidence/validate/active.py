"""Stage `active-content`: no JavaScript, actions, forms or attachments but the
evidence manifest (what the object walk in scan.py found)."""
from __future__ import annotations

import re

from ..manifest import MANIFEST_NAME
from .results import Check
from .scan import Scan


def check_active(scan: Scan, manifest_spec) -> Check:
    findings = [f for f, _ in scan.found]
    allowed = 0
    for name, spec in scan.filespecs:
        if name == MANIFEST_NAME and manifest_spec is not None and allowed == 0:
            allowed += 1
            continue
        findings.append(f"embedded file {name!r}")
    if scan.embedded_streams > len(scan.filespecs):
        findings.append(f"{scan.embedded_streams - len(scan.filespecs)} embedded file stream(s) "
                        "without a file specification")
    findings = list(dict.fromkeys(findings))
    pages = sorted({int(m.group(1)) for f in findings if (m := re.search(r" on page (\d+)", f))})
    if findings:
        return Check("active-content", "fail", "; ".join(findings[:4]) +
                     (f" (+{len(findings) - 4} more)" if len(findings) > 4 else ""),
                     findings=findings, pages=pages)
    extra = f"; {len(scan.warnings)} link(s) to outside addresses" if scan.warnings else ""
    att = "; the only attachment is the evidence manifest" if allowed else ""
    return Check("active-content", "pass", "no JavaScript, actions, forms or foreign attachments"
                 + att + extra, findings=list(scan.warnings))
