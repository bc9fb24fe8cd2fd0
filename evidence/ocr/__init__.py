"""OCR: the engines, the on-disk cache, and the runner that reads many screenshots.

    results = run_ocr([(path, sha256), ...], "rapidocr", cache=OcrCache())

Cached results are returned without building an engine. The rest are read in worker
processes (one per core, each building its engine once), or in this process when only
one image needs reading. Tall screenshots are read in strips (see `tiling`). A screenshot
that cannot be read gives an InputError in its place; the others go on.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Union

from ..errors import EngineError, InputError
from ..imageio import open_image
from ..workers import pool_context, release_memory
from .base import Box, Engine, OcrLine, OcrResult
from .cache import CacheWarning, OcrCache, default_cache_dir
from .easy import EasyEngine
from .rapid import RapidEngine
from .tiling import TILING_KEY, recognize_tiled
from .words import WORDS_KEY

# name -> factory. A factory is called with the engine's settings and returns an Engine.
# Optional class methods: `key_for(**settings) -> str` gives the engine's key without
# building it (else the runner builds one to ask), and `preflight(**settings) -> dict`
# checks cheaply in the parent before worker processes start and returns the settings
# to hand them. The factory must be importable by name (it is sent to the workers).
ENGINES: dict[str, Callable[..., Engine]] = {
    "rapidocr": RapidEngine,
    "easyocr": EasyEngine,
}
DEFAULT_ENGINE = "rapidocr"
INSTALL_HINTS = {"easyocr": 'pip install ".[easyocr]" in the evidence source folder',
                 "rapidocr": "pip install rapidocr onnxruntime"}

Progress = Callable[[int, int], None]
# What reading one image gives: a result, or (kind, message) with kind "input" (this
# image is unusable) or "engine" (the engine is unusable: stop the run).
_Outcome = Union[OcrResult, tuple[str, str]]

__all__ = ["ENGINES", "DEFAULT_ENGINE", "make_engine", "ocr_key", "run_ocr", "map_with_engine",
           "keep_pools", "default_workers", "OcrCache", "CacheWarning", "default_cache_dir",
           "Box", "Engine", "OcrLine", "OcrResult", "RapidEngine", "EasyEngine"]


def _factory(name: str) -> Callable[..., Engine]:
    try:
        return ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown OCR engine {name!r}; choose one of: "
                          f"{', '.join(sorted(ENGINES))}") from None


def make_engine(name: str, **settings: Any) -> Engine:
    """Build engine `name` with `settings` (loads its models: slow, once per process)."""
    factory = _factory(name)
    try:
        return factory(**settings)
    except EngineError:
        raise
    except ImportError as e:
        hint = INSTALL_HINTS.get(name, "")
        raise EngineError(f"the {name} OCR engine cannot be imported ({e})"
                          + (f": {hint}" if hint else "")) from None
    except TypeError as e:  # a setting the engine does not take
        raise EngineError(f"bad settings for the {name} OCR engine: {e}") from None


_local_engines: dict[tuple, Engine] = {}


def _local_engine(name: str, settings: Mapping[str, Any]) -> Engine:
    """The in-process engine for (factory, settings), built on first use."""
    k = (id(_factory(name)), name, repr(sorted(settings.items())))
    if k not in _local_engines:
        _local_engines[k] = make_engine(name, **settings)
    return _local_engines[k]


def ocr_key(engine_name: str, settings: Mapping[str, Any] | None = None) -> str:
    """The cache key of results from this engine with these settings (and our tiling)."""
    settings = dict(settings or {})
    factory = _factory(engine_name)
    key_for = getattr(factory, "key_for", None)
    try:
        key = key_for(**settings) if key_for is not None else \
            _local_engine(engine_name, settings).key()
    except TypeError as e:
        raise EngineError(f"bad settings for the {engine_name} OCR engine: {e}") from None
    return f"{key};{TILING_KEY};{WORDS_KEY}"


def default_workers() -> int:
    """One per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_ocr(jobs: list[tuple[Path, str]], engine_name: str, *, cache: OcrCache | None,
            workers: int | None = None, progress: Progress | None = None,
            settings: Mapping[str, Any] | None = None) -> dict[Path, OcrResult | InputError]:
    """Read every (path, sha256) in `jobs`; returns {path: OcrResult or InputError}.

    Cache hits never build or call an engine. Misses are read in `workers` processes
    (default: one per core), in this process if only one needs reading. Images with the
    same sha256 are read once. The cache is written by this process as results arrive,
    so an interrupted run keeps what it had read. `progress(done, total)` is called with
    (0, total) first and after each image. Raises EngineError when the engine cannot be
    built or a worker process dies.
    """
    settings = dict(settings or {})
    factory = _factory(engine_name)
    order = list(dict.fromkeys(Path(p) for p, _sha in jobs))
    total = len(order)
    results: dict[Path, OcrResult | InputError] = {}
    done = 0

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    key = ocr_key(engine_name, settings)
    misses: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for path, sha in jobs:
        path = Path(path)
        if path in seen:
            continue
        seen.add(path)
        hit = cache.get(sha, key) if cache is not None else None
        if hit is not None:
            results[path] = hit
            tick()
        else:
            misses.setdefault(sha, []).append(path)

    def deliver(sha: str, paths: list[Path], outcome: _Outcome) -> None:
        if isinstance(outcome, OcrResult):
            if cache is not None:
                cache.put(sha, key, outcome)
            for p in paths:
                results[p] = outcome
        else:
            kind, message = outcome
            if kind == "engine":
                raise EngineError(message)
            for p in paths:
                results[p] = InputError(message, p)
        tick(len(paths))

    if misses:
        preflight = getattr(factory, "preflight", None)
        if preflight is not None:
            settings = preflight(**settings)
        n = min(workers or default_workers(), len(misses))
        if n <= 1:
            # Built on the first image that opens, so a lone unreadable file costs nothing.
            def engine() -> Engine:
                return _local_engine(engine_name, settings)
            for sha, paths in misses.items():
                deliver(sha, paths, read_one(engine, paths[0], key))
        else:
            tasks = {sha: (str(paths[0]), key) for sha, paths in misses.items()}
            _run_pool(read_one, tasks, factory, settings, n,
                      lambda sha, outcome: deliver(sha, misses[sha], outcome), engine_name,
                      cached=cache is not None and not cache.disabled)
    return {p: results[p] for p in order}


def map_with_engine(func: Callable[..., Any], tasks: Mapping[Any, tuple], engine_name: str, *,
                    workers: int | None = None,
                    settings: Mapping[str, Any] | None = None) -> dict[Any, Any]:
    """{key: func(engine, *args)} for each `tasks` item (key -> args), in worker processes
    that each build the engine once, as run_ocr's do. In this process only when one worker
    is asked for: then `engine` is a function that builds it on first use, so `func` must
    accept both (see `read_one`). A single task otherwise still goes to a worker, so that
    this process never loads the ML runtime (later pools can then fork: workers.py).
    `func` must be importable by name. Raises EngineError when the engine cannot be built
    or a worker dies."""
    settings = dict(settings or {})
    factory = _factory(engine_name)
    out: dict[Any, Any] = {}

    def got(k, result) -> None:
        out[k] = result
    n = min(workers or default_workers(), len(tasks))
    if (workers or default_workers()) <= 1:
        def engine() -> Engine:
            return _local_engine(engine_name, settings)
        for k, args in tasks.items():
            got(k, func(engine, *args))
    else:
        preflight = getattr(factory, "preflight", None)
        if preflight is not None:
            settings = preflight(**settings)
        _run_pool(func, dict(tasks), factory, settings, n, got, engine_name, cached=False)
    return out


def _run_pool(func, tasks: dict[Any, tuple], factory, settings, n: int,
              deliver, engine_name: str, cached: bool) -> None:
    """func(engine, *args) for every (key, args) of `tasks` in n worker processes;
    deliver(key, result) as each arrives."""
    executor = _pool(factory, settings, n)
    try:
        pending = {executor.submit(_worker_call, func, *args): k for k, args in tasks.items()}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                k = pending.pop(fut)
                try:
                    ok, outcome = fut.result()
                except BrokenProcessPool:
                    unread = len(pending) + 1
                    raise EngineError(
                        f"an OCR worker process died unexpectedly (out of memory, or a crash "
                        f"inside the {engine_name} engine) with {unread} screenshot(s) still "
                        "to read" + ("; the screenshots read so far are cached"
                                     if cached else "")) from None
                if not ok:
                    raise EngineError(outcome)
                deliver(k, outcome)
    except BaseException:
        _stop(executor)
        raise
    if not _kept["depth"]:
        executor.shutdown(wait=True)


# Pools kept up between calls inside `keep_pools()`: {(factory, settings): executor}.
_kept: dict[str, Any] = {"depth": 0, "pools": {}}


@contextmanager
def keep_pools() -> Iterator[None]:
    """Within this block the OCR worker pools stay up between calls (run_ocr, then
    map_with_engine for the second looks), so their processes start and load the models
    once; they end when the block does. Measured on every third real screenshot (16, 10
    second looks): a second pool cost ~1.8 CPU s (two processes importing onnxruntime and
    loading the models again)."""
    _kept["depth"] += 1
    try:
        yield
    finally:
        _kept["depth"] -= 1
        if not _kept["depth"]:
            pools, _kept["pools"] = _kept["pools"], {}
            for executor in pools.values():
                executor.shutdown(wait=True)


def _pool(factory, settings: Mapping[str, Any], n: int) -> ProcessPoolExecutor:
    """A pool of n workers (or more, if a kept one has them) holding this engine."""
    k = (factory, repr(sorted(settings.items())))
    executor = _kept["pools"].get(k)
    if executor is not None and executor._max_workers >= n:
        return executor
    # Workers build their engine in the initializer; forked only while no ML runtime is
    # loaded here (see workers.pool_context).
    executor = ProcessPoolExecutor(max_workers=n, mp_context=pool_context(),
                                   initializer=_worker_init, initargs=(factory, settings))
    if _kept["depth"]:
        old = _kept["pools"].pop(k, None)
        if old is not None:
            old.shutdown(wait=True)
        _kept["pools"][k] = executor
    return executor


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop the pool now (error or Ctrl-C): drop queued work, end the workers."""
    for k, kept in list(_kept["pools"].items()):
        if kept is executor:
            del _kept["pools"][k]
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def read_one(engine: Engine | Callable[[], Engine], path: Path, key: str) -> _Outcome:
    """Open and read one image (strip by strip if tall). `engine` is an Engine, or a
    function returning one, called only once the image has opened."""
    try:
        image = open_image(Path(path))
    except InputError as e:
        return ("input", e.message)
    try:
        width, height = image.size
        if not hasattr(engine, "recognize"):
            engine = engine()
        lines = recognize_tiled(engine, image)
    except EngineError as e:
        return ("engine", str(e))
    except Exception as e:  # the engine choked on this image; the others go on
        first = str(e).splitlines()[0] if str(e) else ""
        return ("input", f"the OCR engine failed on this image: {type(e).__name__}"
                         + (f": {first}" if first else ""))
    finally:
        image.close()
    # Rounded as the cache stores it, so a fresh result equals a cached one exactly
    # (and everything built from it is the same on the first run and the next).
    return OcrResult.from_json(OcrResult(tuple(lines), width, height, key).to_json())


# --- worker processes ---------------------------------------------------------------

_worker: dict[str, Any] = {}


def _worker_init(factory, settings: Mapping[str, Any]) -> None:
    # Ctrl-C goes to the whole process group; the parent alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One thread per worker: there is one worker per core. Set before torch is imported.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        _worker["engine"] = factory(**settings)
    except EngineError as e:
        _worker["error"] = str(e)
    except Exception as e:
        # Reported by each task, so the parent raises a clear EngineError rather than
        # the pool's "a process in the initializer failed".
        _worker["error"] = f"cannot build the OCR engine: {type(e).__name__}: {e}"


def _worker_call(func, *args) -> tuple[bool, Any]:
    """(True, func(engine, *args)), or (False, why the engine is unusable)."""
    if "error" in _worker:
        return (False, _worker["error"])
    try:
        return (True, func(_worker["engine"], *args))
    finally:
        release_memory()
