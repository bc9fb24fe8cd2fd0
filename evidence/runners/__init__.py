"""Where the heavy work runs: this machine's process pool, or Celery workers over Redis.

A runner has these functions, the things the commands (build, watch, and the desk)
hand out:

    runner = get_runner(broker=None)          # or "redis://host:6379/0"
    results = runner.ocr(jobs, "rapidocr", cache=OcrCache(...))   # run_ocr's signature
    result = runner.build(case_dir, BuildOptions(...))            # pipeline.build's
    report = runner.validate([pdf], ValidateOptions(deep=True))   # validate's, as JSON

`local` runs them here (run_ocr's pool, pipeline.build). `remote` sends each
screenshot's OCR to the workers as its own task, then the build as one task once the
OCR results are in; `tasks` is what the workers run (`evidence worker`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..pipeline import BuildOptions, BuildResult


class Runner(Protocol):
    name: str

    def ocr(self, jobs: list[tuple[Path, str]], engine_name: str, *, cache, workers=None,
            progress=None, settings=None, on_result=None) -> dict:
        """Read (path, sha256) jobs: {path: OcrResult or InputError}, as run_ocr;
        `on_result(path, outcome)` as each one is in (what a live page shows)."""

    def build(self, case_dir: Path | str, options: "BuildOptions") -> "BuildResult":
        """Build one case's package, as pipeline.build."""

    def validate(self, paths: list[Path], options) -> dict:
        """validate.validate(paths, options).to_json(): with options.deep, the pages'
        OCR runs where the runner runs it (a worker, for Celery)."""

    def close(self) -> None:
        """Release connections (a no-op for the local runner)."""


def get_runner(broker: str | None = None, **settings) -> Runner:
    """The local runner, or the Celery one when a broker URL is given (which checks at
    once that the broker answers and a worker listens: BrokerError otherwise)."""
    if not broker:
        from .local import LocalRunner
        return LocalRunner()
    require_celery()
    from .remote import CeleryRunner
    return CeleryRunner(broker, **settings)


def require_celery() -> None:
    """BrokerError with the install line when the workers extra is missing."""
    import importlib.util

    from ..errors import BrokerError
    if importlib.util.find_spec("celery") is None or importlib.util.find_spec("redis") is None:
        raise BrokerError('--broker and `evidence worker` need Celery and redis: '
                          'pip install "evidence[workers]"')
