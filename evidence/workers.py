"""How worker processes start, for every stage that uses a pool (OCR, fitting)."""
from __future__ import annotations

import multiprocessing
import sys


def pool_context():
    """fork where it exists and is safe, spawn otherwise.

    fork starts a worker in ~0.15 s against ~0.75 s for spawn on the 2-core reference
    machine (no re-import, no re-read of this process's modules), but forking a process
    that already runs a threaded ML runtime (onnxruntime, torch) can deadlock the child,
    so once one is loaded here (the watcher reads single screenshots in-process) new
    pools spawn fresh interpreters instead.
    """
    methods = multiprocessing.get_all_start_methods()
    risky = any(m in sys.modules for m in ("onnxruntime", "torch"))
    if "fork" in methods and not risky and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def release_memory() -> None:
    """Hand the heap an image freed back to the system (glibc keeps it otherwise): an OCR
    worker sits at ~130 MB between images instead of its largest image's ~400 MB, which
    keeps two workers and the next stage's pool within the memory budget (issue 12)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
