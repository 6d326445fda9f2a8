"""hpo.worker on a trial that lives on S3 (moto): checkpoints survive attempts, synced lean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpo import worker
from tests.batch.conftest import BUCKET

PREFIX = "runs/s/trials/0"
URI = f"s3://{BUCKET}/{PREFIX}"


def _open(s3: Any, attempt: int = 1) -> worker.Trial:
    """Stage params.json as the controller does for ``attempt``, then open the trial."""
    doc = {"params": {"lr": 0.1}, "trial": 0, "study": "s", "attempt": attempt}
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/params.json", Body=json.dumps(doc).encode())
    return worker.Trial(URI, s3_client=s3)


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def _remote(s3: Any) -> set[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/checkpoints/")
    return {o["Key"].rsplit("checkpoints/", 1)[1] for o in listed.get("Contents", [])}


def _count(s3: Any, operation: str) -> list[str]:
    """The keys of every ``operation`` call the client makes from now on."""
    keys: list[str] = []
    s3.meta.events.register(
        f"provide-client-params.s3.{operation}", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def test_a_checkpoint_saved_by_one_attempt_is_restored_for_the_next(s3: Any) -> None:
    first = _open(s3)
    (first.checkpoint_dir / "sub").mkdir()
    (first.checkpoint_dir / "model.pkl").write_bytes(b"model-1")
    (first.checkpoint_dir / "sub" / "optimizer.pt").write_bytes(b"opt-1")
    first.report(1, 0.5)
    first.save_checkpoint()

    second = _open(s3, attempt=2)
    assert second.attempt == 2 and second.checkpoint_dir != first.checkpoint_dir
    assert _files(second.checkpoint_dir) == {"model.pkl": b"model-1", "sub/optimizer.pt": b"opt-1"}
    assert second.reported_steps == [(1, 0.5)]


def test_save_uploads_changed_files_only_and_mirrors_deletions(s3: Any) -> None:
    trial = _open(s3)
    puts = _count(s3, "PutObject")
    directory = trial.checkpoint_dir
    (directory / "config.json").write_text("{}")
    (directory / "ckpt-1.pt").write_bytes(b"1")
    trial.save_checkpoint()
    (directory / "ckpt-1.pt").unlink()  # a trainer that keeps only the newest checkpoint
    (directory / "ckpt-2.pt").write_bytes(b"2")
    trial.save_checkpoint()
    trial.save_checkpoint()  # nothing changed: nothing sent
    assert [k.rsplit("/", 1)[1] for k in puts] == ["ckpt-1.pt", "config.json", "ckpt-2.pt"]
    assert _remote(s3) == {"config.json", "ckpt-2.pt"}

    again = _open(s3, attempt=2)  # restored files are in sync: a save sends nothing new ...
    (again.checkpoint_dir / "config.json").unlink()  # ... but a removal still reaches S3
    again.save_checkpoint()
    assert len(puts) == 4  # the params.json staged for attempt 2
    assert _remote(s3) == {"ckpt-2.pt"}


def test_a_large_checkpoint_goes_up_in_parts_and_comes_back_whole(s3: Any) -> None:
    trial = _open(s3)
    multipart = _count(s3, "CreateMultipartUpload")
    data = bytes(range(256)) * (9 * 4096)  # 9 MiB: over boto3's 8 MiB multipart threshold
    (trial.checkpoint_dir / "weights.bin").write_bytes(data)
    trial.save_checkpoint()
    assert multipart == [f"{PREFIX}/checkpoints/weights.bin"]
    assert (_open(s3, attempt=2).checkpoint_dir / "weights.bin").read_bytes() == data


def test_a_key_that_climbs_out_of_checkpoints_is_not_restored(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/checkpoints/ok.pt", Body=b"ok")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/checkpoints/../../escaped", Body=b"x")
    trial = _open(s3)
    assert _files(trial.checkpoint_dir) == {"ok.pt": b"ok"}
    assert not (trial.checkpoint_dir.parent / "escaped").exists()


@pytest.mark.parametrize("attempt", [1, 2])
def test_a_trial_without_checkpoints_starts_with_an_empty_directory(s3: Any, attempt: int) -> None:
    assert _files(_open(s3, attempt).checkpoint_dir) == {}


def test_an_artifact_goes_to_the_trials_artifacts(s3: Any, tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    plot.write_bytes(b"\x89PNG...")
    _open(s3).upload_artifact(plot)
    body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/artifacts/curve.png")["Body"].read()
    assert body == b"\x89PNG..."
