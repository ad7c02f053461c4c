"""Challenge nonces: single use, bound to one session, short-lived, bounded memory."""

from __future__ import annotations

import base64
import sys
import threading

import pytest

from bridge.tokens.errors import NonceExpired, NonceReplayed, NonceUnknown
from bridge.tokens.format import check_nonce
from bridge.tokens.nonces import DEFAULT_TTL, MemoryNonceStore, NonceStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_lifetime_is_five_minutes() -> None:
    # Web eID Java library: ChallengeNonceGeneratorBuilder ttl = Duration.ofMinutes(5).
    assert DEFAULT_TTL == 300
    assert MemoryNonceStore().ttl == 300


def test_issue_gives_distinct_well_formed_nonces() -> None:
    store: NonceStore = MemoryNonceStore()
    nonces = {store.issue("session-a") for _ in range(50)}
    assert len(nonces) == 50
    for nonce in nonces:
        assert len(base64.b64decode(nonce, validate=True)) == 32
        check_nonce(nonce)


def test_consume_once() -> None:
    store = MemoryNonceStore()
    nonce = store.issue("session-a")
    store.consume("session-a", nonce)
    with pytest.raises(NonceReplayed):
        store.consume("session-a", nonce)
    with pytest.raises(NonceReplayed):
        store.consume("session-a", nonce)


def test_nonce_of_another_session_is_unknown_and_stays_usable_by_its_own() -> None:
    store = MemoryNonceStore()
    nonce = store.issue("session-a")
    with pytest.raises(NonceUnknown) as caught:
        store.consume("session-b", nonce)
    assert not isinstance(caught.value, NonceReplayed)
    store.consume("session-a", nonce)


def test_never_issued_is_unknown() -> None:
    store = MemoryNonceStore()
    store.issue("session-a")
    with pytest.raises(NonceUnknown):
        store.consume("session-a", base64.b64encode(bytes(32)).decode())
    with pytest.raises(NonceUnknown):
        store.consume("session-a", None)  # type: ignore[arg-type]
    with pytest.raises(NonceUnknown):
        store.take("session-never-seen")


def test_expired_nonce_is_refused_and_removed() -> None:
    clock = Clock()
    store = MemoryNonceStore(ttl=300, clock=clock)
    fresh = store.issue("s")
    old = store.issue("s")
    clock.now += 300
    store.consume("s", fresh)  # exactly at the limit: still valid
    clock.now += 0.001
    with pytest.raises(NonceExpired):
        store.consume("s", old)
    with pytest.raises(NonceReplayed):  # removed either way: single use
        store.consume("s", old)


def test_long_expired_nonces_are_pruned() -> None:
    clock = Clock()
    store = MemoryNonceStore(ttl=60, clock=clock)
    nonce = store.issue("s")
    store.issue("t")
    assert len(store) == 2
    clock.now += 121
    store.issue("u")
    assert len(store) == 1
    with pytest.raises(NonceUnknown):
        store.consume("s", nonce)


def test_take_returns_the_latest_unused_nonce() -> None:
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    first = store.issue("s")
    clock.now += 1
    second = store.issue("s")
    assert store.take("s") == second
    assert store.take("s") == first
    with pytest.raises(NonceUnknown):
        store.take("s")
    late = store.issue("s")
    clock.now += 301
    with pytest.raises(NonceExpired):
        store.take("s")
    with pytest.raises(NonceReplayed):
        store.consume("s", late)


def test_store_is_bounded() -> None:
    store = MemoryNonceStore(max_entries=100, max_per_session=3)
    per_session = [store.issue("reloading-page") for _ in range(10)]
    assert len(store) == 3
    store.consume("reloading-page", per_session[-1])  # the newest survive
    with pytest.raises(NonceUnknown):
        store.consume("reloading-page", per_session[0])
    for i in range(500):
        store.issue(f"session-{i}")
    assert len(store) == 100


def test_session_ids_are_checked() -> None:
    store = MemoryNonceStore()
    for bad in ("", "x" * 513, None):
        with pytest.raises(ValueError, match="session_id"):
            store.issue(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        MemoryNonceStore(ttl=0)


def test_concurrent_consumers_accept_a_nonce_exactly_once() -> None:
    # Switch threads as often as the interpreter allows, so that an unlocked check-then-mark
    # would let two threads accept the same nonce.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _race()
    finally:
        sys.setswitchinterval(previous)


def _race() -> None:
    store = MemoryNonceStore(max_per_session=400)
    nonces = [store.issue("s") for _ in range(400)]
    accepted: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for nonce in nonces:
            try:
                store.consume("s", nonce)
            except NonceUnknown:
                refused.append(nonce)
            else:
                accepted.append(nonce)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(accepted) == sorted(nonces)
    assert len(refused) == 7 * 400
