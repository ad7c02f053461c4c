"""Web sessions kept in the database (aiohttp-session storage), so any process serves them.

The cookie holds 32 random bytes; the table holds their SHA-256, so a copy of the database
opens no session. Sessions slide: each use pushes the expiry ``max_age`` further, written at
most once a minute. Logging in or out starts a new session (no fixation).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session, get_session, new_session
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webclient.portal.db import transaction, utcnow
from webclient.portal.models import WebSession
from webclient.portal.security import sha256_hex, url_token

_TOUCH_EVERY = timedelta(seconds=60)


class DatabaseStorage(AbstractStorage):
    def __init__(
        self, db: async_sessionmaker[AsyncSession], *, max_age: int, secure: bool
    ) -> None:
        super().__init__(
            cookie_name="__Host-portal" if secure else "portal_session",
            max_age=None,  # a browser-session cookie; the server decides expiry
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        self._db = db
        self._lifetime = timedelta(seconds=max_age)

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if not cookie or len(cookie) > 100:
            return Session(None, data=None, new=True)
        key = sha256_hex(cookie)
        now = utcnow()
        async with transaction(self._db) as db:
            row = await db.get(WebSession, key)
            if row is None or row.expires_at <= now:
                return Session(None, data=None, new=True)
            if row.expires_at - now < self._lifetime - _TOUCH_EVERY:
                row.expires_at = now + self._lifetime
            try:
                data = json.loads(row.data)
            except ValueError:
                data = {}
        return Session(cookie, data={"created": int(now.timestamp()), "session": data}, new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        cookie = session.identity
        if session.empty:
            if cookie is not None:
                await self.forget(str(cookie))
            self.save_cookie(response, "")
            return
        if cookie is None:
            cookie = url_token()
        key = sha256_hex(str(cookie))
        payload = json.dumps(dict(session), separators=(",", ":"))
        uid = session.get("uid")
        async with transaction(self._db) as db:
            row = await db.get(WebSession, key)
            if row is None:
                db.add(
                    WebSession(
                        key=key,
                        data=payload,
                        user_id=uid if isinstance(uid, int) else None,
                        expires_at=utcnow() + self._lifetime,
                    )
                )
            else:
                row.data = payload
                row.user_id = uid if isinstance(uid, int) else None
                row.expires_at = utcnow() + self._lifetime
        self.save_cookie(response, str(cookie))

    async def forget(self, cookie: str) -> None:
        async with transaction(self._db) as db:
            await db.execute(delete(WebSession).where(WebSession.key == sha256_hex(cookie)))


async def session_key(request: web.Request) -> str:
    """A stable key of this browser's session (created now if it had none), for binding
    eID challenges; the hash of the cookie, never the cookie itself."""
    session = await get_session(request)
    if session.identity is None:
        session.set_new_identity(url_token())
    session.setdefault("t", 1)
    session.changed()
    return sha256_hex(str(session.identity))


async def restart_session(request: web.Request, **values: Any) -> Session:
    """Drop the current session and start a new one holding ``values`` (login, logout)."""
    old = await get_session(request)
    storage = request.get("aiohttp_session_storage")
    if old.identity is not None and isinstance(storage, DatabaseStorage):
        await storage.forget(str(old.identity))
    session = await new_session(request)
    session.set_new_identity(url_token())
    session.update(values)
    session.changed()
    return session


async def purge_expired(db: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(db) as s:
        result = await s.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def sessions_of(db: AsyncSession, user_id: int) -> list[WebSession]:
    return list((await db.scalars(select(WebSession).where(WebSession.user_id == user_id))).all())
