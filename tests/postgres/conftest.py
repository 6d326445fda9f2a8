"""A real PostgreSQL server for the whole session (Debian's ``postgresql`` package).

Skipped, with the reason, only where the server cannot be had; on CI (``CI`` set, with
apt-get, where ``make test`` installs it) a missing server is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.fakes.postgres import PostgresServer, find_binaries


def _unavailable(why: str) -> None:
    if os.environ.get("CI") and shutil.which("apt-get"):
        pytest.fail(f"PostgreSQL should be installed on CI by make test: {why}")
    pytest.skip(f"PostgreSQL tests need a server: {why}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir, why = find_binaries()
    if bindir is None:
        _unavailable(why)
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("the psycopg driver is not installed (pip install 'hpo[postgresql]')")
    with PostgresServer(fsync=False) as server:  # a test server: durability is not under test
        yield server


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """The URL of a fresh database on the session's server."""
    return postgres.create_database()
