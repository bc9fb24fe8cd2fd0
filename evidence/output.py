"""Atomic writes: a temp file in the destination folder, then one rename.

A crash, a full disk or Ctrl-C leaves the previous file in place and no stray temp file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import EvidenceError


class OutputError(EvidenceError):
    """The output cannot be written (folder missing or unwritable, disk full)."""


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it replaces `target` in one rename."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise OutputError("output folder does not exist", folder) from None
    except OSError as e:
        raise OutputError(f"cannot write here: {e.strerror or e}", folder) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, target)
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", target) from None
