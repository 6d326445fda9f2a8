"""Event mode under crashes: two studies share the stack (and the fake Batch queue); their
controllers are killed between receiving and recording events, and in every other step.

Events come twice and out of order (``Delivery``). Each run starts from a fresh storage
handle, backend and controller, so only what a real crash leaves survives: the journal, S3,
the (fake) Batch service and the SQS queues with their unacknowledged messages.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import optuna
import pytest
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import TrialState

from hpo.backends.batch import make_batch_backend
from hpo.backends.batch.subscription import resource_name
from hpo.controller.clock import FakeClock
from hpo.controller.failpoints import Failpoints
from hpo.controller.loop import Controller, RunSummary
from hpo.spec import build
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.s3 import S3Store
from tests.batch.conftest import BUCKET, EVENTS_PREFIX, REGION, REPO, STACK_NAME, event_clients
from tests.fakes.fake_batch import FakeBatch, Timings
from tests.fakes.fake_events import Delivery

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"
N_TRIALS = 16


class Crash(Exception):
    """The controller process died here."""


def crash() -> None:
    raise Crash


def run_once(path: Path, fake: FakeBatch, clock: FakeClock, s3: Any, outputs: dict[str, str],
             points: str) -> RunSummary:  # fmt: skip
    study = load_study(path)
    optuna_study = build.create_study(study, open_storage(study.storage_url))
    backend = make_batch_backend(study, clients=event_clients(fake, clock, outputs))
    store = S3Store.from_uri(study.store_root, client=s3)
    controller = Controller(optuna_study, study.spec, backend, store, clock=clock,
                            failpoints=Failpoints(points, action=crash))  # fmt: skip
    return controller.run()


def crash_loop(path: Path, fake: FakeBatch, clock: FakeClock, s3: Any,
               outputs: dict[str, str], points: list[str], rng: random.Random) -> None:  # fmt: skip
    for point in points:
        with pytest.raises(Crash):
            run_once(path, fake, clock, s3, outputs, point)
        clock.advance(rng.uniform(0, 20))  # jobs go on while no controller runs
        fake.step()


def peek(study: str) -> list[dict[str, Any]]:
    """Every job event waiting in the study's queue (hidden while read, then shown again)."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=resource_name(EVENTS_PREFIX, study))["QueueUrl"]
    seen: dict[str, Any] = {}
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        messages = got.get("Messages", [])
        if not messages:
            break
        for m in messages:
            seen[m["MessageId"]] = m
    for m in seen.values():
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=0)  # fmt: skip
    return [json.loads(m["Body"])["detail"] for m in seen.values()]


def tells(path: Path) -> Counter[int]:
    """How often each trial id was set to a finished state in the journal."""
    study = load_study(path)
    counts: Counter[int] = Counter()
    for line in Path(study.storage_url).read_text().splitlines():
        op = json.loads(line)
        finished = op.get("state") in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        if op["op_code"] == JournalOperation.SET_TRIAL_STATE_VALUES and finished:
            counts[op["trial_id"]] += 1
    return counts


def test_crashes_between_receiving_and_recording_events_lose_nothing_in_either_study(
    make_fake: Callable[..., FakeBatch],
    s3: Any,
    event_stack: dict[str, str],
    write_batch_study: Callable[..., Path],
) -> None:
    clock = FakeClock()
    fake = make_fake(clock, Timings(submitted=1, runnable=3, starting=2, run=20))
    fake.emit_to(None)
    event_clients(fake, clock, event_stack, Delivery(duplicate=0.3, shuffle=True, seed=7))
    common = {
        "n_trials": N_TRIALS,
        "max_parallel": 3,
        "poll_interval": 30,
        "command": f"[python, {QUICK_TRAINER}]",
        "extra": f"  stack: {STACK_NAME}\n",
    }
    # "c" is a prefix of "c-x": its rule also matches c-x's jobs, which it must leave alone
    first, other = write_batch_study("c", **common), write_batch_study("c-x", **common)
    rng = random.Random(11)
    points = ["after_receive=1", "after_submit=2", "after_job_end=1", "after_receive=2",
              "after_tell=1", "after_job_end=2", "after_receive=3", "after_record=1"]  # fmt: skip

    crash_loop(other, fake, clock, s3, event_stack, ["after_submit=3"], rng)
    stopped = clock.now()  # c-x has jobs in flight and no controller from here on
    crash_loop(first, fake, clock, s3, event_stack, points, rng)
    assert run_once(first, fake, clock, s3, event_stack, "").complete == N_TRIALS

    waiting = peek("c-x")  # nothing c's controller did took c-x's events away
    ours = {j.job_id for j in fake.jobs() if j.name.startswith("c-x-")}
    ended = {j.job_id for j in fake.jobs() if j.job_id in ours and j.status == "SUCCEEDED"
             and j.attempts[-1].stopped > stopped}  # fmt: skip
    assert ended and ended <= {d["jobId"] for d in waiting if d["status"] == "SUCCEEDED"}
    assert {d["jobId"] for d in waiting} <= ours  # and only c-x's are in its queue

    crash_loop(other, fake, clock, s3, event_stack, points[::-1], rng)
    assert run_once(other, fake, clock, s3, event_stack, "").complete == N_TRIALS

    names = Counter(job.name for job in fake.jobs())
    assert max(names.values()) == 1  # no job submitted twice under one name
    for path, name in ((first, "c"), (other, "c-x")):
        study = load_study(path)
        found = optuna.load_study(study_name=name, storage=open_storage(study.storage_url))
        assert [t.state for t in found.trials] == [TrialState.COMPLETE] * N_TRIALS
        assert set(tells(path).values()) == {1}  # each trial told exactly once
        for t in found.trials:  # with the value its trainer wrote
            key = f"runs/{name}/trials/{t.number}/result.json"
            doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            assert t.value == doc["value"]
