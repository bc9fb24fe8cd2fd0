"""Field verdicts on the real screenshots (../shared/real-screenshots, truth.json).

Each image is its own case (the folder's README): the client is `client_name`; where
`client_email` is null a made-up address (the name lower-cased, joined by dots,
@example.org) must NOT be found, and where `name_visible` is false the name must not be
found either. The date verdict: some date found iff `date_visible`. Prints, per field,
how many verdicts agree with the truth, the OCR seconds, and (with --save) every
image's verdicts as JSON so two runs can be diffed.

    python bench/real_fields.py [--workers 2] [--save verdicts.json] [--set engine_setting=value ...]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peer_bench import DEFAULT_SET, IMAGE_EXT  # noqa: E402
from evidence import fields  # noqa: E402
from evidence.imageio import sha256_file  # noqa: E402
from evidence.ocr import run_ocr  # noqa: E402


def made_up_email(name: str) -> str:
    words = re.sub(r"[^a-z0-9 -]", "", name.lower()).split()
    return ".".join(words) + "@example.org"


def verdicts(folder: Path, workers: int, settings: dict) -> tuple[dict, float]:
    truth = json.loads((folder / "truth.json").read_text())
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT)
    t = time.perf_counter()
    results = run_ocr([(p, sha256_file(p)) for p in images], "rapidocr", cache=None,
                      workers=workers, settings=settings)
    seconds = time.perf_counter() - t
    out = {}
    for p in images:
        tr, r = truth[p.name], results[p]
        email = tr["client_email"] or made_up_email(tr["client_name"])
        rep = fields.check_fields(r.lines, tr["client_name"], email)
        out[p.name] = {
            "name": rep.name.found == tr["name_visible"],
            "email": rep.email.found == (tr["client_email"] is not None),
            "date": bool(rep.dates) == tr["date_visible"],
            "lines": len(r.lines),
        }
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT_SET)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a RapidEngine setting (json value)")
    args = ap.parse_args()
    settings = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    v, seconds = verdicts(args.folder, args.workers, settings)
    n = len(v)
    print(f"{n} real screenshots, OCR {seconds:.1f} s with {args.workers} workers {settings or ''}")
    for f in ("name", "email", "date"):
        wrong = [k for k, x in v.items() if not x[f]]
        print(f"  {f:5}: {n - len(wrong)}/{n} verdicts as the truth" + (f"  (wrong: {', '.join(wrong)})" if wrong else ""))
    if args.save:
        args.save.write_text(json.dumps(v, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
