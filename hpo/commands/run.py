"""``hpo run`` and ``hpo validate``."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

import click
from rich.console import Console

from hpo.commands.signals import Handler, on_stop_signals
from hpo.controller.failpoints import Failpoints
from hpo.controller.lease import Lease
from hpo.controller.loop import Controller, RunSummary, StopReason
from hpo.controller.report import ConsoleReporter
from hpo.errors import BudgetError
from hpo.inspect.artifacts import artifact_store_for
from hpo.runtime import make_backend, make_store, open_storage
from hpo.spec import build
from hpo.spec.describe import describe
from hpo.spec.loader import StudyFile, load_study


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def validate(study_file: str) -> None:
    """Check STUDY_FILE and print what it would run."""
    study = load_study(study_file)
    build.check_requirements(study.spec, str(study.path), study.storage_url)
    build.sampler(study.spec, str(study.path))
    click.echo("\n".join(describe(study)))


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def run(study_file: str) -> None:
    """Run (or resume) the study in STUDY_FILE until its budget is spent."""
    study = load_study(study_file)
    build.check_requirements(study.spec, str(study.path), study.storage_url)
    console = Console(highlight=False, soft_wrap=True)
    storage = open_storage(study)
    optuna_study = build.create_study(study, storage)
    console.print(f"study [bold]{study.spec.name}[/] on {study.spec.backend.type} backend")
    console.print(f"storage: {study.storage_url}")
    console.print(
        f"dashboard: hpo dashboard {study_file}  (or: optuna-dashboard {study.storage_url})"
    )
    lease = Lease(optuna_study, now=time.time)
    lease.acquire()
    backend = make_backend(study)
    store = make_store(study)
    controller = Controller(
        optuna_study,
        study.spec,
        backend,
        store,
        reporter=ConsoleReporter(console),
        lease=lease,
        failpoints=Failpoints.from_env(),
        artifact_store=artifact_store_for(study, s3_client=getattr(store, "client", None)),
    )
    with on_stop_signals(_stop_handler(controller, console)):
        try:
            summary = controller.run()
        finally:
            backend.close()
            lease.release()
    _print_summary(console, study, optuna_study, summary)
    if summary.reason == StopReason.FAILURES:
        raise BudgetError(
            f"stopped after {summary.failed} failed trials (max_failures "
            f"{study.spec.budget.failure_limit})",
            hint=f"see the reasons with: hpo status {study_file}; fix the trainer or raise "
            "budget.max_failures, then run again",
        )
    if summary.reason == StopReason.INTERRUPTED:
        sys.exit(130)


def _stop_handler(controller: Controller, console: Console) -> Handler:
    """First Ctrl-C/SIGTERM: stop cleanly, leave jobs running. A second one: exit at once."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        console.print("\n[yellow]stopping: no new trials; running jobs are left running[/]")
        controller.request_stop()
        signal.signal(
            signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler
        )

    return on_signal


def _print_summary(console: Console, study: StudyFile, optuna_study, summary: RunSummary) -> None:
    done = summary.complete + summary.pruned
    console.print(
        f"[bold]{summary.reason}[/]: {done} finished ({summary.complete} complete, "
        f"{summary.pruned} pruned), {summary.failed} failed, {summary.running} still running; "
        f"compute {summary.compute_seconds:.1f}s"
        + (f" ({summary.compute_saved:.1f}s saved by pruning)" if summary.compute_saved else "")
    )
    if summary.reason == StopReason.INTERRUPTED:
        console.print(f"resume with: hpo run {study.path}")
    if summary.complete and len(study.spec.objective.study_directions) == 1:
        best = optuna_study.best_trial
        console.print(f"best trial {best.number}: value {best.value:.6g}")
        for name, value in best.params.items():
            console.print(f"  {name}: {value}")
    elif summary.complete:
        console.print(
            f"Pareto front: {len(optuna_study.best_trials)} trials (hpo best {study.path})"
        )
