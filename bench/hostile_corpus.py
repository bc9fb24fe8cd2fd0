"""Run check, build and validate over other projects' hostile test corpora; count failures.

    python bench/hostile_corpus.py --images PILLOW/Tests/images \
        --pdfs PDFJS/test/pdfs QPDF PYPDF_SAMPLE_FILES [--work /tmp/hostile]

Nothing here is committed data: fetch the corpora yourself (python-pillow/Pillow's
Tests/images; mozilla/pdf.js's test/pdfs; qpdf/qpdf and py-pdf/sample-files, every *.pdf).
Every image is copied, renamed `.png`, into cases of `--batch` screenshots; `check --json`
and `build --draft --json` run over each case, `validate --json` over the PDFs in batches.
Each run is niced, bounded in time (`--per-file` seconds per file plus a start-up
allowance) and in memory (RLIMIT_AS, `--mem-gb`). A batch that fails is split and run
again until the failing file is found alone.

Printed per command: files, internal errors, hangs, memory kills, unnamed unusable files
(a file in the case neither used nor named with a reason; a PDF without a verdict), and
third-party lines leaked to stderr. The issue's target: 0 in every column but `files`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE_TOML = '[client]\nname = "Jane Cooper"\nemail = "jane.cooper@example.com"\n'
# stderr lines our CLI writes on purpose; anything else leaked from a library
OURS = re.compile(r"^((error|skipped|warning|hint|not used|interrupted|wrote)\b|OCR \d)|^  \S")


@dataclass
class Tally:
    files: int = 0
    internal: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    memory: list[str] = field(default_factory=list)
    unnamed: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    verdicts: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def limits(mem_gb: float):
    def apply():
        os.nice(10)
        cap = int(mem_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return apply


def run(args: list[str], timeout: float, mem_gb: float, env: dict) -> tuple[str, int | None, str, str]:
    """(outcome, exit code, stdout, stderr); outcome is ok, hang or memory."""
    try:
        p = subprocess.run([sys.executable, "-m", "evidence.cli", *args], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=timeout,
                           preexec_fn=limits(mem_gb), errors="replace")
    except subprocess.TimeoutExpired as e:
        return "hang", None, "", str(e.stderr or "")
    if p.returncode < 0 or "MemoryError" in p.stderr or "out of memory" in p.stderr.lower():
        return "memory", p.returncode, p.stdout, p.stderr
    return "ok", p.returncode, p.stdout, p.stderr


def json_of(stdout: str) -> dict | None:
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def leaked(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not OURS.match(ln)]


# --- images ----------------------------------------------------------------------------

def make_case(folder: Path, files: list[Path]) -> dict[str, Path]:
    """A case whose screenshots are `files`, each renamed .png; returns {rel: source}."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "screenshots").mkdir(parents=True)
    (folder / "case.toml").write_text(CASE_TOML, encoding="utf-8")
    names = {}
    for i, src in enumerate(files):
        rel = f"screenshots/{i:04d}_{re.sub(r'[^A-Za-z0-9._-]', '_', src.name)}.png"
        shutil.copyfile(src, folder / rel)
        names[rel] = src
    return names



def count_run(tally, files, outcome: str, code, err: str, internal: bool) -> bool:
    """Count one run over `files` (one file, or a batch that went well): a hang, a memory
    kill or an internal error is recorded and True returned (nothing more to read);
    otherwise the stderr lines that leaked are recorded and False returned."""
    tally.files += len(files)
    label = str(files[0]) + (f" (+{len(files) - 1} more)" if len(files) > 1 else "")
    if outcome == "hang":
        tally.hangs.append(label)
        return True
    if outcome == "memory":
        tally.memory.append(f"{label}: exit {code}")
        return True
    if internal:
        tally.internal.append(f"{label}: exit {code}: {err.strip()[-300:]}")
        return True
    tally.leaked += [f"{label}: {ln}" for ln in leaked(err)]
    return False

def image_batch(files: list[Path], work: Path, cmd: str, opts, tally: Tally, env: dict) -> None:
    case = work / f"case-{cmd}"
    names = make_case(case, files)
    timeout = 60 + opts.per_file * len(files)
    args = ([cmd, str(case), "--json", "-j", str(opts.jobs), "--cache-dir", str(work / "cache")]
            + (["--draft", "-o", str(work / "out.pdf"), "--max-pages", "10000",
                "--max-size", "2GB"] if cmd == "build" else []))
    start = time.monotonic()
    outcome, code, out, err = run(args, timeout, opts.mem_gb, env)
    tally.seconds += time.monotonic() - start
    data = json_of(out)
    internal = "internal error" in err or data is None
    if (outcome != "ok" or internal) and len(files) > 1:  # find the file alone
        half = len(files) // 2
        image_batch(files[:half], work, cmd, opts, tally, env)
        image_batch(files[half:], work, cmd, opts, tally, env)
        return
    if count_run(tally, files, outcome, code, err, internal):
        return
    if data.get("ok") is False and "exit_code" in data and cmd == "build":  # refused whole, with its reason
        tally.verdicts[f"exit {data['exit_code']}"] += len(files)
        return
    if cmd == "check":
        used = {s["file"] for s in data.get("screenshots", []) if s.get("error") is None}
        tally.verdicts.update("passed" if s.get("ok") else "failed checks"
                              for s in data.get("screenshots", []) if s.get("error") is None)
    else:
        used = set(data.get("order", []))
        tally.verdicts["exhibits"] += len(used)
    named = {u["file"] for u in data.get("unused", []) if u.get("reason")}
    tally.verdicts["named unusable"] += len(named & set(names))
    for rel, src in names.items():
        if rel not in used and rel not in named:
            tally.unnamed.append(f"{src} (as {rel})")


# --- PDFs ----------------------------------------------------------------------------

def pdf_batch(files: list[Path], opts, tally: Tally, env: dict) -> None:
    timeout = 30 + opts.per_file * len(files)
    start = time.monotonic()
    outcome, code, out, err = run(["validate", *map(str, files), "--json"], timeout,
                                  opts.mem_gb, env)
    tally.seconds += time.monotonic() - start
    data = json_of(out)
    internal = "internal error" in err or data is None or "packages" not in data
    if (outcome != "ok" or internal) and len(files) > 1:
        half = len(files) // 2
        pdf_batch(files[:half], opts, tally, env)
        pdf_batch(files[half:], opts, tally, env)
        return
    if count_run(tally, files, outcome, code, err, internal):
        return
    seen = {}
    for p in data["packages"]:
        seen[p.get("file")] = p
    for f in files:
        p = seen.get(str(f))
        if p is None:
            tally.unnamed.append(f"{f}: no verdict")
            continue
        verdict = "unreadable" if p.get("unreadable") else ("pass" if p.get("ok") else "fail")
        tally.verdicts[verdict] += 1
        if not p.get("ok") and not any(c.get("detail") for c in p.get("checks", [])
                                       if c.get("status") != "pass"):
            tally.unnamed.append(f"{f}: a failing verdict without a reason")


def report(name: str, t: Tally) -> None:
    print(f"{name:9} files {t.files:5}  internal {len(t.internal)}  hangs {len(t.hangs)}  "
          f"memory {len(t.memory)}  unnamed {len(t.unnamed)}  leaked {len(t.leaked)}  "
          f"{t.seconds:.0f} s  {dict(t.verdicts)}")
    for what in ("internal", "hangs", "memory", "unnamed", "leaked"):
        for line in getattr(t, what)[:10]:
            print(f"  {what}: {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", nargs="*", type=Path, default=[],
                    help="folders of images (every file is renamed .png)")
    ap.add_argument("--pdfs", nargs="*", type=Path, default=[], help="folders searched for *.pdf")
    ap.add_argument("--work", type=Path, default=Path("/tmp/evidence-hostile"))
    ap.add_argument("--batch", type=int, default=150)
    ap.add_argument("--pdf-batch", type=int, default=60)
    ap.add_argument("--per-file", type=float, default=20.0, help="seconds allowed per file")
    ap.add_argument("--mem-gb", type=float, default=3.0, help="address-space cap per run")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--skip-build", action="store_true")
    opts = ap.parse_args(argv)
    opts.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(opts.work / "xdg")}
    env.pop("EVIDENCE_DEBUG", None)

    images = sorted(p for d in opts.images for p in d.rglob("*") if p.is_file())
    pdfs = sorted(p for d in opts.pdfs for p in d.rglob("*") if p.is_file()
                  and p.suffix.lower() == ".pdf")
    tallies = {}
    for cmd in ("check",) + (() if opts.skip_build else ("build",)):
        if not images:
            break
        t = tallies[cmd] = Tally()
        for i in range(0, len(images), opts.batch):
            image_batch(images[i:i + opts.batch], opts.work, cmd, opts, t, env)
        report(cmd, t)
    if pdfs:
        t = tallies["validate"] = Tally()
        for i in range(0, len(pdfs), opts.pdf_batch):
            pdf_batch(pdfs[i:i + opts.pdf_batch], opts, t, env)
        report("validate", t)
    bad = sum(len(t.internal) + len(t.hangs) + len(t.memory) + len(t.unnamed)
              for t in tallies.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
