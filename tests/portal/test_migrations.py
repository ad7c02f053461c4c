"""Alembic: the migrations build the models' schema from an empty database and take it down
again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import webclient.portal.models  # noqa: F401 - registers the tables
from webclient.portal.db import Base, make_engine
from webclient.portal.migrate import downgrade, upgrade


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _inspect(url: str, what: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(what)
    finally:
        await engine.dispose()


async def test_migrations_go_up_to_the_models_and_down_again(portal_db_url: str) -> None:
    await asyncio.to_thread(upgrade, portal_db_url)
    assert await _inspect(portal_db_url, _tables) == set(Base.metadata.tables)
    differences = await _inspect(portal_db_url, _differences)
    assert differences == [], f"models and migrations differ: {differences}"
    await asyncio.to_thread(downgrade, portal_db_url)
    assert await _inspect(portal_db_url, _tables) == set()
    await asyncio.to_thread(upgrade, portal_db_url)  # and up again after a full downgrade
    assert await _inspect(portal_db_url, _tables) == set(Base.metadata.tables)
