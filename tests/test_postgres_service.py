"""The real PostgreSQL server of the portal tests, and its per-test databases."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.postgres import PostgresServer
from tests.services import ServiceMissing


async def scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


async def test_create_connect_drop(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("eid_service_check")
    assert url.startswith("postgresql+asyncpg://")
    assert url.endswith("/eid_service_check")

    assert await scalar(url, "select 1") == 1
    assert await scalar(url, "select current_database()") == "eid_service_check"
    assert await scalar(url, "show server_encoding") == "UTF8"

    postgres_server.drop_database("eid_service_check")
    exists = await scalar(
        postgres_server.admin_url,
        "select count(*) from pg_database where datname = 'eid_service_check'",
    )
    assert exists == 0


async def test_drop_disconnects_users(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("eid_busy")
    engine = create_async_engine(url)
    try:
        connection = await engine.connect()
        await connection.execute(text("select 1"))
        postgres_server.drop_database("eid_busy")
        # The forced drop terminated this session.
        with pytest.raises(DBAPIError):
            await connection.execute(text("select 1"))
        with contextlib.suppress(DBAPIError):
            await connection.close()
    finally:
        await engine.dispose()
    with pytest.raises(DBAPIError, match="does not exist"):
        await scalar(url, "select 1")


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_gets_its_own_database(postgres_url: str, run: int) -> None:
    # Both runs create the same table: the second would fail on a shared database.
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("create table marker (run int)"))
            await connection.execute(text("insert into marker values (:run)"), {"run": run})
            assert (await connection.execute(text("select run from marker"))).scalars().all() == [
                run
            ]
            name = (await connection.execute(text("select current_database()"))).scalar()
    finally:
        await engine.dispose()
    assert isinstance(name, str)
    assert name.startswith("t_test_each_test_gets_its_own")


async def test_external_server_by_url(postgres_server: PostgresServer) -> None:
    # The server of this run stands in for one given by EID_TEST_POSTGRES_URL.
    external = PostgresServer(external_url=postgres_server.admin_url)
    external.start()
    url = external.create_database("eid_external")
    assert await scalar(url, "select 1") == 1
    external.stop()  # drops what it created
    count = await scalar(
        postgres_server.admin_url, "select count(*) from pg_database where datname = 'eid_external'"
    )
    assert count == 0


def test_missing_postgres_says_what_to_install(tmp_path: Path) -> None:
    server = PostgresServer(bin_dir=tmp_path)
    with pytest.raises(ServiceMissing, match="'postgresql'"):
        server.start()
