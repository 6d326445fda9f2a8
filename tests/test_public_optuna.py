"""hpo uses Optuna's public API only, outside the one module that owns its private parts.

An AST scan of every module of ``hpo/`` but ``hpo/optuna_internals.py`` fails on an import
of a private Optuna module or name, and on any ``x._name`` where ``x`` is not ``self`` or
``cls``; ``self._name`` counts too when the module never sets ``_name`` itself (in an
``__init__`` or a class body, or as a method): then it is an attribute its base class keeps,
such as Optuna's ``TPESampler._gamma``. The failure lists everything found.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "hpo"
OWNER = PACKAGE / "optuna_internals.py"
SELF = {"self", "cls"}
_INITS = {"__init__", "__post_init__", "__new__"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(tree: ast.Module) -> set[str]:
    """Private names the module defines: functions, classes, class-body names, and
    attributes its ``__init__``s set on ``self``."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(node.name)
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign):
                    targets = [stmt.target]
                own.update(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(node, ast.FunctionDef) and node.name in _INITS:
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)
                        and isinstance(sub.value, ast.Name) and sub.value.id in SELF):  # fmt: skip
                    own.add(sub.attr)
    return own


def scan(source: str, where: str) -> list[str]:
    """Every private access in ``source``, as ``where:line: what``."""
    tree = ast.parse(source)
    own = _own_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "optuna":
            parts = (node.module or "").split(".")
            names = [a.name for a in node.names]
            if any(map(_private, parts)) or any(map(_private, names)):
                found.append(f"{where}:{node.lineno}: from {node.module} import {', '.join(names)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "optuna" and any(map(_private, parts)):
                    found.append(f"{where}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in SELF:
                if node.attr not in own:
                    found.append(f"{where}:{node.lineno}: {value.id}.{node.attr} (not set here)")
            else:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_hpo_uses_public_optuna_only_outside_optuna_internals() -> None:
    found = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != OWNER
        for hit in scan(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert not found, "private access outside hpo/optuna_internals.py:\n" + "\n".join(found)


def test_the_owner_is_where_the_private_parts_are() -> None:
    """The scan sees them there (so it would see them anywhere else)."""
    found = scan(OWNER.read_text(encoding="utf-8"), "optuna_internals.py")
    assert any("from optuna.samplers._tpe" in hit for hit in found)
    assert any("study._storage" in hit for hit in found)
    assert any("self._gamma (not set here)" in hit for hit in found)


def test_the_scan_finds_each_kind_of_private_access() -> None:
    source = """
import optuna._imports
from optuna.storages.journal._file import get_lock_file
from optuna.samplers import _tpe
from optuna.study import Study


class Mine(Base):
    _limit = 3

    def __init__(self):
        self._cache = {}

    def work(self, study, out):
        self._cache[1] = self._limit + self._gamma
        super()._sample(study)
        return study._storage, out._var_x, Study._is_multi_objective
"""
    found = "\n".join(scan(source, "m.py"))
    for expected in ("import optuna._imports", "from optuna.storages.journal._file",
                     "from optuna.samplers import _tpe", "self._gamma (not set here)",
                     "super()._sample", "study._storage", "out._var_x",
                     "Study._is_multi_objective"):  # fmt: skip
        assert expected in found, expected
    assert "_cache" not in found and "_limit" not in found
