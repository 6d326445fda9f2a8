"""``hpo logs``: local log files and CloudWatch Logs (moto), per attempt, read or followed."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import optuna
import pytest
from click.testing import Result
from moto import mock_aws
from optuna.trial import TrialState

from hpo import attrs
from hpo.inspect.logs import (
    CloudWatchLogSource,
    FileLogSource,
    LogSource,
    LogUnavailable,
    stream,
)
from tests.inspect.conftest import (
    Built,
    finish_trial,
    new_study,
    no_fsync,
    start_trial,
    storage_files,
    write_study_file,
)

Cli = Callable[..., Result]
GROUP = "/hpo/test-jobs"
REGION = "eu-west-1"


# --------------------------------------------------------------------------- local files


def test_finished_trial_prints_its_log(finished: Built, cli: Cli) -> None:
    result = cli("logs", finished.study_file, "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"t0 epoch {i}" for i in range(1, 11)]
    assert "trial 0 attempt 1: " in result.stderr and "attempt-1.log" in result.stderr


def test_attempts_default_to_the_latest_and_can_be_picked(finished: Built, cli: Cli) -> None:
    assert cli("logs", finished.study_file, "4").stdout == "attempt two\nTraceback: boom\n"
    earlier = cli("logs", finished.study_file, "4", "--attempt", "1")
    assert earlier.stdout == "attempt one\nhost went away\n"
    missing = cli("logs", finished.study_file, "4", "--attempt", "3")
    assert missing.exit_code == 1
    assert "trial 4 has no attempt 3 (attempts: 1, 2)" in missing.stderr


def test_unknown_trial_is_a_clear_error(finished: Built, cli: Cli) -> None:
    result = cli("logs", finished.study_file, "99")
    assert result.exit_code == 1
    assert "study 'demo' has no trial 99 (trials 0-4)" in result.stderr
    assert "hint: list the trials with: hpo export" in result.stderr


def test_trial_without_a_log_file_says_so(finished: Built, cli: Cli) -> None:
    result = cli("logs", finished.study_file, str(finished.roles["pruned_a"]))
    assert result.exit_code == 1
    assert "attempt-1.log does not exist (yet)" in result.stderr


def test_running_trial_prints_what_is_there_including_the_unfinished_line(
    running: Built, cli: Cli
) -> None:
    before = storage_files(running.study_file.parent)
    result = cli("logs", running.study_file, "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2", "epoch 3 (in progr"]
    assert storage_files(running.study_file.parent) == before


def test_follow_prints_new_lines_until_the_trial_finishes(running: Built, cli: Cli) -> None:
    log = Path(running.trial("running").user_attrs[attrs.LOG])
    waits: list[float] = []

    def wait(seconds: float) -> bool:  # the trainer writes on, then the controller tells
        waits.append(seconds)
        with log.open("a") as handle:
            handle.write("ess)\nepoch 4\n" if len(waits) == 1 else "done\n")
        if len(waits) == 2:
            running.study.tell(running.roles["running"], 0.4)
        return False

    result = cli("logs", running.study_file, "1", "--follow", obj={"wait": wait})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "epoch 1",
        "epoch 2",
        "epoch 3 (in progress)",
        "epoch 4",
        "done",
    ]
    assert len(waits) == 2


def test_follow_waits_for_a_job_that_has_not_started(running: Built, cli: Cli) -> None:
    number = running.roles["submitted"]
    assert cli("logs", running.study_file, str(number)).exit_code == 1  # nothing to read yet
    trial_dir = running.trial_dir(number)
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 2:  # the job starts and logs
            (trial_dir / "logs").mkdir(parents=True)
            (trial_dir / "logs" / "attempt-1.log").write_text("hello from the job\n")
        if len(waits) == 3:
            running.study.tell(number, state=TrialState.FAIL)
        return False

    result = cli("logs", running.study_file, str(number), "-f", obj={"wait": wait})
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from the job\n" and len(waits) == 3


def test_file_source_restarts_when_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    source = FileLogSource(path)
    with pytest.raises(LogUnavailable):
        source.fetch()
    path.write_text("one\ntwo\n")
    assert source.fetch() == ["one", "two"]
    path.write_text("3\n")
    assert source.fetch() == ["3"]


# --------------------------------------------------------------------------- CloudWatch (moto)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's CloudWatch Logs in the study's region (the default region is another one)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        client.create_log_group(logGroupName=GROUP)
        yield client


def put(client: Any, stream_name: str, *lines: str, group: str = GROUP) -> None:
    """Write log events (current timestamps: moto drops events older than 14 days)."""
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream_name)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    client.put_log_events(logGroupName=group, logStreamName=stream_name, logEvents=events)


def build_batch(directory: Path, where: str = f"log_group: {GROUP}") -> Built:
    """A Batch study: trial 0 finished on its second attempt, trial 1 running."""
    with no_fsync():
        return _build_batch(directory, where)


def _build_batch(directory: Path, where: str) -> Built:
    backend = f"backend: {{type: batch, region: {REGION}, {where}, job_queue: q}}\n"
    study_file = write_study_file(directory, "cloud", backend=backend)
    study_file.write_text(study_file.read_text().replace("store: runs", "store: s3://b/hpo"))
    study = new_study(study_file)
    base = {attrs.BACKEND: "batch", attrs.TRIAL_URI: "s3://b/hpo/cloud/trials/0"}
    console = "https://console.aws.amazon.com/cloudwatch/home#logsV2:log-groups"
    history = [
        {
            "attempt": 1,
            "job_id": "j-1",
            "reason": "Host EC2 terminated",
            "log": console,
            "log_stream": "cloud/default/first",
        }
    ]
    t = start_trial(study, {"lr": 0.1, "units": 8, "act": "relu"}, **base, **{attrs.ATTEMPT: 2})
    finish_trial(
        study,
        t,
        TrialState.COMPLETE,
        value=0.3,
        compute=50.0,
        ended_at=time.time(),
        **{
            attrs.LOG: console,
            attrs.LOG_STREAM: "cloud/default/second",
            attrs.ATTEMPTS_LOG: history,
        },
    )
    start_trial(
        study,
        {"lr": 0.2, "units": 9, "act": "relu"},
        **base,
        **{
            attrs.ATTEMPT: 1,
            attrs.STAGE: "running",
            attrs.JOB_ID: "j-3",
            attrs.LOG: console,
            attrs.LOG_STREAM: "cloud/default/live",
        },
    )
    return Built(study_file, study, time.time(), {"finished": 0, "running": 1})


def test_batch_trial_reads_cloudwatch_per_attempt(aws: Any, tmp_path: Path, cli: Cli) -> None:
    built = build_batch(tmp_path)
    put(aws, "cloud/default/first", "first attempt", "spot reclaimed")
    put(aws, "cloud/default/second", *[f"line {i}" for i in range(30)])
    result = cli("logs", built.study_file, "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"line {i}" for i in range(30)]
    assert f"CloudWatch Logs {GROUP} cloud/default/second" in result.stderr
    first = cli("logs", built.study_file, "0", "--attempt", "1")
    assert first.stdout.splitlines() == ["first attempt", "spot reclaimed"]


def test_batch_log_group_comes_from_the_stack_like_the_backend(
    aws: Any, tmp_path: Path, cli: Cli
) -> None:
    """With ``stack:`` and no ``log_group``, jobs log to the stack's group; so must hpo logs."""
    template = {
        "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup",
                               "Properties": {"LogGroupName": "/hpo/prod"}}},
        "Outputs": {"LogGroupName": {"Value": {"Ref": "Logs"}}},
    }  # fmt: skip
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="prod", TemplateBody=json.dumps(template)
    )
    put(aws, "cloud/default/second", "from the stack", group="/hpo/prod")
    built = build_batch(tmp_path, where="stack: prod")
    result = cli("logs", built.study_file, "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["from the stack"]
    assert "CloudWatch Logs /hpo/prod cloud/default/second" in result.stderr


def test_batch_running_trial_follow(aws: Any, tmp_path: Path, cli: Cli) -> None:
    built = build_batch(tmp_path)
    put(aws, "cloud/default/live", "epoch 1")
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        put(aws, "cloud/default/live", f"epoch {len(waits) + 1}")
        if len(waits) == 2:
            built.study.tell(built.roles["running"], 0.1)
        return False

    result = cli("logs", built.study_file, "1", "--follow", obj={"wait": wait})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2", "epoch 3"]


def test_batch_stream_missing_is_a_clear_error(aws: Any, tmp_path: Path, cli: Cli) -> None:
    built = build_batch(tmp_path)
    result = cli("logs", built.study_file, "1")
    assert result.exit_code == 1
    assert f"no log stream 'cloud/default/live' in log group '{GROUP}' (yet)" in result.stderr


def test_cloudwatch_source_paginates_and_resumes(aws: Any) -> None:
    put(aws, "s", *[f"m{i}" for i in range(7)])
    source = CloudWatchLogSource(aws, GROUP, "s", page_size=2)
    assert source.fetch() == [f"m{i}" for i in range(7)]
    assert source.fetch() == []
    put(aws, "s", "m7", "m8", "m9")
    assert source.fetch() == ["m7", "m8", "m9"]


def test_stream_follow_stops_after_draining_once_done() -> None:
    class Fake(LogSource):
        def __init__(self) -> None:
            self.batches = [["a"], [], ["b", "c"]]
            self.finals: list[bool] = []

        def fetch(self, *, final: bool = False) -> list[str]:
            self.finals.append(final)
            return self.batches.pop(0) if self.batches else []

    source = Fake()
    done = iter([False, False, True])
    waits: list[float] = []
    lines = list(stream(source, follow=True, is_done=lambda: next(done), wait=waits.append))
    assert lines == ["a", "b", "c"] and waits == [1.0] and source.finals == [False, False, True]


def test_optuna_storage_of_batch_study_is_only_read(aws: Any, tmp_path: Path, cli: Cli) -> None:
    built = build_batch(tmp_path)
    put(aws, "cloud/default/second", "x")
    before = storage_files(tmp_path)
    assert cli("logs", built.study_file, "0").exit_code == 0
    assert storage_files(tmp_path) == before
    assert optuna.load_study(study_name="cloud", storage=built.study._storage).trials


def test_no_aws_region_is_a_clear_error(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_batch(tmp_path)
    built.study_file.write_text(built.study_file.read_text().replace(f"region: {REGION}, ", ""))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    result = cli("logs", built.study_file, "0")
    assert result.exit_code == 1
    assert "cannot create an AWS logs client" in result.stderr
    assert "hint: set backend.region" in result.stderr
