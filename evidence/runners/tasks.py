"""What `evidence worker` runs: the Celery app and its tasks.

* `evidence.ocr`: read one screenshot (a path on the shared filesystem plus its sha256;
  the image itself never travels). The shared OCR cache is looked up first, the file's
  hash is checked again before reading, and the result is written to the cache. Returns
  the OcrResult JSON (lines, boxes, scores: a few kB) through the Redis result backend.
* `evidence.build`: build one case with pipeline.build, taking the OCR results the
  client collected (a screenshot without one, e.g. added since, is read here).
* `evidence.validate`: validate packages (the desk's `validate --deep --case` before a
  review): the pages are rendered and read here. Returns the report's JSON.

Faults: both tasks are idempotent (the cache is keyed by content; the package is
written atomically), acknowledged late and rejected when their worker dies, with a
prefetch of one, so a task whose worker is killed runs again on another worker once the
broker's visibility timeout has passed. Retries are bounded: an OSError (a network
filesystem hiccup) is retried twice, and a task whose worker died MAX_ATTEMPTS times in
a row gives up with the file and the reason instead of killing workers forever.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready

from ..errors import BrokerError, EvidenceError, InputError

QUEUE = "evidence"
MAX_ATTEMPTS = 4  # runs of one task (worker deaths and retries together)
DEFAULT_VISIBILITY_TIMEOUT = 300.0  # seconds before a dead worker's task runs elsewhere
CONNECT_TIMEOUT = 3.0  # seconds to reach Redis before calling it unreachable
SOCKET_TIMEOUT = 15.0  # seconds a Redis command may take before the connection is dead
RESULT_EXPIRES = 3600  # seconds results stay in Redis

app = Celery("evidence", set_as_current=False)
app.conf.update(
    task_serializer="json", result_serializer="json", accept_content=["json"],
    task_default_queue=QUEUE,
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_publish_retry=False,  # a broker that does not answer is an error, not a wait
    broker_connection_retry_on_startup=False, broker_connection_timeout=CONNECT_TIMEOUT,
    redis_socket_connect_timeout=CONNECT_TIMEOUT, redis_socket_timeout=SOCKET_TIMEOUT,
    redis_retry_on_timeout=False,
    result_expires=RESULT_EXPIRES, result_extended=False,
    worker_redirect_stdouts=False, worker_hijack_root_logger=False,
    worker_send_task_events=False, task_send_sent_event=False,
    worker_cancel_long_running_tasks_on_connection_loss=False,
)


def check_url(broker: str) -> str:
    if not broker.startswith(("redis://", "rediss://", "unix://")):
        raise BrokerError(f"unsupported broker URL {safe_url(broker)!r}: use redis://HOST:6379/0")
    return broker


def safe_url(broker: str) -> str:
    """The URL with any password masked, for messages."""
    from kombu.utils.url import maybe_sanitize_url
    return maybe_sanitize_url(broker)


def configure(broker: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Celery:
    """Point the app at `broker` (Redis: the broker and the result backend)."""
    check_url(broker)
    app.conf.broker_url = broker
    app.conf.result_backend = broker
    app.conf.broker_transport_options = {
        "visibility_timeout": visibility_timeout,
        # look for a dead worker's tasks every few seconds (kombu's default: every 100)
        "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 3)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT,
    }
    app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 1}}
    return app


def ping_broker(broker: str) -> None:
    """Raise BrokerError (one line) unless Redis at `broker` answers within seconds."""
    import redis

    check_url(broker)
    try:
        client = redis.Redis.from_url(broker, socket_connect_timeout=CONNECT_TIMEOUT,
                                      socket_timeout=CONNECT_TIMEOUT, retry=None)
        client.ping()
        client.close()
    except (redis.RedisError, OSError, ValueError) as e:
        raise BrokerError(f"cannot reach the broker at {safe_url(broker)}: "
                          f"{' '.join(str(e).split()) or type(e).__name__}") from None


# --- the worker's log: one line per task ---------------------------------------------


def log_line(hostname: str, kind: str, case: str, file: str, seconds: float, outcome: str) -> str:
    """2026-01-05 14:03:22 evidence.123@host  ocr  case-1  IMG_4.png  0.84 s  ok (12 lines)"""
    return (f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} {hostname}  {kind}  {case}  {file}  "
            f"{seconds:.2f} s  {outcome}")


def _log(line: str) -> None:
    print(line, flush=True)


def _attempt(task) -> int:
    """How many times this task has started (retries and redeliveries after a worker
    died count alike); kept in Redis for a day."""
    key = f"evidence:attempts:{task.request.id}"
    try:
        client = task.backend.client
        n = client.incr(key)
        client.expire(key, 86400)
        return int(n)
    except Exception:
        return 1


# --- the OCR task ---------------------------------------------------------------------

_engines: dict[tuple, tuple[Any, dict]] = {}


def _engine(engine_name: str, settings: dict):
    """This process's engine for (name, settings): built once, on first use."""
    from ..ocr import _factory, _local_engine
    k = (engine_name, repr(sorted(settings.items())))
    if k not in _engines:
        preflight = getattr(_factory(engine_name), "preflight", None)
        real = preflight(**settings) if preflight is not None else settings
        _engines[k] = (lambda: _local_engine(engine_name, real), real)
    return _engines[k][0]


def _cache(cache_dir: str | None, use_cache: bool):
    from ..ocr import OcrCache
    if not use_cache:
        return None
    root = app.conf.get("evidence_cache_root")
    return OcrCache(Path(cache_dir) if cache_dir else (Path(root) / "ocr" if root else None))


@app.task(name="evidence.ocr", bind=True, acks_late=True, reject_on_worker_lost=True,
          max_retries=2)
def ocr_task(self, path: str, sha256: str, engine: str, settings: dict | None = None,
             cache_dir: str | None = None, use_cache: bool = True, case: str = "-",
             rel: str | None = None) -> dict:
    """{"sha256", "result": OcrResult JSON} or {"sha256", "error": [kind, message]};
    kind "input" (this image is unusable) or "engine" (no image can be read)."""
    from ..imageio import sha256_file
    from ..ocr import ocr_key, read_one
    from ..ocr.base import OcrResult

    start = time.monotonic()
    host = self.request.hostname or socket.gethostname()
    name = rel or Path(path).name
    settings = dict(settings or {})

    def done(outcome: dict, text: str) -> dict:
        _log(log_line(host, "ocr", case, name, time.monotonic() - start, text))
        return {"sha256": sha256, "worker": host, **outcome}

    attempt = _attempt(self)
    if attempt > MAX_ATTEMPTS:
        message = (f"given up after {MAX_ATTEMPTS} attempts: the worker reading it died each "
                   "time (out of memory, or a crash in the OCR engine)")
        return done({"error": ["input", message]}, f"failed: {message}")
    try:
        key = ocr_key(engine, settings)
        cache = _cache(cache_dir, use_cache)
        hit = cache.get(sha256, key) if cache is not None else None
        if hit is not None:
            return done({"result": hit.to_json(), "cached": True}, "cached")
        if sha256_file(Path(path)) != sha256:
            message = "changed since the build listed it (it is read again on the next build)"
            return done({"error": ["input", message]}, f"failed: {message}")
        outcome = read_one(_engine(engine, settings), Path(path), key)
    except FileNotFoundError:
        message = (f"not found on this worker ({host}): is the shared folder mounted at "
                   "the same path on every machine?")
        return done({"error": ["input", message]}, f"failed: {message}")
    except EvidenceError as e:
        return done({"error": ["engine", str(e)]}, f"failed: {e}")
    except OSError as e:  # a network filesystem hiccup: bounded retries, then the reason
        if self.request.retries < self.max_retries:
            _log(log_line(host, "ocr", case, name, time.monotonic() - start,
                          f"retrying: {e.strerror or e}"))
            raise self.retry(countdown=1 + self.request.retries, exc=e)
        message = f"cannot be read: {e.strerror or e}"
        return done({"error": ["input", message]}, f"failed: {message}")
    if isinstance(outcome, OcrResult):
        if cache is not None:
            cache.put(sha256, key, outcome)
        return done({"result": outcome.to_json(), "cached": False},
                    f"ok ({len(outcome.lines)} lines)")
    kind, message = outcome
    return done({"error": [kind, message]}, f"failed: {message}")


# --- the build task -------------------------------------------------------------------

# BuildOptions fields that travel to the worker (the rest are callables or local).
OPTION_FIELDS = ("engine", "cache_dir", "use_cache", "output", "draft", "processor",
                 "max_size", "max_pages", "page_size", "keep_duplicates", "keep_last4", "today")


def fields_to_json(options, names) -> dict:
    """Options' fields as JSON; paths made absolute here (a worker has another cwd)."""
    d = {}
    for f in names:
        v = getattr(options, f)
        d[f] = (v.isoformat() if isinstance(v, dt.date)
                else os.path.abspath(v) if isinstance(v, Path) else v)
    return d


def options_to_json(options) -> dict:
    d = fields_to_json(options, OPTION_FIELDS)
    d["exclude"] = sorted(os.path.abspath(p) for p in options.exclude)
    return d


def options_from_json(d: dict, **extra):
    from ..pipeline import BuildOptions
    kw = {f: d.get(f) for f in OPTION_FIELDS if f in d}
    for f in ("cache_dir", "output"):
        kw[f] = Path(kw[f]) if kw.get(f) else None
    kw["today"] = dt.date.fromisoformat(kw["today"]) if kw.get("today") else None
    kw["exclude"] = {Path(p) for p in d.get("exclude", ())}
    return BuildOptions(**kw, **extra)


def result_to_json(result) -> dict:
    d = dataclasses.asdict(result)
    d["output"] = str(result.output)
    return d


def result_from_json(d: dict):
    from ..pipeline import BuildResult, Limits
    d = dict(d)
    return BuildResult(**{**d, "output": Path(d["output"]), "limits": Limits(**d["limits"])})


def precomputed_ocr(entries: dict[str, dict]):
    """An ocr_runner that answers from the client's OCR results (by sha256) and reads
    any other screenshot here (one added since the client listed the case)."""
    from ..ocr import run_ocr
    from ..ocr.base import OcrResult

    def runner(jobs, engine_name, *, cache, workers=None, progress=None, settings=None):
        out, rest = {}, []
        for path, sha in jobs:
            e = entries.get(sha)
            if e is None:
                rest.append((path, sha))
            elif "result" in e:
                out[Path(path)] = OcrResult.from_json(e["result"])
            else:
                out[Path(path)] = InputError(e["error"][1], path)
        if rest:
            out.update(run_ocr(rest, engine_name, cache=cache, workers=1, settings=settings))
        return {Path(p): out[Path(p)] for p, _ in jobs}
    return runner


def _whole(task, kind: str, case: str, work) -> dict:
    """Run a task on a whole case (build, validate): `work()` returns (reply, file,
    outcome) for the log line. An expected failure is a reply, {"error": {type, message,
    exit_code}}, not a task failure: it is not retried (it would fail again)."""
    start = time.monotonic()
    host = task.request.hostname or socket.gethostname()

    def failed(e: BaseException, code: int) -> dict:
        message = " ".join(str(e).split()) or type(e).__name__
        _log(log_line(host, kind, case, "-", time.monotonic() - start, f"failed: {message}"))
        return {"error": {"type": type(e).__name__, "message": str(e), "exit_code": code},
                "worker": host}

    if _attempt(task) > MAX_ATTEMPTS:
        return failed(EvidenceError(f"given up after {MAX_ATTEMPTS} attempts: the worker "
                                    f"running its {kind} died each time (out of memory?)"), 2)
    try:
        reply, file, outcome = work()
    except EvidenceError as e:
        return failed(e, int(e.exit_code))
    except Exception as e:  # a bug: reported, not retried
        return failed(RuntimeError(f"internal error: {type(e).__name__}: {e}"), 2)
    _log(log_line(host, kind, case, file, time.monotonic() - start, outcome))
    return {**reply, "worker": host}


@app.task(name="evidence.build", bind=True, acks_late=True, reject_on_worker_lost=True)
def build_task(self, case_dir: str, options: dict, ocr: dict[str, dict]) -> dict:
    """{"result": BuildResult JSON, "warnings": [...]} or {"error": ...} (see _whole)."""
    from ..pipeline import build

    def work():
        said: list[str] = []
        opts = options_from_json(options, workers=1, warn=said.append,
                                 ocr_runner=precomputed_ocr(ocr))
        if opts.cache_dir is None and app.conf.get("evidence_cache_root"):
            opts.cache_dir = Path(app.conf.evidence_cache_root)
        result = build(Path(case_dir), opts)
        return ({"result": result_to_json(result), "warnings": said}, result.output.name,
                f"ok ({result.exhibits} exhibits, {result.bytes} bytes)")
    return _whole(self, "build", Path(case_dir).name, work)


# --- the validate task ----------------------------------------------------------------

# ValidateOptions fields that travel to the worker (progress is a callable: it stays).
VALIDATE_FIELDS = ("processor", "max_size", "max_pages", "case_dir", "deep", "client_name",
                   "client_email", "engine", "today", "thumbnails")


def validate_options_from_json(d: dict):
    from ..validate import ValidateOptions
    kw = {f: d.get(f) for f in VALIDATE_FIELDS if f in d}
    kw["case_dir"] = Path(kw["case_dir"]) if kw.get("case_dir") else None
    kw["today"] = dt.date.fromisoformat(kw["today"]) if kw.get("today") else None
    return ValidateOptions(**kw, workers=1)


@app.task(name="evidence.validate", bind=True, acks_late=True, reject_on_worker_lost=True)
def validate_task(self, paths: list[str], options: dict) -> dict:
    """{"result": ValidationReport JSON} or {"error": ...} (see _whole). With `deep`, the
    pages are rendered and read by OCR here, on the worker."""
    from ..validate import validate

    def work():
        report = validate([Path(p) for p in paths], validate_options_from_json(options))
        return ({"result": report.to_json()}, ", ".join(Path(p).name for p in paths),
                "pass" if report.ok else "fail")
    return _whole(self, "validate", Path(paths[0]).parent.name if paths else "-", work)


# --- the worker process ---------------------------------------------------------------


@worker_ready.connect
def _ready(sender=None, **kw):
    _log(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} {getattr(sender, 'hostname', '?')}  ready  "
         f"broker {safe_url(app.conf.broker_url)}")


def run_worker(broker: str, *, concurrency: int, hostname: str | None = None,
               cache_dir: Path | None = None,
               visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> int:
    """Run a Celery worker in this process until it is stopped (SIGTERM: finish the task
    in hand; SIGKILL: its task runs again elsewhere). BrokerError if Redis is unreachable."""
    # One thread per OCR process: concurrency is the number of cores to use.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    configure(broker, visibility_timeout=visibility_timeout)
    ping_broker(broker)
    if cache_dir is not None:
        app.conf.evidence_cache_root = str(cache_dir)
    hostname = hostname or f"evidence.{os.getpid()}@{socket.gethostname()}"
    argv = ["--quiet", "worker", f"--concurrency={concurrency}", "--pool=prefork", f"--queues={QUEUE}",
            "--loglevel=WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", f"--hostname={hostname}"]
    sys.stdout.flush()
    try:
        app.worker_main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0
