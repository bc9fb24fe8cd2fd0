"""Load benchmark of `evidence serve` (issue 14): N simulated developers at once against
one server on this machine, each creating a case, uploading M screenshots (rendered
phone screenshots, different per user so no OCR is shared) and building the package.

Prints: errors (non-2xx answers, failed jobs), lost uploads (uploaded vs listed in the
case and present in the built package), the p50/p95 latency of page requests made while
OCR runs in the background, the server's peak memory (the server process alone, and
with its job worker processes), and the wall time.

    python bench/desk_load.py [--users 20] [--shots 20] [--job-workers 2]
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from desk_support import add_user, desk_server  # noqa: E402
from fixtures.generate import CLIENT, phone_series  # noqa: E402

PASSWORD = "load test password"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.pages: list[tuple[float, float]] = []  # (start time, seconds)
        self.lost = 0
        self.exhibits: list[int] = []

    def error(self, msg: str) -> None:
        with self.lock:
            self.errors.append(msg)


def csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def timed_get(http: httpx.Client, url: str, stats: Stats) -> httpx.Response:
    t = time.perf_counter()
    r = http.get(url)
    with stats.lock:
        stats.pages.append((time.monotonic(), time.perf_counter() - t))
    return r


def wait_jobs(http: httpx.Client, case: int, stats: Stats, timeout: float = 3600) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = http.get(f"/cases/{case}/status", headers={"accept": "application/json"}).json()
        if not s["active"]:
            return s
        timed_get(http, f"/cases/{case}", stats)  # what a person watching the page loads
        time.sleep(1.0)
    raise TimeoutError(f"case {case}: jobs still running after {timeout} s")


def user(base: str, n: int, shots: list[Path], stats: Stats) -> None:
    with httpx.Client(base_url=base, timeout=600, follow_redirects=True) as http:
        try:
            r = http.get("/login")
            r = http.post("/login", data={"csrf": csrf(r.text), "email": f"dev{n}@example.com",
                                          "password": PASSWORD})
            token = csrf(r.text)
            r = http.post("/cases/new", data={
                "csrf": token, "client_name": CLIENT["name"], "client_email": CLIENT["email"],
                "dispute_id": f"dp_load_{n}",
                "respond_by": (dt.date.today() + dt.timedelta(days=5 + n)).isoformat()})
            case = int(str(r.url).rsplit("/", 1)[1])
            for i in range(0, len(shots), 5):  # drag-and-drop batches of five
                files = [("files", (p.name, p.read_bytes(), "image/png")) for p in shots[i:i + 5]]
                r = http.post(f"/cases/{case}/upload", files=files,
                              headers={"x-csrf-token": token, "accept": "application/json"})
                if r.status_code != 200 or r.json()["refused"]:
                    stats.error(f"user {n}: upload {r.status_code} {r.text[:200]}")
            s = wait_jobs(http, case, stats)
            if s["last_jobs"]["check"]["state"] != "done" or s["checked"] != len(shots):
                stats.error(f"user {n}: check {s['last_jobs']['check']} {s['checked']}")
            r = http.post(f"/cases/{case}/jobs", data={"csrf": token, "kind": "build"})
            if r.status_code != 200:
                stats.error(f"user {n}: build request {r.status_code}")
            s = wait_jobs(http, case, stats)
            b = s["last_jobs"]["build"]
            if b["state"] != "done":
                stats.error(f"user {n}: build {b['state']}: {b['error']}")
            page = timed_get(http, f"/cases/{case}", stats).text
            m = re.search(r"(\d+) exhibits", page)
            exhibits = int(m.group(1)) if m else 0
            listed = page.count('class="shot ')
            with stats.lock:
                stats.exhibits.append(exhibits)
                stats.lost += max(0, len(shots) - min(listed, exhibits))
        except Exception as e:  # a benchmark reports, it does not stop
            stats.error(f"user {n}: {e.__class__.__name__}: {e}")


def _rss(p: psutil.Process) -> int:
    try:
        return p.memory_info().rss
    except psutil.Error:  # a worker that just ended
        return 0


def sample_memory(pid: int, stop: threading.Event, peak: dict) -> None:
    """Peak RSS of the server process, of its largest job worker, and of all together."""
    proc = psutil.Process(pid)
    while not stop.is_set():
        server = _rss(proc)
        try:
            children = [_rss(c) for c in proc.children(recursive=True)]
        except psutil.Error:
            children = []
        peak["server"] = max(peak.get("server", 0), server)
        peak["worker"] = max([peak.get("worker", 0), *children])
        peak["tree"] = max(peak.get("tree", 0), server + sum(children))
        time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--job-workers", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="desk-load-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        print(f"rendering {a.users} x {a.shots} screenshots, adding {a.users} users…", flush=True)
        per_user = []
        for n in range(a.users):
            phone_series(tmp / f"u{n}", a.shots, seed=1000 + n)
            per_user.append(sorted((tmp / f"u{n}" / "screenshots").glob("*.png")))
            add_user(data, f"dev{n}@example.com", "developer", PASSWORD)
        stats = Stats()
        with desk_server(data, "--job-workers", str(a.job_workers)) as base:
            pid = next(p.pid for p in psutil.process_iter(["cmdline"])
                       if p.info["cmdline"] and "serve" in p.info["cmdline"]
                       and str(data) in p.info["cmdline"])
            stop, peak = threading.Event(), {}
            mem = threading.Thread(target=sample_memory, args=(pid, stop, peak), daemon=True)
            mem.start()
            t0 = time.monotonic()
            threads = [threading.Thread(target=user, args=(base, n, per_user[n], stats))
                       for n in range(a.users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
            stop.set()
            mem.join()
        lat = sorted(s for _, s in stats.pages)
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
        print(f"users {a.users}, screenshots each {a.shots}, job workers {a.job_workers}, "
              f"cores {psutil.cpu_count()}")
        print(f"errors: {len(stats.errors)}")
        for e in stats.errors[:10]:
            print("  " + e)
        print(f"lost uploads: {stats.lost} (exhibits per package: "
              f"{min(stats.exhibits) if stats.exhibits else 0}–{max(stats.exhibits) if stats.exhibits else 0})")
        print(f"page requests while OCR ran: {len(lat)}, p50 {statistics.median(lat) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000 if lat else 0:.0f} ms")
        print(f"server peak memory: {peak.get('server', 0) / 2**20:.0f} MiB (the server process), "
              f"{peak.get('worker', 0) / 2**20:.0f} MiB (largest job worker), "
              f"{peak.get('tree', 0) / 2**20:.0f} MiB (all together)")
        print(f"wall time: {wall:.0f} s for {a.users * a.shots} screenshots "
              f"({wall / (a.users * a.shots):.2f} s each)")
        return 1 if stats.errors or stats.lost else 0


if __name__ == "__main__":
    sys.exit(main())
