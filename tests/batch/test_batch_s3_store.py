"""S3Store.stamps stays cheap: one ranged listing for many keys, jumps over unrelated ones."""

from __future__ import annotations

from typing import Any

import pytest

from hpo.store.s3 import S3Store
from tests.batch.conftest import BUCKET
from tests.fakes.requests import S3Tally


@pytest.fixture
def store(s3: Any) -> S3Store:
    """A study of 200 trials with params.json and progress.json each (400 objects)."""
    store = S3Store.from_uri(f"s3://{BUCKET}/runs", client=s3)
    for n in range(200):
        store.put(f"st/trials/{n}/params.json", b"{}")
        store.put(f"st/trials/{n}/progress.json", b'{"steps": []}')
    return store


def listings(tally: S3Tally) -> int:
    return tally.counts[("ListObjectsV2", "")]


def test_stamps_of_64_running_trials_cost_one_listing(store: S3Store, s3: Any) -> None:
    tally = S3Tally(s3)
    keys = [f"st/trials/{n}/progress.json" for n in range(136, 200)]
    stamps = store.stamps(keys)
    assert sorted(stamps) == sorted(keys) and listings(tally) == 1
    assert sum(tally.counts.values()) == 1  # no HEAD or GET per key


def test_stamps_jump_over_objects_they_do_not_need(
    store: S3Store, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hpo.store.s3._PAGE", 10)  # pages of 10 keys: 40 pages in all
    tally = S3Tally(s3)
    sparse = [f"st/trials/{n}/progress.json" for n in (3, 120, 199)]
    assert sorted(store.stamps(sparse)) == sorted(sparse)
    assert listings(tally) <= len(sparse)
    dense = [f"st/trials/{n}/progress.json" for n in range(190, 200)]
    before = listings(tally)
    assert sorted(store.stamps(dense)) == sorted(dense)
    assert listings(tally) - before <= 2  # 19 objects from trial 190 to 199: two pages


def test_a_missing_key_is_absent_from_the_answer(store: S3Store) -> None:
    keys = ["st/trials/5/progress.json", "st/trials/5/result.json", "st/trials/500/params.json"]
    assert list(store.stamps(keys)) == ["st/trials/5/progress.json"]
