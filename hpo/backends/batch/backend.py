"""The AWS Batch backend: one SubmitJob per trial attempt, DescribeJobs in chunks of 100.

- ``submit`` registers the study's job definition on first use (once per content hash), waits
  for a token of the SubmitJob rate limiter and submits under the deterministic job name with
  ``HPO_TRIAL_URI`` in the container environment and study/trial/attempt tags. Throttling is
  retried with jittered backoff, then raised as ``ThrottledError`` (the controller submits
  again on its next tick).
- ``poll`` describes all ids in chunks of 100. An id Batch does not return is UNKNOWN ("not
  visible yet") until ``visibility_grace`` seconds have passed and ListJobs by name cannot
  find it either; then it is LOST (an infrastructure failure).
- ``open_events`` subscribes the study to its job state events (``subscription``) or reads
  the study's own queue, and falls back to polling when it cannot (an older stack, no
  permission); the feed's statuses pass through the same bookkeeping as polled ones.
- ``hosts`` finds the instance of an attempt and its price (``pricing``).
- ``close`` stops nothing unless the study sets ``stop_on_exit``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError

from hpo.aws import error_code
from hpo.backends.base import (
    Backend,
    EventFeed,
    Host,
    HostQuery,
    JobSpec,
    JobState,
    JobStatus,
    sanitize_job_name,
)
from hpo.backends.batch import subscription
from hpo.backends.batch.client import BatchClients, with_backoff
from hpo.backends.batch.events import SqsEvents
from hpo.backends.batch.jobdef import ensure_job_definition, resource_requirements, retry_strategy
from hpo.backends.batch.pricing import Instance, InstanceFinder, PriceBook
from hpo.backends.batch.ratelimit import TokenBucket
from hpo.backends.batch.settings import BatchSettings
from hpo.backends.batch.status import job_status
from hpo.errors import BackendError, ThrottledError

log = logging.getLogger(__name__)

DESCRIBE_CHUNK = 100
VISIBILITY_GRACE = 120.0


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class BatchBackend(Backend):
    """Trial attempts as AWS Batch jobs. See the module docstring."""

    name = "batch"
    priced = True

    def __init__(
        self,
        settings: BatchSettings,
        clients: BatchClients,
        *,
        visibility_grace: float = VISIBILITY_GRACE,
    ) -> None:
        self.settings = settings
        self.poll_interval = settings.poll_interval
        self.visibility_grace = visibility_grace
        self._clients = clients
        self._batch = clients.batch
        self._timer = clients.timer
        self._region = settings.region or clients.region
        self._limiter = TokenBucket(settings.submit_rate, clients.timer)
        self._lock = threading.Lock()
        self._definition: str | None = None
        self._names: dict[str, str] = {}  # job id -> job name
        self._submitted: dict[str, float] = {}  # job id -> monotonic time of submit
        self._missing_since: dict[str, float] = {}
        self._active: set[str] = set()  # submitted or seen unfinished, not yet seen finished
        self._instances = InstanceFinder(clients.ecs, clients.ec2)
        self._prices = PriceBook(clients.ec2, clients.pricing, self._region)

    @property
    def gpus_per_job(self) -> int:
        return self.settings.resources.gpus

    # ------------------------------------------------------------------ helpers

    def _aws(self, call: Any, what: str) -> Any:
        """Run one AWS call with throttling backoff (see ``with_backoff``)."""
        return with_backoff(call, what=what, timer=self._timer, rng=self._clients.rng)

    def job_definition(self) -> str:
        """The job definition jobs run with: the study's own (registered once) or the given one."""
        with self._lock:
            if self._definition is None:
                if self.settings.image is None:
                    self._definition = str(self.settings.job_definition)
                else:
                    self._definition = ensure_job_definition(self._clients, self.settings)
            return self._definition

    def _submit_request(self, job: JobSpec, name: str) -> dict[str, Any]:
        """SubmitJob arguments: overrides, tags, timeout (+ command, retries for a given def)."""
        s = self.settings
        own = s.image is not None  # our definition already has command, env and retries
        env = {**({} if own else dict(s.env)), **job.env, "HPO_TRIAL_URI": job.trial_uri}
        overrides: dict[str, Any] = {
            "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
            "resourceRequirements": resource_requirements(s.resources),
        }
        request: dict[str, Any] = {
            "jobName": name,
            "jobQueue": s.job_queue,
            "jobDefinition": self.job_definition(),
            "containerOverrides": overrides,
            "tags": {
                "hpo:study": job.study,
                "hpo:trial": str(job.trial),
                "hpo:attempt": str(job.attempt),
            },
            "propagateTags": True,
        }
        if not own:
            overrides["command"] = list(s.command)
            request["retryStrategy"] = retry_strategy(s.retry_attempts)
        if s.timeout is not None:
            request["timeout"] = {"attemptDurationSeconds": int(s.timeout)}
        return request

    def _remember(self, job_id: str, name: str, *, submitted: bool = False) -> str:
        """Note a job's name and that it is in flight; returns ``job_id``."""
        with self._lock:
            self._names[job_id] = name
            self._active.add(job_id)
            if submitted:
                self._submitted[job_id] = self._timer.monotonic()
        return job_id

    # ------------------------------------------------------------------ contract

    def submit(self, job: JobSpec) -> str:
        name = sanitize_job_name(job.name)
        request = self._submit_request(job, name)
        self._limiter.acquire()
        try:
            response = self._aws(lambda: self._batch.submit_job(**request), f"SubmitJob {name}")
        except ThrottledError:
            raise
        except BackendError as exc:
            if not isinstance(exc.__cause__, BotoCoreError):
                raise
            found = self.find(name)  # the request may have gone through before the error
            if found is not None:
                return found
            raise ThrottledError(f"SubmitJob {name} did not go through ({exc}); retrying") from exc
        return self._remember(response["jobId"], name, submitted=True)

    def find(self, name: str) -> str | None:
        name = sanitize_job_name(name)
        exact = [s for s in self._list_by_name(name) if s.get("jobName") == name]
        if not exact:
            return None
        newest = max(exact, key=lambda s: s.get("createdAt", 0))
        return self._remember(newest["jobId"], name)

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        ids = list(dict.fromkeys(job_ids))
        seen, unanswered = self._describe(ids)
        out: dict[str, JobStatus] = {}
        for job_id in ids:
            if job_id in seen:
                out[job_id] = self._seen(seen[job_id])
            elif job_id in unanswered:
                out[job_id] = JobStatus(
                    job_id, JobState.UNKNOWN, reason="DescribeJobs was throttled"
                )
            else:
                out[job_id] = self._unseen(job_id)
        return out

    def terminate(self, job_id: str, reason: str) -> None:
        try:
            self._aws(
                lambda: self._batch.terminate_job(jobId=job_id, reason=reason[:256]),
                f"TerminateJob {job_id}",
            )
        except BackendError as exc:
            if error_code(exc.__cause__ or exc) == "ClientException":
                log.info("job %s is already gone: %s", job_id, exc)
                return
            raise

    def open_events(self) -> EventFeed | None:
        """The study's job state events, or None (poll) when there are none to be had."""
        events = self.settings.events
        if events is None or self._clients.sqs is None:
            return None
        url, on_close = events.queue_url, None
        if url is None:
            if self._clients.events is None or not events.prefix or not events.dead_letter_arn:
                return None
            try:
                made = subscription.subscribe(
                    self._clients.sqs, self._clients.events, prefix=events.prefix,
                    study=self.settings.study, job_queue=self.settings.job_queue,
                    dead_letter_arn=events.dead_letter_arn,
                )  # fmt: skip
            except BackendError as exc:
                log.warning("job events are off, polling DescribeJobs instead: %s", exc)
                return None
            url, on_close = made.queue_url, self._unsubscriber(made)
        return SqsEvents(self._clients.sqs, url, self._event_status, timer=self._timer,
                         rng=self._clients.rng, on_close=on_close)  # fmt: skip

    def _unsubscriber(self, made: subscription.Subscription) -> Any:
        def close(done: bool) -> None:
            if done:
                try:
                    subscription.unsubscribe(self._clients.sqs, self._clients.events, made)
                except BackendError as exc:
                    log.warning("%s", exc)

        return close

    def _event_status(self, detail: dict[str, Any]) -> JobStatus | None:
        """An event's job as a status, through the same bookkeeping as a polled one."""
        try:
            if detail["jobId"] not in self._names:  # not known here: no bookkeeping (the
                # controller drops it if it is not its job, e.g. a study named like ours)
                return job_status(detail, region=self._region, log_group=self.settings.log_group)
            return self._seen(detail)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("dropping a malformed job event: %s", exc)
            return None

    def hosts(self, queries: Sequence[HostQuery]) -> dict[HostQuery, Host]:
        """Instance type, zone, lifecycle and hourly price of each attempt asked about."""
        found = self._instances.find(q.host for q in queries)
        missing = Instance(reason="the container instance was not found")
        return {q: self._prices.host(found.get(q.host, missing), q.started_at) for q in queries}

    def close(self) -> None:
        """Stop in-flight jobs only when the study asked for it (``stop_on_exit``)."""
        if self.settings.stop_on_exit:
            for job_id in sorted(self._active):
                try:
                    self.terminate(job_id, "hpo controller exited (stop_on_exit)")
                except BackendError as exc:
                    log.warning("could not stop job %s: %s", job_id, exc)
        self._active.clear()

    # ------------------------------------------------------------------ poll helpers

    def _describe(self, ids: list[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """DescribeJobs per chunk of 100: the jobs returned, and ids left unanswered (throttled)."""
        seen: dict[str, dict[str, Any]] = {}
        unanswered: set[str] = set()
        for chunk in _chunks(ids, DESCRIBE_CHUNK):
            try:
                response = self._aws(
                    lambda chunk=chunk: self._batch.describe_jobs(jobs=chunk),
                    f"DescribeJobs ({len(chunk)} jobs)",
                )
            except ThrottledError as exc:
                log.warning("%s; asking again next poll", exc)
                unanswered.update(chunk)
                continue
            for job in response.get("jobs", []):
                seen[job["jobId"]] = job
        return seen, unanswered

    def _seen(self, job: dict[str, Any]) -> JobStatus:
        """The status of a described job; it is visible, so forget any missing-since time."""
        status = job_status(job, region=self._region, log_group=self.settings.log_group)
        with self._lock:
            self._missing_since.pop(status.job_id, None)
            if job.get("jobName"):
                self._names[status.job_id] = job["jobName"]
            if status.state.finished:
                self._active.discard(status.job_id)
            else:
                self._active.add(status.job_id)
        return status

    def _unseen(self, job_id: str) -> JobStatus:
        """UNKNOWN within the grace time (or while ListJobs still lists it), LOST after."""
        now = self._timer.monotonic()
        with self._lock:
            since = self._missing_since.setdefault(job_id, self._submitted.get(job_id, now))
            name = self._names.get(job_id)
        waited = now - since
        if waited < self.visibility_grace:
            return JobStatus(job_id, JobState.UNKNOWN, reason="not visible in DescribeJobs yet")
        if name is not None and any(s.get("jobId") == job_id for s in self._list_by_name(name)):
            return JobStatus(job_id, JobState.UNKNOWN, reason="listed but not described yet")
        with self._lock:
            self._active.discard(job_id)
        return JobStatus(
            job_id,
            JobState.LOST,
            reason=f"AWS Batch has no job {job_id} ({waited:.0f}s after it was expected)",
            infra_failure=True,
        )

    def _list_by_name(self, name: str) -> list[dict[str, Any]]:
        """ListJobs on the queue with a JOB_NAME filter (all states), every page."""
        summaries: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "jobQueue": self.settings.job_queue,
                "filters": [{"name": "JOB_NAME", "values": [name]}],
            }
            if token:
                kwargs["nextToken"] = token
            page = self._aws(lambda kwargs=kwargs: self._batch.list_jobs(**kwargs), "ListJobs")
            summaries += page.get("jobSummaryList", [])
            token = page.get("nextToken")
            if not token:
                return summaries
