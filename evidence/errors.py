"""The project's error types and the one place that maps them to exit codes.

The library raises; only the CLI turns an error into an exit status (as OCRmyPDF does).
Every message is one line that names the file and the problem.
"""
from __future__ import annotations

import enum
import re
from pathlib import Path

# C0/C1 control characters and the Unicode line/paragraph separators: any of them in a
# file name or a manifest string would split or rewrite a one-line message.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: object) -> str:
    """`text` with every control character escaped (a newline becomes the two characters \\n),
    so a message about a hostile file name stays one line on a terminal or in a log."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"
                                             if ord(m.group()) < 0x100
                                             else f"\\u{ord(m.group()):04x}"), str(text))


class ExitCode(enum.IntEnum):
    ok = 0
    check_failed = 1  # a screenshot failed its check, or a package failed validation
    bad_input = 2  # bad usage, or a case folder / package that cannot be read at all
    too_big = 3  # the package cannot fit under the size cap above the legibility floor
    interrupted = 130  # Ctrl-C


class EvidenceError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = ExitCode.bad_input

    def __init__(self, message: str, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        self.message = message
        super().__init__(one_line(f"{path}: {message}" if path is not None else message))


class CaseError(EvidenceError):
    """case.toml is missing, malformed or incomplete; or the case folder is unusable."""


class InputError(EvidenceError):
    """One input file (a screenshot, a note) cannot be used. The rest of the work goes on."""


class EngineError(EvidenceError):
    """An OCR engine cannot be loaded (missing extra, missing or damaged model weights)."""


class ChecksFailed(EvidenceError):
    """Some screenshots failed their checks and the build is strict.

    `details` are one line each (a file and its problem), shown under the message."""

    exit_code = ExitCode.check_failed

    def __init__(self, message: str, path: Path | str | None = None,
                 details: list[str] | tuple[str, ...] = ()):
        first, *rest = message.split("\n")  # "summary:\n  a\n  b" is a summary and details
        super().__init__(first.rstrip(":") if rest else first, path)
        self.details = [one_line(d.strip()) for d in [*rest, *details] if d.strip()]

    def __str__(self) -> str:
        head = super().__str__()
        return "\n  ".join([head + ":" if self.details else head, *self.details])


class TooBig(EvidenceError):
    """The package cannot fit under its caps without going below the legibility floor."""

    exit_code = ExitCode.too_big


class PackageError(EvidenceError):
    """A PDF package cannot be read at all (validate)."""


class BrokerError(EvidenceError):
    """The task broker (Redis, for `--broker`) cannot be reached or stopped answering, or
    no worker is listening on it."""
