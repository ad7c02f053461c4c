"""Challenge nonces, bound to the relying party's user session, single use, short-lived.

The relying party issues a nonce to the browser session that asks to log in, and consumes it
when the token comes back: a nonce is accepted once, only from the session it was issued to
(so a token cannot be replayed, nor carried to another browser), and only for ``ttl`` seconds
(Web eID's Java library defaults to 5 minutes too). It is removed on first use whatever the
outcome, expired or not.

:class:`MemoryNonceStore` serves one process; a relying party with several processes keeps
nonces in its database behind :class:`AsyncNonceStore` (the portal's
``webclient.portal.nonces.DatabaseNonceStore``).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from bridge.tokens.errors import NonceExpired, NonceReplayed, NonceUnknown
from bridge.tokens.format import NONCE_MIN_BYTES

DEFAULT_TTL: Final = 300.0
"""Seconds a nonce stays valid (Web eID Java library: ``Duration.ofMinutes(5)``)."""
SESSION_ID_MAX_LENGTH: Final = 512


def new_nonce() -> str:
    """Base64 (standard, padded) of 32 bytes from the OS's CSPRNG: 44 characters."""
    return base64.b64encode(secrets.token_bytes(NONCE_MIN_BYTES)).decode("ascii")


def _check_session(session_id: str) -> None:
    if not isinstance(session_id, str) or not 0 < len(session_id) <= SESSION_ID_MAX_LENGTH:
        raise ValueError(f"session_id must be a string of 1 to {SESSION_ID_MAX_LENGTH} characters")


class NonceStore(Protocol):
    """Where a relying party keeps the nonces it issued, per user session."""

    def issue(self, session_id: str) -> str:
        """A fresh nonce (:func:`new_nonce`) remembered for ``session_id``."""
        ...

    def consume(self, session_id: str, nonce: str) -> None:
        """Accept ``nonce`` once for ``session_id``: :class:`NonceUnknown` if it was never
        issued to this session (:class:`NonceReplayed` if it was already used),
        :class:`NonceExpired` if it is older than the store's time to live. The nonce is
        unusable afterwards in every case."""
        ...

    def take(self, session_id: str) -> str:
        """Consume and return the session's most recently issued unused nonce, for relying
        parties whose page does not send the nonce back with the token (Web eID's
        ``ChallengeNonceStore.getAndRemove``). Same errors as :meth:`consume`."""
        ...


class AsyncNonceStore(Protocol):
    """:class:`NonceStore` for stores that wait on I/O (a database); same rules."""

    async def issue(self, session_id: str) -> str: ...

    async def consume(self, session_id: str, nonce: str) -> None: ...

    async def take(self, session_id: str) -> str: ...


@dataclass
class _Entry:
    issued_at: float
    used: bool = False


class MemoryNonceStore:
    """Thread-safe, bounded, in-memory :class:`NonceStore`.

    Used nonces are kept (as "used") until ``2 * ttl`` after issue so a replay is reported as
    such; older entries are pruned on every call. At most ``max_entries`` entries in all (the
    oldest go first) and ``max_per_session`` unused nonces per session (a page reloaded many
    times drops its oldest nonce), so no client can make the store grow without bound.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
        max_per_session: int = 16,
    ) -> None:
        if ttl <= 0 or max_entries < 1 or max_per_session < 1:
            raise ValueError("ttl, max_entries and max_per_session must be positive")
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._max_per_session = max_per_session
        self._lock = threading.Lock()
        self._sessions: dict[str, OrderedDict[str, _Entry]] = {}
        self._order: OrderedDict[tuple[str, str], float] = OrderedDict()
        """Every entry, oldest first (issue order, and the clock never goes back)."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._order)

    def _remove(self, session_id: str, nonce: str) -> None:
        self._order.pop((session_id, nonce), None)
        session = self._sessions.get(session_id)
        if session is not None:
            session.pop(nonce, None)
            if not session:
                del self._sessions[session_id]

    def _prune(self, now: float) -> None:
        retention = 2 * self.ttl
        while self._order:
            (session_id, nonce), issued_at = next(iter(self._order.items()))
            if now - issued_at <= retention and len(self._order) <= self._max_entries:
                break
            self._remove(session_id, nonce)

    def issue(self, session_id: str) -> str:
        _check_session(session_id)
        nonce = new_nonce()
        with self._lock:
            now = self._clock()
            self._prune(now)
            session = self._sessions.setdefault(session_id, OrderedDict())
            unused = [n for n, e in session.items() if not e.used]
            for old in unused[: max(0, len(unused) - self._max_per_session + 1)]:
                self._remove(session_id, old)
            session = self._sessions.setdefault(session_id, OrderedDict())
            session[nonce] = _Entry(now)
            self._order[(session_id, nonce)] = now
            self._prune(now)
        return nonce

    def _use(self, entry: _Entry, now: float) -> None:
        if entry.used:
            raise NonceReplayed("this challenge nonce was already used")
        entry.used = True
        if now - entry.issued_at > self.ttl:
            raise NonceExpired(f"the challenge nonce is older than {self.ttl:g} seconds")

    def consume(self, session_id: str, nonce: str) -> None:
        _check_session(session_id)
        with self._lock:
            now = self._clock()
            self._prune(now)
            session = self._sessions.get(session_id)
            entry = session.get(nonce) if session is not None and isinstance(nonce, str) else None
            if entry is None:
                raise NonceUnknown("no such challenge nonce was issued to this session")
            self._use(entry, now)

    def take(self, session_id: str) -> str:
        _check_session(session_id)
        with self._lock:
            now = self._clock()
            self._prune(now)
            session = self._sessions.get(session_id) or OrderedDict()
            for nonce, entry in reversed(session.items()):
                if not entry.used:
                    self._use(entry, now)
                    return nonce
            raise NonceUnknown("no unused challenge nonce was issued to this session")


__all__ = ["DEFAULT_TTL", "AsyncNonceStore", "MemoryNonceStore", "NonceStore", "new_nonce"]
