"""`--broker`: OCR and builds on Celery workers over a real Redis.

One Redis server (Debian's redis-server, on a free loopback port, no persistence) and two
real `evidence worker` processes of concurrency 1 are started for the module and stopped
at its end. The tests run in file order: the last one stops Redis.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("celery", reason='needs the workers extra: pip install ".[workers]"')
pytest.importorskip("redis", reason='needs the workers extra: pip install ".[workers]"')

from fixtures.generate import phone_series  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REDIS = shutil.which("redis-server")
SCALE = 0.35  # small phone screenshots (409 x 886): fast to read, every check still passes
VISIBILITY = 5  # seconds before a dead worker's task runs elsewhere (the default is 300)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    REDIS is None and os.environ.get("EVIDENCE_REQUIRE_TOOLS") != "1",
    reason="needs redis-server (apt-get install redis-server)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    """Redis and two workers; `shared` stands for the filesystem every machine mounts."""

    def __init__(self, tmp: Path):
        assert REDIS is not None, "redis-server is not installed"
        self.tmp = tmp
        self.shared = tmp / "shared"
        self.cache = self.shared / "cache"
        self.shared.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.redis = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._redis_up, 10, "redis-server")
        self.workers: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.starts: dict[str, int] = {}
        for name in ("wa", "wb"):
            self.start_worker(name)
        for name in self.workers:
            self.wait_ready(name)

    def _redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_worker(self, name: str) -> None:
        log = self.tmp / f"{name}.log"
        with open(log, "ab") as out:
            # Own session: a SIGKILL of its process group takes the worker and its pool
            # child at once, as a machine that dies would.
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "evidence.cli", "worker", "--broker", self.url,
                 "--concurrency", "1", "--hostname", f"{name}@test", "--cache-dir", str(self.cache),
                 "--visibility-timeout", str(VISIBILITY)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.logs[name] = log
        self.starts[name] = self.starts.get(name, 0) + 1

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def mark(self) -> dict[str, int]:
        """Where each worker's log ends now (for task_lines(since=...))."""
        return {name: len(self.log(name).splitlines()) for name in self.logs}

    def task_lines(self, kind: str = "ocr", since: dict[str, int] | None = None) -> list[str]:
        """The task log lines of both workers (those after `since`, a mark())."""
        return [ln for name in self.logs
                for ln in self.log(name).splitlines()[(since or {}).get(name, 0):]
                if f"@test  {kind}  " in ln]

    def wait_ready(self, name: str) -> None:
        wait_for(lambda: self.log(name).count("  ready  ") >= self.starts[name], 60,
                 f"worker {name} to start:\n{self.log(name)}")

    def kill(self, name: str) -> None:
        p = self.workers[name]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)

    def evidence(self, *args, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "evidence.cli", *map(str, args)],
                              cwd=ROOT, capture_output=True, text=True, timeout=170, **kw)

    def stop(self) -> None:
        for p in self.workers.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.workers.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        if self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("celery"))
    try:
        yield c
    finally:
        c.stop()


def page_texts(pdf: Path) -> list[str]:
    from pypdf import PdfReader
    return [page.extract_text() for page in PdfReader(str(pdf)).pages]


def comparable(manifest: dict) -> tuple:
    """What must agree between two builds of one case (not the build time)."""
    return ([{k: e[k] for k in ("exhibit", "source", "source_sha256", "pages", "when",
                                "fields", "date_text")} for e in manifest["exhibits"]],
            [(p["page"], p["source"], p["image_sha256"]) for p in manifest["pages"]])


def valid_package(pdf: Path, exhibits: int) -> dict:
    from evidence.manifest import read_manifest
    from evidence.validate import validate_package

    report = validate_package(pdf)
    assert report.check("manifest").ok, report.check("manifest")
    m = read_manifest(pdf)
    assert len(m["exhibits"]) == exhibits and report.page_count == m["page_count"]
    return m


def test_a_40_screenshot_case_spreads_over_both_workers_and_matches_a_local_build(cluster, tmp_path):
    from evidence.manifest import read_manifest

    case = cluster.shared / "case-40"
    phone_series(case, 40, seed=7, scale=SCALE)
    p = cluster.evidence("build", case, "--broker", cluster.url, "--cache-dir", cluster.cache)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "wrote" in p.stdout and "40 exhibits" in p.stdout
    lines = [ln for ln in cluster.task_lines("ocr") if "  case-40  " in ln]
    assert len(lines) == 40 and all(ln.rstrip().split("  ")[-1].startswith("ok (") for ln in lines), lines
    per_worker = {name: sum(ln.split()[2] == f"{name}@test" for ln in lines) for name in ("wa", "wb")}
    assert all(n >= 5 for n in per_worker.values()), per_worker  # both took a share
    assert len([ln for ln in cluster.task_lines("build") if "  case-40  " in ln]) == 1

    # The same case built here, with its own OCR (an independent cache).
    local = tmp_path / "local.pdf"
    q = cluster.evidence("build", case, "-o", local, "-j", "2", "--cache-dir", tmp_path / "cache")
    assert q.returncode == 0, q.stdout + q.stderr
    remote_pdf = case / "evidence.pdf"
    m_remote = valid_package(remote_pdf, 40)
    m_local = read_manifest(local)
    assert comparable(m_remote) == comparable(m_local)
    assert page_texts(remote_pdf) == page_texts(local)

    # A second build reads every screenshot from the shared cache: no OCR anywhere.
    before = cluster.mark()
    r = cluster.evidence("build", case, "--broker", cluster.url, "--cache-dir", cluster.cache)
    assert r.returncode == 0, r.stdout + r.stderr
    assert cluster.task_lines("ocr", since=before) == []
    assert len([ln for ln in cluster.task_lines("build") if "  case-40  " in ln]) == 2
    assert comparable(read_manifest(remote_pdf)) == comparable(m_remote)


def test_workers_without_a_client_cache_share_theirs(cluster):
    """A client that names no cache: the workers' own shared --cache-dir answers, each
    screenshot a task that finds its result there ("cached"), none read again."""
    case = cluster.shared / "case-40"
    before = cluster.mark()
    p = cluster.evidence("build", case, "--broker", cluster.url, "-o", cluster.tmp / "x.pdf")
    assert p.returncode == 0, p.stdout + p.stderr
    new = cluster.task_lines("ocr", since=before)
    assert len(new) == 40 and all(ln.endswith("  cached") for ln in new), new


def test_a_worker_killed_mid_build_still_gives_a_complete_package(cluster):
    case = cluster.shared / "case-kill"
    phone_series(case, 10, seed=11, scale=SCALE)
    client = subprocess.Popen(
        [sys.executable, "-m", "evidence.cli", "build", case, "--broker", cluster.url,
         "--cache-dir", cluster.cache], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        # Once wb has read one screenshot of this case it is reading the next: kill it.
        wait_for(lambda: any("wb@test  ocr  case-kill" in ln for ln in cluster.log("wb").splitlines()),
                 90, "wb to read a screenshot")
        cluster.kill("wb")
        out, err = client.communicate(timeout=150)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, out + err
    valid_package(case / "evidence.pdf", 10)
    done = {ln.split("  ")[3] for ln in cluster.task_lines("ocr") if "  case-kill  " in ln}
    assert len(done) == 10  # every screenshot was read by a worker that lived
    cluster.start_worker("wb")
    cluster.wait_ready("wb")


def test_an_unreachable_broker_is_one_clear_error_at_start(cluster, tmp_path):
    case = cluster.shared / "case-40"
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["build", case, "--broker", dead], ["watch", case, "--once", "--broker", dead],
                 ["worker", "--broker", dead]):
        start = time.monotonic()
        p = cluster.evidence(*args)
        assert p.returncode == 2, p.stdout + p.stderr
        assert time.monotonic() - start < 20
        assert p.stderr.strip().splitlines() == [
            f"error: cannot reach the broker at {dead}: Error 111 connecting to "
            f"127.0.0.1:{dead.split(':')[2].split('/')[0]}. Connection refused."], p.stderr


def test_stopping_redis_mid_build_is_a_clear_error_and_keeps_the_package(cluster):
    case = cluster.shared / "case-redis"
    phone_series(case, 2, seed=21, scale=SCALE)
    p = cluster.evidence("build", case, "--broker", cluster.url, "--cache-dir", cluster.cache)
    assert p.returncode == 0, p.stdout + p.stderr
    package = case / "evidence.pdf"
    before = package.read_bytes()
    read = len([ln for ln in cluster.task_lines() if "  case-redis  " in ln])
    phone_series(case, 8, seed=22, scale=SCALE)  # eight new screenshots to read
    client = subprocess.Popen(
        [sys.executable, "-m", "evidence.cli", "build", case, "--broker", cluster.url,
         "--cache-dir", cluster.cache], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len([ln for ln in cluster.task_lines() if "  case-redis  " in ln])
                 >= read + 2, 90, "the new screenshots to be read")
        cluster.redis.terminate()
        cluster.redis.wait(10)
        stopped = time.monotonic()
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    assert time.monotonic() - stopped < 30
    assert client.returncode == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: lost the broker at {cluster.url}"), err
    assert "previous package is unchanged" in lines[0]
    assert "Traceback" not in err
    assert package.read_bytes() == before
    assert not [f for f in case.iterdir() if f.name.endswith(".tmp")]
