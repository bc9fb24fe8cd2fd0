"""evidence watch: the real watcher (real watchfiles) on temporary folders.

A fake builder stands in for the build (fast, and it records what it saw); waits poll a
condition with a timeout. Timings: debounce 0.2 s, so a test takes a second or two.
"""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from evidence import watch as watch_mod
from evidence.case import load_case
from evidence.errors import CaseError, ChecksFailed, InputError
from evidence.imageio import probe_image
from evidence.output import atomic_write_bytes
from evidence.watch import (CaseFiles, Changes, Settle, Watcher, diff, find_cases, format_line,
                            is_relevant, scan)

DEBOUNCE = 0.2
CLIENT = '[client]\nname = "Jane Cooper"\nemail = "jane@example.com"\n'
REPO = Path(__file__).resolve().parents[1]


# --- helpers ------------------------------------------------------------------------


def make_case(folder: Path, extra: str = "") -> Path:
    (folder / "screenshots").mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(CLIENT + extra, encoding="utf-8")
    return folder


def png_bytes(seed: int = 0, size=(120, 160)) -> bytes:
    """A PNG that does not compress away (noise), so it can be written in chunks."""
    im = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def png(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(seed))
    return path


def wait_for(cond, timeout: float = 5.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def quiet() -> None:
    """Long enough for a build to have started if anything had triggered one."""
    time.sleep(DEBOUNCE * 4 + 0.4)


class FakeBuilder:
    """Records each call: the case, the images present and whether all of them decode.
    Writes a package atomically like the real build. `fail(case_dir)` may raise."""

    def __init__(self, fail=None, delay: float = 0.0):
        self.calls: list[dict] = []
        self.fail = fail
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, case_dir: Path):
        shots = sorted(p for p in (case_dir / "screenshots").rglob("*")
                       if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}
                       and not p.name.startswith((".", "~$", "._")))
        decodes = True
        for p in shots:
            try:
                probe_image(p)
            except InputError:
                decodes = False
        with self.lock:
            self.calls.append({"case": case_dir.name, "files": [p.name for p in shots],
                               "decodes": decodes})
        time.sleep(self.delay)
        if self.fail:
            self.fail(case_dir)
        data = b"%PDF-fake\n" + "\n".join(p.name for p in shots).encode()
        out = case_dir / "evidence.pdf"
        atomic_write_bytes(out, data)
        return types.SimpleNamespace(output=out, bytes=len(data), pages=len(shots) + 1,
                                     order=[p.name for p in shots], failed=[], draft=False)

    def count(self, case: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.calls if case is None or c["case"] == case)


@contextmanager
def running(root: Path, builder, **kw):
    lines: list[str] = []
    status: list[str] = []
    w = Watcher(root, builder, debounce=kw.pop("debounce", DEBOUNCE), log=lines.append,
                say=status.append, **kw)
    stop = threading.Event()
    errors: list[BaseException] = []

    def target():
        try:
            w.run(stop)
        except BaseException as e:  # surfaced by the test below
            errors.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    try:
        yield types.SimpleNamespace(watcher=w, lines=lines, status=status, errors=errors)
    finally:
        stop.set()
        t.join(5)
        assert not t.is_alive(), "watcher did not stop within 5 s of its stop event"
    assert not errors, errors


def built(b: FakeBuilder, r, n: int, what: str = "the rebuild", timeout: float = 5.0):
    """Wait until the builder ran n times and the n-th line was logged (it comes after)."""
    wait_for(lambda: b.count() == n and len(r.lines) >= n, timeout=timeout, what=what)


def started(b: FakeBuilder, r, n: int = 1):
    built(b, r, n, what=f"{n} initial build(s)")


# --- pure helpers -------------------------------------------------------------------


def test_find_cases_single_and_multi(tmp_path):
    single = make_case(tmp_path / "one")
    assert find_cases(single) == [single]
    multi = tmp_path / "many"
    a, b = make_case(multi / "a"), make_case(multi / "b")
    (multi / "not-a-case").mkdir()
    make_case(multi / ".hidden")
    assert find_cases(multi) == [a, b]
    assert find_cases(tmp_path / "many" / "not-a-case") == []


def test_is_relevant_whitelists_inputs(tmp_path):
    root = tmp_path.resolve()
    files = CaseFiles(root, listed=frozenset({"extra/shot.png"}), output=root / "evidence.pdf",
                      skip_dirs=(root / "cache",))
    yes = ["case.toml", "screenshots/a.png", "screenshots/sub/B.JPG", "screenshots/a.png.txt",
           "screenshots/c.webp", "screenshots/photo.heic", "extra/shot.png", "extra/shot.png.txt",
           "rebuttal.md", "documents/invoice.pdf", "documents/scans/receipt.JPG"]
    no = ["evidence.pdf", ".evidence.pdf.x1y2.tmp", "screenshots/.DS_Store", "screenshots/._a.png",
          "screenshots/Thumbs.db", "screenshots/a.png.part", "screenshots/a.crdownload",
          "screenshots/a.tmp", "screenshots/~$a.png", "screenshots/.a.png.swp", "screenshots/a.png~",
          "screenshots/notes.txt", "screenshots/doc.pdf", "documents/notes.docx",
          "documents/.~lock.pdf", "cache/abc.json", "cache/x.png",
          ".git/x.png", "screenshots/.hidden/a.png", "other/a.png", "truth.json"]
    assert [r for r in yes if not is_relevant(root / r, files)] == []
    assert [r for r in no if is_relevant(root / r, files)] == []
    assert not is_relevant(tmp_path.parent / "elsewhere.png", files)
    # the package is never an input, even with an image's name
    odd = CaseFiles(root, output=root / "screenshots" / "out.png")
    assert not is_relevant(root / "screenshots" / "out.png", odd)


def test_scan_diff_and_change_text(tmp_path):
    root = make_case(tmp_path)
    png(root / "screenshots" / "a.png")
    png(root / "screenshots" / "b.png", 1)
    (root / "screenshots" / ".DS_Store").write_bytes(b"x")
    (root / "evidence.pdf").write_bytes(b"%PDF")
    files = CaseFiles(root.resolve())
    before = scan(files)
    assert sorted(before) == ["case.toml", "screenshots/a.png", "screenshots/b.png"]
    (root / "documents").mkdir()
    (root / "documents" / "invoice.pdf").write_bytes(b"%PDF-1.4")
    (root / "rebuttal.md").write_text("We delivered.")
    assert sorted(scan(files).keys() - before.keys()) == ["documents/invoice.pdf", "rebuttal.md"]
    (root / "documents" / "invoice.pdf").unlink()
    (root / "rebuttal.md").unlink()
    (root / "screenshots" / "b.png").unlink()
    png(root / "screenshots" / "c.png", 2)
    (root / "screenshots" / "a.png").write_bytes(png_bytes(3))
    ch = diff(before, scan(files))
    assert (ch.added, ch.changed, ch.deleted) == (["screenshots/c.png"], ["screenshots/a.png"],
                                                  ["screenshots/b.png"])
    assert str(ch) == "+1 ~1 -1 (+c.png ~a.png -b.png)"
    many = Changes(added=[f"screenshots/{i}.png" for i in range(30)])
    assert str(many) == "+30 ~0 -0"
    assert not diff(before, before)


def test_settle_counts_time_unchanged():
    s = Settle()
    assert s.update({"a": (1, 1)}, 10.0) == 0.0
    assert s.update({"a": (1, 1)}, 10.5) == 0.5
    assert s.update({"a": (2, 2)}, 11.0) == 0.0
    assert s.update({"a": (2, 2)}, 12.0) == 1.0
    s.prime({"a": (1, 5_000_000_000)}, now=100.0, wall=65.0)  # mtime 5 s, now 65 s: still 60 s
    assert s.update({"a": (1, 5_000_000_000)}, 100.0) == 60.0


def test_format_line():
    import datetime as dt
    r = types.SimpleNamespace(order=["a", "b"], bytes=1234, failed=[])
    when = dt.datetime(2025, 6, 1, 14, 3, 22)
    assert (format_line(when, "acme", r, 2.345, "+1 ~0 -0 (+a.png)", "ok")
            == "2025-06-01 14:03:22 acme  2 exhibits  1234 bytes  2.3 s  +1 ~0 -0 (+a.png)  ok")
    assert (format_line(when, "acme", None, 0.01, "~1", "failed: x")
            == "2025-06-01 14:03:22 acme  - exhibits  - bytes  0.0 s  ~1  failed: x")


def test_draft_and_long_failures_stay_one_short_line(tmp_path):
    root = make_case(tmp_path / "case").resolve()
    lines: list[str] = []
    draft = types.SimpleNamespace(order=["a", "b", "c"], bytes=10, draft=True,
                                  failed=["screenshots/a.png", str(root / "screenshots" / "x.heic")])
    w = Watcher(root, lambda d: draft, log=lines.append, say=lambda s: None)
    w._discover()
    (st,) = w.cases.values()
    w.build(st, scan(st.files), None)
    assert lines[-1].endswith("  3 exhibits  10 bytes  0.0 s  initial  "
                              "ok (draft; 2 failing checks: a.png x.heic)")

    def fail(d):
        raise ChecksFailed("100 check(s) failed, nothing written:\n  "
                           + "\n  ".join(f"{root}/screenshots/{i}.png: no date" for i in range(100)))
    w.builder = fail
    w.build(st, scan(st.files), None)
    reason = lines[-1].split("  failed: ", 1)[1]
    assert "\n" not in lines[-1] and str(root) not in reason
    assert reason.startswith("100 check(s) failed, nothing written: screenshots/0.png: no date")
    assert len(reason) == watch_mod.MAX_REASON and reason.endswith("…")


def test_output_only_for_one_case(tmp_path):
    make_case(tmp_path / "a")
    with pytest.raises(CaseError, match="one case folder"):
        Watcher(tmp_path, FakeBuilder(), output=tmp_path / "x.pdf")
    Watcher(tmp_path / "a", FakeBuilder(), output=tmp_path / "x.pdf")  # fine


# --- the real watcher ---------------------------------------------------------------


def test_slowly_written_screenshot_is_built_once_complete(tmp_path):
    root = make_case(tmp_path / "case")
    b = FakeBuilder()
    with running(root, b) as r:
        started(b, r)
        assert r.lines[0].split("  ")[-1] == "ok" and "initial" in r.lines[0]
        data = png_bytes(5, size=(200, 200))
        with open(root / "screenshots" / "slow.png", "wb") as f:
            for i in range(0, len(data), len(data) // 10 + 1):  # ~1 s, pauses < debounce
                f.write(data[i:i + len(data) // 10 + 1])
                f.flush()
                time.sleep(0.1)
        built(b, r, 2, what="the rebuild")
        quiet()
        assert b.count() == 2
        assert b.calls[1]["files"] == ["slow.png"] and b.calls[1]["decodes"]
        assert "+1 ~0 -0 (+slow.png)" in r.lines[1] and r.lines[1].endswith("  ok")


def test_stalled_writer_waits_for_a_decodable_image(tmp_path, monkeypatch):
    """Still for longer than the debounce but not decodable yet: wait, do not build."""
    monkeypatch.setattr(watch_mod, "CORRUPT_AFTER", 10)
    root = make_case(tmp_path / "case")
    b = FakeBuilder()
    with running(root, b) as r:
        started(b, r)
        data = png_bytes(6, size=(200, 200))
        with open(root / "screenshots" / "stall.png", "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(DEBOUNCE * 4)  # stable, but a truncated PNG
            assert b.count() == 1
            f.write(data[len(data) // 2:])
        built(b, r, 2, what="the rebuild")
        assert b.calls[1]["decodes"]


def test_burst_of_files_gives_one_rebuild(tmp_path):
    root = make_case(tmp_path / "case")
    b = FakeBuilder()
    blobs = [png_bytes(i, size=(60, 80)) for i in range(40)]
    with running(root, b) as r:
        started(b, r)
        for i, blob in enumerate(blobs):
            (root / "screenshots" / f"IMG_{i:03}.png").write_bytes(blob)
            (root / "screenshots" / f"IMG_{i:03}.png.txt").write_text(f"note {i}")
        built(b, r, 2, what="the rebuild")
        quiet()
        assert b.count() == 2
        assert len(b.calls[1]["files"]) == 40
        assert "+80 ~0 -0  ok" in r.lines[1]


def test_ignored_files_and_the_package_never_trigger_a_build(tmp_path):
    root = make_case(tmp_path / "case")
    png(root / "screenshots" / "a.png")
    cache = root / "ocr-cache"
    b = FakeBuilder()
    with running(root, b, cache_dir=cache) as r:
        started(b, r)
        s = root / "screenshots"
        for junk in [".DS_Store", "._a.png", "Thumbs.db", "b.png.part", "c.png.crdownload",
                     "d.tmp", "~$e.png", ".a.png.swp", "a.png~", ".hidden.png", "notes.txt",
                     "doc.pdf"]:
            (s / junk).write_bytes(png_bytes(7))
        (s / ".thumbs").mkdir()
        (s / ".thumbs" / "t.png").write_bytes(png_bytes(8))
        atomic_write_bytes(root / "evidence.pdf", b"%PDF-by-someone-else")  # + its .tmp
        (root / ".evidence.pdf.abc123.tmp").write_bytes(b"partial")
        cache.mkdir()
        (cache / "0123abcd.json").write_text("{}")
        (cache / "odd.png").write_bytes(png_bytes(9))
        (root / "truth.json").write_text("{}")
        quiet()
        assert b.count() == 1, r.lines
        # a sidecar note is an input: the watcher is alive and listening
        (s / "a.png.txt").write_text("Client accepts the design")
        built(b, r, 2, what="the rebuild for a note")
        assert "(+a.png.txt)" in r.lines[1]


def test_deleted_and_renamed_screenshots_trigger_rebuilds(tmp_path):
    root = make_case(tmp_path / "case")
    png(root / "screenshots" / "a.png")
    png(root / "screenshots" / "b.png", 1)
    b = FakeBuilder()
    with running(root, b) as r:
        started(b, r)
        assert b.calls[0]["files"] == ["a.png", "b.png"]
        (root / "screenshots" / "b.png").unlink()
        built(b, r, 2, what="the rebuild after a delete")
        assert b.calls[1]["files"] == ["a.png"]
        assert "+0 ~0 -1 (-b.png)" in r.lines[1]
        os.rename(root / "screenshots" / "a.png", root / "screenshots" / "z.png")
        built(b, r, 3, what="the rebuild after a rename")
        assert b.calls[2]["files"] == ["z.png"]
        assert "+1 ~0 -1 (+z.png -a.png)" in r.lines[2]
        # a folder of screenshots moved in gives one event for the folder alone
        batch = tmp_path / "batch"
        png(batch / "c.png", 2)
        png(batch / "d.png", 3)
        os.rename(batch, root / "screenshots" / "batch")
        built(b, r, 4, what="the rebuild after a folder moved in")
        assert b.calls[3]["files"] == ["c.png", "d.png", "z.png"]


def test_corrupt_screenshot_and_broken_case_toml_keep_the_watcher_going(tmp_path):
    root = make_case(tmp_path / "case")
    png(root / "screenshots" / "a.png")

    def fail(case_dir):
        load_case(case_dir)  # a broken case.toml raises CaseError, like the build
        for p in (case_dir / "screenshots").glob("*.png"):
            try:
                probe_image(p)
            except InputError as e:
                raise ChecksFailed(f"1 screenshot failed: {p.name}: {e.message}") from None

    b = FakeBuilder(fail=fail)
    with running(root, b) as r:
        started(b, r)
        package = (root / "evidence.pdf").read_bytes()
        (root / "screenshots" / "bad.png").write_bytes(png_bytes(4)[:300])  # truncated for good
        built(b, r, 2, what="the build reporting the corrupt file")
        wait_for(lambda: len(r.lines) == 2)
        assert "(+bad.png)" in r.lines[1] and "failed: 1 screenshot failed: bad.png" in r.lines[1]
        assert r.lines[1].count("\n") == 0
        assert (root / "evidence.pdf").read_bytes() == package  # last good package stays
        (root / "screenshots" / "bad.png").unlink()
        wait_for(lambda: len(r.lines) == 3)
        assert r.lines[2].endswith("  ok")

        (root / "case.toml").write_text("[client\nname = ", encoding="utf-8")
        wait_for(lambda: len(r.lines) == 4, what="the failed build for a broken case.toml")
        assert "(~case.toml)" in r.lines[3] and "failed: case.toml: TOML syntax error" in r.lines[3]
        make_case(root)  # fixed
        wait_for(lambda: len(r.lines) == 5, what="the build after the fix")
        assert r.lines[4].endswith("  ok")


def test_unexpected_builder_error_is_logged_not_fatal(tmp_path):
    root = make_case(tmp_path / "case")
    b = FakeBuilder(fail=lambda d: 1 / 0)
    with running(root, b) as r:
        started(b, r)
        wait_for(lambda: r.lines)
        assert "failed: internal error: ZeroDivisionError" in r.lines[0]
        png(root / "screenshots" / "a.png")
        built(b, r, 2, what="a build after the crash")


def test_new_case_folder_is_picked_up_and_a_removed_one_dropped(tmp_path):
    root = tmp_path / "cases"
    make_case(root / "a")
    b = FakeBuilder()
    with running(root, b) as r:
        started(b, r)
        make_case(root / "b")
        png(root / "b" / "screenshots" / "x.png")
        wait_for(lambda: b.count("b") >= 1, what="the new case's build")
        # a complete case folder moved in at once
        ready = make_case(tmp_path / "c")
        png(ready / "screenshots" / "y.png")
        os.rename(ready, root / "c")
        wait_for(lambda: b.count("c") == 1, what="the moved-in case's build")
        assert b.calls[-1]["files"] == ["y.png"]
        quiet()
        assert b.count("a") == 1 and b.count("c") == 1
        assert any("new case: b" in s for s in r.status)
        # files directly in the root, or in folders without case.toml, are nobody's input
        png(root / "loose.png")
        (root / "draft").mkdir()
        png(root / "draft" / "screenshots" / "z.png")
        import shutil
        shutil.rmtree(root / "c")
        wait_for(lambda: any("case gone: c" in s for s in r.status), what="case gone")
        n = b.count()
        quiet()
        assert b.count() == n


def test_polling_mode(tmp_path):
    root = make_case(tmp_path / "case")
    b = FakeBuilder()
    with running(root, b, poll=True) as r:
        started(b, r)
        png(root / "screenshots" / "a.png")
        built(b, r, 2, what="a build seen by polling")
        assert "polling" in r.status[0]


def test_stop_event_stops_an_idle_watcher_quickly(tmp_path):
    root = make_case(tmp_path / "case")
    b = FakeBuilder()
    w = Watcher(root, b, debounce=DEBOUNCE, log=lambda s: None, say=lambda s: None)
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,), daemon=True)
    t.start()
    wait_for(lambda: b.count() == 1, what="the initial build")
    t0 = time.monotonic()
    stop.set()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - t0 < 1.0


# --- the command --------------------------------------------------------------------


@pytest.fixture
def fake_pipeline(monkeypatch):
    """Stand in for pipeline.build / BuildOptions (the CLI looks them up at call time)."""
    from evidence import pipeline

    calls = []

    def build(case_dir, options):
        calls.append((Path(case_dir).name, options))
        load_case(case_dir)
        out = options.output or Path(case_dir) / "evidence.pdf"
        atomic_write_bytes(out, b"%PDF-fake")
        return types.SimpleNamespace(output=out, bytes=9, pages=1, order=["a"], failed=[],
                                     draft=options.draft)

    monkeypatch.setattr(pipeline, "build", build, raising=False)
    monkeypatch.setattr(pipeline, "BuildOptions", types.SimpleNamespace, raising=False)
    return calls


def test_once_via_cli(tmp_path, fake_pipeline):
    from click.testing import CliRunner

    from evidence.cli import cli

    root = tmp_path / "cases"
    make_case(root / "a")
    make_case(root / "b")
    res = CliRunner().invoke(cli, ["watch", str(root), "--once", "--draft", "--debounce", "0.2"])
    assert res.exit_code == 0, res.output
    assert [c[0] for c in fake_pipeline] == ["a", "b"]
    assert all(c[1].draft and c[1].use_cache for c in fake_pipeline)
    assert res.stdout.count("  ok\n") == 2 and " a  1 exhibits  9 bytes" in res.stdout

    (root / "b" / "case.toml").write_text("nope = [", encoding="utf-8")
    res = CliRunner().invoke(cli, ["watch", str(root), "--once", "--debounce", "0.2"])
    assert res.exit_code == 1
    assert "failed: case.toml: TOML syntax error" in res.stdout

    res = CliRunner().invoke(cli, ["watch", str(root), "--once", "-o", str(tmp_path / "x.pdf")])
    assert res.exit_code == 2 and "one case folder" in res.output

    out = tmp_path / "out" / "x.pdf"
    out.parent.mkdir()
    res = CliRunner().invoke(cli, ["watch", str(root / "a"), "--once", "-o", str(out)])
    assert res.exit_code == 0 and out.read_bytes() == b"%PDF-fake"

    res = CliRunner().invoke(cli, ["watch", str(tmp_path / "out"), "--once"])
    assert res.exit_code == 1 and "no case folder" in res.output


# The subprocess runs evidence.cli's main() with a fake build that holds its temp file open
# for FAKE_BUILD_SECONDS, so a SIGTERM can land in the middle of a write.
FAKE_MAIN = textwrap.dedent("""
    import os, sys, time, types
    from pathlib import Path
    import evidence.pipeline as p
    from evidence.output import atomic_path

    def build(case_dir, options):
        target = Path(case_dir) / "evidence.pdf"
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"%PDF-new")
            print("building", flush=True, file=sys.stderr)
            time.sleep(float(os.environ.get("FAKE_BUILD_SECONDS", "0")))
        return types.SimpleNamespace(output=target, bytes=8, pages=1, order=["a"], failed=[],
                                     draft=False)

    p.build = build
    p.BuildOptions = types.SimpleNamespace
    from evidence.cli import main
    sys.argv = ["evidence"] + sys.argv[1:]
    main()
""")


class Proc:
    def __init__(self, args, env=None):
        self.p = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, **(env or {})})
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")),
                             daemon=True).start()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)


def test_sigterm_stops_an_idle_watcher_within_2s(tmp_path):
    root = make_case(tmp_path / "case")
    proc = Proc([sys.executable, "-c", FAKE_MAIN, "watch", str(root), "--debounce", "0.2"])
    try:
        wait_for(lambda: proc.out, timeout=15, what="the initial build line")
        assert proc.out[0].rstrip().endswith("  ok")
        t0 = time.monotonic()
        proc.p.send_signal(signal.SIGTERM)
        rc = proc.p.wait(2)
        assert time.monotonic() - t0 < 2
        assert rc == 0
        wait_for(lambda: any("stopped (SIGTERM)" in e for e in proc.err))
    finally:
        proc.stop()
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []
    assert (root / "evidence.pdf").read_bytes() == b"%PDF-new"


def test_sigterm_during_a_build_leaves_no_partial_file(tmp_path):
    root = make_case(tmp_path / "case")
    (root / "evidence.pdf").write_bytes(b"%PDF-old")
    proc = Proc([sys.executable, "-c", FAKE_MAIN, "watch", str(root), "--debounce", "0.2"],
                env={"FAKE_BUILD_SECONDS": "30"})
    try:
        wait_for(lambda: any("building" in e for e in proc.err), timeout=15, what="a build")
        assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")]  # mid-write
        t0 = time.monotonic()
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(2) == 0
        assert time.monotonic() - t0 < 2
        wait_for(lambda: any("abandoned" in e for e in proc.err))
    finally:
        proc.stop()
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []
    assert (root / "evidence.pdf").read_bytes() == b"%PDF-old"


def test_ctrl_c_exits_130(tmp_path):
    root = make_case(tmp_path / "case")
    proc = Proc([sys.executable, "-c", FAKE_MAIN, "watch", str(root), "--debounce", "0.2"])
    try:
        wait_for(lambda: proc.out, timeout=15, what="the initial build line")
        proc.p.send_signal(signal.SIGINT)
        # the exit code is the point here (the 2 s stop is asserted for SIGTERM above);
        # 10 s so that a heavily loaded CI machine does not fail it
        assert proc.p.wait(10) == 130
    finally:
        proc.stop()


# --- end to end with the real build (real OCR, cached in a temporary folder) --------

from evidence import pipeline  # noqa: E402

needs_build = pytest.mark.skipif(not hasattr(pipeline, "build"), reason="pipeline.build not there yet")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Three passing phone screenshots and an OCR cache shared by the end-to-end tests."""
    from fixtures.generate import phone_series

    base = tmp_path_factory.mktemp("rendered")
    phone_series(base / "case", 3, seed=3)
    # Every file under screenshots/ is an input anyway; a [[screenshot]] table would
    # make a deleted file a "listed but not found" failure.
    toml = base / "case" / "case.toml"
    toml.write_text(toml.read_text("utf-8").split("[[screenshot]]")[0], "utf-8")
    return base / "case", base / "ocr-cache"


def fresh_case(rendered, tmp_path, hold: int = 0) -> tuple[Path, list[Path]]:
    import shutil

    src, _cache = rendered
    case = tmp_path / "case"
    shutil.copytree(src, case)
    held = []
    for shot in sorted((case / "screenshots").glob("*.png"))[:hold]:
        held.append(shot.rename(tmp_path / shot.name))
    return case, held


def sources(package: Path) -> list[str]:
    from evidence.manifest import read_manifest

    return sorted(e["source"].split("/")[-1] for e in read_manifest(package)["exhibits"])


@needs_build
def test_real_build_adds_drops_and_survives_a_corrupt_file(rendered, tmp_path):
    case, (held,) = fresh_case(rendered, tmp_path, hold=1)
    cache = rendered[1]
    package = case / "evidence.pdf"

    def builder(case_dir):
        return pipeline.build(case_dir, pipeline.BuildOptions(cache_dir=cache, workers=1))

    def cached() -> int:
        return len(list(cache.glob("*.json"))) if cache.is_dir() else 0

    shots = sorted(p.name for p in (case / "screenshots").glob("*.png"))
    with running(case, builder) as r:
        wait_for(lambda: r.lines, timeout=180, what="the initial build (cold OCR)")
        assert r.lines[0].endswith("  ok") and "  2 exhibits  " in r.lines[0], r.lines
        assert sources(package) == shots
        before = cached()

        os.replace(held, case / "screenshots" / held.name)  # a new screenshot lands
        wait_for(lambda: len(r.lines) == 2, timeout=60, what="the rebuild for a new screenshot")
        assert r.lines[1].endswith("  ok") and "  3 exhibits  " in r.lines[1], r.lines
        assert sources(package) == sorted(shots + [held.name])
        assert cached() <= before + 1  # only the new screenshot was read

        (case / "screenshots" / shots[0]).unlink()
        wait_for(lambda: len(r.lines) == 3, timeout=60, what="the rebuild after a delete")
        assert r.lines[2].endswith("  ok") and f"(-{shots[0]})" in r.lines[2], r.lines
        assert shots[0] not in sources(package)
        good = package.read_bytes()

        data = (case / "screenshots" / shots[1]).read_bytes()
        (case / "screenshots" / "broken.png").write_bytes(data[: len(data) // 3])
        wait_for(lambda: len(r.lines) == 4, timeout=60, what="the failed build")
        assert "(+broken.png)  failed: " in r.lines[3]
        assert "broken.png: cannot decode" in r.lines[3].split("  failed: ", 1)[1]
        assert package.read_bytes() == good  # the last good package stays
        assert not [p for p in case.iterdir() if p.name.endswith(".tmp")]

        (case / "screenshots" / "broken.png").unlink()
        wait_for(lambda: len(r.lines) == 5, timeout=60, what="the build after the fix")
        assert r.lines[4].endswith("  ok")
        quiet()
        assert len(r.lines) == 5  # its own package writes never trigger it


@needs_build
def test_real_cli_stops_on_sigterm_within_2s(rendered, tmp_path):
    case, _ = fresh_case(rendered, tmp_path)
    proc = Proc([sys.executable, "-m", "evidence.cli", "watch", str(case), "--debounce", "0.2",
                 "--cache-dir", str(rendered[1]), "-j", "1"])
    try:
        wait_for(lambda: proc.out, timeout=180, what="the initial build line")
        assert proc.out[0].rstrip().endswith("  ok"), proc.out + proc.err
        t0 = time.monotonic()
        proc.p.send_signal(signal.SIGTERM)
        assert proc.p.wait(2) == 0
        assert time.monotonic() - t0 < 2
    finally:
        proc.stop()
    assert not [p for p in case.iterdir() if p.name.endswith(".tmp")]
    assert len(sources(case / "evidence.pdf")) == 3


def test_watch_names_each_unused_file_once_per_change(tmp_path):
    root = make_case(tmp_path / "case").resolve()
    said: list[str] = []
    unused = [{"file": "screenshots/eps.png", "reason": "is an EPS/PostScript file, not a screenshot"},
              {"file": "screenshots/evil\nname.png", "reason": "not a regular file"}]
    result = types.SimpleNamespace(order=["a"], bytes=10, failed=[], unused=unused)
    w = Watcher(root, lambda d: result, log=lambda s: None, say=said.append)
    w._discover()
    (st,) = w.cases.values()
    w.build(st, scan(st.files), None)
    assert said[-2:] == ["case: not used: screenshots/eps.png: is an EPS/PostScript file, not a screenshot",
                         "case: not used: screenshots/evil\\nname.png: not a regular file"]
    n = len(said)
    w.build(st, scan(st.files), None)  # the same files again: not repeated on every rebuild
    assert len(said) == n
