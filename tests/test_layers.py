"""Package edges, checked on every import statement (function-level ones too).

- the controller never imports the read-only views (``hpo.inspect``), nor they the controller;
- the read-only commands (``hpo.commands.inspect``) do not reach into the controller, and the
  commands that write (``hpo stop``) do not open studies through the read-only reader;
- an object store's contract (``hpo.store.base``) does not import its implementations;
- nothing in ``hpo`` imports the test suite, and only ``hpo.testing`` itself is the kit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (the modules under this path, may not import a module under any of these)
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("hpo/controller", ("hpo.inspect",)),
    ("hpo/inspect", ("hpo.controller",)),
    ("hpo/commands/inspect.py", ("hpo.controller",)),
    ("hpo/commands/stop.py", ("hpo.inspect.reader",)),
    ("hpo/commands/run.py", ("hpo.inspect.reader",)),
    ("hpo/store/base.py", ("hpo.store.local", "hpo.store.s3")),
    ("hpo", ("tests",)),
]


def imported(source: str) -> set[str]:
    """Every module an import statement in ``source`` names (``from a import b``: a and a.b)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _under(module: str, banned: str) -> bool:
    return module == banned or module.startswith(banned + ".")


def violations(root: Path, rules: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    found = []
    for where, banned in rules:
        base = root / where
        paths = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in paths:
            for module in sorted(imported(path.read_text(encoding="utf-8"))):
                if any(_under(module, b) for b in banned):
                    found.append(f"{path.relative_to(root)} imports {module}")
    return found


def test_package_edges_hold() -> None:
    found = violations(REPO, RULES)
    assert not found, "imports across package edges:\n" + "\n".join(found)


def test_the_testing_kit_is_only_imported_by_tests() -> None:
    found = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted((REPO / "hpo").rglob("*.py"))
        if "testing" not in path.relative_to(REPO / "hpo").parts
        for module in imported(path.read_text(encoding="utf-8"))
        if _under(module, "hpo.testing")
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from hpo.inspect.artifacts import x",
        "import hpo.inspect",
        "from hpo import inspect",
        "def f():\n    from hpo.inspect import snapshot\n",
    ],
)
def test_every_form_of_import_is_seen(tmp_path: Path, source: str) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(source)
    found = violations(tmp_path, [("pkg", ("hpo.inspect",))])
    assert found and all(f.startswith("pkg/m.py imports hpo.inspect") for f in found)
    assert violations(tmp_path, [("pkg", ("hpo.controller",))]) == []
