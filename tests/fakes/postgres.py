"""A throwaway PostgreSQL server for tests and benchmarks (Debian's ``postgresql`` package).

``PostgresServer`` runs ``initdb`` into a temporary directory and ``pg_ctl start`` on a free
local port with trust authentication (a test server: nothing else can reach it), and stops
and deletes it on exit. As root it runs the server as the ``postgres`` account, because
PostgreSQL refuses to run as root. ``find_binaries`` says why it cannot run, when it cannot.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

INSTALL_HINT = (
    "install Debian's postgresql package (make test does, as root: apt-get install postgresql)"
)


def find_binaries() -> tuple[Path | None, str]:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None`` and why not."""
    candidates = [shutil.which("initdb"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))]
    for initdb in filter(None, candidates):
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").exists():
            if os.geteuid() == 0 and not _postgres_account():
                return None, "running as root without a 'postgres' account to run the server"
            return bindir, ""
    return None, f"no PostgreSQL server binaries (initdb, pg_ctl) found; {INSTALL_HINT}"


def _postgres_account() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A private server on 127.0.0.1; :meth:`create_database` gives a URL for hpo's storage."""

    def __init__(self, *, fsync: bool = True) -> None:
        bindir, why = find_binaries()
        if bindir is None:
            raise RuntimeError(why)
        self.bindir = bindir
        self.fsync = fsync
        self.port = _free_port()
        self.user = "hpo"
        self._tmp = Path(tempfile.mkdtemp(prefix="hpo-pg-"))
        self.data = self._tmp / "data"
        self._account = _postgres_account() if os.geteuid() == 0 else None
        self._databases = 0

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self._account is not None:  # PostgreSQL will not run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)

    def __enter__(self) -> PostgresServer:
        if self._account is not None:
            os.chown(self._tmp, self._account.pw_uid, self._account.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                      "-E", "UTF8", "--no-instructions")  # fmt: skip
            fsync = "on" if self.fsync else "off"
            options = (f"-p {self.port} -k {self._tmp} -c listen_addresses=127.0.0.1 "
                       f"-c fsync={fsync} -c max_connections=200")  # fmt: skip
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                      str(self._tmp / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.strip()}") from exc
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self._tmp, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = name or f"hpo_{self._databases}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
