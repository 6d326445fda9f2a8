"""Trainer documents are untrusted: every malformed result fails with a precise reason."""

from __future__ import annotations

import json

import pytest

from hpo.controller.documents import InvalidDocument, parse_progress, parse_result


def doc(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "without writing result.json"),
        (b"{not json", "not valid JSON"),
        (b'{"value": NaN}', "nan, not a finite number"),
        (b'{"value": Infinity}', "inf, not a finite number"),
        (b'{"value": -Infinity}', "-inf, not a finite number"),
        (doc({"value": "0.5"}), "not a number"),
        (doc({"value": True}), "not a number"),
        (doc([1.0]), "must be a JSON object"),
        (doc({"loss": 1.0}), "has no objective"),
        (doc({"values": [1.0, 2.0]}), "has 2 objective values, the study has 1"),
        (doc({"value": 1.0, "metrics": {"acc": "high"}}), "metric 'acc' is not a number"),
        (doc({"value": 1.0, "user_attrs": ["x"]}), "'user_attrs' must be an object"),
        (b" " * 1_000_001, "larger than"),
    ],
)
def test_bad_results_are_rejected_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidDocument, match=None) as info:
        parse_result(raw, 1, ["loss"])
    assert reason in str(info.value)


def test_value_values_and_metric_fallback() -> None:
    assert parse_result(doc({"value": 2}), 1, None).values == [2.0]
    assert parse_result(doc({"values": [1, 2.5]}), 2, None).values == [1.0, 2.5]
    outcome = parse_result(doc({"metrics": {"loss": 0.25, "acc": 0.9}}), 1, ["loss"])
    assert outcome.values == [0.25]
    assert outcome.metrics == {"loss": 0.25, "acc": 0.9}


def test_user_attrs_cannot_overwrite_hpo_attrs() -> None:
    outcome = parse_result(doc({"value": 1, "user_attrs": {"stage": "x", "note": "ok"}}), 1, None)
    assert outcome.user_attrs == {"user.stage": "x", "note": "ok"}


def test_progress_keeps_only_valid_steps() -> None:
    raw = doc({"steps": [[0, 1.5], [1, "x"], [-1, 2.0], [2, 3], "junk", [3, 1.0, 2.0], [True, 1]]})
    assert parse_progress(raw) == [(0, 1.5), (2, 3.0)]
    assert parse_progress(b'{"steps": [[0, NaN], [1, 0.5]]}') == [(1, 0.5)]
    assert parse_progress(b"garbage") == []
    assert parse_progress(None) == []
