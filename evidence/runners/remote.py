"""The Celery runner: this process lists the work, `evidence worker`s do it.

build(case): list the case's screenshots (hashing them, as the local build does), send
one `evidence.ocr` task per distinct image not already in the OCR cache, wait for their
results (small JSON through Redis), then send one `evidence.build` task with them and
wait for the package. Paths travel, never images: the case folder, the package and the
OCR cache must be on a filesystem every worker mounts at the same path.

validate(packages): one `evidence.validate` task; with --deep its OCR runs there.

Every wait is bounded by what can be checked: Redis must answer (a few seconds'
connection timeout, no retry loop), and while nothing finishes for `stall` seconds the
workers are pinged; with none answering the build stops with one clear line. A build
that stops this way has written nothing, so the previous package stays.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import BrokerError, EngineError, EvidenceError, ExitCode, InputError
from . import tasks

PING_TIMEOUT = 2.0  # seconds to wait for a worker to answer a ping
STALL = 30.0  # seconds without a finished task before the workers are pinged again
POLL = 0.1  # seconds between polls of the result backend


class RemoteError(EvidenceError):
    """A build that failed on a worker, with the exit code it would have had here."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        try:
            self.exit_code = ExitCode(exit_code)
        except ValueError:
            self.exit_code = ExitCode.bad_input


def _connection_errors() -> tuple[type[BaseException], ...]:
    import kombu.exceptions
    import redis
    return (redis.RedisError, kombu.exceptions.OperationalError, ConnectionError, OSError)


class CeleryRunner:
    name = "celery"

    def __init__(self, broker: str, *, stall: float = STALL, ping_timeout: float = PING_TIMEOUT,
                 on_task=None):
        """`on_task(kind, name, worker)`, if given, is called as each task finishes
        ("ocr", the screenshot, the worker's name; "build", the case, the worker's name):
        what a front end shows of where its job ran."""
        self.broker = broker
        self.on_task = on_task
        self.url = tasks.safe_url(broker)
        self.stall = stall
        self.ping_timeout = ping_timeout
        self.app = tasks.configure(broker)
        tasks.ping_broker(broker)
        self.workers = self.ping_workers()
        if not self.workers:
            raise BrokerError(f"no evidence worker answers on {self.url}; start one with "
                              f"`evidence worker --broker {self.url}`")

    def ping_workers(self) -> list[str]:
        """The names of the workers that answer a ping now (returns on the first)."""
        try:
            replies = self.app.control.ping(timeout=self.ping_timeout, limit=1) or []
        except _connection_errors() as e:
            raise self._lost(e) from None
        return sorted(name for r in replies for name in r)

    def _lost(self, e: BaseException) -> BrokerError:
        return BrokerError(f"lost the broker at {self.url} ({' '.join(str(e).split()) or type(e).__name__}); "
                           "nothing was written, the previous package is unchanged")

    def close(self) -> None:
        """Close the broker connections. kombu keeps a closed pool registered, and the
        next runner in this process (the desk's job process runs job after job) would
        get "Acquire on closed pool": the registry is emptied too."""
        from kombu import pools
        try:
            pools.reset()  # closes every pool and forgets them
        except Exception:
            pass
        self.app._pool = None
        self.app.amqp._producer_pool = None

    # --- waiting ------------------------------------------------------------------------

    def _send(self, task, *args, **kw):
        try:
            return task.apply_async(args=args, kwargs=kw, retry=False)
        except _connection_errors() as e:
            raise self._lost(e) from None

    def _wait(self, results: dict, on_done) -> None:
        """Call on_done(key, meta) as each AsyncResult in `results` finishes."""
        backend = self.app.backend
        pending = dict(results)
        last = time.monotonic()
        while pending:
            ids = list(pending)
            try:
                metas = backend.mget([backend.get_key_for_task(i) for i in ids])
            except _connection_errors() as e:
                raise self._lost(e) from None
            finished = 0
            for task_id, raw in zip(ids, metas):
                if raw is None:
                    continue
                meta = backend.decode_result(raw)
                if meta.get("status") in ("SUCCESS", "FAILURE"):
                    on_done(pending.pop(task_id), meta)
                    finished += 1
            if finished:
                last = time.monotonic()
            elif time.monotonic() - last > self.stall:
                if not self.ping_workers():
                    raise BrokerError(f"no evidence worker answers on {self.url} with "
                                      f"{len(pending)} task(s) still to run; nothing was written")
                last = time.monotonic()
            if pending:
                time.sleep(POLL)

    # --- the two runner functions -------------------------------------------------------

    def ocr(self, jobs, engine_name, *, cache, workers=None, progress=None, settings=None,
            case: str = "-", rels: dict | None = None, use_cache: bool | None = None,
            on_result=None) -> dict:
        """run_ocr's contract, on the workers. Cache hits (when this process can see the
        cache) are not sent; each other distinct image is one task. `use_cache`: whether
        the workers use an OCR cache (default: whether `cache` is given; without one, a
        worker uses its own `--cache-dir`). `on_result(path, outcome)`, if given, is
        called as each screenshot's result comes back."""
        from ..ocr import ocr_key
        from ..ocr.base import OcrResult

        order = list(dict.fromkeys(Path(p) for p, _ in jobs))
        total = len(order)
        key = ocr_key(engine_name, settings)
        by_sha: dict[str, list[Path]] = {}
        results: dict[Path, OcrResult | InputError] = {}
        for path, sha in jobs:
            path = Path(path)
            hit = cache.get(sha, key) if cache is not None else None
            if hit is not None:
                results[path] = hit
            else:
                by_sha.setdefault(sha, [])
                if path not in by_sha[sha]:
                    by_sha[sha].append(path)
        if progress is not None:
            progress(len(results), total)
        cache_dir = os.path.abspath(cache.directory) if cache is not None else None
        sent = {}
        for sha, paths in by_sha.items():
            rel = (rels or {}).get(paths[0]) or paths[0].name
            r = self._send(tasks.ocr_task, str(paths[0]), sha, engine_name, dict(settings or {}),
                           cache_dir, cache is not None if use_cache is None else use_cache,
                           case, rel)
            sent[r.id] = (sha, paths)
        for path, hit in list(results.items()) if on_result is not None else ():
            on_result(path, hit)  # once the tasks are out: the workers start meanwhile

        def done(item, meta):
            sha, paths = item
            value = meta.get("result")
            if meta["status"] == "SUCCESS" and isinstance(value, dict) and "result" in value:
                outcome: OcrResult | InputError | None = OcrResult.from_json(value["result"])
            elif meta["status"] == "SUCCESS" and isinstance(value, dict) and "error" in value:
                kind, message = value["error"]
                if kind == "engine":
                    raise EngineError(f"OCR on worker {value.get('worker', '?')}: {message}")
                outcome = InputError(message, paths[0])
            else:  # the task itself failed (retries exhausted)
                exc = value if isinstance(value, dict) else {}
                outcome = InputError(f"OCR failed on the workers: {exc.get('exc_type', 'error')}: "
                                     f"{exc.get('exc_message', value)}", paths[0])
            if self.on_task is not None and isinstance(value, dict):
                self.on_task("ocr", (rels or {}).get(paths[0]) or paths[0].name,
                             value.get("worker"))
            for p in paths:
                results[p] = outcome if not isinstance(outcome, InputError) else InputError(
                    outcome.message, p)
                if on_result is not None:
                    on_result(p, results[p])
            if progress is not None:
                progress(len(results), total)

        self._wait(sent, done)
        return {p: results[p] for p in order}

    def build(self, case_dir: Path | str, options):
        """pipeline.build's contract: OCR fanned out, then one build task."""
        from .. import ingest
        from ..case import load_case
        from ..ocr.cache import OcrCache
        from ..pipeline import cache_dir

        case = load_case(case_dir)
        out = Path(options.output) if options.output else case.default_output
        found = ingest.discover(case, exclude=set(options.exclude) | {out, case.default_output})
        shots = found.screenshots
        # The cache this process can check is the one named by --cache-dir (on the shared
        # path); without it the workers use their own (`evidence worker --cache-dir`).
        cache = (OcrCache(cache_dir(options, "ocr"))
                 if options.use_cache and options.cache_dir else None)
        results = self.ocr([(s.path, s.sha256) for s in shots], options.engine, cache=cache,
                           progress=options.progress, case=case.root.name,
                           use_cache=options.use_cache,
                           rels={s.path: s.rel for s in shots})
        entries: dict[str, dict] = {}
        for s in shots:
            r = results[s.path]
            entries[s.sha256] = ({"error": ["input", r.message]} if isinstance(r, InputError)
                                 else {"result": r.to_json()})
        value = self._one("build", tasks.build_task, str(case.root),
                          tasks.options_to_json(options), entries, label=case.root.name)
        warn = options.warn or (lambda m: None)
        for w in value.get("warnings", []):
            warn(w)
        return tasks.result_from_json(value["result"])

    def validate(self, paths, options) -> dict:
        """validate.validate(paths, options).to_json(), as one task on a worker."""
        value = self._one("validate", tasks.validate_task, [os.path.abspath(p) for p in paths],
                          tasks.fields_to_json(options, tasks.VALIDATE_FIELDS),
                          label=Path(paths[0]).parent.name)
        return value["result"]

    def _one(self, kind: str, task, *args, label: str):
        """Send one task, wait for it, name its worker (on_task); its reply, or RemoteError
        with the task's own message and exit code."""
        reply = {}

        def done(_item, meta):
            reply.update(meta)

        handle = self._send(task, *args)
        self._wait({handle.id: None}, done)
        value = reply.get("result")
        if reply.get("status") != "SUCCESS" or not isinstance(value, dict):
            raise RemoteError(f"the {kind} task failed on the workers: {value}", 2)
        if self.on_task is not None:
            self.on_task(kind, label, value.get("worker"))
        if "error" in value:
            err = value["error"]
            raise RemoteError(err["message"], err.get("exit_code", 2))
        return value
