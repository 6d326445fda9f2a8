"""A trial attempt's log: a local file or a CloudWatch Logs stream, read once or followed.

:class:`LogSource` is the seam: ``fetch`` returns the lines added since the previous call.
:func:`stream` turns a source into lines, following it (``tail -f``) until the attempt is
over when asked to; the wait between polls is injected so tests never sleep.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpo import attrs, aws
from hpo.errors import HpoError, LogUnavailable


class LogSource(ABC):
    """One attempt's log; ``fetch`` returns new complete lines (``final``: the last one too)."""

    description: str = "log"

    @abstractmethod
    def fetch(self, *, final: bool = False) -> list[str]:
        """Lines added since the last call (the first call starts at the beginning)."""


class FileLogSource(LogSource):
    """A log file on this machine (the local backend writes one per attempt)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        self._offset = 0
        self._partial = b""

    def fetch(self, *, final: bool = False) -> list[str]:
        data = self._read_new()
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        if final and self._partial:
            chunks.append(self._partial)
            self._partial = b""
        return [c.decode("utf-8", errors="replace").rstrip("\r") for c in chunks]

    def _read_new(self) -> bytes:
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, 2)
                if size < self._offset:  # truncated or replaced: start again
                    self._offset, self._partial = 0, b""
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            raise LogUnavailable(f"log file {self.path} does not exist (yet)") from None
        except OSError as exc:
            raise HpoError(f"cannot read log file {self.path}: {exc}") from exc
        self._offset += len(data)
        return data


class CloudWatchLogSource(LogSource):
    """A CloudWatch Logs stream read with ``get_log_events``, page by page, from the head."""

    def __init__(self, client: Any, group: str, stream: str, *, page_size: int | None = None):
        self.client = client
        self.group = group
        self.stream = stream
        self.page_size = page_size
        self.description = f"CloudWatch Logs {group} {stream}"
        self._token: str | None = None

    def fetch(self, *, final: bool = False) -> list[str]:
        lines: list[str] = []
        while True:
            response = self._page()
            lines.extend(e.get("message", "").rstrip("\n") for e in response.get("events", []))
            token = response.get("nextForwardToken")
            if token is None or token == self._token:  # the same token back: end of stream
                return lines
            self._token = token

    def _page(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "logGroupName": self.group,
            "logStreamName": self.stream,
            "startFromHead": True,
        }
        if self._token:
            kwargs["nextToken"] = self._token
        if self.page_size:
            kwargs["limit"] = self.page_size
        try:
            return self.client.get_log_events(**kwargs)
        except Exception as exc:
            if aws.error_code(exc) == "ResourceNotFoundException":
                raise LogUnavailable(
                    f"no log stream {self.stream!r} in log group {self.group!r} (yet)"
                ) from None
            raise HpoError(
                f"cannot read CloudWatch Logs {self.group} {self.stream}: {exc}",
                hint="check the AWS credentials, region and logs:GetLogEvents permission",
            ) from exc


class LazyLogSource(LogSource):
    """A source found only once the attempt has one (a job that has not started yet)."""

    def __init__(self, resolve: Callable[[], LogSource]) -> None:
        self._resolve = resolve
        self._source: LogSource | None = None
        self.description = "log (waiting for the job to start)"

    def fetch(self, *, final: bool = False) -> list[str]:
        if self._source is None:
            self._source = self._resolve()  # raises LogUnavailable until there is a log
            self.description = self._source.description
        return self._source.fetch(final=final)


def stream(
    source: LogSource,
    *,
    follow: bool = False,
    is_done: Callable[[], bool] = lambda: True,
    wait: Callable[[float], object] = time.sleep,
    interval: float = 1.0,
) -> Iterator[str]:
    """The log's lines; with ``follow``, keep polling until ``is_done()``, then drain once."""
    if not follow:
        yield from source.fetch(final=True)
        return
    while True:
        finished = is_done()
        try:
            lines = source.fetch(final=finished)
        except LogUnavailable:
            if finished:
                raise
            lines = []
        yield from lines
        if finished:
            return
        if not lines:
            wait(interval)


# --------------------------------------------------------------------------- which log


@dataclass(frozen=True)
class AttemptLog:
    """Where one attempt of a trial logged to, from the trial's user attributes."""

    attempt: int
    log: str | None
    log_stream: str | None
    current: bool


def attempt_logs(trial: FrozenTrial) -> list[AttemptLog]:
    """Every attempt of ``trial`` (each run of its trainer, Batch's own retries included),
    oldest first; the last one is the current attempt."""
    ua = trial.user_attrs
    entries = [e for e in ua.get(attrs.ATTEMPTS_LOG) or [] if isinstance(e, dict)]
    history = [
        AttemptLog(int(e.get("attempt", i + 1)), e.get("log"), e.get("log_stream"), False)
        for i, e in enumerate(entries)
    ]
    log, stream = ua.get(attrs.LOG), ua.get(attrs.LOG_STREAM)
    last = history[-1] if history else None
    if last is None:
        return [AttemptLog(int(ua.get(attrs.ATTEMPT, 1)), log, stream, True)]
    if (last.log, last.log_stream) != (log, stream):  # the current run is not on record yet
        return [*history, AttemptLog(last.attempt + 1, log, stream, True)]
    if trial.state == TrialState.RUNNING:  # the recorded run ended; the next has no log yet
        return [*history, AttemptLog(last.attempt + 1, None, None, True)]
    return [*history[:-1], dataclasses.replace(last, current=True)]


def pick_attempt(trial: FrozenTrial, attempt: int | None) -> AttemptLog:
    """The requested attempt (the current one by default), or a clear error."""
    logs = attempt_logs(trial)
    if attempt is None:
        return logs[-1]
    for entry in logs:
        if entry.attempt == attempt:
            return entry
    known = ", ".join(str(e.attempt) for e in logs)
    raise HpoError(
        f"trial {trial.number} has no attempt {attempt} (attempts: {known})",
        hint="leave out --attempt for the current attempt",
    )


def source_for(
    trial: FrozenTrial,
    entry: AttemptLog,
    *,
    log_group: Callable[[], str],
    logs_client: Callable[[], Any],
) -> LogSource:
    """The log source of ``entry``: its CloudWatch stream, its file, or the local default path.
    ``log_group`` and ``logs_client`` are called only for a CloudWatch stream."""
    if entry.log_stream:
        return CloudWatchLogSource(logs_client(), log_group(), entry.log_stream)
    if entry.log and not entry.log.startswith(("http://", "https://")):
        return FileLogSource(entry.log)
    uri = trial.user_attrs.get(attrs.TRIAL_URI)
    if uri and "://" not in uri:  # the local backend's layout, before the job reported it
        return FileLogSource(Path(uri, "logs", f"attempt-{entry.attempt}.log"))
    stage = trial.user_attrs.get(attrs.STAGE, "asked")
    raise LogUnavailable(
        f"trial {trial.number} attempt {entry.attempt} has no log yet (stage {stage})",
        hint="the job has not started; wait for it with --follow",
    )
