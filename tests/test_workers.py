"""`--broker`: OCR and builds on Celery workers over a real Redis.

One Redis server (Debian's redis-server, on a free loopback port, no persistence) and two
real `evidence worker` processes of concurrency 1 are started for the module and stopped
at its end. The tests run in file order: the last one stops Redis.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("celery", reason='needs the workers extra: pip install ".[workers]"')
pytest.importorskip("redis", reason='needs the workers extra: pip install ".[workers]"')

from fixtures.cluster import REDIS, ROOT, Cluster, free_port, wait_for  # noqa: E402
from fixtures.generate import phone_series  # noqa: E402

SCALE = 0.35  # small phone screenshots (409 x 886): fast to read, every check still passes
# Seconds before a dead worker's task runs elsewhere (the default is 300). A task that
# takes longer than this (a loaded machine) may run twice: harmless, the tests allow it.
VISIBILITY = 10

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    REDIS is None and os.environ.get("EVIDENCE_REQUIRE_TOOLS") != "1",
    reason="needs redis-server (apt-get install redis-server)")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("celery"), visibility_timeout=VISIBILITY)
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
    p = cluster.evidence("build", case, "--broker", cluster.url, "--cache-dir", cluster.cache,
                         timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "wrote" in p.stdout and "40 exhibits" in p.stdout
    lines = [ln for ln in cluster.task_lines("ocr") if "  case-40  " in ln]
    assert len({ln.split("  ")[3] for ln in lines}) == 40, lines
    assert all(ln.split("  ")[-1].startswith(("ok (", "cached")) for ln in lines), lines
    per_worker = {name: sum(ln.split()[2] == f"{name}@test" for ln in lines) for name in ("wa", "wb")}
    assert all(n >= 5 for n in per_worker.values()), per_worker  # both took a share
    assert [ln for ln in cluster.task_lines("build") if "  case-40  " in ln]

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
    assert [ln for ln in cluster.task_lines("build", since=before) if "  case-40  " in ln]
    assert comparable(read_manifest(remote_pdf)) == comparable(m_remote)


def test_workers_without_a_client_cache_share_theirs(cluster):
    """A client that names no cache: the workers' own shared --cache-dir answers, each
    screenshot a task that finds its result there ("cached"), none read again."""
    case = cluster.shared / "case-40"
    before = cluster.mark()
    p = cluster.evidence("build", case, "--broker", cluster.url, "-o", cluster.tmp / "x.pdf")
    assert p.returncode == 0, p.stdout + p.stderr
    new = cluster.task_lines("ocr", since=before)
    assert len({ln.split("  ")[3] for ln in new}) == 40, new
    assert all(ln.endswith("  cached") for ln in new), new


def test_watch_once_with_a_broker_builds_on_the_workers(cluster):
    case = cluster.shared / "case-40"
    before = cluster.mark()
    p = cluster.evidence("watch", case, "--once", "--broker", cluster.url, "--cache-dir",
                         cluster.cache, "-o", cluster.tmp / "watched.pdf")
    assert p.returncode == 0, p.stdout + p.stderr
    assert " case-40  40 exhibits  " in p.stdout and p.stdout.rstrip().endswith("ok"), p.stdout
    assert cluster.task_lines("ocr", since=before) == []  # all cached
    assert [ln for ln in cluster.task_lines("build", since=before) if "watched.pdf" in ln]


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
    assert len(done) == 10  # every screenshot read, the one in the killed worker by the other
    cluster.start_worker("wb")
    cluster.wait_ready("wb")


def test_an_unreachable_broker_is_one_clear_error_at_start(cluster, tmp_path):
    case = cluster.shared / "case-40"
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["build", case, "--broker", dead], ["watch", case, "--once", "--broker", dead],
                 ["worker", "--broker", dead]):
        start = time.monotonic()
        p = cluster.evidence(*args, timeout=60)
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
    # progress lines ("OCR 1/8 screenshots read (1 s)") appear when the build is slow
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("OCR ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: lost the broker at {cluster.url}"), err
    assert "previous package is unchanged" in lines[0]
    assert "Traceback" not in err
    assert package.read_bytes() == before
    assert not [f for f in case.iterdir() if f.name.endswith(".tmp")]
