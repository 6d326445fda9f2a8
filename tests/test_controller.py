"""The controller loop on the simulated backend: budget, concurrency, failures, retries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan
from hpo.controller.loop import StopReason
from hpo.controller.report import NullReporter, TrialEvent
from tests.sim import make_rig, quadratic


def busy_concurrency(intervals: list[tuple[float, float]]) -> float:
    """Average number of running jobs between the first start and the last start."""
    lo = min(s for s, _ in intervals)
    hi = max(s for s, _ in intervals)
    covered = sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in intervals)
    return covered / (hi - lo)


def test_runs_the_budget_and_tells_what_the_trainer_wrote(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 12, max_parallel: 4}\n")
    summary = rig.controller().run()
    assert summary.reason == StopReason.COMPLETE
    trials = rig.study().get_trials()
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETE for t in trials)
    for t in trials:
        assert t.value == quadratic(t.params)
        ua = t.user_attrs
        assert ua[attrs.JOB_ID] == f"sim-{t.number}-1" and ua[attrs.ATTEMPT] == 1
        assert ua[attrs.STAGE] == "succeeded" and ua[attrs.BACKEND] == "simulated"
        assert ua[attrs.TRIAL_URI].endswith(f"store/sim/trials/{t.number}")
        assert ua[attrs.ENDED_AT] - ua[attrs.STARTED_AT] == 10.0
        assert ua[attrs.COMPUTE_SECONDS] == 10.0
        params_doc = json.loads(rig.store.get(f"sim/trials/{t.number}/params.json"))
        assert params_doc == {"params": t.params, "trial": t.number, "study": "sim", "attempt": 1}


def test_free_slots_are_refilled_at_once_without_rounds(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        duration = 200.0 if job.trial == 0 else 5.0 + (job.trial * 7) % 13
        return SimPlan(duration=duration, result={"value": quadratic(params)})

    rig = make_rig(tmp_path, "budget: {n_trials: 40, max_parallel: 4}\n", planner)
    rig.controller().run()
    jobs = sorted(rig.backend.jobs.values(), key=lambda j: j.start)
    intervals = [(j.start, j.done.ended_at) for j in jobs]
    # never more than max_parallel at once
    for t in {s for s, _ in intervals}:
        assert sum(s <= t < e for s, e in intervals) <= 4
    # every job after the first four starts within one poll of some job ending
    ends = sorted(e for _, e in intervals)
    for start, _ in intervals[4:]:
        assert min(start - e for e in ends if e <= start) <= rig.backend.poll_interval
    # the slow trial 0 did not hold the others back: many finished while it ran
    slow = rig.backend.jobs["sim-0-1"]
    assert sum(j.done.ended_at <= slow.done.ended_at for j in jobs if j is not slow) >= 30
    assert busy_concurrency(intervals) >= 3.9


def test_a_bad_trainer_fails_only_its_trial(tmp_path: Path) -> None:
    outcomes = {
        1: SimPlan(duration=3, exit_code=3),
        2: SimPlan(duration=3, result=None),
        3: SimPlan(duration=3, result=b'{"value": NaN}'),
        4: SimPlan(duration=3, result=b"oops"),
    }

    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return outcomes.get(job.trial, SimPlan(duration=3, result={"value": 1.0}))

    rig = make_rig(tmp_path, "budget: {n_trials: 6, max_parallel: 2}\n", planner)
    summary = rig.controller().run()
    assert (summary.complete, summary.failed) == (6, 4)
    reasons = {t.number: t.user_attrs.get(attrs.FAIL_REASON) for t in rig.study().get_trials()}
    assert reasons[1] == "exit code 3"
    assert reasons[2] == "the trainer exited without writing result.json"
    assert "nan, not a finite number" in reasons[3]
    assert "not valid JSON" in reasons[4]
    failed = [t for t in rig.study().get_trials() if t.state is TrialState.FAIL]
    assert {t.number for t in failed} == {1, 2, 3, 4}
    assert all(t.user_attrs[attrs.STAGE] == "failed" for t in failed)


def test_a_failed_trial_keeps_the_steps_it_reported_after_the_last_poll(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        steps = [(0.5, 1, 0.9), (2.9, 2, 0.8)]  # step 2 lands in the poll that sees the exit
        if job.trial == 0:
            return SimPlan(duration=3, exit_code=3, steps=steps)
        return SimPlan(duration=3, result={"value": 1.0}, steps=steps)

    rig = make_rig(tmp_path, "budget: {n_trials: 2, max_parallel: 1}\n", planner)
    rig.controller().run()
    failed, complete, *_ = rig.study().get_trials()
    assert failed.state is TrialState.FAIL and complete.state is TrialState.COMPLETE
    assert failed.intermediate_values == complete.intermediate_values == {1: 0.9, 2: 0.8}


def test_max_failures_stops_the_study(tmp_path: Path) -> None:
    rig = make_rig(
        tmp_path,
        "budget: {n_trials: 50, max_parallel: 1, max_failures: 3}\n",
        lambda job, params: SimPlan(duration=1, exit_code=1),
    )
    summary = rig.controller().run()
    assert summary.reason == StopReason.FAILURES
    assert summary.failed == 3 and len(rig.study().get_trials()) == 3


def test_an_infrastructure_loss_is_retried_with_the_same_params(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        lost = 4.0 if job.attempt == 1 and job.trial % 2 == 0 else None
        return SimPlan(duration=10, result={"value": quadratic(params)}, lost_at=lost)

    rig = make_rig(tmp_path, "budget: {n_trials: 6, max_parallel: 3}\n", planner)
    summary = rig.controller().run()
    assert (summary.complete, summary.failed) == (6, 0)
    for t in rig.study().get_trials():
        retried = t.number % 2 == 0
        assert t.user_attrs[attrs.ATTEMPT] == (2 if retried else 1)
        assert t.value == quadratic(t.params)
        if retried:
            history = t.user_attrs[attrs.ATTEMPTS_LOG]  # every run, the last one too
            runs = [(h["attempt"], h["job_attempt"], h["job_id"], h["seconds"]) for h in history]
            assert runs == [(1, 1, f"sim-{t.number}-1", 4.0), (2, 2, f"sim-{t.number}-2", 10.0)]
            assert history[0]["reason"] == "simulated host loss"
            assert t.user_attrs[attrs.COMPUTE_SECONDS] == 14.0  # 4 s lost + 10 s
            doc = json.loads(rig.store.get(f"sim/trials/{t.number}/params.json"))
            assert doc["attempt"] == 2 and doc["params"] == t.params


def test_retries_are_bounded(tmp_path: Path) -> None:
    rig = make_rig(
        tmp_path,
        "budget: {n_trials: 1, max_parallel: 1, max_failures: 1}\nretries: {max_attempts: 2}\n",
        lambda job, params: SimPlan(duration=10, lost_at=1.0),
    )
    summary = rig.controller().run()
    assert summary.failed == 1
    (trial,) = rig.study().get_trials()
    assert trial.user_attrs[attrs.FAIL_REASON] == "simulated host loss (after 2 attempts)"
    assert rig.backend.submits == 2


def test_timeout_stops_asking_and_stops_the_running_trials(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 100, max_parallel: 2, timeout: 25}\n")
    summary = rig.controller().run()
    assert summary.reason == StopReason.TIMEOUT
    trials = rig.study().get_trials()
    assert len(trials) == 6  # asked at t=0, 10, 20 (2 each); none after 25 s
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4 + [TrialState.FAIL] * 2
    for t in trials[4:]:  # the two started at t=20 were stopped at t=25, not waited for
        assert t.user_attrs[attrs.FAIL_REASON] == "stopped at budget.timeout (25s)"
        assert t.user_attrs[attrs.STOPPED_BY] == "budget.timeout"
        assert rig.backend.jobs[t.user_attrs[attrs.JOB_ID]].terminated_at == 1_700_000_025.0
    assert (summary.failed, summary.stopped) == (0, 2)  # not failures: hpo stopped them


class StopAfter(NullReporter):
    """Requests a stop after ``n`` trials finished (a Ctrl-C in the middle of a study)."""

    def __init__(self, n: int) -> None:
        self.n, self.seen, self.controller = n, 0, None

    def trial_finished(self, event: TrialEvent) -> None:
        self.seen += 1
        if self.seen == self.n:
            self.controller.request_stop()


def test_stop_leaves_jobs_running_and_a_new_controller_finishes(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        return SimPlan(duration=10.0 + 3 * job.trial, result={"value": quadratic(params)})

    rig = make_rig(tmp_path, "budget: {n_trials: 10, max_parallel: 4}\n", planner)
    reporter = StopAfter(3)
    first = rig.controller(reporter=reporter)
    reporter.controller = first
    summary = first.run()
    # trials 0-3 start at t=0; 0 and 1 end at t=10 and 13 and are replaced by 4 and 5;
    # 2 ends at t=16, the stop comes, and no new trial is asked
    assert summary.reason == StopReason.INTERRUPTED and summary.running == 3
    running = rig.study().get_trials(states=(TrialState.RUNNING,))
    assert [r.number for r in running] == [3, 4, 5]
    assert all(r.user_attrs[attrs.JOB_ID] for r in running)
    assert len(rig.backend.running()) == 3  # the jobs were not stopped
    rig.clock.advance(100)  # they finish while no controller runs
    summary = rig.controller().run()
    trials = rig.study().get_trials()
    assert summary.reason == StopReason.COMPLETE
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 10
    assert rig.backend.submits == 10  # one job per trial: nothing ran twice
    assert all(t.value == quadratic(t.params) for t in trials)


def test_resume_adopts_a_job_whose_id_was_never_recorded(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 3, max_parallel: 1}\n")
    controller = rig.controller()
    trial = controller.study.ask(controller._space)
    from hpo.controller.inflight import InFlight

    inflight = InFlight(trial=trial, number=trial.number)
    controller._stage(inflight)  # params written, stage recorded ...
    rig.backend.submit(JobSpec("sim-0-1", "sim", 0, 1, "unused"))  # ... submitted, then a crash
    summary = rig.controller().run()
    assert summary.complete == 3
    assert rig.backend.submits == 3
    first = rig.study().trials[0]
    assert first.user_attrs[attrs.JOB_ID] == "sim-0-1" and first.value == quadratic(first.params)


def test_resume_submits_a_staged_trial_with_its_params(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 2, max_parallel: 1}\n")
    controller = rig.controller()
    asked = controller.study.ask(controller._space)  # asked, then the controller died
    summary = rig.controller().run()
    assert summary.complete == 2 and rig.backend.submits == 2
    first = rig.study().trials[0]
    assert first.params == asked.params and first.value == quadratic(asked.params)


def test_pruned_trials_are_stopped_and_their_slots_refilled(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        final = quadratic(params)
        steps = [(float(s), s, final + 10.0 / s) for s in range(1, 11)]
        return SimPlan(duration=10.5, result={"value": final}, steps=steps)

    extra = (
        "budget: {n_trials: 20, max_parallel: 2}\n"
        "pruner: {type: median, n_startup_trials: 3, n_warmup_steps: 1}\n"
    )
    rig = make_rig(tmp_path, extra, planner)
    summary = rig.controller().run()
    trials = rig.study().get_trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert summary.pruned == len(pruned) >= 3
    assert summary.complete + summary.pruned == 20
    # a full trial costs 10.5 s; each pruned trial spent less before it was stopped
    expected = sum(10.5 - t.user_attrs[attrs.COMPUTE_SECONDS] for t in pruned)
    assert summary.compute_saved == pytest.approx(expected) and expected > 0
    for t in pruned:
        job = rig.backend.jobs[t.user_attrs[attrs.JOB_ID]]
        assert job.terminated == f"pruned at step {max(t.intermediate_values)}"
        assert t.user_attrs[attrs.STAGE] == "pruned"
        assert t.user_attrs[attrs.COMPUTE_SECONDS] < 10.5
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert all(len(t.intermediate_values) == 10 for t in complete)


def test_multi_objective_values(tmp_path: Path) -> None:
    from hpo.controller.loop import Controller
    from hpo.spec.loader import parse_spec
    from tests.sim import SIM_STUDY

    text = (
        SIM_STUDY.replace(
            "objective: {metric: loss, direction: minimize}",
            "objective: {directions: [minimize, maximize]}",
        )
        + "budget: {n_trials: 4, max_parallel: 2}\nsampler: {type: nsga2, seed: 0}\n"
    )
    rig = make_rig(
        tmp_path, planner=lambda job, p: SimPlan(duration=2, result={"values": [p["x"], p["y"]]})
    )
    spec = parse_spec(text)
    import optuna

    study = optuna.create_study(
        storage=rig.storage, study_name="sim", directions=["minimize", "maximize"]
    )
    summary = Controller(study, spec, rig.backend, rig.store, clock=rig.clock).run()
    assert summary.complete == 4
    for t in study.get_trials():
        assert t.values == [t.params["x"], t.params["y"]]
