"""Read a study file into a :class:`StudyFile`, turning every problem into one ``SpecError`` line.

Pydantic's error locations are mapped back onto the YAML node tree so that each error
names the file, the dotted field and the line the user has to edit.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from hpo.errors import SpecError
from hpo.spec.models import StudySpec

_PYTHON_ALIASES = {"python", "python3", sys.executable}


@dataclass(frozen=True)
class StudyFile:
    """A validated study with the location it was read from (relative paths resolve there)."""

    path: Path
    spec: StudySpec

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def storage_url(self) -> str:
        """An Optuna storage URL, or a journal file path (what optuna-dashboard accepts too)."""
        storage = self.spec.storage
        if storage is None:
            return str(self.base_dir / f"{self.spec.name}.journal")
        if "://" in storage:
            return storage
        return str((self.base_dir / storage).resolve())

    @property
    def storage_display(self) -> str:
        """:attr:`storage_url` safe to print: a database password is masked."""
        return display_url(self.storage_url)

    @property
    def store_root(self) -> str:
        """Root URI of the object store: ``s3://bucket/prefix`` or an absolute directory."""
        store = self.spec.store
        if store is None:
            return str(self.base_dir / "runs")
        if store.startswith("s3://"):
            return store.rstrip("/")
        return str((self.base_dir / os.path.expanduser(store)).resolve())

    @property
    def trainer_argv(self) -> list[str]:
        """The trainer command for a local process: ``python`` means hpo's own interpreter."""
        argv = list(self.spec.trainer.command)
        if argv[0] in _PYTHON_ALIASES:
            argv[0] = sys.executable
        return argv


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (storage URLs get printed and logged)."""
    if "://" not in url or "@" not in url:
        return url
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: hide everything before the host
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def load_study(path: str | os.PathLike[str]) -> StudyFile:
    """Load and validate ``path``; raise :class:`SpecError` naming file, field and line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            "file not found", file=str(file), hint="check the path to your study file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the file: {exc}", file=str(file)) from None
    spec = parse_spec(text, source=str(file))
    study = StudyFile(path=file.resolve(), spec=spec)
    if spec.backend.type == "local":
        _check_local_command(study, source=str(file), text=text)
    return study


def parse_spec(text: str, *, source: str = "<study>") -> StudySpec:
    """Validate YAML ``text`` as a :class:`StudySpec`."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(
            f"invalid YAML: {problem}",
            file=source,
            line=mark.line + 1 if mark else None,
            hint="fix the YAML syntax (indentation, colons, quotes) at that line",
        ) from None
    if not isinstance(data, dict):
        raise SpecError(
            "expected a mapping of study settings at the top level",
            file=source,
            hint="start with 'name:', 'objective:', 'search_space:' and 'trainer:'",
        )
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        raise _to_spec_error(exc, root, source) from None


def _to_spec_error(exc: ValidationError, root: yaml.Node | None, source: str) -> SpecError:
    errors = exc.errors(include_url=False)
    # a misspelt required field shows up as "missing" and "unknown field": the second says more
    first = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(first["loc"])
    message, field, hint = _describe(first, loc)
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    hint = hint or "fix the value; every field is described under 'Study file' in the README"
    return SpecError(message, file=source, field=field, line=_line_of(root, loc), hint=hint)


def _describe(error: dict, loc: tuple) -> tuple[str, str, str | None]:
    kind = error["type"]
    path = _field_path(loc)
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(loc[-1])
        parent = _field_path(loc[:-1])
        known = _known_fields(loc[:-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        if hint is None and known:
            hint = "known fields here: " + ", ".join(sorted(known))
        return f"unknown field '{name}'", parent or name, hint
    if kind == "missing":
        return "required field is missing", path, f"add '{loc[-1]}' to the study file"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ctx.get("expected_tags", "")
        got = ctx.get("tag")
        what = f"unknown type {got!r}" if got is not None else "missing 'type'"
        return what, f"{path}.type" if path else "type", f"use one of: {tags}"
    msg = error["msg"].removeprefix("Value error, ")
    if "input" in error and kind not in ("value_error", "assertion_error"):
        msg += f" (got {error['input']!r})"
    return msg, path, None


def _field_path(loc: Sequence[object]) -> str:
    parts: list[str] = []
    for item in _walk(loc)[0]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _members(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (every variant of a union, the value type
    of a dict or list, through ``Annotated`` and ``| None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += [m for m in _members(arg) if m not in out]
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and not getattr(annotation, "__args__", None):
        out += _members(origin)
    return out


def _tags_of(model: type[BaseModel]) -> tuple[object, ...]:
    """The values of a variant's ``type`` discriminator (empty for other models)."""
    field = model.model_fields.get("type")
    return tuple(getattr(field.annotation, "__args__", ())) if field else ()


def _is_mapping(annotation: object) -> bool:
    """Whether a field holds a dict (its next error location item is a key, not a field)."""
    for arg in (annotation, *(getattr(annotation, "__args__", ()) or ())):
        if getattr(arg, "__origin__", None) is dict:
            return True
    return False


def _walk(loc: Sequence[object]) -> tuple[list[object], list[type[BaseModel]]]:
    """Follow an error location through the models: the items that are YAML keys (a union's
    ``type`` tag and list indexes are not), and the models that can sit at the end."""
    models: list[type[BaseModel]] = [StudySpec]
    keys: list[object] = []
    dict_key = False
    for item in loc:
        if dict_key or isinstance(item, int):
            keys.append(item)
            dict_key = False
            continue
        tagged = [m for m in models if item in _tags_of(m)]
        if tagged:
            models = tagged
            continue
        keys.append(item)
        fields = [m.model_fields[str(item)] for m in models if str(item) in m.model_fields]
        if not fields:
            models = []
            continue
        dict_key = _is_mapping(fields[0].annotation)
        models = _members(fields[0].annotation)
    return keys, models


def _known_fields(loc: Sequence[object]) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean hints), read from the models: at a
    union, the variant the location's ``type`` tag names."""
    _, models = _walk(loc)
    return sorted({name for m in models for name in m.model_fields})


def _line_of(root: yaml.Node | None, loc: Sequence[object]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for item in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(item)), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == str(item)), None)
                if key is not None:
                    return key.start_mark.line + 1
                continue
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(item, int):
            if item >= len(node.value):
                break
            node = node.value[item]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _check_local_command(study: StudyFile, *, source: str, text: str) -> None:
    """A local trainer command must exist before any trial is asked."""
    argv = study.trainer_argv
    program = argv[0]
    root = yaml.compose(text)
    line = _line_of(root, ("trainer", "command"))
    found = shutil.which(program, path=os.environ.get("PATH")) or shutil.which(
        str(study.base_dir / program)
    )
    if found is None:
        raise SpecError(
            f"trainer command {program!r} was not found",
            file=source,
            field="trainer.command",
            line=line,
            hint="install it, put it on PATH, or give a path relative to the study file",
        )
    if program == sys.executable and len(argv) > 1 and argv[1].endswith(".py"):
        script = study.base_dir / argv[1]
        if not script.is_file():
            raise SpecError(
                f"trainer script {argv[1]!r} does not exist (looked in {study.base_dir})",
                file=source,
                field="trainer.command",
                line=line,
                hint="give the script's path relative to the study file",
            )
