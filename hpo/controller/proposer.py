"""Proposals for free slots: asked at once, or prepared ahead while the controller is idle.

A GP ask can take a few hundred milliseconds. When several slots free in one poll, asking for
each in turn makes the last one wait for all the asks before it. :class:`Proposer` keeps a
few trials *prepared* (asked: params chosen and stored, no job yet) whenever asks are slow
enough for that queue to matter, computes them in the idle time before the next poll, and
hands them out first. A prepared trial is an ordinary RUNNING trial without a stage, so a
controller killed while holding some finds them on restart and runs them: nothing is lost
and nothing runs twice.

How many to prepare follows what was measured: the asks' cost and how many slots a poll
frees, on the controller's clock (a fake clock in tests and benchmarks costs nothing, so
nothing is prepared there unless a test makes asks cost time). Never more than one per eight
slots: each prepared proposal misses the results that land before it is used, which matters
at low parallelism and hardly at all at 32 or 64.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from hpo import attrs
from hpo.controller.clock import Clock
from hpo.spec.space import Param, has_conditions, is_active

WORTH_PREPARING_S = 0.05  # asks cheaper than this never delay a slot noticeably
_SMOOTHING = 0.2  # weight of the newest sample in the running averages


class Proposer:
    """Hands out trials for free slots; see the module docstring."""

    def __init__(
        self,
        study: optuna.Study,
        space: Mapping[str, BaseDistribution],
        clock: Clock,
        *,
        max_parallel: int,
        conditions: Mapping[str, Param] | None = None,
    ) -> None:
        """``conditions``: the spec's parameters, when some exist only under a condition
        (``when``); the trial's parameters are then drawn one by one in file order."""
        self.study, self.space, self.clock = study, dict(space), clock
        self.conditions = dict(conditions) if conditions and has_conditions(conditions) else None
        self.max_ahead = max_parallel // 8
        self.prepared: deque[optuna.trial.Trial] = deque()
        self.ask_seconds = 0.0  # running average of one ask's cost
        self.freed_per_poll = 0.0  # running average of slots filled per poll

    def adopt(self, trial: optuna.trial.Trial) -> None:
        """Take over a trial an earlier controller asked but never staged (its params are
        completed first: a kill in the middle of an ask leaves some unset)."""
        self._fill(trial)
        self.prepared.append(trial)

    def take(self) -> optuna.trial.Trial:
        """A prepared trial if there is one, else a fresh ask."""
        return self.prepared.popleft() if self.prepared else self._ask()

    def target(self) -> int:
        """How many trials are worth having prepared now."""
        if self.ask_seconds < WORTH_PREPARING_S:
            return 0
        return min(self.max_ahead, math.ceil(self.freed_per_poll))

    def prepare(self, allowed: int, until: float) -> None:
        """Ask ahead, up to :meth:`target` and ``allowed`` trials, while there is time left
        before ``until`` (monotonic seconds) for one more ask."""
        while len(self.prepared) < min(self.target(), allowed):
            if self.clock.monotonic() + self.ask_seconds > until:
                return
            self.prepared.append(self._ask())

    def note_poll(self, filled: int) -> None:
        """Record how many slots this poll filled (what the next one will likely need)."""
        self.freed_per_poll += _SMOOTHING * (filled - self.freed_per_poll)

    def _fill(self, trial: optuna.trial.Trial) -> None:
        """Suggest every parameter of ``trial`` that is active and not set yet, in order."""
        for name, dist in self.space.items():
            if name in trial.params:
                continue
            if self.conditions is None or is_active(self.conditions[name], trial.params):
                suggest(trial, name, dist)

    def close(self, why: str) -> None:
        """The run ended for its budget (``why``): fail every prepared trial, marked as stopped
        by hpo (it never started) so that no budget counts it as a failure."""
        while self.prepared:
            trial = self.prepared.popleft()
            trial.set_user_attr(attrs.STOPPED_BY, f"{why} (never started)")
            reason = f"proposed, but the run ended ({why}) before a slot was free"
            trial.set_user_attr(attrs.FAIL_REASON, reason)
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)

    def _ask(self) -> optuna.trial.Trial:
        start = self.clock.monotonic()
        if self.conditions is None:
            trial = self.study.ask(self.space)
        else:
            trial = self.study.ask()
            self._fill(trial)
        cost = self.clock.monotonic() - start
        self.ask_seconds += _SMOOTHING * (cost - self.ask_seconds)
        return trial


_SUGGEST: dict[type, Callable[[optuna.trial.Trial, str, Any], Any]] = {
    FloatDistribution: lambda t, n, d: t.suggest_float(n, d.low, d.high, step=d.step, log=d.log),
    IntDistribution: lambda t, n, d: t.suggest_int(n, d.low, d.high, step=d.step, log=d.log),
    CategoricalDistribution: lambda t, n, d: t.suggest_categorical(n, d.choices),
}


def suggest(trial: optuna.trial.Trial, name: str, dist: BaseDistribution) -> Any:
    """Set ``name`` on ``trial`` through the public suggest API (the study's sampler)."""
    return _SUGGEST[type(dist)](trial, name, dist)
