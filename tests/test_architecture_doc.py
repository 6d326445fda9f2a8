"""docs/architecture.md stays true to the tree, and the code cites it, not pages outside the
repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
# where a path the page names relatively may live: a package of hpo, or the tests
BASES = [REPO, REPO / "tests", REPO / "hpo", *(p for p in (REPO / "hpo").rglob("*") if p.is_dir())]


def _exists(name: str) -> bool:
    return any(list(base.glob(name)) for base in BASES)


def test_every_module_the_page_names_exists() -> None:
    named = set(re.findall(r"`([\w/*.-]+\.py)`", DOC.read_text(encoding="utf-8")))
    missing = sorted(name for name in named if not _exists(name))
    assert len(named) > 30 and not missing, missing


def test_the_readme_links_the_page_and_the_code_cites_only_the_repository() -> None:
    assert "(docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")
    outside = re.compile(r"DESIGN\.md|REFERENCE\.md|\.\./shared|/work/shared")
    files = [p for d in ("hpo", "tests", "benchmarks") for p in (REPO / d).rglob("*.py")]
    cited = [str(p.relative_to(REPO)) for p in files
             if p != Path(__file__) and outside.search(p.read_text(encoding="utf-8"))]  # fmt: skip
    assert not cited, cited
    assert any("docs/architecture.md" in p.read_text(encoding="utf-8") for p in files)
