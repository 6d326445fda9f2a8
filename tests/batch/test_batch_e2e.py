"""Batch studies end to end: the real controller, the fake Batch lifecycle, moto's S3.

Trainers are real subprocesses; the controller, the backend and the fake share one fake
clock, so every run takes the same path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from hpo import attrs
from hpo.backends.batch.status import console_url
from hpo.cli import main
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller
from tests.batch.conftest import BUCKET, IMAGE_TRAINERS, REPO, fake_clients, run_study, study_trials
from tests.fakes.fake_batch import FakeBatch, JobPlan

SKLEARN_SPACE = """\
search_space:
  learning_rate_init: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
  alpha: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
  hidden_units: {type: int, low: 8, high: 32, log: true}
"""
QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"


def result_value(s3: Any, study: str, number: int) -> float:
    key = f"runs/{study}/trials/{number}/result.json"
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["value"]


def test_hpo_run_completes_a_batch_study_with_values_from_s3(
    fake: FakeBatch,
    clock: FakeClock,
    s3: Any,
    write_batch_study: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_batch_study(
        "e2e", n_trials=3, max_parallel=2,
        command=f"python {IMAGE_TRAINERS}train_sklearn.py --epochs 2",
    )  # fmt: skip
    path.write_text(path.read_text().replace("search_space:\n  x: {type: float, low: -3, "
                                             "high: 3}\n", SKLEARN_SPACE))  # fmt: skip
    fake.plan("e2e-0-1", JobPlan(reclaims=1))  # spot reclaim: Batch retries the attempt
    fake.plan("e2e-1-1", JobPlan(reclaims=2))  # reclaimed on every Batch attempt: hpo retries
    monkeypatch.setattr("hpo.backends.batch._clients_for", lambda spec: fake_clients(fake, clock))
    monkeypatch.setattr("hpo.session.Controller", functools.partial(Controller, clock=clock))

    result = CliRunner().invoke(main, ["run", str(path)])

    assert result.exit_code == 0, result.output
    done = study_trials(path)
    assert [t.state for t in done] == [TrialState.COMPLETE] * 3
    jobs = {job.name: job for job in fake.jobs()}
    for t in done:
        ua = t.user_attrs
        job = jobs[f"e2e-{t.number}-{ua[attrs.ATTEMPT]}"]
        assert t.value == result_value(s3, "e2e", t.number)
        assert ua[attrs.BACKEND] == "batch" and ua[attrs.JOB_ID] == job.job_id
        assert ua[attrs.LOG_STREAM] == job.attempts[-1].stream  # the attempt that ran
        assert ua[attrs.LOG] == console_url("us-east-1", "/aws/batch/job", job.attempts[-1].stream)
        assert "epoch 2/2" in fake.log_text(job.attempts[-1].stream)
    assert len(jobs["e2e-0-1"].attempts) == 2  # the reclaimed attempt and the one that ran
    first, second, third = done

    def runs(trial: optuna.trial.FrozenTrial) -> list[tuple[int, int, str]]:
        entries = trial.user_attrs[attrs.ATTEMPTS_LOG]
        return [(e["attempt"], e["job_attempt"], e["log_stream"]) for e in entries]

    streams = {name: [a.stream for a in job.attempts] for name, job in jobs.items()}
    assert first.user_attrs[attrs.ATTEMPT] == 1  # Batch's own retry is an attempt too
    assert runs(first) == [(1, 1, streams["e2e-0-1"][0]), (2, 1, streams["e2e-0-1"][1])]
    assert second.user_attrs[attrs.ATTEMPT] == 2
    assert runs(second) == [(1, 1, streams["e2e-1-1"][0]), (2, 1, streams["e2e-1-1"][1]),
                            (3, 2, streams["e2e-1-2"][0])]  # fmt: skip
    earlier = second.user_attrs[attrs.ATTEMPTS_LOG][:2]
    assert {e["job_id"] for e in earlier} == {jobs["e2e-1-1"].job_id}
    assert [e["reason"] for e in earlier] == ["Host EC2 (instance i-0abc) terminated."] * 2
    assert third.user_attrs[attrs.ATTEMPT] == 1
    assert "3 complete" in result.output


def test_a_trainer_error_and_a_malformed_result_fail_only_their_trials(
    fake: FakeBatch, clock: FakeClock, s3: Any, write_batch_study: Callable[..., Path]
) -> None:
    fake.plan("bt-0-*", JobPlan(invisible_for=20))  # an empty describe after submit: not lost
    fake.plan("bt-1-*", JobPlan(env={"FAKE_TRAINER_MODE": "fail"}))
    fake.plan("bt-2-*", JobPlan(env={"FAKE_TRAINER_MODE": "malformed"}))
    path = write_batch_study(n_trials=3, max_parallel=3)

    summary = run_study(path, fake_clients(fake, clock), s3, clock)

    assert (summary.complete, summary.failed) == (3, 2)
    assert fake.calls["SubmitJob"] == 5  # no trial was resubmitted
    by_number = {t.number: t for t in study_trials(path)}
    failed, malformed = by_number.pop(1), by_number.pop(2)
    assert failed.state is TrialState.FAIL
    assert failed.user_attrs[attrs.FAIL_REASON] == "Essential container in task exited; exit code 3"
    assert failed.user_attrs[attrs.EXIT_CODE] == 3 and failed.user_attrs[attrs.LOG]
    stream = failed.user_attrs[attrs.LOG_STREAM]
    assert "CUDA error: out of memory" in fake.log_text(stream)
    assert malformed.state is TrialState.FAIL
    assert malformed.user_attrs[attrs.FAIL_REASON].startswith("result.json is not valid JSON")
    assert all(t.state is TrialState.COMPLETE for t in by_number.values())
    assert all(t.value == result_value(s3, "bt", n) for n, t in by_number.items())


def test_running_the_same_study_twice_registers_the_job_definition_once(
    fake: FakeBatch, clock: FakeClock, s3: Any, write_batch_study: Callable[..., Path]
) -> None:
    command = f"[python, {QUICK_TRAINER}]"
    first = run_study(write_batch_study(n_trials=2, command=command),
                      fake_clients(fake, clock), s3, clock)  # fmt: skip
    again = write_batch_study(n_trials=4, command=command)  # same study, larger budget
    second = run_study(again, fake_clients(fake, clock), s3, clock)
    assert (first.complete, second.complete) == (2, 4)
    assert fake.calls["RegisterJobDefinition"] == 1
    assert fake.calls["DescribeJobDefinitions"] == 2
    assert len({job.definition["jobDefinitionArn"] for job in fake.jobs()}) == 1


def test_the_log_stream_follows_a_batch_level_retry(
    fake: FakeBatch, clock: FakeClock, s3: Any, write_batch_study: Callable[..., Path]
) -> None:
    fake.plan("bt-0-1", JobPlan(reclaims=1))
    path = write_batch_study(n_trials=1, max_parallel=1, command=f"[python, {QUICK_TRAINER}]")
    run_study(path, fake_clients(fake, clock), s3, clock)
    (trial,) = study_trials(path)
    (job,) = fake.jobs()
    assert trial.user_attrs[attrs.LOG_STREAM] == job.attempts[-1].stream
