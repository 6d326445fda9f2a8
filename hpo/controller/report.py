"""What the user sees while a study runs: a live status line on a terminal, else plain lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from hpo.controller.budget import Budget


@dataclass(frozen=True)
class Snapshot:
    """The run's counts as the status line shows them."""

    complete: int
    pruned: int
    failed: int
    running: int
    n_trials: int
    best: float | None
    elapsed: float

    @classmethod
    def of(cls, budget: Budget, running: int, best: float | None) -> Snapshot:
        """The counts of ``budget`` now, with ``running`` trials in flight."""
        return cls(complete=budget.counts[TrialState.COMPLETE],
                   pruned=budget.counts[TrialState.PRUNED], failed=budget.failed,
                   running=running, n_trials=budget.target, best=best,
                   elapsed=budget.elapsed())  # fmt: skip


@dataclass(frozen=True)
class TrialEvent:
    number: int
    state: TrialState
    values: list[float] | None
    reason: str | None
    compute_seconds: float
    params: dict[str, Any]
    snapshot: Snapshot | None = None  # the study's counts once this trial is counted


class BestSoFar:
    """The best feasible value of a single-objective study so far (``direction`` None: several
    objectives, which have no single best)."""

    def __init__(self, direction: str | None) -> None:
        self.direction = direction
        self.value: float | None = None

    def load(self, study: optuna.Study, complete: int) -> None:
        """The best feasible value of the trials so far (none before one)."""
        if self.direction is not None and complete:
            try:
                self.value = study.best_value
            except ValueError:  # every complete trial misses objective.constraints
                self.value = None

    def note(self, frozen: optuna.trial.FrozenTrial) -> None:
        if self.direction is None or frozen.state is not TrialState.COMPLETE:
            return
        if any(v > 0 for v in frozen.constraints.values()):
            return  # infeasible: never the best
        better = min if self.direction == "minimize" else max
        value = frozen.values[0]
        self.value = value if self.value is None else better(self.value, value)


class Reporter(Protocol):
    def started(self, snapshot: Snapshot) -> None: ...

    def tick(self, snapshot: Snapshot) -> None: ...

    def trial_finished(self, event: TrialEvent) -> None: ...

    def trial_retried(self, number: int, attempt: int, reason: str) -> None: ...

    def stopped(self, summary: Any) -> None: ...


class NullReporter:
    """Reports nothing (tests, library use)."""

    def started(self, snapshot: Snapshot) -> None: ...

    def tick(self, snapshot: Snapshot) -> None: ...

    def trial_finished(self, event: TrialEvent) -> None: ...

    def trial_retried(self, number: int, attempt: int, reason: str) -> None: ...

    def stopped(self, summary: Any) -> None: ...


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def status_line(s: Snapshot) -> str:
    done = s.complete + s.pruned
    return (
        f"{done}/{s.n_trials} done ({s.complete} complete, {s.pruned} pruned) | "
        f"{s.running} running | {s.failed} failed | best {_fmt(s.best)} | {_clock(s.elapsed)}"
    )


class ConsoleReporter:
    """A line per finished trial; on a terminal also a live status line at the bottom."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._live: Live | None = None
        self._last: Snapshot | None = None

    def started(self, snapshot: Snapshot) -> None:
        if self.console.is_terminal:
            self._live = Live(
                Text(status_line(snapshot)),
                console=self.console,
                refresh_per_second=4,
                transient=True,
            )
            self._live.start()
        self._last = snapshot

    def tick(self, snapshot: Snapshot) -> None:
        if self._live is not None and snapshot != self._last:
            self._live.update(Text(status_line(snapshot)))
        self._last = snapshot

    def trial_finished(self, event: TrialEvent) -> None:
        state = event.state.name.lower()
        style = {"complete": "green", "pruned": "yellow", "fail": "red"}.get(state, "")
        value = ", ".join(_fmt(v) for v in event.values) if event.values else "-"
        line = Text(f"trial {event.number:>4} ")
        line.append(f"{state:<8}", style=style)
        line.append(f" value {value:<12} {event.compute_seconds:7.1f}s")
        if event.reason:
            line.append(f"  {event.reason}", style="dim")
        elif (s := event.snapshot or self._last) is not None:
            line.append(
                f"  [{s.complete + s.pruned}/{s.n_trials} done, best {_fmt(s.best)}]", style="dim"
            )
        self.console.print(line, soft_wrap=True)

    def trial_retried(self, number: int, attempt: int, reason: str) -> None:
        self.console.print(
            f"trial {number:>4} retry    attempt {attempt}: {reason}", style="yellow"
        )

    def stopped(self, summary: Any) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
