"""The infra/ template and the trainer_image/ directory: where they are and what they declare."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hpo.errors import InfraError

TEMPLATE_NAME = "hpo-stack.yaml"
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for an inline TemplateBody


def _search_roots() -> list[Path]:
    """Where infra/ and trainer_image/ may live: the checkout hpo runs from, the cwd, the prefix."""
    package_root = Path(__file__).resolve().parents[2]
    return [package_root, Path.cwd(), Path(sys.prefix) / "share" / "hpo"]


def find_template(explicit: str | Path | None = None) -> Path:
    """The stack template: ``explicit`` or ``infra/hpo-stack.yaml`` of the hpo checkout or cwd."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InfraError(f"template {path} not found", hint="check --template")
        return path
    for root in _search_roots():
        path = root / "infra" / TEMPLATE_NAME
        if path.is_file():
            return path
    raise InfraError(
        f"cannot find infra/{TEMPLATE_NAME}",
        hint="run from the hpo checkout or pass --template PATH",
    )


def find_trainer_dir(explicit: str | Path | None = None) -> Path:
    """The image's build directory: ``explicit`` or ``trainer_image/`` of the checkout or cwd."""
    if explicit is not None:
        candidates = [Path(explicit)]
    else:
        candidates = [root / "trainer_image" for root in _search_roots()]
    for path in candidates:
        if (path / "Dockerfile").is_file():
            return path
    raise InfraError(
        f"no Dockerfile in {candidates[0] if explicit is not None else 'trainer_image/'}",
        hint="run from the hpo checkout or pass --trainer-dir DIR (a directory with a Dockerfile)",
    )


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (``!Ref x``) as ``{"Ref": x}``."""


def _short_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    key = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    if key == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def load_template(text: str) -> dict[str, Any]:
    """Parse a CloudFormation template (YAML with short tags, or JSON)."""
    try:
        doc = yaml.load(text, Loader=_CfnLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InfraError(f"the template is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise InfraError("the template has no Resources section")
    return doc


@dataclass(frozen=True)
class Template:
    """A template file: its path, text and declared parameters (name -> default or None)."""

    path: Path
    body: str
    parameters: dict[str, str | None]

    @classmethod
    def read(cls, path: Path) -> Template:
        """Read and check ``path``."""
        body = path.read_text()
        if len(body.encode()) > MAX_TEMPLATE_BODY:
            raise InfraError(
                f"{path} is {len(body.encode())} bytes; CloudFormation accepts {MAX_TEMPLATE_BODY}",
                hint="shorten the template or split it into nested stacks",
            )
        declared = load_template(body).get("Parameters") or {}
        params = {
            name: None if spec.get("Default") is None else str(spec["Default"])
            for name, spec in declared.items()
        }
        return cls(path=path, body=body, parameters=params)

    def check_names(self, names: Iterable[str]) -> None:
        """Raise for a parameter the template does not declare."""
        unknown = sorted(set(names) - set(self.parameters))
        if unknown:
            raise InfraError(
                f"unknown stack parameter {', '.join(unknown)}",
                hint=f"the template declares: {', '.join(sorted(self.parameters))}",
            )


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["K=V", ...]`` to a dict; the value may contain ``=`` and commas (``g5,g6``)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InfraError(
                f"--param {pair!r} is not KEY=VALUE", hint="e.g. --param GpuInstanceTypes=g5,g6"
            )
        out[key] = value
    return out
