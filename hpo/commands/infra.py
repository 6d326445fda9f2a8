"""``hpo infra deploy | push-image | teardown``: the AWS side of a ``backend: batch`` study.

Clients, the docker runner and the polling pace come from the click context object when a
caller (a test) puts them there: ``infra.session`` (region, profile -> client factory),
``infra.runner`` and ``infra.waiting``; otherwise real boto3 sessions and processes are used.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hpo.errors import InfraError
from hpo.infra import image as image_mod
from hpo.infra import stack as stack_mod
from hpo.infra import teardown as teardown_mod
from hpo.infra.calls import ClientFactory, SessionFactory, boto3_clients
from hpo.infra.template import Template, find_template, find_trainer_dir, parse_params

DEFAULT_STACK = "hpo"
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
DRY_RUN_HEADER = "dry run: nothing is changed and docker is not run; the plan:"


def _obj(ctx: click.Context) -> Mapping[str, Any]:
    return ctx.find_root().obj or {}


def _clients(ctx: click.Context, region: str | None, profile: str | None) -> ClientFactory:
    session: SessionFactory = _obj(ctx).get("infra.session", boto3_clients)
    return session(region, profile)


def _waiting(ctx: click.Context) -> stack_mod.Waiting:
    return _obj(ctx).get("infra.waiting", stack_mod.DEFAULT_WAITING)


def _runner(ctx: click.Context) -> image_mod.Runner:
    return _obj(ctx).get("infra.runner", image_mod.run_process)


def _check_stack_name(name: str) -> str:
    if not _STACK_NAME.match(name):
        raise InfraError(
            f"{name!r} is not a valid stack name",
            hint="use up to 128 letters, digits and '-', starting with a letter",
        )
    return name


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


def _print_outputs(stack: str, outputs: Mapping[str, str]) -> None:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    table = Table(title=f"outputs of stack {stack}", title_justify="left")
    table.add_column("Output", no_wrap=True)
    table.add_column("Value", no_wrap=True)
    for key in sorted(outputs):
        table.add_row(key, outputs[key])
    console.print(table)


def _stack_option(func: Any) -> Any:
    return click.option(
        "--stack", default=DEFAULT_STACK, show_default=True, help="CloudFormation stack name."
    )(func)


def _aws_options(func: Any) -> Any:
    func = click.option("--profile", help="AWS profile (default: the usual AWS chain).")(func)
    return click.option("--region", help="AWS region (default: AWS_REGION / config).")(func)


@click.group()
def infra() -> None:
    """Deploy the AWS stack (infra/), push the trainer image, tear it all down."""


@infra.command()
@_stack_option
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Stack parameter, repeatable (e.g. --param GpuInstanceTypes=g5,g6).",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False),
    help="Template file (default: infra/hpo-stack.yaml).",
)
@_aws_options
@click.option("--dry-run", is_flag=True, help="Print the API calls; call nothing.")
@click.pass_context
def deploy(
    ctx: click.Context, stack: str, params: tuple[str, ...], template: str | None,
    region: str | None, profile: str | None, dry_run: bool,
) -> None:  # fmt: skip
    """Create or update the stack, wait until it is ready, print its outputs."""
    template_obj = Template.read(find_template(template))
    values = parse_params(params)
    template_obj.check_names(values)
    request = stack_mod.DeployRequest(_check_stack_name(stack), template_obj, values)
    waiting = _waiting(ctx)
    if dry_run:
        click.echo(DRY_RUN_HEADER)
        click.echo(f"stack {stack} in region {region or '<from your AWS config>'}")
        click.echo(f"template {template_obj.path}")
        click.echo("parameters of a new stack:")
        for name, value, source in stack_mod.effective_parameters(request):
            click.echo(f"  {name} = {value!r} ({source})")
        _echo_lines(stack_mod.plan(request, waiting))
        return
    outputs = stack_mod.deploy(_clients(ctx, region, profile), request, click.echo, waiting)
    _print_outputs(stack, outputs)
    click.echo(f"next: hpo infra push-image --stack {stack}")
    click.echo(f"then in a study file: backend: {{type: batch, stack: {stack}}}")


@infra.command("push-image")
@_stack_option
@click.option("--tag", help="Image tag (default: the tag in the stack's TrainerImageUri).")
@click.option("--repository-uri", help="Push here instead of the stack's RepositoryUri.")
@click.option(
    "--trainer-dir",
    type=click.Path(file_okay=False),
    help="Directory with the Dockerfile (default: trainer_image/).",
)
@click.option(
    "--platform", default="linux/amd64", show_default=True, help="Target platform of the image."
)
@_aws_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the docker commands and API calls; only reads the stack's outputs.",
)
@click.pass_context
def push_image(
    ctx: click.Context, stack: str, tag: str | None, repository_uri: str | None,
    trainer_dir: str | None, platform: str, region: str | None, profile: str | None,
    dry_run: bool,
) -> None:  # fmt: skip
    """Build the trainer image and push it to the stack's ECR repository."""
    directory = find_trainer_dir(trainer_dir)
    stack_tag = None
    if repository_uri is None:
        outputs = stack_mod.require_outputs(_clients(ctx, region, profile), stack)
        if "RepositoryUri" not in outputs:
            raise InfraError(
                f"stack {stack} has no RepositoryUri output",
                hint="redeploy it with the current template: hpo infra deploy",
            )
        repository_uri = outputs["RepositoryUri"]
        stack_tag = image_mod.tag_of(outputs.get("TrainerImageUri", ""))
    plan = image_mod.ImagePlan(
        repository_uri=image_mod.check_repository_uri(repository_uri),
        tag=image_mod.check_tag(tag or stack_tag or "latest"),
        trainer_dir=directory,
        platform=platform,
    )
    if stack_tag and plan.tag != stack_tag:
        click.echo(
            f"note: the stack's job definition uses tag {stack_tag!r}; to use {plan.tag!r}"
            f" deploy with --param TrainerImageTag={plan.tag} or set backend.image"
        )
    if dry_run:
        click.echo(DRY_RUN_HEADER)
        _echo_lines(image_mod.plan_lines(plan))
        return
    registry_clients = _clients(ctx, plan.region, profile)  # the token must match the registry
    pushed = image_mod.push(registry_clients, plan, _runner(ctx), click.echo)
    click.echo(f"pushed {pushed}")


@infra.command()
@_stack_option
@click.option("--yes", is_flag=True, help="Do not ask before deleting the stack and its data.")
@_aws_options
@click.option("--dry-run", is_flag=True, help="Print the plan; only reads the stack's outputs.")
@click.pass_context
def teardown(
    ctx: click.Context, stack: str, yes: bool, region: str | None, profile: str | None,
    dry_run: bool,
) -> None:  # fmt: skip
    """Delete every trial object in the stack's bucket, then the stack itself."""
    clients = _clients(ctx, region, profile)
    name = _check_stack_name(stack)
    if dry_run:  # a plan needs no credentials: without them the bucket stays a placeholder
        try:
            found = stack_mod.describe(clients, name)
        except InfraError as exc:
            click.echo(f"(could not read the stack, so the bucket is not known: {exc})")
            found = {"Outputs": [{"OutputKey": "BucketName", "OutputValue": "<BucketName>"}]}
        outputs = stack_mod.outputs_of(found) if found else {}
        click.echo(DRY_RUN_HEADER)
        _echo_lines(teardown_mod.plan_lines(stack, outputs.get("BucketName"), _waiting(ctx),
                                            outputs.get("StudyEventsPrefix")))  # fmt: skip
        return
    found = stack_mod.describe(clients, name)
    if found is None:
        click.echo(f"stack {stack} does not exist: nothing to delete")
        return
    outputs = stack_mod.outputs_of(found)
    bucket = outputs.get("BucketName")
    if not yes:
        data = f" and every object in s3://{bucket}" if bucket else ""
        click.confirm(f"Delete stack {stack}{data}? This cannot be undone.", abort=True)
    teardown_mod.teardown(clients, stack, outputs, click.echo, _waiting(ctx))
