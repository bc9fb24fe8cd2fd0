"""Sizes as people write them: `636065`, `4.5MB` (decimal, 4,500,000), `4MiB` (4,194,304)."""
from __future__ import annotations

import re

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "k": 10**3, "m": 10**6}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in `text`; raises ValueError with a readable reason."""
    m = _SIZE.match(str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a size (write 636065, 4.5MB or 4MiB)")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return value


def format_size(n: int) -> str:
    if n >= 10**6:
        return f"{n / 10**6:.2f} MB"
    if n >= 10**3:
        return f"{n / 10**3:.0f} kB"
    return f"{n} B"
