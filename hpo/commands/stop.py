"""``hpo stop``: ask the running controller to stop, or cancel a study's leftover jobs."""

from __future__ import annotations

import time

import click

from hpo import attrs
from hpo.controller.loop import Controller
from hpo.errors import HpoError
from hpo.lease import Lease
from hpo.runtime import make_backend, make_store
from hpo.spec.loader import load_study
from hpo.storage import existing_study


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--cancel", is_flag=True, help="Also terminate running jobs and fail their trials.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the controller has stopped.")  # fmt: skip
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait.")
def stop(study_file: str, cancel: bool, wait: bool, timeout: float) -> None:
    """Stop the study in STUDY_FILE (jobs keep running unless --cancel)."""
    study = load_study(study_file)
    optuna_study = existing_study(study, read_only=False)  # it writes: the stop request
    lease = Lease(optuna_study, now=time.time, study_file=str(study.path))
    holder = optuna_study.user_attrs.get(attrs.STUDY_LEASE)
    if isinstance(holder, dict) and holder.get("owner") and lease.holder_is_live(holder):
        request = {"cancel": cancel, "at": time.time()}
        optuna_study.set_user_attr(attrs.STUDY_STOP, request)
        what = "stop and cancel its jobs" if cancel else "stop (jobs keep running)"
        click.echo(f"asked the controller (pid {holder['pid']} on {holder['host']}) to {what}")
        if wait:
            _wait_released(lease, timeout)
            click.echo("the controller has stopped")
        return
    if not cancel:
        click.echo(f"no controller is running study {study.spec.name!r}; nothing to stop "
                   "(--cancel terminates jobs it left running)")  # fmt: skip
        return
    lease.acquire()
    try:
        controller = Controller(
            optuna_study, study.spec, make_backend(study), make_store(study), lease=lease
        )
        count = controller.cancel()
    finally:
        lease.release()
    click.echo(f"cancelled {count} running trial(s) of study {study.spec.name!r}")


def _wait_released(lease: Lease, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lease.study.user_attrs.get(attrs.STUDY_LEASE)
        if not (isinstance(holder, dict) and holder.get("owner") and lease.holder_is_live(holder)):
            return
        time.sleep(0.2)
    raise HpoError(
        f"the controller did not stop within {timeout:.0f}s",
        hint="it stops at its next poll; check it is alive, or stop it with Ctrl-C",
    )
