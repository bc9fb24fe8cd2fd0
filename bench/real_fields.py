"""Field checks and the filed date (`when`) on the real screenshots, against truth.json.

Each image of ../shared/real-screenshots is its own case (README there): the client is
`client_name`; where `client_email` is null a made-up address (which must NOT be found)
is used. Every image is OCR'd once (cached, so re-runs are instant), checked through
`pipeline.check_one` exactly as `evidence check` does, and compared with the truth:

- name found == name_visible; email found == (client_email is not null);
  date found == date_visible
- filed date: `when` equals message_date, or its month-day equals message_month_day
- look-alike probe: a client whose name and email differ from the truth by one letter
  that OCR does not confuse must fail the name (and the email, where one is shown)

    python bench/real_fields.py [--dir ../shared/real-screenshots] [--cache-dir D] [--cold]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence import ingest, pipeline  # noqa: E402
from evidence.case import parse_case  # noqa: E402
from evidence.ocr import OcrCache, run_ocr  # noqa: E402



def real_dir() -> Path:
    """../shared/real-screenshots beside the checkout (or beside the worktrees' folder);
    $EVIDENCE_REAL_SCREENSHOTS overrides."""
    import os
    env = os.environ.get("EVIDENCE_REAL_SCREENSHOTS")
    if env:
        return Path(env)
    for up in (ROOT.parent, ROOT.parent.parent):
        d = up / "shared" / "real-screenshots"
        if (d / "truth.json").is_file():
            return d
    return ROOT.parent / "shared" / "real-screenshots"


REAL_DIR = real_dir()
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "evidence-real-ocr"


def made_up_email(name: str) -> str:
    """The README's convention for a client whose address is not shown."""
    words = re.sub(r"[^a-z0-9 \-]", "", name.lower()).split()
    return ".".join(words) + "@example.org"


# One letter swapped for one OCR never confuses it with (a/e, r/k, n/d, ...).
_LOOKALIKE = {"a": "e", "e": "a", "o": "a", "u": "a", "r": "k", "n": "d", "d": "n",
              "t": "k", "k": "t", "h": "k", "m": "n", "s": "r", "c": "r", "g": "p",
              "p": "g", "b": "k", "v": "k", "w": "k", "y": "k", "f": "t", "i": "a",
              "l": "r", "j": "k", "z": "r", "x": "r", "q": "p"}


def lookalike(word: str, from_end: bool = False) -> str:
    """`word` with one inner letter changed to a letter OCR does not confuse with it."""
    idx = range(len(word) - 2, 0, -1) if from_end else range(1, len(word) - 1)
    for i in [*idx, *range(len(word))]:  # edge letters only for a word too short
        c = word[i]
        sub = _LOOKALIKE.get(c.lower())
        if sub:
            return word[:i] + (sub.upper() if c.isupper() else sub) + word[i + 1:]
        if c.isalpha() and not c.isascii():  # another script: the next code point
            return word[:i] + chr(ord(c) + 1) + word[i + 1:]
    raise ValueError(f"no letter to change in {word!r}")


def lookalike_client(name: str, email: str) -> tuple[str, str]:
    words = name.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    words[longest] = lookalike(words[longest])
    local, _, domain = email.partition("@")
    return " ".join(words), lookalike(local, from_end=True) + "@" + domain


@dataclass
class Verdict:
    file: str
    name: tuple[bool, bool]  # (got, want)
    email: tuple[bool, bool]
    date: tuple[bool, bool]
    filed: str  # what `when` gave
    filed_want: str | None  # message_date or --MM-DD, None: no requirement
    when_text: str | None
    when_reason: str | None
    probe_ok: bool

    @property
    def filed_ok(self) -> bool | None:
        if self.filed_want is None:
            return None
        if self.filed_want.startswith("--"):
            return self.filed[5:10] == self.filed_want[2:]
        return self.filed[:10] == self.filed_want

    @property
    def fields_ok(self) -> bool:
        return all(g == w for g, w in (self.name, self.email, self.date))


def case_for(name: str, email: str, root: Path):
    return parse_case({"client": {"name": name, "email": email}}, root=root,
                      path=root / "case.toml")


def screenshot(path: Path, sha: str) -> ingest.Screenshot:
    st = path.stat()
    return ingest.Screenshot(path=path, rel=path.name, sha256=sha, size=st.st_size,
                             mtime=dt.datetime.fromtimestamp(st.st_mtime).replace(microsecond=0),
                             note=None, highlight=None, kind="conversation", manual_date=None)


def ocr_all(real: Path, truth: dict, cache_dir: Path, workers: int | None):
    jobs = [(real / f, t["sha256"]) for f, t in truth.items()]
    return run_ocr(jobs, "rapidocr", cache=OcrCache(cache_dir), workers=workers)


def looker(cache_dir: Path):
    """The second look `evidence check` takes at a failing dark screenshot, cached."""
    from evidence.secondlook import second_look
    cache = OcrCache(cache_dir)
    return lambda shot: second_look(shot.path, shot.sha256, "rapidocr", cache)


def evaluate(real: Path, truth: dict, results: dict, look=None) -> list[Verdict]:
    out = []
    for f, t in sorted(truth.items()):
        path = real / f
        email = t["client_email"] or made_up_email(t["client_name"])
        shot = screenshot(path, t["sha256"])
        c = pipeline.check_one(case_for(t["client_name"], email, real), shot, results[path],
                               look=look)
        r = c.report
        want = t["message_date"] or (f"--{t['message_month_day']}" if t["message_month_day"]
                                     else None)
        pname, pemail = lookalike_client(t["client_name"], email)
        p = pipeline.check_one(case_for(pname, pemail, real), shot, results[path], look=look)
        probe_ok = (not p.report.name.found) and not (t["client_email"] and p.report.email.found)
        out.append(Verdict(
            f, (r.name.found, t["name_visible"]), (r.email.found, t["client_email"] is not None),
            (bool(r.dates), t["date_visible"]),
            c.when.value.isoformat(timespec="minutes") + f" ({c.when.source})", want,
            c.when.text, getattr(c.when, "reason", None), probe_ok))
    return out


def report(verdicts: list[Verdict]) -> dict:
    def mark(g, w):
        return "ok " if g == w else ("FP " if g else "FN ")
    for v in verdicts:
        fo = v.filed_ok
        print(f"{v.file:26} name {mark(*v.name)} email {mark(*v.email)} date {mark(*v.date)}"
              f" filed {'-  ' if fo is None else ('ok ' if fo else 'BAD')}"
              f" {v.filed:30} want {v.filed_want or '':11} probe {'ok' if v.probe_ok else 'PASSED'}"
              f"  {v.when_text!r} {v.when_reason or ''}")
    n = len(verdicts)
    filed = [v for v in verdicts if v.filed_want]
    totals = {
        "images": n,
        "name": sum(v.name[0] == v.name[1] for v in verdicts),
        "email": sum(v.email[0] == v.email[1] for v in verdicts),
        "date": sum(v.date[0] == v.date[1] for v in verdicts),
        "all_fields": sum(v.fields_ok for v in verdicts),
        "filed": sum(bool(v.filed_ok) for v in filed), "filed_of": len(filed),
        "probe_failed": sum(v.probe_ok for v in verdicts),
    }
    print(f"\nname {totals['name']}/{n}  email {totals['email']}/{n}  date {totals['date']}/{n}"
          f"  all three {totals['all_fields']}/{n}  filed {totals['filed']}/{totals['filed_of']}"
          f"  look-alike fails {totals['probe_failed']}/{n}")
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=REAL_DIR)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--cold", action="store_true", help="empty OCR cache: time the OCR")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    truth = json.loads((a.dir / "truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) if a.cold else a.cache_dir
        t0 = time.perf_counter()
        results = ocr_all(a.dir, truth, cache, a.jobs)
        ocr_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        verdicts = evaluate(a.dir, truth, results, looker(cache))
        check_s = time.perf_counter() - t1
    totals = report(verdicts)
    print(f"OCR {ocr_s:.1f} s ({ocr_s / len(truth):.2f} s/screenshot"
          f"{', cold' if a.cold else ''}, -j {a.jobs}); checks {check_s:.2f} s for "
          f"{len(truth)} images plus probes")
    if a.json:
        print(json.dumps(totals))


if __name__ == "__main__":
    main()
