"""The ``hpo`` command line. Each subcommand lives in ``hpo.commands``; errors end here.

An :class:`~hpo.errors.HpoError` is printed as one line plus a hint and exits with its
``exit_code``; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import logging
import sys

import click
from rich.console import Console
from rich.markup import escape

from hpo import __version__
from hpo.errors import HpoError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class HpoGroup(click.Group):
    """A click group that turns hpo errors into one clean line and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HpoError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            if exc.hint:  # escaped: a hint like pip install 'hpo[cmaes]' is not markup
                err_console.print(f"[dim]hint:[/] {escape(exc.hint)}")
            ctx.exit(exc.exit_code)


@click.group(cls=HpoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hpo")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Asynchronous parallel hyperparameter optimization on local processes or AWS Batch."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)


def _register() -> None:
    from hpo.commands import run

    main.add_command(run.run)
    main.add_command(run.validate)
    main.add_command(run.enqueue)
    from hpo.commands import stop

    main.add_command(stop.stop)
    from hpo.commands import infra

    main.add_command(infra.infra)
    from hpo.commands import inspect as inspect_cmds

    for command in (inspect_cmds.dashboard, inspect_cmds.status, inspect_cmds.best):
        main.add_command(command)
    main.add_command(inspect_cmds.logs_cmd)
    main.add_command(inspect_cmds.export_cmd)
    # Further command families register here, one line each:
    # (inspection: status/best/logs/export/dashboard; infra: deploy/image/teardown; stop)


_register()
