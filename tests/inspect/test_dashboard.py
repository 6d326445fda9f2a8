"""The dashboard over HTTP (its own JSON API), and trial artifacts registered for it."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from optuna.trial import TrialState

from hpo import optuna_internals
from hpo.artifacts import PrefixedArtifactStore, artifact_store_for, register_artifacts
from hpo.inspect.dashboard import DashboardServer, dashboard_app, study_url
from hpo.spec.loader import load_study
from hpo.storage import open_storage
from hpo.store.layout import TrialLayout
from hpo.store.local import LocalStore
from hpo.store.s3 import S3Store
from tests.inspect.conftest import Built, finish_trial, new_study, start_trial, write_study_file


def request(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    """Status and body of one HTTP request (errors included)."""
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> Any:
    status, body = request(url)
    assert status == 200, (url, status, body[:200])
    return json.loads(body)


def user_attrs(trial: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: a["value"] for a in trial["user_attrs"]}


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start a dashboard for a study file on a free loopback port; stopped at the end."""
    servers: list[DashboardServer] = []

    def start(study_file: Path, **kwargs: Any) -> DashboardServer:
        study = load_study(study_file)
        storage = open_storage(study.storage_url, read_only=True)
        app = dashboard_app(storage, artifact_store_for(study), **kwargs)
        server = DashboardServer(app, host="127.0.0.1", port=0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_finished_study_trials_attrs_and_artifacts_over_http(finished: Built, serve: Any) -> None:
    server = serve(finished.study_file)
    summaries = get_json(f"{server.url}/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["demo"]
    study_id = summaries[0]["study_id"]
    trials = get_json(f"{server.url}/api/studies/{study_id}")["trials"]
    assert [t["state"] for t in trials] == ["Complete", "Complete", "Pruned", "Pruned", "Fail"]
    assert trials[1]["values"] == [0.2]
    best = user_attrs(trials[1])
    assert best["stage"] == "succeeded" and best["compute_seconds"] == "12.0"
    assert user_attrs(trials[4])["fail_reason"] == "trainer exited with code 1"
    assert len(trials[2]["intermediate_values"]) == 3

    artifacts = {a["filename"]: a for a in trials[1]["artifacts"]}
    assert set(artifacts) == {"summary.txt", "plots__curve.csv"}
    assert all(not t["artifacts"] for i, t in enumerate(trials) if i != 1)
    trial_id = trials[1]["trial_id"]
    art = artifacts["summary.txt"]
    status, body = request(f"{server.url}/artifacts/{study_id}/{trial_id}/{art['artifact_id']}")
    assert status == 200 and body == b"best epoch 10\n"
    page = study_url(server.url, finished.study._storage, "demo")
    status, html = request(page)
    assert status == 200 and b"<html" in html.lower()


def test_running_study_over_http(running: Built, serve: Any) -> None:
    server = serve(running.study_file)
    trials = get_json(f"{server.url}/api/studies/0")["trials"]
    assert [t["state"] for t in trials] == ["Complete", "Running", "Running", "Running", "Fail"]
    assert user_attrs(trials[1])["job_id"] == "live-1-1"
    assert user_attrs(trials[2])["stage"] == "submitted"
    running.study.tell(running.roles["running"], 0.3)  # the controller goes on meanwhile
    # optuna-dashboard caches a study's trials for 2 s: poll, bounded, until it shows
    deadline = time.monotonic() + 15
    while get_json(f"{server.url}/api/studies/0")["trials"][1]["state"] == "Running":
        assert time.monotonic() < deadline, "the dashboard never showed the finished trial"
        time.sleep(0.2)
    trials = get_json(f"{server.url}/api/studies/0")["trials"]
    assert trials[1]["state"] == "Complete" and trials[1]["values"] == [0.3]


def test_read_only_by_default(finished: Built, serve: Any) -> None:
    server = serve(finished.study_file)
    body = json.dumps({"study_name": "renamed"}).encode()
    status, reply = request(f"{server.url}/api/studies/0/rename", "POST", body)
    assert status == 403 and b"read-only" in reply
    assert request(f"{server.url}/api/studies/0", "DELETE")[0] == 403
    assert [s["study_name"] for s in get_json(f"{server.url}/api/studies")["study_summaries"]] == [
        "demo"
    ]


def test_allow_edits_lets_writes_through(finished: Built, serve: Any) -> None:
    server = serve(finished.study_file, read_only=False)
    note = json.dumps({"version": 1, "body": "looks good"}).encode()
    assert request(f"{server.url}/api/studies/0/note", "PUT", note)[0] == 204
    assert get_json(f"{server.url}/api/studies/0")["note"]["body"] == "looks good"


def test_port_in_use_is_a_clear_error(finished: Built, serve: Any) -> None:
    from hpo.errors import HpoError

    server = serve(finished.study_file)
    with pytest.raises(HpoError, match=r"cannot listen on 127\.0\.0\.1") as info:
        DashboardServer(lambda e, s: [], port=server.port)
    assert "--port" in (info.value.hint or "")


# --------------------------------------------------------------------------- artifacts


def test_register_artifacts_is_idempotent_and_skips_finished_trials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study_file = write_study_file(tmp_path, "arts")
    study = new_study(study_file)
    store, layout = LocalStore(tmp_path / "runs"), TrialLayout("arts")
    artifact_store = artifact_store_for(load_study(study_file))
    trial = start_trial(study, {"lr": 0.1, "units": 8, "act": "relu"})
    assert register_artifacts(trial, store, layout, 0, artifact_store) == []
    store.put(layout.artifacts(0) + "a.txt", b"A")
    first = register_artifacts(trial, store, layout, 0, artifact_store)
    store.put(layout.artifacts(0) + "b.txt", b"B")
    second = register_artifacts(trial, store, layout, 0, artifact_store)
    assert len(first) == 1 and len(second) == 1  # a.txt is not attached twice
    stored = tmp_path / "runs" / "arts" / "dashboard-artifacts"
    assert sorted(p.read_bytes() for p in stored.iterdir()) == [b"A", b"B"]

    finish_trial(study, trial, TrialState.COMPLETE, value=1.0, compute=1.0, ended_at=0.0)
    store.put(layout.artifacts(0) + "late.txt", b"L")
    with caplog.at_level(logging.WARNING, logger="hpo.artifacts"):
        late = register_artifacts(trial, store, layout, 0, artifact_store)
    assert late == [] and "cannot register artifact" in caplog.text  # logged, not raised


def test_artifacts_on_s3_reach_the_dashboard(tmp_path: Path, serve: Any) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        study_file = write_study_file(tmp_path, "s3arts")
        study_file.write_text(study_file.read_text().replace("store: runs", "store: s3://bkt/p"))
        spec = load_study(study_file)
        artifact_store = artifact_store_for(spec, s3_client=s3)
        assert isinstance(artifact_store, PrefixedArtifactStore)
        study = new_study(study_file)
        store, layout = S3Store("bkt", "p", client=s3), TrialLayout("s3arts")
        store.put(layout.artifacts(0) + "model-card.md", b"# card\n")
        trial = start_trial(study, {"lr": 0.1, "units": 8, "act": "relu"})
        [artifact_id] = register_artifacts(trial, store, layout, 0, artifact_store)
        study.tell(trial, 0.5)
        key = f"p/s3arts/dashboard-artifacts/{artifact_id}"
        assert s3.get_object(Bucket="bkt", Key=key)["Body"].read() == b"# card\n"

        app = dashboard_app(open_storage(spec.storage_url, read_only=True), artifact_store)
        with DashboardServer(app, port=0) as server:
            url = f"{server.url}/artifacts/0/{optuna_internals.trial_id(trial)}/{artifact_id}"
            assert request(url) == (200, b"# card\n")
