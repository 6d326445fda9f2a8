"""Schedule arithmetic: the ideal makespan of a set of jobs and the idle gaps of slots."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence


def ideal_makespan(durations: Sequence[float], slots: int) -> float:
    """List scheduling in order on ``slots`` slots with zero gaps: each job takes the first
    slot to come free. The finish time of the last job."""
    if slots < 1:
        raise ValueError("slots must be >= 1")
    free = [0.0] * min(slots, len(durations))
    heapq.heapify(free)
    end = 0.0
    for duration in durations:
        start = heapq.heappop(free)
        finish = start + duration
        end = max(end, finish)
        heapq.heappush(free, finish)
    return end


def slot_gaps(
    intervals: Sequence[tuple[float, float]], slots: int, after: float = -math.inf
) -> list[float]:
    """Idle time of a slot between a job ending and the next job starting.

    ``intervals`` are (start, end) of every job. The first ``slots`` starts fill empty slots;
    each later start takes the slot that came free first (FIFO), and its gap is the time since
    that slot freed. Only slots freed at or after ``after`` count; slots that stay empty at the
    end are not counted.
    """
    starts = sorted(s for s, _ in intervals)
    ends = sorted(e for _, e in intervals)
    gaps: list[float] = []
    for freed, start in zip(ends, starts[slots:], strict=False):
        if freed > start + 1e-9:
            raise ValueError(f"a job started at {start} with all {slots} slots busy")
        if freed >= after:
            gaps.append(start - freed)
    return gaps


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
