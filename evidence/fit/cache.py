"""The optional on-disk cache of encodings, keyed by file, crop rows and encoding."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import PIL

from ..imageio import sha256_file
from .ladder import LADDER, SCHEMA, _Spec, _Stats, _specs
from .types import CropSource, EncodedImage, _Done, _Job, _spec_of
from .encode import _DEFLATER


def default_cache_dir() -> Path:
    """`<user cache dir>/evidence/fit`, next to the OCR cache."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("evidence", appauthor=False)) / "fit"


class _DiskCache:
    """Encoded images keyed by (file sha256, crop rows, encoding). One folder per crop:
    stats.json plus one file per encoding. Writes are atomic (temp file + os.replace);
    anything unreadable is a miss; a failed write turns the cache off for this task."""

    def __init__(self, directory: str):
        self.directory = Path(directory)
        self.disabled = False
        self.hashes: dict[Path, str] = {}  # crops of one file: hash it once

    def folder(self, src: CropSource) -> Path:
        sha = src.sha256 or self.hashes.get(src.path)
        if sha is None:
            sha = self.hashes[src.path] = sha256_file(src.path)
        boxes = ";".join(",".join(map(str, r.box.to_list())) for r in src.redactions)
        name = hashlib.sha256(f"{SCHEMA}{_DEFLATER}\0{PIL.__version__}\0{sha}\0{src.top}\0{src.bottom}"
                              f"\0{boxes}".encode()).hexdigest()[:40]
        return self.directory / name

    def lookup(self, job: _Job) -> _Done | None:
        if not isinstance(job.load, CropSource):
            return None
        try:
            folder = self.folder(job.load)
            d = json.loads((folder / "stats.json").read_text())
            stats = _Stats(int(d["width"]), int(d["height"]), bool(d["gray"]),
                           bool(d["palette"]), bool(d["exact"]), bool(d["mostly_flat"]))
            encoded: dict = {}
            for li in job.levels:
                specs = tuple(sp for sp in _specs(stats, LADDER[li], job.display_width_pt,
                                                  job.min_text_px) if sp not in job.known)
                if not specs:
                    continue
                c = json.loads((folder / self._choice(specs)).read_text())
                spec = _Spec(str(c["format"]), str(c["mode"]), int(c["width"]),
                             int(c["height"]), None if c["quality"] is None else int(c["quality"]),
                             None if c.get("colors") is None else int(c["colors"]))
                if spec not in specs:
                    return None
                data = (folder / spec.name()).read_bytes()
                if not data:
                    return None
                encoded[li] = (specs, EncodedImage(data, spec.format, spec.width, spec.height,
                                                   spec.mode, spec.width / stats.width,
                                                   spec.quality, spec.colors))
            return _Done(job.index, stats, encoded, False)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, job: _Job, done: _Done) -> None:
        if self.disabled or not isinstance(job.load, CropSource):
            return
        try:
            folder = self.folder(job.load)
            folder.mkdir(parents=True, exist_ok=True)
            s = done.stats
            self._write(folder / "stats.json", json.dumps(
                {"width": s.width, "height": s.height, "gray": s.gray,
                 "palette": s.palette, "exact": s.exact,
                 "mostly_flat": s.mostly_flat}).encode())
            for specs, enc in done.encoded.values():
                self._write(folder / _spec_of(enc).name(), enc.data)
                self._write(folder / self._choice(specs), json.dumps(
                    {"format": enc.format, "mode": enc.mode, "width": enc.width,
                     "height": enc.height, "quality": enc.quality,
                     "colors": enc.colors}).encode())
        except OSError:
            self.disabled = True

    @staticmethod
    def _choice(specs: tuple) -> str:
        """Which of these candidates won: one small file per candidate set."""
        key = "|".join(sorted(sp.name() for sp in specs))
        return "choice-" + hashlib.sha256(key.encode()).hexdigest()[:24] + ".json"

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
