"""Every attempt accounted and priced: a spot-reclaimed trial, retried by Batch and then by
hpo, on instances found through ECS and EC2 (moto) with prices from the test's stubs."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState
from werkzeug.test import Client

from hpo import attrs
from hpo.cli import main
from hpo.controller.clock import FakeClock
from hpo.controller.loop import Controller
from hpo.inspect.dashboard import dashboard_app
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from tests.batch.conftest import REGION, REPO, fake_clients, run_study, study_trials
from tests.fakes.fake_batch import FakeBatch, JobPlan
from tests.fakes.fake_prices import ON_DEMAND_PRICE, SPOT_PRICE, Fleet

QUICK_TRAINER = REPO / "tests" / "fakes" / "quick_trainer.py"
GROUP = "/aws/batch/job"


def priced_clients(fake: FakeBatch, clock: FakeClock, fleet: Fleet) -> Any:
    clients = fake_clients(fake, clock)
    clients.ecs, clients.ec2, clients.pricing = fleet.ecs, fleet.ec2, fleet.pricing
    return clients


def test_a_reclaimed_trial_accounts_and_prices_every_attempt(
    fake: FakeBatch,
    clock: FakeClock,
    s3: Any,
    fleet: Fleet,
    write_batch_study: Callable[..., Path],
) -> None:
    fake.place_on([fleet.hosts["spot"], fleet.hosts["on-demand"], fleet.hosts["spot"]])
    fake.plan("cost-0-1", JobPlan(reclaims=2))  # both Batch attempts reclaimed: hpo retries
    path = write_batch_study("cost", n_trials=1, max_parallel=1, retry_attempts=2,
                             command=f"[python, {QUICK_TRAINER}]")  # fmt: skip

    assert run_study(path, priced_clients(fake, clock, fleet), s3, clock).complete == 1

    (trial,) = study_trials(path)
    ran = [a for job in sorted(fake.jobs(), key=lambda j: j.created) for a in job.attempts]
    seconds = [a.stopped - a.running_since for a in ran]
    entries = trial.user_attrs[attrs.ATTEMPTS_LOG]
    assert [(e["attempt"], e["job_attempt"]) for e in entries] == [(1, 1), (2, 1), (3, 2)]
    assert [e["seconds"] for e in entries] == seconds
    assert trial.user_attrs[attrs.COMPUTE_SECONDS] == pytest.approx(sum(seconds))
    assert [e["instance_type"] for e in entries] == ["g5.xlarge", "g5.2xlarge", "g5.xlarge"]
    assert [e["lifecycle"] for e in entries] == ["spot", "on-demand", "spot"]
    prices = [float(SPOT_PRICE), float(ON_DEMAND_PRICE), float(SPOT_PRICE)]
    expected = sum(s / 3600 * p for s, p in zip(seconds, prices, strict=True))
    assert trial.user_attrs[attrs.COST_USD] == pytest.approx(expected, abs=1e-6)
    assert entries[0]["price_source"].startswith("EC2 spot price history, g5.xlarge in us-east-1a")
    assert entries[1]["price_source"] == "AWS price list, on-demand g5.2xlarge in us-east-1"
    assert len(fleet.ec2.asked) == 1  # one spot price per type, zone and hour
    assert trial.user_attrs[attrs.GPU_HOURS] == pytest.approx(sum(seconds) / 3600, abs=1e-6)

    logs = boto3.client("logs", region_name=REGION)  # what each attempt printed, in CloudWatch
    logs.create_log_group(logGroupName=GROUP)
    for number, attempt in enumerate(ran, 1):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=attempt.stream)
        text = fake.log_text(attempt.stream) or f"attempt {number}: host reclaimed"
        events = [{"timestamp": int(time.time() * 1000) + i, "message": line}  # moto drops old
                  for i, line in enumerate(text.splitlines())]  # fmt: skip
        logs.put_log_events(logGroupName=GROUP, logStreamName=attempt.stream, logEvents=events)
    for number, attempt in enumerate(ran, 1):
        result = CliRunner().invoke(main, ["logs", str(path), "0", "--attempt", str(number)])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == (fake.log_text(attempt.stream).splitlines()
                                              or [f"attempt {number}: host reclaimed"])  # fmt: skip

    status = CliRunner().invoke(main, ["status", str(path), "--json"])
    doc = json.loads(status.stdout)
    assert doc["cost_usd"] == pytest.approx(expected, abs=1e-6) and doc["unpriced"] == 0
    assert doc["best"][0]["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert doc["retries"] == 2
    screen = CliRunner().invoke(main, ["status", str(path)]).stdout
    assert f"cost: ${expected:.3f} spent" in screen

    study = load_study(path)  # the dashboard: per trial (user attrs) and for the study
    app = dashboard_app(open_storage(study.storage_url), None, read_only=True)
    shown = json.loads(Client(app).get("/api/studies/0").get_data())
    (row,) = shown["trials"]
    attrs_shown = {a["key"]: a["value"] for a in row["user_attrs"]}
    assert float(attrs_shown[attrs.COST_USD]) == pytest.approx(expected, abs=1e-6)
    summaries = json.loads(Client(app).get("/api/studies").get_data())["study_summaries"]
    study_attrs = {a["key"]: a["value"] for a in summaries[0]["user_attrs"]}
    assert float(study_attrs[attrs.STUDY_COST_USD]) == pytest.approx(expected, abs=1e-4)


def test_an_instance_without_a_price_is_unpriced_never_free(
    fake: FakeBatch,
    clock: FakeClock,
    s3: Any,
    fleet: Fleet,
    write_batch_study: Callable[..., Path],
) -> None:
    fleet.ec2.prices.clear()  # no spot price history for the type
    fake.place_on([fleet.hosts["spot"]])
    path = write_batch_study("free", n_trials=2, max_parallel=2,
                             command=f"[python, {QUICK_TRAINER}]")  # fmt: skip
    summary = run_study(path, priced_clients(fake, clock, fleet), s3, clock)
    assert summary.complete == 2 and summary.unpriced == 2 and summary.cost_usd == 0.0
    for trial in study_trials(path):
        assert attrs.COST_USD not in trial.user_attrs
        assert "no spot price for g5.xlarge in us-east-1a" in trial.user_attrs[attrs.UNPRICED]
    screen = CliRunner().invoke(main, ["status", str(path)]).stdout
    assert "cost: unknown (2 trials unpriced)" in screen and "$0" not in screen


def test_max_cost_stops_proposing_at_the_cap_and_exits_0(
    fake: FakeBatch,
    clock: FakeClock,
    s3: Any,
    fleet: Fleet,
    write_batch_study: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.place_on([fleet.hosts["on-demand"]])  # each 60 s trial costs 60/3600 x 1.212
    per_trial = 60 / 3600 * float(ON_DEMAND_PRICE)
    cap = 7.5 * per_trial
    path = write_batch_study("cap", n_trials=50, max_parallel=3,
                             command=f"[python, {QUICK_TRAINER}]")  # fmt: skip
    path.write_text(path.read_text().replace("max_failures: 20}", f"max_failures: 20, "
                                             f"max_cost: {cap}}}"))  # fmt: skip
    monkeypatch.setattr("hpo.backends.batch._clients_for",
                        lambda spec: priced_clients(fake, clock, fleet))  # fmt: skip
    monkeypatch.setattr("hpo.session.Controller", functools.partial(Controller, clock=clock))

    result = CliRunner().invoke(main, ["run", str(path)])

    assert result.exit_code == 0, result.output
    assert "max_cost" in result.output and "reached budget.max_cost" in result.output
    done = study_trials(path)
    assert all(t.state is TrialState.COMPLETE for t in done) and 5 <= len(done) < 50
    total = sum(t.user_attrs[attrs.COST_USD] for t in done)
    last_ask = max(t.datetime_start for t in done)
    in_flight = [t for t in done if t.datetime_start <= last_ask < t.datetime_complete]
    assert total <= cap + sum(t.user_attrs[attrs.COST_USD] for t in in_flight) + 1e-9
    assert total > cap - 2 * per_trial  # it did not stop early either
