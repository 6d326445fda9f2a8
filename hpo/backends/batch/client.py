"""The seam between the Batch backend and AWS: injected clients, backoff on throttling.

Everything the backend says to AWS goes through the clients in :class:`BatchClients`
(boto3 clients from :mod:`hpo.aws`, or a fake of the Batch API in tests). Time goes through
:class:`Timer` so tests drive rate limits and backoff with a fake clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from hpo import aws
from hpo.errors import BackendError, ThrottledError

T = TypeVar("T")

PRICE_LIST_REGION = "us-east-1"
# Error codes AWS uses to say "slow down".
THROTTLE_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class Timer:
    """Monotonic time and sleep; tests pass a fake clock's ``monotonic`` and ``advance``."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class BatchClients:
    """The clients the Batch backend uses: ``batch`` always, ``cloudformation`` for stacks,
    ``sqs`` and ``events`` for job state events, ``ecs``, ``ec2`` and ``pricing`` for costs
    (any of those may be None: then that feature is off)."""

    batch: Any
    cloudformation: Any = None
    region: str | None = None
    timer: Timer = field(default_factory=Timer)
    rng: random.Random = field(default_factory=random.Random)
    sqs: Any = None
    events: Any = None
    ecs: Any = None
    ec2: Any = None
    pricing: Any = None


def make_clients(
    *,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    retry_mode: str = "adaptive",
) -> BatchClients:
    """boto3 clients from one session (no request is made here). The AWS price list is
    served from us-east-1 whatever the study's region."""
    session = aws.session(region, profile, error=BackendError, hint="check 'backend.profile'")

    def make(service: str, region_name: str | None = None) -> Any:
        return aws.client(session, service, endpoint_url=endpoint_url, retry_mode=retry_mode,
                          region_name=region_name)  # fmt: skip

    return BatchClients(
        batch=make("batch"),
        cloudformation=make("cloudformation"),
        region=session.region_name,
        sqs=make("sqs"),
        events=make("events"),
        ecs=make("ecs"),
        ec2=make("ec2"),
        pricing=make("pricing", region_name=PRICE_LIST_REGION),
    )


def is_throttle(exc: BaseException) -> bool:
    """Whether AWS answered "slow down" (a throttling code or HTTP 429)."""
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return aws.error_code(exc) in THROTTLE_CODES or status == 429


def with_backoff(
    call: Callable[[], T],
    *,
    what: str,
    timer: Timer,
    rng: random.Random,
    attempts: int = 4,
    base: float = 0.25,
    cap: float = 5.0,
) -> T:
    """Run ``call``; on throttling sleep with full jitter and retry, then ``ThrottledError``.

    Any other AWS error becomes a ``BackendError`` naming ``what`` failed.
    """
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            if not is_throttle(exc):
                raise BackendError(f"{what} failed: {exc}", hint=_hint(exc)) from exc
            if attempt == attempts - 1:
                raise ThrottledError(f"{what} was throttled by AWS Batch: {exc}") from exc
            timer.sleep(rng.uniform(0, min(cap, base * 2**attempt)))
        except BotoCoreError as exc:
            raise BackendError(f"{what} failed: {exc}", hint=_hint(exc)) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _hint(exc: BaseException) -> str | None:
    """What the user can do about ``exc``, when we can tell."""
    text = str(exc)
    if "credentials" in text.lower():
        return "configure AWS credentials (aws configure, AWS_PROFILE or an instance role)"
    if aws.error_code(exc) == "ClientException":
        return "check backend.job_queue / job_definition and that the infra stack is deployed"
    return None
