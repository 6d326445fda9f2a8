"""``hpo run``, ``hpo validate`` and ``hpo enqueue``: the Python API (:mod:`hpo.api`) plus
printing."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.markup import escape

from hpo import api
from hpo.controller.loop import RunSummary, StopReason
from hpo.controller.report import ConsoleReporter
from hpo.errors import BudgetError, SpecError
from hpo.inspect.render import fmt_usd
from hpo.spec.describe import describe


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def validate(study_file: str) -> None:
    """Check STUDY_FILE and print what it would run."""
    study = api.load(study_file)
    study.check()
    click.echo("\n".join(describe(study.file)))


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option(
    "--allow-changes",
    is_flag=True,
    help="Run although the file changed in a way that needs it (the error says which).",
)
def run(study_file: str, allow_changes: bool) -> None:
    """Run (or resume) the study in STUDY_FILE until its budget is spent."""
    study = api.load(study_file)
    study.check()
    file = study.file
    console = Console(highlight=False, soft_wrap=True)

    def header(sampler: str) -> None:
        console.print(f"study [bold]{file.spec.name}[/] on {file.spec.backend.type} backend")
        console.print(f"storage: {escape(file.storage_display)}")
        console.print(f"sampler: {sampler}", markup=False)
        dashboard = f"hpo dashboard {study_file}  (or: optuna-dashboard {file.storage_display})"
        console.print(f"dashboard: {dashboard}", markup=False)

    def notify(text: str) -> None:
        style = "yellow" if text.startswith(("stopping", "note")) else None
        console.print(text, style=style, markup=False)

    summary = study.run(allow_changes=allow_changes, reporter=ConsoleReporter(console),
                        notify=notify, on_ready=header)  # fmt: skip
    _print_summary(console, study, summary)
    if summary.reason == StopReason.FAILURES:
        limit = file.spec.budget.failure_limit
        late = summary.failed - limit
        during = (
            f"; {late} of them were already running when the limit was reached" if late > 0 else ""
        )
        raise BudgetError(
            f"stopped at max_failures {limit}: {summary.failed} trials failed{during}",
            hint=f"see the reasons with: hpo status {study_file}; fix the trainer or raise "
            "budget.max_failures, then run again",
        )
    if summary.reason == StopReason.INTERRUPTED:
        sys.exit(130)


def _cost_line(summary: RunSummary) -> str:
    """Dollars spent and saved, GPU hours, and how many trials have no price."""
    known = fmt_usd(summary.cost_usd) if summary.cost_usd or not summary.unpriced else "unknown"
    line = f"cost {known}"
    if summary.gpu_hours is not None:
        line += f", {summary.gpu_hours:.2f} GPU hours"
    if summary.cost_saved:
        line += f" ({fmt_usd(summary.cost_saved)} saved by pruning)"
    if summary.unpriced:
        line += f"; {summary.unpriced} trials unpriced (not counted)"
    return line


def _print_summary(console: Console, study: api.Study, summary: RunSummary) -> None:
    done = summary.complete + summary.pruned
    stopped = f", {summary.stopped} stopped by hpo" if summary.stopped else ""
    console.print(
        f"[bold]{summary.reason}[/]: {done} finished ({summary.complete} complete, "
        f"{summary.pruned} pruned), {summary.failed} failed{stopped}, {summary.running} still "
        f"running; compute {summary.compute_seconds:.1f}s"
        + (f" ({summary.compute_saved:.1f}s saved by pruning)" if summary.compute_saved else "")
    )
    if summary.cost_usd is not None:
        console.print(_cost_line(summary), markup=False)
    if summary.reason in (StopReason.COST, StopReason.GPU_HOURS):
        console.print(f"the study reached budget.{summary.reason}; its jobs in flight finished")
    path = study.file.path
    if summary.reason == StopReason.INTERRUPTED:
        console.print(f"resume with: hpo run {path}", markup=False)
    if summary.complete and len(study.file.spec.objective.study_directions) == 1:
        try:
            best = study.best_trial
        except ValueError:  # Optuna's word for "no complete trial is feasible"
            console.print("no complete trial meets objective.constraints yet")
            return
        feasible = " (feasible)" if study.file.spec.objective.constraints else ""
        console.print(f"best trial {best.number}{feasible}: value {best.value:.6g}")
        for name, value in best.params.items():
            console.print(f"  {name}: {value}", markup=False)
    elif summary.complete:
        console.print(f"Pareto front: {len(study.best_trials)} trials (hpo best {path})")


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.argument("params_file", type=click.Path(dir_okay=False))
def enqueue(study_file: str, params_file: str) -> None:
    """Queue the parameter set(s) in PARAMS_FILE (YAML or JSON: one mapping or a list) to run
    next in STUDY_FILE's study, running or stopped; sets it already has are skipped."""
    study = api.load(study_file)
    sets = _read_sets(Path(params_file))
    added = study.enqueue(sets, source=params_file)
    click.echo(
        f"enqueued {added} parameter set(s) into study {study.name!r} "
        f"({len(sets) - added} already in it); a running controller starts them at its next "
        f"free slot, otherwise: hpo run {study_file}"
    )


def _read_sets(path: Path) -> list[dict]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except FileNotFoundError:
        raise SpecError("file not found", file=str(path), hint="check the path") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(
            f"cannot read parameter sets: {str(exc).splitlines()[0]}",
            file=str(path),
            hint="give a YAML or JSON mapping, or a list of them",
        ) from None
    sets = doc if isinstance(doc, list) else [doc]
    if not sets or not all(isinstance(s, dict) for s in sets):
        raise SpecError("expected a mapping of parameter names to values, or a list of them",
                        file=str(path), hint="e.g. {lr: 0.001, layers: 2}")  # fmt: skip
    return sets
