"""One controller per study: the lease refuses a live holder and takes over a dead one."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

from hpo.attrs import STUDY_LEASE
from hpo.errors import LeaseError
from hpo.lease import Lease


class Now:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def study() -> optuna.Study:
    return optuna.create_study(storage=optuna.storages.InMemoryStorage(), study_name="s")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_holder_on_this_host_is_refused(study: optuna.Study) -> None:
    now = Now()
    Lease(study, now=now).acquire()  # this process: alive
    with pytest.raises(LeaseError, match="already being run by another controller"):
        Lease(study, now=now).acquire()


def test_a_dead_holder_on_this_host_is_taken_over_at_once(study: optuna.Study) -> None:
    now = Now()
    Lease(study, now=now, pid=dead_pid()).acquire()
    mine = Lease(study, now=now)
    mine.acquire()
    assert study.user_attrs[STUDY_LEASE]["owner"] == mine.owner


def test_another_hosts_lease_is_taken_over_only_after_it_expires(study: optuna.Study) -> None:
    now = Now()
    other = Lease(study, now=now, host="elsewhere", ttl=60)
    other.acquire()
    now.t += 30
    other.renew()  # a third of the ttl passed: renewed until t=1090
    now.t += 50
    with pytest.raises(LeaseError, match=r"pid \d+ on elsewhere"):
        Lease(study, now=now).acquire()
    now.t += 11
    Lease(study, now=now).acquire()


def test_release_frees_the_study(study: optuna.Study) -> None:
    now = Now()
    first = Lease(study, now=now, host="elsewhere")
    first.acquire()
    first.release()
    Lease(study, now=now).acquire()


def test_release_does_not_free_someone_elses_lease(study: optuna.Study) -> None:
    now = Now()
    old = Lease(study, now=now, pid=dead_pid())
    old.acquire()
    new = Lease(study, now=now)
    new.acquire()
    old.release()  # a late cleanup of the dead controller must not drop the new lease
    assert study.user_attrs[STUDY_LEASE]["owner"] == new.owner
