"""Readers: enumeration, and a monitor that sleeps in SCardGetStatusChange until something
happens (card inserted or removed, reader plugged or unplugged), never polling."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from smartcard import scard

from bridge.card.errors import CardError, PcscUnavailable
from bridge.card.pcsc import _MASK, PcscContext, pcsc_error

log = logging.getLogger(__name__)

# pcsc-lite (and WinSCard) report reader arrival/removal through this pseudo-reader.
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
INFINITE = 0xFFFFFFFF


@dataclass(frozen=True)
class ReaderState:
    name: str
    card_present: bool
    atr: bytes | None
    mute: bool
    in_use_exclusively: bool


class ReaderEventKind(Enum):
    READER_ADDED = "reader-added"
    READER_REMOVED = "reader-removed"
    CARD_INSERTED = "card-inserted"
    CARD_REMOVED = "card-removed"
    SERVICE_DOWN = "service-down"
    SERVICE_UP = "service-up"


@dataclass(frozen=True)
class ReaderEvent:
    kind: ReaderEventKind
    reader: str | None = None
    atr: bytes | None = None


def _state_of(name: str, event_state: int, atr: list[int]) -> ReaderState:
    present = bool(event_state & scard.SCARD_STATE_PRESENT)
    return ReaderState(
        name=name,
        card_present=present,
        atr=bytes(atr) if present and atr else None,
        mute=bool(event_state & scard.SCARD_STATE_MUTE),
        in_use_exclusively=bool(event_state & scard.SCARD_STATE_EXCLUSIVE),
    )


def list_readers(context: PcscContext | None = None) -> list[ReaderState]:
    """Every connected reader and whether it holds a card; raises ``PcscUnavailable``."""
    ctx = context or PcscContext()
    try:
        names = ctx.readers()
        if not names:
            return []
        rc, states = scard.SCardGetStatusChange(
            ctx.handle, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        )
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "reading reader states")
        return [_state_of(name, state, atr) for name, state, atr in states]
    finally:
        if context is None:
            ctx.close()


class ReaderMonitor:
    """Reports reader and card changes to ``callback`` from a background thread.

    The thread blocks in SCardGetStatusChange with an infinite timeout, so an idle PC sees no
    wake-ups from us. ``stop()`` cancels the wait. When the PC/SC service goes away, the
    monitor reports it and re-attaches with a growing back-off (1 s up to 30 s).
    """

    def __init__(self, callback: Callable[[ReaderEvent], None]) -> None:
        self._callback = callback
        self._stop = threading.Event()
        self._context: PcscContext | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.states: dict[str, ReaderState] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="reader-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        # SCardCancel only wakes a wait in progress: one landing between two waits is lost,
        # so cancel again until the thread has seen the stop flag.
        while self._thread is not None and self._thread.is_alive():
            with self._lock:
                if self._context is not None:
                    self._context.cancel()
            self._thread.join(0.1)
            if time.monotonic() > deadline:
                log.warning("reader monitor did not stop in %.1f s", timeout)
                break

    def _emit(self, event: ReaderEvent) -> None:
        try:
            self._callback(event)
        except Exception:  # a faulty listener must not kill the monitor
            log.exception("reader event listener failed")

    def _run(self) -> None:
        backoff = 1.0
        service_up: bool | None = None
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._context = PcscContext()
                if service_up is False:
                    self._emit(ReaderEvent(ReaderEventKind.SERVICE_UP))
                service_up = True
                backoff = 1.0
                self._watch(self._context)
            except (PcscUnavailable, CardError):
                # Any other failure of the wait (a reader driver crashing, pcscd restarting
                # mid-call) is handled the same way: report, back off, re-attach; the monitor
                # thread must not die.
                if service_up is not False:
                    self._emit(ReaderEvent(ReaderEventKind.SERVICE_DOWN))
                    for name in list(self.states):
                        self._forget(name)
                service_up = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                with self._lock:
                    if self._context is not None:
                        self._context.close()
                        self._context = None

    def _forget(self, name: str) -> None:
        old = self.states.pop(name, None)
        if old is not None and old.card_present:
            self._emit(ReaderEvent(ReaderEventKind.CARD_REMOVED, name))
        self._emit(ReaderEvent(ReaderEventKind.READER_REMOVED, name))

    def _update(self, name: str, new: ReaderState) -> None:
        old = self.states.get(name)
        self.states[name] = new
        if old is None:
            self._emit(ReaderEvent(ReaderEventKind.READER_ADDED, name))
        was_present = old is not None and old.card_present
        if new.card_present and (not was_present or (old is not None and old.atr != new.atr)):
            if was_present:
                self._emit(ReaderEvent(ReaderEventKind.CARD_REMOVED, name))
            self._emit(ReaderEvent(ReaderEventKind.CARD_INSERTED, name, new.atr))
        elif was_present and not new.card_present:
            self._emit(ReaderEvent(ReaderEventKind.CARD_REMOVED, name))

    def _watch(self, ctx: PcscContext) -> None:
        known: dict[str, int] = {}
        while not self._stop.is_set():
            names = ctx.readers()
            for gone in set(self.states) - set(names):
                self._forget(gone)
                known.pop(gone, None)
            query = [(name, known.get(name, scard.SCARD_STATE_UNAWARE)) for name in names]
            query.append((PNP_NOTIFICATION, known.get(PNP_NOTIFICATION, 0)))
            rc, results = scard.SCardGetStatusChange(ctx.handle, INFINITE, query)
            if rc & _MASK == scard.SCARD_E_CANCELLED & _MASK:
                return
            if rc & _MASK == scard.SCARD_E_UNKNOWN_READER & _MASK:
                continue  # a reader vanished between listing and waiting: list again
            if rc != scard.SCARD_S_SUCCESS:
                raise pcsc_error(rc, "waiting for reader changes")
            for name, event_state, atr in results:
                # Acknowledge the state we saw, so the next wait blocks until it changes.
                known[name] = event_state & ~scard.SCARD_STATE_CHANGED
                if name == PNP_NOTIFICATION:
                    continue
                if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                    continue
                self._update(name, _state_of(name, event_state, atr))
