"""An on-disk cache of OCR results, so a second run over the same screenshots is instant.

One JSON file per (image content, OCR key): the file name is the sha256 of the image's
sha256 and the key (engine name, version, settings, tiling). Entries are written
atomically (a temporary file in the same folder, then os.replace), so a reader sees a
whole entry or none. An entry that is corrupt, half-written or of another schema is a
miss: the caller runs OCR again and `put` overwrites it. A cache folder that cannot be
created or written to turns the cache off for the rest of the run, with one warning.
Nothing here ever raises to the caller.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

from .base import OcrResult

SCHEMA = 1


class CacheWarning(UserWarning):
    """The OCR cache could not be used; the run goes on without it."""


def default_cache_dir() -> Path:
    """`<user cache dir>/evidence/ocr`; on Linux $XDG_CACHE_HOME/evidence/ocr or
    ~/.cache/evidence/ocr. Read at call time, so a changed environment is honoured."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("evidence", appauthor=False)) / "ocr"


class OcrCache:
    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.disabled = False  # set after a failed write: no more attempts this run
        self.warning: str | None = None  # the one warning given, for callers to show

    def path_for(self, sha256: str, key: str) -> Path:
        name = hashlib.sha256(f"{SCHEMA}\0{sha256}\0{key}".encode()).hexdigest()
        return self.directory / f"{name}.json"

    def get(self, sha256: str, key: str) -> OcrResult | None:
        """The cached result, or None on a miss (absent, unreadable, corrupt, foreign)."""
        try:
            with open(self.path_for(sha256, key), "rb") as f:
                d = json.loads(f.read())
            if (not isinstance(d, dict) or d.get("schema") != SCHEMA
                    or d.get("sha256") != sha256 or d.get("key") != key):
                return None
            result = OcrResult.from_json(d["result"])
            if result.width <= 0 or result.height <= 0:
                return None
            return result
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # ValueError covers json.JSONDecodeError and UnicodeDecodeError.
            return None

    def put(self, sha256: str, key: str, result: OcrResult) -> None:
        if self.disabled:
            return
        target = self.path_for(sha256, key)
        data = json.dumps({"schema": SCHEMA, "sha256": sha256, "key": key,
                           "result": result.to_json()}, ensure_ascii=False).encode("utf-8")
        tmp = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
            tmp = None
        except OSError as e:
            self._give_up(e)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _give_up(self, e: OSError) -> None:
        self.disabled = True
        self.warning = (f"OCR cache disabled: cannot write to {self.directory} "
                        f"({e.strerror or e.__class__.__name__}); OCR results will not be reused")
        warnings.warn(self.warning, CacheWarning, stacklevel=3)
