"""``hpo dashboard``, ``hpo status``, ``hpo best``, ``hpo logs`` and ``hpo export``.

All of them only read the study's storage (no locks, no writes, no backend calls), so they
work beside a running controller as well as on a finished or interrupted study. Tests
inject the clock (``obj["clock"]``) and the wait between refreshes (``obj["wait"]``).
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from optuna.trial import TrialState
from rich.console import Console, RenderableType
from rich.live import Live

from hpo import aws
from hpo.commands.signals import interruptible
from hpo.errors import HpoError
from hpo.inspect import export, logs, reader
from hpo.inspect.render import best_view, status_view
from hpo.inspect.snapshot import best_trials, take_snapshot
from hpo.lease import holder_alive
from hpo.optuna_internals import storage_of, trial_id
from hpo.spec import build
from hpo.spec.loader import load_study

_STUDY_FILE = click.argument("study_file", type=click.Path(dir_okay=False))


def _obj(ctx: click.Context, key: str, default: Any) -> Any:
    return (ctx.obj or {}).get(key, default)


def _wait(ctx: click.Context) -> Callable[[float], bool]:
    """Sleep for a refresh interval; True means stop. Injected by tests via ``obj["wait"]``."""
    return _obj(ctx, "wait", threading.Event().wait)


# --------------------------------------------------------------------------- dashboard


@click.command()
@_STUDY_FILE
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="0 picks a free port.")
@click.option("--allow-edits", is_flag=True, help="Let the dashboard change the study.")
def dashboard(study_file: str, host: str, port: int, allow_edits: bool) -> None:
    """Serve optuna-dashboard for STUDY_FILE (with the trials' artifacts) until Ctrl-C."""
    from hpo.artifacts import artifact_store_for
    from hpo.inspect.dashboard import DashboardServer, dashboard_app, study_url

    study = load_study(study_file)
    storage = storage_of(reader.open_study(study))  # a clear error if it does not exist yet
    try:
        artifact_store = artifact_store_for(study)
    except HpoError as exc:  # e.g. no AWS region/credentials here: serve without artifacts
        click.echo(f"warning: trial artifacts are not shown: {exc}", err=True)
        artifact_store = None
    app = dashboard_app(storage, artifact_store, read_only=not allow_edits)
    server = DashboardServer(app, host=host, port=port)
    click.echo(f"dashboard: {study_url(server.url, storage, study.spec.name)}")
    mode = "editable" if allow_edits else "read-only"
    click.echo(f"serving {study.spec.name!r} ({mode}) on {server.url}; Ctrl-C to stop", err=True)
    with interruptible():
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("dashboard stopped", err=True)


# --------------------------------------------------------------------------- status


@click.command()
@_STUDY_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--watch",
    type=float,
    is_flag=False,
    flag_value=5.0,
    default=None,
    metavar="[SECONDS]",
    help="Refresh every SECONDS (default 5) until Ctrl-C.",
)
@click.pass_context
def status(ctx: click.Context, study_file: str, as_json: bool, watch: float | None) -> None:
    """Counts by state, running trials, recent failures, best so far and compute spent."""
    study = load_study(study_file)
    optuna_study = reader.open_study(study)
    clock: Callable[[], float] = _obj(ctx, "clock", time.time)

    target = build.trial_target(study.spec.budget.n_trials, build.grid_size(study.spec))
    host = socket.gethostname()

    def snapshot() -> Any:
        now = clock()
        alive = functools.partial(holder_alive, host=host, now=now)
        return take_snapshot(optuna_study, now=now, n_trials=target, alive=alive)

    console = Console(highlight=False)
    if as_json:
        _json_status(snapshot, watch, _wait(ctx))
        return
    names = study.spec.objective.metric_names

    def view() -> RenderableType:
        return status_view(snapshot(), metric_names=names)

    if watch is None:
        console.print(view())
        return
    watch_loop(view, console, watch, _wait(ctx))


def _json_status(snapshot: Callable[[], Any], watch: float | None, wait: Callable) -> None:
    """One JSON document, or with ``--watch`` one JSON line per refresh."""
    if watch is None:
        click.echo(json.dumps(snapshot().to_dict(), indent=2))
        return
    try:
        with interruptible():
            while True:
                click.echo(json.dumps(snapshot().to_dict()))
                if wait(watch):
                    return
    except KeyboardInterrupt:
        return


def watch_loop(
    view: Callable[[], RenderableType],
    console: Console,
    interval: float,
    wait: Callable[[float], bool],
) -> int:
    """Show ``view()`` and redraw it after each ``wait(interval)`` until it returns True."""
    refreshes = 0
    try:
        with interruptible(), Live(view(), console=console, auto_refresh=False) as live:
            while not wait(interval):
                live.update(view(), refresh=True)
                refreshes += 1
    except KeyboardInterrupt:
        pass
    return refreshes


# --------------------------------------------------------------------------- best


@click.command()
@_STUDY_FILE
@click.option("--json", "as_json", is_flag=True, help="Print the best trial(s) as JSON.")
@click.option("--params", "params_only", is_flag=True, help="Print only the params, as JSON.")
def best(study_file: str, as_json: bool, params_only: bool) -> None:
    """The best trial's params (the Pareto front for several objectives)."""
    study = load_study(study_file)
    optuna_study = reader.open_study(study)
    found = best_trials(optuna_study)
    constrained = bool(study.spec.objective.constraints)
    if not found:
        what = "complete trial meeting objective.constraints" if constrained else "complete trial"
        raise HpoError(
            f"study {study.spec.name!r} has no {what} yet",
            hint=f"see its progress with: hpo status {study_file}",
        )
    directions = [d.name.lower() for d in optuna_study.directions]
    multi = len(directions) > 1
    if params_only:
        params = [b.params for b in found] if multi else found[0].params
        click.echo(json.dumps(params, indent=2))
    elif as_json:
        doc: Any = (
            {"directions": directions, "pareto_front": [b.to_dict() for b in found]}
            if multi
            else found[0].to_dict()
        )
        click.echo(json.dumps(doc, indent=2))
    else:
        view = best_view(found, directions, study.spec.objective.metric_names)
        console = Console(highlight=False)
        console.print(view)
        if constrained:
            console.print(_feasible_note(optuna_study), style="dim", markup=False)


def _feasible_note(optuna_study: Any) -> str:
    complete = optuna_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    feasible = sum(all(v <= 0 for v in t.constraints.values()) for t in complete)
    return (f"feasible trials only: {feasible} of {len(complete)} complete trials meet "
            "objective.constraints")  # fmt: skip


# --------------------------------------------------------------------------- logs


@click.command(name="logs")
@_STUDY_FILE
@click.argument("trial", type=int)
@click.option("--attempt", type=int, default=None, help="Attempt number (default: the latest).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the attempt ends.")
@click.pass_context
def logs_cmd(
    ctx: click.Context, study_file: str, trial: int, attempt: int | None, follow: bool
) -> None:
    """Print TRIAL's log (a local file, or CloudWatch Logs on Batch)."""
    study = load_study(study_file)
    optuna_study = reader.open_study(study)
    frozen = reader.trial_by_number(optuna_study, trial, study_file=study_file)
    entry = logs.pick_attempt(frozen, attempt)

    @functools.cache
    def group() -> str:  # the stack is read at most once, and only for a CloudWatch log
        from hpo.backends.batch import resolve_log_group

        return resolve_log_group(study, clients=_obj(ctx, "batch_clients", None))

    def make_source(t: Any = frozen) -> logs.LogSource:
        return logs.source_for(
            t,
            logs.pick_attempt(t, entry.attempt),
            log_group=group,
            logs_client=lambda: _obj(ctx, "logs_client", None) or aws.study_client(study, "logs"),
        )

    if not follow:
        source = make_source()
        click.echo(f"trial {trial} attempt {entry.attempt}: {source.description}", err=True)
        for line in logs.stream(source):
            click.echo(line)
        return

    def fresh() -> Any:
        return storage_of(optuna_study).get_trial(trial_id(frozen))

    def is_done() -> bool:
        t = fresh()
        return t.state.is_finished() or logs.pick_attempt(t, None).attempt > entry.attempt

    click.echo(f"following trial {trial} attempt {entry.attempt} (Ctrl-C to stop)", err=True)
    source = logs.LazyLogSource(lambda: make_source(fresh()))
    try:
        with interruptible():
            for line in logs.stream(
                source,
                follow=True,
                is_done=is_done,
                wait=_wait(ctx),
                interval=_obj(ctx, "poll_interval", 1.0),
            ):
                click.echo(line)
    except KeyboardInterrupt:
        return


# --------------------------------------------------------------------------- export


@click.command(name="export")
@_STUDY_FILE
@click.option(
    "--format", "fmt", type=click.Choice(export.FORMATS), default="csv", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
def export_cmd(study_file: str, fmt: str, output: str | None) -> None:
    """All trials: number, state, values, params_*, user_attrs_*, datetimes."""
    study = load_study(study_file)
    optuna_study = reader.open_study(study)
    trials = optuna_study.get_trials(deepcopy=False)
    n_objectives = len(optuna_study.directions)
    if fmt == "parquet":
        if output is None:
            raise HpoError("parquet is binary: give a file with -o", hint="e.g. -o trials.parquet")
        export.write_parquet(trials, n_objectives, Path(output))
    else:
        text = (
            export.to_csv(trials, n_objectives)
            if fmt == "csv"
            else export.to_json(
                trials, study.spec.name, [d.name.lower() for d in optuna_study.directions]
            )
        )
        _write_text(text, output)
    if output:
        click.echo(f"wrote {len(trials)} trials to {output}", err=True)


def _write_text(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HpoError(f"cannot write {output}: {exc.strerror}") from None
