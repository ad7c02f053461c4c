"""Attempt counting in the database (shared by every portal process): failed logins, wrong
activation codes, mails asked for. A sliding window per key; old events are pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webclient.portal.db import utcnow
from webclient.portal.models import ThrottleEvent


async def count(db: AsyncSession, key: str, window: int) -> int:
    since = utcnow() - timedelta(seconds=window)
    total = await db.scalar(
        select(func.count()).select_from(ThrottleEvent).where(
            ThrottleEvent.key == key, ThrottleEvent.at > since
        )
    )
    return int(total or 0)


async def record(db: AsyncSession, key: str) -> None:
    db.add(ThrottleEvent(key=key, at=utcnow()))


async def exceeded(db: AsyncSession, key: str, limit: int, window: int) -> bool:
    return await count(db, key, window) >= limit


async def clear(db: AsyncSession, key: str) -> None:
    await db.execute(delete(ThrottleEvent).where(ThrottleEvent.key == key))


async def prune(db: AsyncSession, older_than: int = 24 * 3600) -> None:
    await db.execute(
        delete(ThrottleEvent).where(ThrottleEvent.at < utcnow() - timedelta(seconds=older_than))
    )
