"""Pytest fixtures for the portal's real services: PostgreSQL (one server per run, one
database per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import PostgresFailed, PostgresServer, database_name
from tests.services import ServiceMissing


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this run; a missing one fails the tests, never skips them
    (CI must not silently lose the PostgreSQL coverage)."""
    server = PostgresServer.from_env()
    problem = None
    try:
        server.start()
    except (ServiceMissing, PostgresFailed) as exc:
        problem = str(exc)
    if problem is not None:  # failed outside the except block: no chained traceback
        pytest.fail(f"PostgreSQL is needed: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a fresh empty database, dropped after the test."""
    name = database_name(request.node.name)
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)
