"""Atomic writes: a temp file in the destination folder, then one rename.

A crash, a full disk or Ctrl-C leaves the previous file in place and no stray temp file.
Every command that writes (build, init, validate --html) goes through `atomic_path`.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import EvidenceError


class OutputError(EvidenceError):
    """The output cannot be written (folder missing or unwritable, disk full)."""


def write_failed(e: OSError, target: Path) -> OutputError:
    """The one-line error for an OSError met while writing `target`."""
    if e.errno == errno.ENOSPC:
        return OutputError("disk full while writing", target)
    return OutputError(f"cannot write: {e.strerror or e}", target)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; when the block ends without an error, it
    replaces `target` in one rename (keeping the old file's permissions) and the rename
    is made durable. On any error, Ctrl-C included, the temp file is removed."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError("output path is a folder, not a file name", target)
    if not folder.exists():
        raise OutputError("output folder does not exist", folder)
    if not folder.is_dir():
        raise OutputError("output folder is not a folder", folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except PermissionError:
        raise OutputError("output folder is not writable", folder) from None
    except OSError as e:
        raise OutputError(f"cannot write in output folder: {e.strerror or e}", folder) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            mode = target.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
        try:
            os.chmod(tmp_path, mode)
            os.replace(tmp_path, target)
        except OSError as e:
            raise OutputError(f"cannot move the finished file into place: {e.strerror or e}",
                              target) from None
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise write_failed(e, target) from None
