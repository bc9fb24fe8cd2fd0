"""The default runner: OCR in this machine's process pool, the build in this process."""
from __future__ import annotations

from pathlib import Path


class LocalRunner:
    name = "local"

    def ocr(self, jobs, engine_name, *, cache, workers=None, progress=None, settings=None,
            on_result=None):
        """run_ocr's contract. `on_result(path, outcome)`, if given, is called as each
        screenshot's result is in; with one worker the images are then read one call at a
        time (the engine is built once per process, images saved twice are read once),
        else on_result follows the whole run."""
        from ..ocr import run_ocr
        if on_result is None or workers != 1:
            results = run_ocr(jobs, engine_name, cache=cache, workers=workers,
                              progress=progress, settings=settings)
            for path, outcome in results.items() if on_result is not None else ():
                on_result(path, outcome)
            return results
        order = list(dict.fromkeys(Path(p) for p, _ in jobs))
        by_sha: dict[str, list[Path]] = {}
        for path, sha in jobs:
            paths = by_sha.setdefault(sha, [])
            if Path(path) not in paths:
                paths.append(Path(path))
        results: dict = {}
        if progress is not None:
            progress(0, len(order))
        for sha, paths in by_sha.items():
            got = run_ocr([(p, sha) for p in paths], engine_name, cache=cache, workers=1,
                          settings=settings)
            for p in paths:
                results[p] = got[p]
                on_result(p, got[p])
            if progress is not None:
                progress(len(results), len(order))
        return {p: results[p] for p in order}

    def build(self, case_dir: Path | str, options):
        from ..pipeline import build
        return build(case_dir, options)

    def validate(self, paths, options) -> dict:
        from ..validate import validate
        return validate(paths, options).to_json()

    def close(self) -> None:
        pass
