"""Schedule arithmetic used by the overhead benchmark."""

from __future__ import annotations

import math

import pytest

from benchmarks.schedule import ideal_makespan, percentile, slot_gaps


def test_ideal_makespan_is_list_scheduling_in_order() -> None:
    assert ideal_makespan([3, 1, 1, 1], 2) == 3  # 1+1+1 on one slot while 3 runs on the other
    assert ideal_makespan([1, 1, 1, 3], 2) == 4  # the long job comes last and starts at 1
    assert ideal_makespan([2, 2, 2], 1) == 6
    assert ideal_makespan([5, 1], 8) == 5  # more slots than jobs
    assert ideal_makespan([], 4) == 0


def test_ideal_makespan_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        ideal_makespan([1.0], 0)


def test_slot_gaps_pair_each_refill_with_the_first_freed_slot() -> None:
    # two slots: jobs end at 3 and 5; the next starts at 3.5 (gap 0.5) and 6 (gap 1)
    intervals = [(0, 3), (0, 5), (3.5, 10), (6, 8)]
    assert slot_gaps(intervals, 2) == [0.5, 1.0]
    assert slot_gaps(intervals, 2, after=4) == [1.0]


def test_slot_gaps_refuse_an_over_full_schedule() -> None:
    with pytest.raises(ValueError, match="all 1 slots busy"):
        slot_gaps([(0, 5), (1, 2)], 1)


def test_percentile_is_nearest_rank() -> None:
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([4.0, 1.0, 2.0, 3.0], 50) == 2.0
    assert math.isnan(percentile([], 99))
