"""`evidence watch`: a folder that rebuilds its own package.

DIR is one case folder (it holds case.toml) or a folder of case folders (its direct
children holding case.toml; a case folder created while watching is picked up). Every
case is built once at start, then again whenever one of its inputs is added, changed,
renamed or deleted. Inputs are case.toml, images and unsupported images (the build
reports those) under screenshots/, the files case.toml lists, and sidecar notes
(`<image>.txt`). Nothing else — the package, its temp files, the OCR cache, hidden and
temporary files (`ingest.is_ignored`) — can trigger a build, so the watcher never
triggers itself.

How a rebuild is decided (one loop, one thread; builds run in that thread):

* watchfiles reports file events (inotify; `poll=True` polls instead, for network drives
  and containers). An event under a case only marks the case *dirty*; it is never trusted
  for what changed.
* A dirty case is re-scanned (a stat of each input: size and mtime). It is built when
  - no event came for `debounce` seconds and the scan has not changed for `debounce`
    seconds (a file being written keeps changing size or mtime: a burst of 50 files or
    one file copied slowly gives one build, once it is all there);
  - every new or changed image decodes (`imageio.probe_image`). One that is stable but
    does not decode gets CORRUPT_AFTER debounce periods more, then is built anyway: it is
    corrupt and the build reports it;
  - the scan differs from the one taken before the last build. This is what the log's
    `+added ~changed -deleted` counts, and events that changed nothing cost one scan.
* The build itself (`pipeline.build`) re-ingests the folder (deleted files vanish) and
  OCRs only what its cache has not seen; it writes atomically, so a failed build leaves
  the last good package in place. A failure is one log line and the watcher goes on.

Output: one line per build on stdout (see `format_line`); status lines (start, a case
found or gone, stop) on stderr.

Stopping (`serve`): Ctrl-C abandons a build in progress (its temp file is removed by the
atomic write) and exits 130. SIGTERM does the same and exits 0: a requested stop is a
clean stop. Idle, both stop within a tick (about 0.2 s).
"""
from __future__ import annotations

import datetime as dt
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Callable, Iterator

from .case import CASE_FILE, load_case
from .errors import CaseError, EvidenceError, InputError, one_line
from .imageio import probe_image
from .ingest import CONTENT_DECIDES as IMAGE_SUFFIXES, NOTE_SUFFIX, SCREENSHOT_DIR, UNSUPPORTED_IMAGES, is_ignored

if TYPE_CHECKING:
    from .pipeline import BuildResult

DEFAULT_DEBOUNCE = 1.0  # seconds a case's inputs must be still before a build
CORRUPT_AFTER = 3  # debounce periods a stable, undecodable image is waited for
PROBE_WINDOW = 300.0  # only images written in the last 5 minutes are decoded first
ONCE_MAX_WAIT = 30.0  # --once: give up on a case whose files never stop changing
MAX_NAMES = 4  # name the changed files in the log line when there are at most this many
WATCHED_SUFFIXES = frozenset(IMAGE_SUFFIXES | UNSUPPORTED_IMAGES)
DOCUMENT_DIR, REBUTTAL_FILE = "documents", "rebuttal.md"  # documents.py, rebuttal.py
DOCUMENT_SUFFIXES = frozenset(IMAGE_SUFFIXES | {".pdf"})


def document_name(name: str) -> bool:
    return PurePath(name.lower()).suffix in DOCUMENT_SUFFIXES

Stat = tuple[int, int]  # (size, mtime_ns)
Snapshot = dict[str, Stat]  # case-relative posix path -> Stat
Builder = Callable[[Path], "BuildResult"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a build: abandon it like Ctrl-C (the same cleanup runs)."""


# --- pure helpers -------------------------------------------------------------------


def is_case(folder: Path) -> bool:
    return (folder / CASE_FILE).is_file()


def find_cases(root: Path) -> list[Path]:
    """[root] if root is a case folder, else its direct children that are, sorted."""
    root = Path(root)
    if is_case(root):
        return [root]
    try:
        children = sorted(p for p in root.iterdir() if not is_ignored(p.name))
    except OSError:
        return []
    return [p for p in children if p.is_dir() and is_case(p)]


@dataclass(frozen=True)
class CaseFiles:
    """What decides which files of one case are its inputs."""

    root: Path  # resolved
    listed: frozenset[str] = frozenset()  # files case.toml lists (case-relative posix)
    output: Path | None = None  # the package (resolved); never an input
    skip_dirs: tuple[Path, ...] = ()  # e.g. an OCR cache folder inside the case


def watched_name(name: str) -> bool:
    """An image (supported or not) or an image's sidecar note, by name alone."""
    low = name.lower()
    if low.endswith(NOTE_SUFFIX):
        return PurePath(low[: -len(NOTE_SUFFIX)]).suffix in IMAGE_SUFFIXES
    return PurePath(low).suffix in WATCHED_SUFFIXES


def _excluded(path: Path, files: CaseFiles) -> bool:
    if files.output is not None and path == files.output:
        return True
    return any(path.is_relative_to(d) for d in files.skip_dirs)


def is_relevant(path: Path, files: CaseFiles) -> bool:
    """Whether a change of the file `path` (absolute) can change the case's package."""
    path = Path(path)
    try:
        rel = path.relative_to(files.root)
    except ValueError:
        return False
    parts = rel.parts
    if not parts or _excluded(path, files) or any(is_ignored(p) for p in parts):
        return False
    posix = rel.as_posix()
    if posix in (CASE_FILE, REBUTTAL_FILE) or posix in files.listed:
        return True
    if parts[0] == DOCUMENT_DIR and len(parts) > 1 and document_name(parts[-1]):
        return True
    if posix.endswith(NOTE_SUFFIX) and posix[: -len(NOTE_SUFFIX)] in files.listed:
        return True
    return parts[0] == SCREENSHOT_DIR and len(parts) > 1 and watched_name(parts[-1])


def _stat(path: Path) -> Stat | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        try:  # a broken link is an input too: the build reports it
            st = path.lstat()
        except OSError:
            return None
        return (-1, st.st_mtime_ns)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def scan(files: CaseFiles) -> Snapshot:
    """Stat every input of the case: the truth a build decision is made on."""
    root = files.root
    snap: Snapshot = {}
    for name in (CASE_FILE, REBUTTAL_FILE):
        st = _stat(root / name)
        if st is not None:
            snap[name] = st
    seen: set[tuple[int, int]] = set()
    stack = [(root / DOCUMENT_DIR, document_name), (root / SCREENSHOT_DIR, watched_name)]
    while stack:
        folder, wanted = stack.pop()
        try:
            ident = folder.stat()
            if (ident.st_dev, ident.st_ino) in seen:
                continue  # a folder link loop; ingest reports it
            seen.add((ident.st_dev, ident.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            if is_ignored(e.name):
                continue
            path = Path(e.path)
            try:
                if e.is_dir():
                    if not _excluded(path, files):
                        stack.append((path, wanted))
                    continue
            except OSError:
                continue
            if wanted(e.name) and not _excluded(path, files):
                st = _stat(path)
                if st is not None:
                    snap[path.relative_to(root).as_posix()] = st
    for rel in files.listed:
        for r in (rel, rel + NOTE_SUFFIX):
            if r not in snap and not _excluded(root / r, files):
                st = _stat(root / r)
                if st is not None:
                    snap[r] = st
    return snap


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.deleted)

    def __str__(self) -> str:
        text = f"+{len(self.added)} ~{len(self.changed)} -{len(self.deleted)}"
        names = ([f"+{_short(n)}" for n in self.added] + [f"~{_short(n)}" for n in self.changed]
                 + [f"-{_short(n)}" for n in self.deleted])
        if 0 < len(names) <= MAX_NAMES:
            text += f" ({' '.join(names)})"
        return text


def _short(rel: str) -> str:
    prefix = SCREENSHOT_DIR + "/"
    return rel[len(prefix):] if rel.startswith(prefix) else rel


def diff(old: Snapshot, new: Snapshot) -> Changes:
    return Changes(added=sorted(new.keys() - old.keys()),
                   changed=sorted(k for k in new.keys() & old.keys() if new[k] != old[k]),
                   deleted=sorted(old.keys() - new.keys()))


class Settle:
    """How long a snapshot has stayed the same: files still being written keep moving."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.since = 0.0

    def update(self, snapshot: Snapshot, now: float) -> float:
        """Record `snapshot` seen at `now`; return for how many seconds it has not changed."""
        if snapshot != self.snapshot:
            self.snapshot = snapshot
            self.since = now
        return now - self.since

    def prime(self, snapshot: Snapshot, now: float, wall: float) -> None:
        """First sight of a case: files whose mtime is old have been still that long."""
        newest = max((ns for _, ns in snapshot.values()), default=0) / 1e9
        self.snapshot = snapshot
        self.since = now - min(max(wall - newest, 0.0), 3600.0)


def format_line(when: dt.datetime, case: str, result: "BuildResult | None", seconds: float,
                changes: str, outcome: str) -> str:
    """The one line a build logs:

    2025-06-01 14:03:22 acme  14 exhibits  1234567 bytes  2.3 s  +1 ~0 -0 (+IMG_5.png)  ok
    2025-06-01 14:05:09 acme  - exhibits  - bytes  0.0 s  +0 ~1 -0 (~case.toml)  failed: …

    Fields, two spaces apart: local time, case folder name, exhibits in the package and
    its size (`-` when no package was written), seconds the build took, what changed
    since the last build (`initial` for the first), and `ok` or `failed: <reason>`.
    """
    exhibits = "-"
    if result is not None:
        n = getattr(result, "exhibits", None)
        exhibits = str(n if isinstance(n, int) else len(result.order))
    size = str(result.bytes) if result is not None else "-"
    return (f"{when:%Y-%m-%d %H:%M:%S} {case}  {exhibits} exhibits  {size} bytes  "
            f"{seconds:.1f} s  {changes}  {outcome}")


MAX_REASON = 400  # characters of a failure's reason in the log line


def _one_line(e: BaseException | str, root: Path) -> str:
    """The reason on one line, with paths relative to the case folder, cut if very long."""
    text = str(e) or e.__class__.__name__
    text = text.replace(str(root) + os.sep, "").replace(str(root), ".")
    text = one_line(" ".join(text.split()))
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


# --- the watcher --------------------------------------------------------------------


@dataclass
class CaseState:
    files: CaseFiles
    settle: Settle = field(default_factory=Settle)
    toml_stat: Stat | None = None  # case.toml as last loaded (to reload when it changes)
    baseline: Snapshot | None = None  # the scan the last build was made from
    dirty: bool = True
    last_event: float = -math.inf
    probes: dict[tuple[str, Stat], bool] = field(default_factory=dict)
    unused: tuple = ()  # the files the last build left out, with reasons (logged on change)

    @property
    def name(self) -> str:
        return self.files.root.name


def _stdout(line: str) -> None:
    print(line, flush=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Watcher:
    """Watch `root` (a case folder or a folder of them) and call `builder(case_dir)`.

    `builder` returns a BuildResult or raises (EvidenceError for the expected failures);
    `log` gets one line per build, `say` the status lines. `run(stop)` watches until
    `stop` is set; `run_once(stop)` builds each case once its files are still.
    """

    def __init__(self, root: Path | str, builder: Builder, *, debounce: float = DEFAULT_DEBOUNCE,
                 poll: bool = False, output: Path | None = None, cache_dir: Path | None = None,
                 log: Callable[[str], None] = _stdout, say: Callable[[str], None] = _stderr,
                 clock: Callable[[], float] = time.monotonic):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise CaseError("not a folder", root)
        self.single = is_case(self.root)
        if output is not None and not self.single:
            raise CaseError("-o/--output needs one case folder; this folder holds cases "
                            "(each is built to its own [package] output)", root)
        self.builder = builder
        self.debounce = float(debounce)
        self.poll = poll
        self.output = Path(output).resolve() if output is not None else None
        self.skip_dirs = (Path(cache_dir).resolve(),) if cache_dir is not None else ()
        self.log = log
        self.say = say
        self.clock = clock
        self.tick = min(0.2, max(0.05, self.debounce / 4))
        self.cases: dict[Path, CaseState] = {}
        self.building = False  # true while the builder runs (serve's SIGTERM handler reads it)
        self.builds = 0
        self.failures = 0

    # cases

    def _add(self, folder: Path, *, at_start: bool) -> CaseState:
        st = CaseState(CaseFiles(folder, output=self.output, skip_dirs=self.skip_dirs))
        self._reload(st)
        snap = scan(st.files)
        if at_start:
            st.settle.prime(snap, self.clock(), time.time())
        else:
            st.settle.update(snap, self.clock())
            st.last_event = self.clock()
            self.say(f"new case: {folder.name}")
        self.cases[folder] = st
        return st

    def _discover(self) -> None:
        for folder in find_cases(self.root):
            if folder not in self.cases:
                self._add(folder, at_start=True)

    def _reload(self, st: CaseState) -> None:
        """Re-read case.toml when it changed: which files it lists, where the package goes.
        A broken case.toml keeps what the last good one said (the build reports it)."""
        root = st.files.root
        stat = _stat(root / CASE_FILE)
        if stat == st.toml_stat and st.toml_stat is not None:
            return
        st.toml_stat = stat
        listed, output = st.files.listed, st.files.output
        try:
            case = load_case(root)
        except EvidenceError:
            if output is None:
                output = root / "evidence.pdf"
        else:
            listed = frozenset(case.entries) | frozenset(case.documents)
            output = self.output or case.default_output.resolve()
        st.files = CaseFiles(root, listed=listed, output=output, skip_dirs=self.skip_dirs)

    def _case_for(self, path: Path) -> CaseState | None:
        if self.single:
            return self.cases.get(self.root)
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return None
        if not parts or is_ignored(parts[0]):
            return None
        folder = self.root / parts[0]
        st = self.cases.get(folder)
        if st is None and is_case(folder):
            st = self._add(folder, at_start=False)
        return st

    def _wanted(self, path: Path, st: CaseState) -> bool:
        """An event worth a re-scan: an input, or something that may be a folder of them
        (a folder moved in or out gives one event for the folder alone)."""
        if is_relevant(path, st.files):
            return True
        try:
            parts = path.relative_to(st.files.root).parts
        except ValueError:
            return False
        if not parts:
            return True  # the case folder itself (moved, deleted)
        if any(is_ignored(p) for p in parts) or _excluded(path, st.files):
            return False
        return parts[0] == SCREENSHOT_DIR and not watched_name(parts[-1]) and (
            len(parts) == 1 or path.is_dir() or not path.exists())

    def note(self, changes: set[tuple[object, str]]) -> None:
        """Mark the cases these file events touch as dirty."""
        now = self.clock()
        for _change, p in changes:
            path = Path(p)
            st = self._case_for(path)
            if st is not None and self._wanted(path, st):
                st.dirty = True
                st.last_event = now

    # deciding and building

    def _undecodable(self, st: CaseState, snap: Snapshot, todo: list[str],
                     stop: threading.Event | None) -> list[str]:
        wall = time.time()
        bad = []
        for rel in todo:
            stat = snap[rel]
            if PurePath(rel).suffix.lower() not in IMAGE_SUFFIXES or stat[0] < 0:
                continue
            if wall - stat[1] / 1e9 > PROBE_WINDOW:
                continue  # not written for minutes: settled
            key = (rel, stat)
            ok = st.probes.get(key)
            if ok is None:
                if stop is not None and stop.is_set():
                    return [rel]
                try:
                    probe_image(st.files.root / rel)
                    ok = True
                except InputError:
                    ok = False
                st.probes[key] = ok
            if not ok:
                bad.append(rel)
        return bad

    def ready(self, st: CaseState, stop: threading.Event | None = None) -> tuple[Snapshot, Changes | None] | None:
        """(scan, changes) if the case should be built now, else None. changes is None for
        a case never built yet. A dirty case whose inputs turn out unchanged is cleaned."""
        now = self.clock()
        self._reload(st)
        snap = scan(st.files)
        still = st.settle.update(snap, now)
        if now - st.last_event < self.debounce or still < self.debounce:
            return None
        changes = diff(st.baseline, snap) if st.baseline is not None else None
        if changes is not None and not changes:
            st.dirty = False
            return None
        todo = sorted(snap) if changes is None else changes.added + changes.changed
        if self._undecodable(st, snap, todo, stop) and still < CORRUPT_AFTER * self.debounce:
            return None
        return snap, changes

    def build(self, st: CaseState, snap: Snapshot, changes: Changes | None) -> bool:
        """Build one case and log one line. True if a package was written."""
        root = st.files.root
        start = time.monotonic()
        when = dt.datetime.now()
        result = None
        try:
            self.building = True
            result = self.builder(root)
            outcome = "ok"
            failed = list(getattr(result, "failed", None) or [])
            if failed:
                names = " ".join(_short(_one_line(str(f), root)) for f in failed[:MAX_NAMES])
                more = " …" if len(failed) > MAX_NAMES else ""
                outcome = f"ok (draft; {len(failed)} failing checks: {names}{more})"
        except EvidenceError as e:
            outcome = f"failed: {_one_line(e, root)}"
        except Exception as e:  # a bug in a stage must not stop the watcher
            outcome = f"failed: internal error: {e.__class__.__name__}: {_one_line(e, root)}"
        finally:
            self.building = False
        st.baseline = snap
        st.dirty = False
        st.probes = {k: v for k, v in st.probes.items() if k[0] in snap and snap[k[0]] == k[1]}
        self.builds += 1
        if result is None:
            self.failures += 1
        self.log(format_line(when, st.name, result, time.monotonic() - start,
                             "initial" if changes is None else str(changes), outcome))
        unused = tuple((u["file"], u["reason"]) for u in getattr(result, "unused", None) or [])
        if result is not None and unused != st.unused:  # named once, not on every rebuild
            for file, reason in unused:
                self.say(_one_line(one_line(f"{st.name}: not used: {file}: {reason}"), root))
            st.unused = unused
        return result is not None

    def _gone(self, st: CaseState) -> bool:
        if self.single or st.files.root.is_dir():
            return False
        del self.cases[st.files.root]
        self.say(f"case gone: {st.name}")
        return True

    def step(self, stop: threading.Event | None = None) -> None:
        """Build every dirty case that is ready, one after the other."""
        for st in sorted(self.cases.values(), key=lambda s: s.name):
            if stop is not None and stop.is_set():
                return
            if not st.dirty or self._gone(st):
                continue
            decision = self.ready(st, stop)
            if decision is not None and not (stop is not None and stop.is_set()):
                self.build(st, *decision)

    # the loops

    def _events(self, stop: threading.Event) -> Iterator[set]:
        import watchfiles

        def watch(poll: bool):
            # No watch_filter: a filtered-out batch is not yielded, so a file changing
            # all the time beside the case (a log, a sync client's state) would starve
            # the timeout ticks this loop decides on. note() filters instead.
            return watchfiles.watch(
                self.root, watch_filter=None, debounce=max(50, int(self.debounce * 1000)),
                step=50, rust_timeout=max(50, int(self.tick * 1000)), yield_on_timeout=True,
                stop_event=stop, force_polling=poll, raise_interrupt=True)

        try:
            yield from watch(self.poll)
        except (OSError, RuntimeError) as e:  # e.g. the inotify watch limit is reached
            if self.poll or stop.is_set():
                raise
            self.say(f"file events unavailable ({' '.join(str(e).split())}); polling instead")
            for st in self.cases.values():
                st.dirty = True
            yield from watch(True)

    def run(self, stop: threading.Event) -> None:
        """Build every case, then rebuild on change, until `stop` is set."""
        self._discover()
        how = "polling" if self.poll else "file events"
        n = len(self.cases)
        what = ("case " + self.root.name) if self.single else f"{n} case{'s' * (n != 1)} in {self.root}"
        self.say(f"watching {what} ({how}, debounce {self.debounce:g} s); Ctrl-C to stop")
        events = self._events(stop)
        try:
            for changes in events:
                if stop.is_set():
                    break
                if changes:
                    self.note(changes)
                self.step(stop)
                if stop.is_set():
                    break
        finally:
            events.close()

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Build each case once its files are still. True if every case built."""
        stop = stop or threading.Event()
        self._discover()
        if not self.cases:
            self.say(f"no case folder in {self.root} (none of its folders holds {CASE_FILE})")
            return False
        ok = True
        for st in sorted(self.cases.values(), key=lambda s: s.name):
            give_up = self.clock() + ONCE_MAX_WAIT
            while (decision := self.ready(st, stop)) is None:
                if stop.is_set():
                    return False
                if self.clock() > give_up:
                    self.failures += 1
                    self.log(format_line(dt.datetime.now(), st.name, None, 0.0, "-",
                                         f"failed: files still changing after {ONCE_MAX_WAIT:g} s"))
                    ok = False
                    break
                stop.wait(self.tick)
            else:
                ok = self.build(st, *decision) and ok
        return ok


def serve(watcher: Watcher, *, once: bool = False) -> int:
    """Run the watcher in the main thread with signal handling; return the exit status.

    SIGTERM: stop; a build in progress is abandoned (Terminated, a KeyboardInterrupt,
    unwinds it and the atomic write removes its temp file); exit 0. Ctrl-C: the same,
    but the KeyboardInterrupt propagates (the CLI exits 130).
    """
    stop = threading.Event()
    term = threading.Event()

    def on_term(signum, frame):
        term.set()
        stop.set()
        if watcher.building:
            raise Terminated()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        if once:
            return 0 if watcher.run_once(stop) and not term.is_set() else 1
        watcher.run(stop)
        watcher.say("stopped (SIGTERM)" if term.is_set() else "stopped")
        return 0
    except KeyboardInterrupt:
        if not term.is_set():
            raise  # Ctrl-C: the CLI says "interrupted" and exits 130
        watcher.say("stopped (SIGTERM); the build in progress was abandoned")
        return 1 if once else 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
