"""The trainer image: a pinned, non-root Dockerfile whose COPY sources exist; the entrypoint."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.infra.image import WORKER_MODULES, context_files, stage_context
from tests.infra.conftest import REPO, TRAINER_DIR

DOCKERFILE = TRAINER_DIR / "Dockerfile"


def _instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _base_image() -> str:
    args: dict[str, str] = {}
    for word, rest in _instructions():
        if word == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
        if word == "FROM":
            return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
    raise AssertionError("no FROM")


def test_base_image_is_pinned_to_an_exact_version() -> None:
    image = _base_image()
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest", image
    assert re.search(r"\d+\.\d+\.\d+", tag), f"{image}: pin an exact version"
    assert "cuda" in tag


def test_runs_as_a_non_root_user_with_an_entrypoint() -> None:
    steps = _instructions()
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    entry = [rest for word, rest in steps if word == "ENTRYPOINT"]
    assert len(entry) == 1 and json.loads(entry[0]) == ["/opt/hpo/trainers/entrypoint.sh"]
    assert [w for w, _ in steps].index("USER") > max(
        i for i, (w, _) in enumerate(steps) if w in {"RUN", "COPY"}
    )


def test_pip_installs_are_pinned_and_cacheless() -> None:
    runs = [rest for word, rest in _instructions() if word == "RUN" and "pip install" in rest]
    assert runs
    for run in runs:
        words = shlex.split(run.split("&&")[0])
        assert "--no-cache-dir" in words
        packages = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
        assert packages and all(re.fullmatch(r"[\w.-]+==[\w.]+", p) for p in packages), packages


def test_every_copy_source_exists_in_the_staged_context() -> None:
    files = context_files(TRAINER_DIR)
    assert all(source.is_file() for source in files.values())
    copies = [rest for word, rest in _instructions() if word == "COPY"]
    assert copies
    for copy in copies:
        *sources, _dest = [w for w in shlex.split(copy) if not w.startswith("--")]
        for source in sources:
            if source.endswith("/"):
                assert any(rel.startswith(source) for rel in files), source
            else:
                assert source in files, source
    assert {f"hpo/{m}" for m in WORKER_MODULES} <= set(files)
    assert files["hpo/worker.py"] == REPO / "hpo" / "worker.py"


def test_dockerignore_keeps_caches_out() -> None:
    patterns = (TRAINER_DIR / ".dockerignore").read_text().split()
    assert "**/__pycache__" in patterns and ".venv" in patterns


def test_staged_worker_imports_with_the_standard_library_only(tmp_path: Path) -> None:
    staged = stage_context(TRAINER_DIR, tmp_path)
    assert "Dockerfile" in staged and "hpo/worker.py" in staged
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import hpo.worker as w; "
        "import hpo.aws; print(w.__file__)"  # hpo.aws: the trainer's S3 client
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(tmp_path / "hpo" / "worker.py")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, ["show_args.py"]),
        ([], {"TRAINER": "other.py"}, None),
        (["show_args.py", "--epochs", "3"], {}, ["show_args.py", "--epochs", "3"]),
        (["python", "show_args.py", "x y"], {}, ["show_args.py", "x y"]),
    ],
)
def test_entrypoint_runs_the_named_trainer(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: list[str] | None
) -> None:
    (tmp_path / "show_args.py").write_text(
        "import json, os, sys; print(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]))"
    )
    (tmp_path / "other.py").write_text("print('other trainer')")
    entry = TRAINER_DIR / "entrypoint.sh"
    assert os.access(entry, os.X_OK)
    python_dir = str(Path(sys.executable).parent)
    environ = {
        "PATH": f"{python_dir}:{os.environ['PATH']}",
        "TRAINER_DIR": str(tmp_path),
        "TRAINER": "show_args.py",
        **env,
    }
    done = subprocess.run(
        ["sh", str(entry), *args], cwd=tmp_path, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    if expected is None:
        assert done.stdout.strip() == "other trainer"
    else:
        assert json.loads(done.stdout) == expected
