"""The portal's eID challenges in the database: the same rules as the bridge's memory store,
shared by every process, and safe when two requests race with one nonce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.tokens.errors import NonceExpired, NonceReplayed, NonceUnknown
from tests.portal_harness import create_schema
from webclient.portal.db import make_engine, make_sessionmaker, transaction, utcnow
from webclient.portal.models import AuthNonce
from webclient.portal.nonces import MAX_PER_SESSION, DatabaseNonceStore


@pytest.fixture
async def db(portal_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await create_schema(portal_db_url)
    engine = make_engine(portal_db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_a_nonce_is_accepted_once(db: async_sessionmaker[AsyncSession]) -> None:
    store = DatabaseNonceStore(db)
    nonce = await store.issue("session-a")
    assert len(nonce) == 44
    await store.consume("session-a", nonce)
    with pytest.raises(NonceReplayed):
        await store.consume("session-a", nonce)


async def test_a_nonce_belongs_to_its_session(db: async_sessionmaker[AsyncSession]) -> None:
    store = DatabaseNonceStore(db)
    nonce = await store.issue("session-a")
    with pytest.raises(NonceUnknown):
        await store.consume("session-b", nonce)
    with pytest.raises(NonceUnknown):
        await store.consume("session-a", "not-issued")
    await store.consume("session-a", nonce)


async def test_an_expired_nonce_is_refused_and_used_up(
    db: async_sessionmaker[AsyncSession],
) -> None:
    store = DatabaseNonceStore(db, ttl=60)
    nonce = await store.issue("s")
    async with transaction(db) as s:
        await s.execute(update(AuthNonce).values(issued_at=utcnow() - timedelta(seconds=61)))
    with pytest.raises(NonceExpired):
        await store.consume("s", nonce)
    with pytest.raises(NonceReplayed):
        await store.consume("s", nonce)


async def test_take_uses_the_newest_unused_nonce(db: async_sessionmaker[AsyncSession]) -> None:
    store = DatabaseNonceStore(db)
    first = await store.issue("s")
    second = await store.issue("s")
    assert await store.take("s") == second
    assert await store.take("s") == first
    with pytest.raises(NonceUnknown):
        await store.take("s")


async def test_a_session_keeps_a_bounded_number_of_nonces(
    db: async_sessionmaker[AsyncSession],
) -> None:
    store = DatabaseNonceStore(db)
    issued = [await store.issue("s") for _ in range(MAX_PER_SESSION + 4)]
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(AuthNonce)) == MAX_PER_SESSION
    with pytest.raises(NonceUnknown):
        await store.consume("s", issued[0])
    await store.consume("s", issued[-1])


async def test_two_racing_requests_cannot_both_use_a_nonce(
    db: async_sessionmaker[AsyncSession],
) -> None:
    store = DatabaseNonceStore(db)
    nonce = await store.issue("s")
    results = await asyncio.gather(
        *(store.consume("s", nonce) for _ in range(6)), return_exceptions=True
    )
    assert results.count(None) == 1
    assert all(isinstance(r, NonceReplayed) for r in results if r is not None)
