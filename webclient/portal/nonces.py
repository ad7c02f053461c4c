"""eID login challenges in the database: :class:`bridge.tokens.nonces.AsyncNonceStore`.

Same rules as the bridge's in-memory store (single use, bound to the web session, 5 minutes),
but shared by every portal process: the page may fetch its challenge from one process and
post the token to another. Using a nonce is one conditional UPDATE, so two requests racing
with the same nonce cannot both win.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.tokens.errors import NonceExpired, NonceReplayed, NonceUnknown
from bridge.tokens.nonces import DEFAULT_TTL, new_nonce
from webclient.portal.db import transaction, utcnow
from webclient.portal.models import AuthNonce

MAX_PER_SESSION = 16


class DatabaseNonceStore:
    def __init__(self, db: async_sessionmaker[AsyncSession], ttl: float = DEFAULT_TTL) -> None:
        self._db = db
        self.ttl = ttl

    async def issue(self, session_id: str) -> str:
        nonce = new_nonce()
        now = utcnow()
        async with transaction(self._db) as db:
            await db.execute(
                delete(AuthNonce).where(AuthNonce.issued_at < now - timedelta(seconds=2 * self.ttl))
            )
            unused = (
                await db.scalars(
                    select(AuthNonce.id)
                    .where(AuthNonce.session_key == session_id, AuthNonce.used.is_(False))
                    .order_by(AuthNonce.id.desc())
                    .offset(MAX_PER_SESSION - 1)
                )
            ).all()
            if unused:
                await db.execute(delete(AuthNonce).where(AuthNonce.id.in_(unused)))
            db.add(AuthNonce(session_key=session_id, nonce=nonce, issued_at=now))
        return nonce

    async def _use(self, db: AsyncSession, session_id: str, nonce: str) -> Exception | None:
        """Marks the nonce used; the error to raise once that is committed (an expired
        nonce is used up too)."""
        row = await db.scalar(
            select(AuthNonce).where(AuthNonce.session_key == session_id, AuthNonce.nonce == nonce)
        )
        if row is None:
            return NonceUnknown("no such challenge nonce was issued to this session")
        won = await db.execute(
            update(AuthNonce)
            .where(AuthNonce.id == row.id, AuthNonce.used.is_(False))
            .values(used=True)
        )
        if getattr(won, "rowcount", 0) != 1:
            return NonceReplayed("this challenge nonce was already used")
        if (utcnow() - row.issued_at).total_seconds() > self.ttl:
            return NonceExpired(f"the challenge nonce is older than {self.ttl:g} seconds")
        return None

    async def consume(self, session_id: str, nonce: str) -> None:
        if not isinstance(nonce, str) or len(nonce) > 64:
            raise NonceUnknown("no such challenge nonce was issued to this session")
        async with transaction(self._db) as db:
            error = await self._use(db, session_id, nonce)
        if error is not None:
            raise error

    async def take(self, session_id: str) -> str:
        async with transaction(self._db) as db:
            nonce = await db.scalar(
                select(AuthNonce.nonce)
                .where(AuthNonce.session_key == session_id, AuthNonce.used.is_(False))
                .order_by(AuthNonce.id.desc())
                .limit(1)
            )
            if nonce is None:
                raise NonceUnknown("no unused challenge nonce was issued to this session")
            error = await self._use(db, session_id, nonce)
        if error is not None:
            raise error
        return nonce
