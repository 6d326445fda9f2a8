"""The object store contract, run for the local directory store and the S3 store (moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from hpo.store.base import ObjectStore
from hpo.store.local import LocalStore
from hpo.store.s3 import S3Store
from hpo.testing.store_contract import StoreContract


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


class TestStoreContract(StoreContract):
    @pytest.fixture(params=["local", "s3"])
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
        if request.param == "local":
            yield LocalStore(tmp_path / "root")
            return
        request.getfixturevalue("aws_env")
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="hpo-contract")
            yield S3Store.from_uri("s3://hpo-contract/runs/v1", client=client)


def test_a_local_rewrite_within_one_clock_tick_gets_a_new_stamp(tmp_path: Path) -> None:
    """Filesystems with coarse timestamps (ext4 on older kernels: one jiffy) can give two
    quick writes the same mtime; the stamp must still change, or progress goes unread."""
    store = LocalStore(tmp_path)
    key = "s/trials/7/progress.json"
    path = Path(store.uri(key))
    store.put(key, b'{"steps": [[1, 0.5]]}')
    before, first_mtime = store.stamps([key])[key], path.stat().st_mtime_ns
    store.put(key, b'{"steps": [[1, 0.7]]}')  # same size, and (below) the same mtime
    os.utime(path, ns=(path.stat().st_atime_ns, first_mtime))
    assert store.stamps([key])[key] != before
    assert store.list("s/")[key] != before
