"""The default runner: OCR in this machine's process pool, the build in this process."""
from __future__ import annotations

from pathlib import Path


class LocalRunner:
    name = "local"

    def ocr(self, jobs, engine_name, *, cache, workers=None, progress=None, settings=None):
        from ..ocr import run_ocr
        return run_ocr(jobs, engine_name, cache=cache, workers=workers, progress=progress,
                       settings=settings)

    def build(self, case_dir: Path | str, options):
        from ..pipeline import build
        return build(case_dir, options)

    def close(self) -> None:
        pass
