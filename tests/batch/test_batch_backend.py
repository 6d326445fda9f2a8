"""The Batch backend on the fake lifecycle: states, chunks, visibility, throttling, limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hpo.backends.base import JobSpec, JobState
from hpo.backends.batch.backend import BatchBackend
from hpo.controller.clock import FakeClock
from hpo.errors import ThrottledError
from tests.fakes.fake_batch import FakeBatch, JobPlan

Make = Callable[..., BatchBackend]
FAST = {"command": '["true"]'}  # a trainer that exits 0 at once


def job(n: int, study: str = "bt", attempt: int = 1) -> JobSpec:
    uri = f"s3://hpo-trials/runs/{study}/trials/{n}"
    return JobSpec(name=f"{study}-{n}-{attempt}", study=study, trial=n, attempt=attempt,
                   trial_uri=uri)  # fmt: skip


def test_states_follow_the_batch_lifecycle(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    seen = []
    for step in (0, 1, 5, 2, 30, 30):
        clock.advance(step)
        status = backend.poll([job_id])[job_id]
        seen.append((fake.job(job_id).status, status.state))
    assert seen == [
        ("SUBMITTED", JobState.PENDING),
        ("RUNNABLE", JobState.PENDING),
        ("STARTING", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("RUNNING", JobState.RUNNING),
        ("SUCCEEDED", JobState.SUCCEEDED),
    ]
    assert status.exit_code == 0 and status.log_stream and status.log_stream.startswith("hpo/")
    assert status.log and "log-events" in status.log and status.started_at and status.ended_at


def test_poll_describes_in_chunks_of_100(batch_backend: Make, fake: FakeBatch) -> None:
    backend = batch_backend(**FAST)
    ids = [backend.submit(job(n)) for n in range(250)]
    statuses = backend.poll(ids)
    assert fake.calls["DescribeJobs"] == 3  # 100 + 100 + 50; the fake refuses more than 100
    assert set(statuses) == set(ids)
    assert {s.state for s in statuses.values()} == {JobState.PENDING}


def test_an_empty_describe_right_after_submit_is_unknown_not_lost(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.plan("bt-0-*", JobPlan(invisible_for=30))
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    first = backend.poll([job_id])[job_id]
    clock.advance(20)
    second = backend.poll([job_id])[job_id]
    clock.advance(20)
    third = backend.poll([job_id])[job_id]
    assert [first.state, second.state] == [JobState.UNKNOWN, JobState.UNKNOWN]
    assert not first.infra_failure and "not visible" in (first.reason or "")
    assert third.state is JobState.RUNNING  # visible at 30 s, running since 8 s
    assert fake.calls["ListJobs"] == 0


def test_a_job_batch_never_shows_is_lost_after_the_grace_time(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.plan("bt-0-*", JobPlan(vanish=True))
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    clock.advance(backend.visibility_grace - 1)
    assert backend.poll([job_id])[job_id].state is JobState.UNKNOWN
    clock.advance(2)
    lost = backend.poll([job_id])[job_id]
    assert lost.state is JobState.LOST and lost.infra_failure
    assert fake.calls["ListJobs"] == 1  # looked the name up before giving up


def test_an_id_nobody_knows_is_unknown_then_lost(batch_backend: Make, clock: FakeClock) -> None:
    backend = batch_backend(**FAST)
    assert backend.poll(["no-such-job"])["no-such-job"].state is JobState.UNKNOWN
    clock.advance(backend.visibility_grace)
    assert backend.poll(["no-such-job"])["no-such-job"].state is JobState.LOST


def test_a_throttled_submit_backs_off_with_jitter_and_goes_through(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    backend = batch_backend(**FAST)
    fake.throttle("SubmitJob", 2)
    before = clock.monotonic()
    job_id = backend.submit(job(0))
    assert fake.calls["SubmitJob"] == 3 and fake.job(job_id).name == "bt-0-1"
    assert clock.monotonic() > before  # it slept (on the injected clock) between tries


def test_persistent_throttling_raises_throttled_error_for_the_next_tick(
    batch_backend: Make, fake: FakeBatch
) -> None:
    backend = batch_backend(**FAST)
    fake.throttle("SubmitJob", 4)
    with pytest.raises(ThrottledError):
        backend.submit(job(0))
    assert not fake.jobs()
    assert backend.submit(job(0))  # the controller's next tick


def test_a_throttled_describe_answers_unknown_and_loses_nothing(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    clock.advance(backend.visibility_grace + 1)
    fake.throttle("DescribeJobs", 4)
    status = backend.poll([job_id])[job_id]
    assert status.state is JobState.UNKNOWN and "throttled" in (status.reason or "")
    assert backend.poll([job_id])[job_id].state is JobState.SUCCEEDED  # not LOST


def test_submit_rate_stays_under_the_batch_limit(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.limit_rate("SubmitJob", 50)  # the fake throttles anything faster than 50/s
    backend = batch_backend(**FAST)
    start = clock.monotonic()
    for n in range(200):
        backend.submit(job(n))
    assert fake.calls["SubmitJob"] == 200  # not one request was throttled
    times = [t for api, t in fake.call_log if api == "SubmitJob"]
    assert max(sum(1 for u in times if t <= u < t + 1) for t in times) <= 50
    assert clock.monotonic() - start >= (200 - 10) / 40 - 1e-6  # 40/s after a burst of 10


def test_the_same_study_registers_its_job_definition_once(
    batch_backend: Make, fake: FakeBatch
) -> None:
    batch_backend(**FAST).submit(job(0))
    batch_backend(**FAST).submit(job(1))  # a second run of the same study
    assert fake.calls["RegisterJobDefinition"] == 1
    assert fake.calls["DescribeJobDefinitions"] == 2
    batch_backend(command='["true", "--changed"]').submit(job(2))
    assert fake.calls["RegisterJobDefinition"] == 2  # a changed definition is a new one


def test_submit_sends_name_tags_environment_resources_and_timeout(
    batch_backend: Make, fake: FakeBatch
) -> None:
    extra = "  timeout: 2h\n  resources: {gpus: 2, vcpus: 8, memory_mib: 30000}\n"
    backend = batch_backend(command="[python, /opt/hpo/trainers/train_sklearn.py]", extra=extra)
    spec = JobSpec(name="bt-7-2", study="bt", trial=7, attempt=2, trial_uri="s3://b/p/7",
                   env={"EXTRA": "1"})  # fmt: skip
    got = fake.job(backend.submit(spec))
    assert got.name == "bt-7-2" and got.timeout == 7200
    assert got.tags == {"hpo:study": "bt", "hpo:trial": "7", "hpo:attempt": "2"}
    assert got.env()["HPO_TRIAL_URI"] == "s3://b/p/7" and got.env()["EXTRA"] == "1"
    resources = {r["type"]: r["value"] for r in got.container["resourceRequirements"]}
    assert resources == {"GPU": "2", "VCPU": "8", "MEMORY": "30000"}
    definition = got.definition
    assert definition["jobDefinitionName"].startswith("hpo-bt-")
    assert definition["containerProperties"]["command"] == [
        "python",
        "/opt/hpo/trainers/train_sklearn.py",
    ]
    assert definition["retryStrategy"] == {
        "attempts": 2,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }
    assert definition["containerProperties"]["logConfiguration"]["logDriver"] == "awslogs"


def test_a_given_job_definition_is_used_with_command_and_retry_overrides(
    batch_backend: Make, fake: FakeBatch
) -> None:
    arn = fake.register_job_definition(
        jobDefinitionName="hpo-stack-trainer",
        type="container",
        containerProperties={"image": "img", "command": ["sleep", "1"]},
    )["jobDefinitionArn"]
    backend = batch_backend(image="null", extra=f"  job_definition: {arn}\n", **FAST)
    got = fake.job(backend.submit(job(0)))
    assert got.definition["jobDefinitionArn"] == arn
    assert got.container["command"] == ["true"] and got.retry["attempts"] == 2
    assert fake.calls["RegisterJobDefinition"] == 1  # only ours above


def test_find_looks_the_name_up_with_list_jobs(batch_backend: Make, fake: FakeBatch) -> None:
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(3))
    assert backend.find("bt-3-1") == job_id
    assert backend.find("bt-3-2") is None
    assert backend.find("BT-3-1") is None  # the filter ignores case; the name must match
    assert fake.calls["ListJobs"] == 3


def test_close_leaves_jobs_running_unless_stop_on_exit(
    batch_backend: Make, fake: FakeBatch
) -> None:
    keep = batch_backend(**FAST)
    kept = keep.submit(job(0))
    keep.close()
    assert fake.job(kept).status == "SUBMITTED" and fake.calls["TerminateJob"] == 0
    stop = batch_backend(extra="  stop_on_exit: true\n", **FAST)
    stopped = stop.submit(job(1))
    stop.close()
    assert fake.job(stopped).status == "FAILED" and fake.calls["TerminateJob"] == 1
    assert "stop_on_exit" in (fake.job(stopped).status_reason or "")


def test_terminate_is_idempotent_and_ignores_unknown_jobs(
    batch_backend: Make, fake: FakeBatch
) -> None:
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    backend.terminate(job_id, "pruned at step 3")
    backend.terminate(job_id, "pruned at step 3")
    backend.terminate("no-such-job", "pruned")
    status = backend.poll([job_id])[job_id]
    assert status.state is JobState.FAILED and status.reason == "pruned at step 3"
    assert not status.infra_failure


def test_a_spot_reclaim_is_retried_by_batch_and_the_job_succeeds(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.plan("bt-0-*", JobPlan(reclaims=1))
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    clock.advance(200)
    status = backend.poll([job_id])[job_id]
    attempts = fake.job(job_id).attempts
    assert status.state is JobState.SUCCEEDED
    assert [a.status_reason for a in attempts] == [
        "Host EC2 (instance i-0abc) terminated.",
        "Essential container in task exited",
    ]
    assert status.log_stream == attempts[-1].stream != attempts[0].stream


def test_reclaims_beyond_the_batch_attempts_are_infrastructure_failures(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.plan("bt-0-*", JobPlan(reclaims=5))
    backend = batch_backend(**FAST)
    job_id = backend.submit(job(0))
    clock.advance(500)
    status = backend.poll([job_id])[job_id]
    assert status.state is JobState.FAILED and status.infra_failure
    assert status.reason == "Host EC2 (instance i-0abc) terminated.; after 2 Batch attempts"


def test_a_timed_out_job_fails_without_a_batch_retry(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    fake.plan("bt-0-*", JobPlan(run=600))
    backend = batch_backend(extra="  timeout: 2m\n", **FAST)
    job_id = backend.submit(job(0))
    clock.advance(300)
    status = backend.poll([job_id])[job_id]
    assert status.state is JobState.FAILED and not status.infra_failure
    assert "timed out" in (status.reason or "") and len(fake.job(job_id).attempts) == 1


def test_a_trainer_error_carries_the_container_reason_and_exit_code(
    batch_backend: Make, fake: FakeBatch, clock: FakeClock
) -> None:
    oom = "OutOfMemoryError: Container killed due to memory usage"
    fake.plan("bt-0-*", JobPlan(container_reason=oom))
    backend = batch_backend(command='["false"]')
    job_id = backend.submit(job(0))
    clock.advance(100)
    status = backend.poll([job_id])[job_id]
    assert status.state is JobState.FAILED and not status.infra_failure
    assert status.exit_code == 1
    assert status.reason == f"Essential container in task exited; {oom}; exit code 1"
    assert len(fake.job(job_id).attempts) == 1  # EXIT rule: Batch does not retry it
