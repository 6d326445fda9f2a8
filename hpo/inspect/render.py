"""Rich renderables for ``hpo status`` and ``hpo best``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hpo.inspect.snapshot import BestTrial, StudySnapshot

_STATE_STYLE = {
    "complete": "green",
    "pruned": "yellow",
    "fail": "red",
    "running": "cyan",
    "waiting": "dim",
}


def fmt_value(value: float | None) -> str:
    """A compact number, ``-`` for none."""
    return "-" if value is None else f"{value:.6g}"


def fmt_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s`` or ``42s``; ``-`` for none."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def status_view(snap: StudySnapshot, *, metric_names: Sequence[str] | None = None) -> Group:
    """The whole ``hpo status`` screen."""
    parts: list[RenderableType] = [_headline(snap, metric_names), _controller(snap)]
    parts += [_counts(snap), _compute(snap)]
    if snap.cost_usd is not None:
        parts.append(_cost(snap))
    parts.append(_best_line(snap, metric_names))
    if snap.running:
        parts.append(_running_table(snap))
    if snap.failures:
        parts.append(_failures_table(snap))
    return Group(*parts)


def _headline(snap: StudySnapshot, metric_names: Sequence[str] | None) -> Text:
    goal = ", ".join(
        f"{d} {m}" if m else d
        for d, m in zip(snap.directions, _names(metric_names, len(snap.directions)), strict=True)
    )
    when = dt.datetime.fromtimestamp(snap.taken_at).strftime("%Y-%m-%d %H:%M:%S")
    line = Text.assemble(("study ", "dim"), (snap.study, "bold"), f"  ({goal})")
    line.append(f"  as of {when}", style="dim")
    return line


def _controller(snap: StudySnapshot) -> Text:
    c = snap.controller
    if c.state == "running":
        ago = fmt_duration(snap.taken_at - c.renewed_at) if c.renewed_at else "-"
        return Text(f"controller: running (pid {c.pid} on {c.host}, heartbeat {ago} ago)")
    if c.state == "exited":
        return Text(f"controller: not running (pid {c.pid} on {c.host} exited without "
                    "releasing the study)", style="yellow")  # fmt: skip
    if c.state == "expired":
        ago = fmt_duration(snap.taken_at - c.expires_at) if c.expires_at else "-"
        return Text(
            f"controller: lease of pid {c.pid} on {c.host} expired {ago} ago (died or hung?)",
            style="yellow",
        )
    if c.state == "stopped":
        return Text("controller: not running (it released the study)", style="dim")
    return Text("controller: none recorded", style="dim")


def _names(metric_names: Sequence[str] | None, n: int) -> list[str | None]:
    if metric_names and len(metric_names) == n:
        return list(metric_names)
    return [None] * n


def _counts(snap: StudySnapshot) -> Text:
    target = f"/{snap.n_trials}" if snap.n_trials else ""
    line = Text(f"trials: {snap.done}{target} done   ")
    for state in ("complete", "pruned", "fail", "running", "waiting"):
        line.append(f"{state} {snap.counts.get(state, 0)}", style=_STATE_STYLE[state])
        line.append("  ")
    if snap.retries:
        line.append(f"retried attempts {snap.retries}", style="yellow")
    if snap.copied:
        line.append(f"(+{snap.copied} copied by warm_start)", style="dim")
    return line


def _compute(snap: StudySnapshot) -> Text:
    spent = snap.compute_seconds
    line = Text(f"compute: {spent:.1f}s spent ({fmt_duration(spent)})")
    if snap.compute_seconds_saved is not None:
        saved = snap.compute_seconds_saved
        line.append(f", {saved:.1f}s saved by pruning ({fmt_duration(saved)})", style="green")
    return line


def fmt_usd(value: float | None) -> str:
    """Dollars with cents (tenths of a cent below a dollar); ``-`` for none."""
    if value is None:
        return "-"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.3f}"


def _cost(snap: StudySnapshot) -> Text:
    if snap.unpriced and not snap.cost_usd:  # nothing priced: no total, rather than $0
        return Text(f"cost: unknown ({snap.unpriced} trials unpriced)", style="yellow")
    line = Text(f"cost: {fmt_usd(snap.cost_usd)} spent")
    if snap.gpu_hours is not None:
        line.append(f", {snap.gpu_hours:.2f} GPU hours")
    if snap.cost_usd_saved is not None:
        line.append(f", {fmt_usd(snap.cost_usd_saved)} saved by pruning", style="green")
    if snap.unpriced:
        line.append(f"  ({snap.unpriced} trials unpriced, not counted)", style="yellow")
    return line


def _best_line(snap: StudySnapshot, metric_names: Sequence[str] | None) -> Text:
    if not snap.best:
        return Text("best: no complete trial yet", style="dim")
    if len(snap.directions) > 1:
        return Text(f"best: Pareto front of {len(snap.best)} trials (hpo best for details)")
    best = snap.best[0]
    params = ", ".join(f"{k}={_param(v)}" for k, v in best.params.items())
    line = Text.assemble("best: trial ", (str(best.number), "bold"), " value ")
    line.append(fmt_value(best.values[0]), style="bold green")
    if best.cost_usd is not None:
        line.append(f" ({fmt_usd(best.cost_usd)})")
    line.append(f"  {params}", style="dim")
    return line


def _param(value: object) -> str:
    return fmt_value(value) if isinstance(value, float) else str(value)


def _running_table(snap: StudySnapshot) -> Table:
    """Age counts from the job's start, else from its submit, else from the ask."""
    table = Table(title="running", title_justify="left", expand=False)
    names = ["trial", "stage", "attempt", "job id", "age", "last step", "last value"]
    priced = snap.cost_usd is not None
    for name in [*names, "cost"] if priced else names:
        table.add_column(name, justify="right" if name not in ("stage", "job id") else "left")
    for r in sorted(snap.running, key=lambda r: r.number):
        cells = [
            str(r.number),
            r.stage,
            str(r.attempt),
            r.job_id or "-",
            fmt_duration(r.age_seconds),
            "-" if r.last_step is None else str(r.last_step),
            fmt_value(r.last_value),
        ]
        table.add_row(*cells, *([fmt_usd(r.cost_usd)] if priced else []))
    return table


def _failures_table(snap: StudySnapshot) -> Table:
    table = Table(title="recent failures", title_justify="left", expand=False)
    table.add_column("trial", justify="right")
    table.add_column("attempt", justify="right")
    table.add_column("exit", justify="right")
    priced = snap.cost_usd is not None
    if priced:
        table.add_column("cost", justify="right")
    table.add_column("reason", overflow="fold")
    for f in snap.failures:
        exit_code = "-" if f.exit_code is None else str(f.exit_code)
        cost = [fmt_usd(f.cost_usd)] if priced else []
        table.add_row(str(f.number), str(f.attempt), exit_code, *cost, Text(f.reason, style="red"))
    return table


def best_view(
    best: Sequence[BestTrial], directions: Sequence[str], metric_names: Sequence[str] | None
) -> RenderableType:
    """``hpo best``: one trial's params as a table, or the Pareto front as one row per trial."""
    names = [m or f"value {i}" for i, m in enumerate(_names(metric_names, len(directions)))]
    if len(directions) == 1:
        return _single_best(best[0], names[0], directions[0])
    table = Table(title=f"Pareto front ({len(best)} trials)", title_justify="left")
    table.add_column("trial", justify="right")
    for name, direction in zip(names, directions, strict=True):
        table.add_column(f"{name} ({direction})", justify="right", style="green")
    param_names = sorted({k for b in best for k in b.params})
    for name in param_names:
        table.add_column(name)
    for b in best:
        cells = [_param(b.params.get(p, "-")) for p in param_names]
        table.add_row(str(b.number), *(fmt_value(v) for v in b.values), *cells)
    return table


def _single_best(best: BestTrial, metric: str, direction: str) -> Group:
    head = Text.assemble("best trial ", (str(best.number), "bold"), f": {metric} ({direction}) ")
    head.append(fmt_value(best.values[0]), style="bold green")
    table = Table(show_header=True, expand=False)
    table.add_column("param")
    table.add_column("value")
    for key, value in best.params.items():
        table.add_row(key, str(value))
    parts: list[RenderableType] = [head, table]
    if best.metrics:
        metrics = ", ".join(f"{k}={_param(v)}" for k, v in best.metrics.items())
        parts.append(Text(f"metrics: {metrics}", style="dim"))
    return Group(*parts)
