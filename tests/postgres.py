"""A real PostgreSQL server for the tests.

Either a throwaway cluster started here (needs the Debian package ``postgresql`` and root,
since the server runs as the ``postgres`` system user) or, when ``EID_TEST_POSTGRES_URL`` is
set, an existing server on which the tests only create and drop databases.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.services import ServiceMissing

ENV_URL = "EID_TEST_POSTGRES_URL"
SYSTEM_USER = "postgres"
INSTALL_HINT = (
    "install the Debian package 'postgresql' and run the tests as root, "
    f"or point {ENV_URL} at a server (postgresql+asyncpg://user:pw@host:5432/postgres)"
)

T = TypeVar("T")


class PostgresFailed(RuntimeError):
    """The server is installed but did not start; the message carries its log's tail."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding the server binaries."""
    candidates = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        if path.parent.name.isdigit() and all(
            (path / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")
        ):
            candidates.append((int(path.parent.name), path))
    return max(candidates)[1] if candidates else None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop
    (an async test calling ``create_database``): a private loop in a worker thread."""
    result: list[T] = []
    errors: list[BaseException] = []

    async def main() -> None:
        result.append(await make())

    def worker() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=worker, name="postgres-admin")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _world_traversable(path: Path) -> bool:
    """Whether the ``postgres`` user can reach a directory under ``path``."""
    return all(part.stat().st_mode & stat.S_IXOTH for part in (path, *path.parents))


class PostgresServer:
    """A PostgreSQL server: a private cluster, or an existing one given by URL."""

    def __init__(self, *, external_url: str | None = None, bin_dir: Path | None = None) -> None:
        self.external_url = external_url
        self.bin_dir = bin_dir
        self.port = 0
        self.tempdir: Path | None = None
        self._admin: URL | None = make_url(external_url) if external_url else None
        self._created: set[str] = set()
        self.startup_seconds = 0.0
        self.version = 0  # server_version_num, e.g. 150014

    @classmethod
    def from_env(cls) -> PostgresServer:
        return cls(external_url=os.environ.get(ENV_URL) or None)

    # -- URLs ---------------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database (``postgres``) as the superuser."""
        return self._admin_url().render_as_string(hide_password=False)

    def url(self, database: str) -> str:
        """SQLAlchemy URL (``postgresql+asyncpg://``) of ``database`` on this server."""
        return self._admin_url().set(database=database).render_as_string(hide_password=False)

    def _admin_url(self) -> URL:
        if self._admin is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self._admin

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the private cluster (no-op for an external server, beyond checking it)."""
        began = time.monotonic()
        if self.external_url is not None:
            self._check_external()
        else:
            self._start_local()
        self.version = int(str(_run_async(lambda: self._execute("SHOW server_version_num"))))
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop the private cluster and delete its files; on an external server, drop the
        databases this object created and that a test left behind."""
        atexit.unregister(self.stop)
        if self.external_url is not None:
            for name in sorted(self._created):
                with contextlib.suppress(Exception):
                    self.drop_database(name)
            return
        if self.tempdir is None:
            return
        data = self.tempdir / "data"
        if (data / "postmaster.pid").exists():
            self._as_postgres(
                [str(self._bin("pg_ctl")), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"],
                check=False,
            )
        shutil.rmtree(self.tempdir, ignore_errors=True)
        self.tempdir = None
        self._admin = None

    def _check_external(self) -> None:
        url = self._admin_url()
        if not url.drivername.startswith("postgresql"):
            raise ServiceMissing(f"{ENV_URL} must be a postgresql URL, not {url.drivername}")
        try:
            _run_async(lambda: self._execute("SELECT 1"))
        except (OSError, DBAPIError) as exc:
            raise PostgresFailed(f"cannot reach the server of {ENV_URL}: {exc}") from exc

    def _start_local(self) -> None:
        bin_dir = self.bin_dir or find_bin_dir()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            raise ServiceMissing(f"PostgreSQL is not installed: {INSTALL_HINT}")
        self.bin_dir = bin_dir
        if os.geteuid() != 0:
            raise ServiceMissing(
                f"starting PostgreSQL needs root (to run it as '{SYSTEM_USER}'): {INSTALL_HINT}"
            )
        if shutil.which("runuser") is None:
            raise ServiceMissing("runuser is missing (Debian package 'util-linux')")
        try:
            user = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise ServiceMissing(f"there is no '{SYSTEM_USER}' user: {INSTALL_HINT}") from None

        base = Path(tempfile.gettempdir())
        if not _world_traversable(base):
            base = Path("/tmp")
        self.tempdir = Path(tempfile.mkdtemp(prefix="eid-pg-", dir=base))
        atexit.register(self.stop)
        try:
            os.chown(self.tempdir, user.pw_uid, user.pw_gid)
            data = self.tempdir / "data"
            self._as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SYSTEM_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    # Skipping the fsync of the fresh cluster saves most of initdb's time.
                    "--no-sync",
                    "--no-instructions",
                ]
            )
            # A port picked here may be taken before the server binds it: retry a few times.
            for attempt in range(3):
                self.port = _free_port()
                if self._pg_ctl_start(data):
                    break
                if attempt == 2 or "already in use" not in self._log_tail():
                    raise PostgresFailed(
                        "PostgreSQL did not start; end of its log:\n" + self._log_tail()
                    )
        except BaseException:
            self.stop()
            raise
        self._admin = URL.create(
            "postgresql+asyncpg",
            username=SYSTEM_USER,
            host="127.0.0.1",
            port=self.port,
            database="postgres",
        )

    def _pg_ctl_start(self, data: Path) -> bool:
        assert self.tempdir is not None
        options = " ".join(
            [
                "-h 127.0.0.1",
                f"-p {self.port}",
                f"-k {self.tempdir}",
                # Durability is pointless for a cluster deleted after the run.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c logging_collector=off",
                "-c log_destination=stderr",
                "-c max_connections=200",
            ]
        )
        result = self._as_postgres(
            [
                str(self._bin("pg_ctl")),
                "start",
                "-D",
                str(data),
                "-w",
                "-t",
                "30",
                "-l",
                str(self.tempdir / "postgres.log"),
                "-o",
                options,
            ],
            check=False,
        )
        return result.returncode == 0

    def _log_tail(self, lines: int = 30) -> str:
        assert self.tempdir is not None
        try:
            text = (self.tempdir / "postgres.log").read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def _bin(self, tool: str) -> Path:
        assert self.bin_dir is not None
        return self.bin_dir / tool

    def _as_postgres(
        self, command: list[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["runuser", "-u", SYSTEM_USER, "--", *command],
            cwd=self.tempdir,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise PostgresFailed(
                f"{Path(command[0]).name} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    # -- databases ----------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        # FILE_COPY (PostgreSQL 15+) creates a database in about half the time of the default
        # WAL_LOG strategy here, since nothing is synced.
        strategy = " STRATEGY = FILE_COPY" if self.version >= 150000 else ""
        _run_async(lambda: self._execute(f"CREATE DATABASE {quote_ident(name)}{strategy}"))
        self._created.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        _run_async(
            lambda: self._execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        )
        self._created.discard(name)

    async def _execute(self, sql: str) -> object:
        """Run one statement on the maintenance database; its first value, if any."""
        # CREATE/DROP DATABASE cannot run inside a transaction.
        engine = create_async_engine(
            self._admin_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql))
                return result.scalar() if result.returns_rows else None
        finally:
            await engine.dispose()


def database_name(hint: str) -> str:
    """A unique, valid database name carrying ``hint`` (a test name) for debugging."""
    slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[:32]
    return f"t_{slug}_{os.getpid()}_{next(_counter)}_{os.urandom(3).hex()}"


_counter = itertools.count(1)
