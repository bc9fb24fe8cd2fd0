"""A date far outside the case's other dates (2002 among 2024) is a misread, not evidence.

A case's exhibits are one dispute: weeks or months apart, rarely years. A date more than
OUTLIER_DAYS from the median of the case's dates is flagged by `check` and fails
`validate`'s order check, unless a person set it by hand.
"""
from __future__ import annotations

import statistics
from datetime import datetime
from typing import Hashable, Sequence

OUTLIER_DAYS = 2 * 366
MIN_OTHERS = 2  # with fewer dates there is no "rest of the case" to stand out from


def outliers(dated: Sequence[tuple[Hashable, datetime]]) -> dict[Hashable, datetime]:
    """key -> the case's median date, for each (key, date) far from that median."""
    if len(dated) < MIN_OTHERS + 1:
        return {}
    median = statistics.median_low([d.toordinal() for _, d in dated])
    mid = datetime.fromordinal(median)
    return {k: mid for k, d in dated if abs(d.toordinal() - median) > OUTLIER_DAYS}
