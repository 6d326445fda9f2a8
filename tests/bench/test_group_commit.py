"""Group commit of the journal file (the storage fix the overhead benchmark measures)."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from hpo.backends.base import JobSpec
from hpo.backends.simulated import SimulatedBackend
from hpo.optuna_internals import journal_backend
from hpo.storage import GroupCommitJournalFile, group_commit, open_storage
from tests.sim import make_rig


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def new_study(path: Path) -> optuna.Study:
    return optuna.create_study(storage=open_storage(str(path)), study_name="s")


def test_each_write_is_fsynced_unless_deferred(tmp_path: Path, fsyncs: list[int]) -> None:
    study = new_study(tmp_path / "s.journal")
    before = len(fsyncs)
    study.set_user_attr("a", 1)
    assert len(fsyncs) == before + 1
    with group_commit(study) as sync:
        for i in range(5):
            study.set_user_attr(f"k{i}", i)
        assert len(fsyncs) == before + 1  # written, not yet synced
        other = optuna.load_study(study_name="s", storage=open_storage(str(tmp_path / "s.journal")))
        assert other.user_attrs["k4"] == 4  # but already in the file for every reader
        sync()
        sync()  # nothing pending: no second fsync
        assert len(fsyncs) == before + 2
        study.set_user_attr("late", 1)
    assert len(fsyncs) == before + 3  # leaving the block syncs what is pending
    study.set_user_attr("after", 1)
    assert len(fsyncs) == before + 4  # and fsync per write is back


def test_other_storages_get_a_no_op(tmp_path: Path) -> None:
    for storage in (optuna.storages.InMemoryStorage(),
                    open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")):  # fmt: skip
        with group_commit(optuna.create_study(storage=storage)) as sync:
            sync()


def test_the_controller_syncs_before_every_submit(tmp_path: Path, fsyncs: list[int]) -> None:
    rig = make_rig(tmp_path, "budget: {n_trials: 20, max_parallel: 4}\n")
    rig.storage = open_storage(str(tmp_path / "sim.journal"))
    journal = journal_backend(rig.storage)
    assert isinstance(journal, GroupCommitJournalFile)
    seen: list[bool] = []

    class Checking(SimulatedBackend):
        def submit(self, job: JobSpec) -> str:
            seen.append(journal.dirty)  # everything written so far must be durable
            return super().submit(job)

    rig.backend = Checking(rig.store, rig.backend.planner, rig.clock.now)
    before = len(fsyncs)
    summary = rig.controller().run()
    assert summary.complete == 20 and seen == [False] * 20
    assert not journal.deferred and not journal.dirty
    writes = len(rig.study().get_trials()) * 20  # ~20 storage writes per trial
    assert len(fsyncs) - before < writes / 4  # one per submit and per tick, not per write
