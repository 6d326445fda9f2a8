"""Slow asks never stall a freed slot: the controller prepares proposals in its idle time.

Asks are made slow on the fake clock (a sampler that advances it), so the test measures in
the controller's own time what a user would see: how long a freed slot waits for its next
job. Prepared trials survive a kill and are closed, not counted as failures, when a run
ends for its budget.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan
from hpo.controller.clock import FakeClock
from hpo.controller.failpoints import Failpoints
from hpo.controller.loop import Controller
from tests.sim import make_rig, quadratic

ASK_SECONDS = 0.4  # a GP ask on a long history, on the controller's clock


class SlowSampler(optuna.samplers.RandomSampler):
    """Random proposals whose every ask costs ``ASK_SECONDS`` of the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(seed=0)
        self.clock = clock

    def infer_relative_search_space(self, study, trial):  # type: ignore[no-untyped-def]
        self.clock.advance(ASK_SECONDS)
        return {}


def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
    return SimPlan(duration=20.0 + (job.trial * 7.3) % 11, result={"value": quadratic(params)})


def slot_waits(rig: Any) -> list[float]:
    """For each job after the first fill: its start minus the end of the job whose slot it
    took (the latest end before its start that no earlier job has claimed)."""
    jobs = sorted(rig.backend.jobs.values(), key=lambda j: j.start)
    ends = sorted(j.done.ended_at for j in jobs if j.done)
    waits, used = [], 0
    for job in jobs[16:]:
        freed = [e for e in ends[used:] if e <= job.start]
        if freed:
            waits.append(job.start - freed[0])
            used += 1
    return waits


def slow_controller(rig: Any, **kwargs: Any) -> Controller:
    """The rig's controller on a study whose asks cost ``ASK_SECONDS`` each."""
    study = rig.study()
    study.sampler = SlowSampler(rig.clock)
    return Controller(study, rig.spec, rig.backend, rig.store, clock=rig.clock, **kwargs)


def run(tmp_path: Path, prepare: bool) -> Any:
    rig = make_rig(tmp_path, "budget: {n_trials: 160, max_parallel: 16}\n", planner)
    controller = slow_controller(rig)
    if not prepare:
        controller.proposer.max_ahead = 0
    controller.run()
    return rig, controller


def test_prepared_proposals_fill_freed_slots_without_waiting_for_asks(tmp_path: Path) -> None:
    rig, _ = run(tmp_path / "ahead", prepare=True)
    slow_rig, _ = run(tmp_path / "fresh", prepare=False)
    ahead, fresh = slot_waits(rig), slot_waits(slow_rig)
    # a slot is noticed within a poll (1 s); asking on the spot adds the asks queued before it
    assert (
        statistics.quantiles(ahead, n=10)[-1] <= 1.0 + 1e-6 < statistics.quantiles(fresh, n=10)[-1]
    )
    assert statistics.fmean(ahead) < statistics.fmean(fresh) - 0.3
    assert len(rig.study().get_trials(states=(TrialState.COMPLETE,))) == 160


def test_prepared_trials_survive_a_kill_and_run_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 40, max_parallel: 16}\n", planner)

    class Killed(Exception):
        pass

    def kill() -> None:
        raise Killed

    controller = slow_controller(rig, failpoints=Failpoints("after_tell=20", action=kill))
    with contextlib.suppress(Killed):
        controller.run()
    prepared = [t.number for t in controller.proposer.prepared]
    assert prepared, "the kill came while proposals were prepared"
    rig.controller().run()  # a fresh controller on the same storage and backend
    trials = rig.study().get_trials()
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 40
    assert all(t.state is TrialState.COMPLETE for t in trials if t.number in prepared)
    jobs_per_trial = [j.spec.trial for j in rig.backend.jobs.values()]
    assert sorted(jobs_per_trial) == sorted(set(jobs_per_trial))  # one job per trial


def test_a_run_that_ends_closes_its_prepared_trials_without_counting_failures(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 100, max_parallel: 16, timeout: 60s}\n", planner)
    summary = slow_controller(rig).run()
    assert summary.reason == "timeout"
    closed = [t for t in rig.study().get_trials()
              if "never started" in t.user_attrs.get(attrs.STOPPED_BY, "")]  # fmt: skip
    assert closed and all(t.state is TrialState.FAIL for t in closed)
    assert all("run ended (timeout)" in t.user_attrs[attrs.FAIL_REASON] for t in closed)
    again = rig.controller()
    again.budget.load(rig.study())
    assert again.budget.failed == 0


def test_a_trial_asked_but_never_staged_gets_its_missing_params(tmp_path: Path) -> None:
    """A kill between creating a trial and setting its params (inside the ask) left a trial
    with no params, which the next run launched with ``{"params": {}}``."""
    rig = make_rig(tmp_path, "budget: {n_trials: 3, max_parallel: 1}\n")
    half_asked = rig.study().ask()  # the trial exists, no parameter is set yet
    half_asked.suggest_float("x", -5, 5)  # one of two set before the kill
    rig.controller().run()
    trials = rig.study().get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    first = trials[0]
    assert set(first.params) == {"x", "y"}
    assert first.value == quadratic(first.params)
