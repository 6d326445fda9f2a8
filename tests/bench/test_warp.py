"""The time-warped clock: work is charged in real time, waits are skipped but counted."""

from __future__ import annotations

import threading

from benchmarks.warp import WarpClock


class Source:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_waits_cost_no_real_time_but_advance_virtual_time() -> None:
    src = Source()
    clock = WarpClock(start=1000.0, source=src)
    src.t += 0.25  # the controller works for 0.25 s
    clock.wait(1.0, threading.Event())
    assert clock.monotonic() == 1.25 and clock.now() == 1001.25
    assert clock.real() == 0.25 and clock.skipped == 1.0
    src.t += 0.5
    clock.wait(2.0, threading.Event())
    assert clock.monotonic() == 3.75
    assert clock.work == [0.25, 0.5]  # real work per tick
    assert clock.waits == [0.25, 1.75]  # virtual time at which each wait began


def test_a_set_wake_event_skips_nothing() -> None:
    src = Source()
    clock = WarpClock(source=src)
    wake = threading.Event()
    wake.set()
    clock.wait(5.0, wake)
    assert clock.monotonic() == 0.0 and clock.skipped == 0.0


def test_it_satisfies_the_controller_clock_protocol() -> None:
    from hpo.controller.clock import Clock

    clock: Clock = WarpClock()
    assert clock.now() > 1e9 and clock.monotonic() >= 0
