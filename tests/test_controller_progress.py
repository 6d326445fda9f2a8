"""Progress is read when a pruner or a live view needs it; a trial whose result is in is
complete, never pruned; each trial line shows the counts after that trial."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from optuna.trial import TrialState
from rich.console import Console

from hpo import attrs
from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimPlan
from hpo.controller.report import ConsoleReporter
from hpo.store.base import ObjectStore, Stamp
from tests.sim import make_rig, quadratic


class CountingStore(ObjectStore):
    """An object store that counts listings and reads by document name."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.root = inner.root
        self.stamp_calls = 0
        self.gets: Counter[str] = Counter()

    def uri(self, key: str) -> str:
        return self.inner.uri(key)

    def get(self, key: str) -> bytes | None:
        self.gets[key.rsplit("/", 1)[-1]] += 1
        return self.inner.get(key)

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)

    def stamps(self, keys: Collection[str]) -> dict[str, Stamp]:
        self.stamp_calls += 1
        return self.inner.stamps(keys)

    def list(self, prefix: str) -> dict[str, Stamp]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def stepping(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
    final = quadratic(params)
    steps = [(float(s), s, final + 1.0 / s) for s in range(1, 6)]
    return SimPlan(duration=5.5, result={"value": final}, steps=steps)


def counted_run(tmp_path: Path, extra: str) -> tuple[Any, CountingStore, int]:
    rig = make_rig(tmp_path, "budget: {n_trials: 6, max_parallel: 2}\n" + extra, stepping)
    rig.store = CountingStore(rig.store)  # type: ignore[assignment]
    rig.backend.store = rig.store
    polls = 0

    class Counting(ConsoleReporter):
        def tick(self, snapshot: Any) -> None:
            nonlocal polls
            polls += 1

    summary = rig.controller(reporter=Counting(Console(file=io.StringIO()))).run()
    assert summary.complete + summary.pruned == 6
    return rig, rig.store, polls


def test_without_pruner_or_live_view_progress_is_read_once_per_trial(tmp_path: Path) -> None:
    rig, store, _ = counted_run(tmp_path, "backend: {type: local, live_progress: false}\n")
    assert store.stamp_calls == 0  # no listing while trials run
    assert store.gets["progress.json"] == 6  # once when each trial ends
    for trial in rig.study().get_trials():  # and the curves are whole
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4, 5]


def test_a_pruner_reads_progress_once_per_poll_for_all_trials(tmp_path: Path) -> None:
    extra = ("backend: {type: local, live_progress: false}\n"
             "pruner: {type: median, n_startup_trials: 2}\n")  # fmt: skip
    _, store, polls = counted_run(tmp_path, extra)
    assert 0 < store.stamp_calls <= polls  # one listing per poll at most


def test_a_trial_whose_result_is_in_is_complete_not_pruned(tmp_path: Path) -> None:
    def planner(job: JobSpec, params: Mapping[str, Any]) -> SimPlan:
        good = job.trial < 3
        steps = [(float(s), s, 1.0 if good else 100.0) for s in range(1, 4)]
        value = 1.0 if good else 100.0
        # trial 3 writes result.json with its last step, then takes a moment to exit
        result_at = 0.5 if job.trial == 3 else None
        return SimPlan(duration=3.5, result={"value": value}, steps=steps, result_at=result_at)

    extra = ("budget: {n_trials: 5, max_parallel: 1}\n"
             "pruner: {type: median, n_startup_trials: 3, n_warmup_steps: 3}\n")  # fmt: skip
    rig = make_rig(tmp_path, extra, planner)
    rig.controller().run()
    by_number = {t.number: t for t in rig.study().get_trials()}
    finished, control = by_number[3], by_number[4]
    assert finished.state is TrialState.COMPLETE and finished.value == 100.0
    assert rig.backend.jobs[finished.user_attrs[attrs.JOB_ID]].terminated is None  # not stopped
    assert control.state is TrialState.PRUNED  # the same curve without its result is pruned
    assert max(control.intermediate_values) == 3


def test_each_trial_line_shows_the_counts_after_that_trial(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 4, max_parallel: 1}\n")
    out = io.StringIO()
    rig.controller(reporter=ConsoleReporter(Console(file=out, width=200))).run()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("trial")]
    tags = [re.search(r"\[(\d+)/4 done, best (\S+)\]", line) for line in lines]
    assert [int(t.group(1)) for t in tags if t] == [1, 2, 3, 4]
    values = [float(line.split("value")[1].split()[0]) for line in lines]
    bests = [float(t.group(2)) for t in tags if t]
    assert bests == [min(values[: i + 1]) for i in range(4)]  # best includes this trial
