"""``hpo run`` and ``hpo validate``."""

from __future__ import annotations

import click

from hpo.spec.loader import load_study


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def validate(study_file: str) -> None:
    """Check STUDY_FILE and print what it would run."""
    study = load_study(study_file)
    click.echo(f"{study.path}: ok (study {study.spec.name!r}, storage {study.storage_url})")


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
def run(study_file: str) -> None:
    """Run (or resume) the study in STUDY_FILE until its budget is spent."""
    raise NotImplementedError
