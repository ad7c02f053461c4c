"""Where the daemon's cards come from: the PC/SC service, or an in-process reader (the demo
on a machine without pcscd, and fast unit tests). Both give reader states without touching
a card, a way to connect, and reader/card events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from bridge.card.connect import choose_reader
from bridge.card.constants import ATR_APPLET_1_0, ATR_APPLET_1_1, ATR_APPLET_1_8, ATR_APPLET_BETA
from bridge.card.local import LocalCard, LocalReader
from bridge.card.pcsc import PcscTransport
from bridge.card.readers import (
    ReaderEvent,
    ReaderEventKind,
    ReaderMonitor,
    ReaderState,
    list_readers,
)
from bridge.card.transport import Transport

Listener = Callable[[ReaderEvent], None]


def card_kind(atr: bytes | None) -> str | None:
    """What the ATR says, without talking to the card: ``belpic-1.8`` (ECC P-384),
    ``belpic-1.x`` (RSA; 1.1 and 1.7 share their ATR), ``other``, or None for no card."""
    if atr is None:
        return None
    if atr == ATR_APPLET_1_8:
        return "belpic-1.8"
    if atr in (ATR_APPLET_1_1, ATR_APPLET_1_0, ATR_APPLET_BETA):
        return "belpic-1.x"
    return "other"


class CardSource(Protocol):
    name: str

    def readers(self) -> list[ReaderState]:
        """Connected readers; raises ``PcscUnavailable`` when the service is down."""
        ...

    def connect(self) -> Transport: ...

    def start(self, listener: Listener) -> None:
        """Where to report reader and card changes (from any thread) while watching."""
        ...

    def watch(self, active: bool) -> None:
        """Watch for changes (True) or stop watching (False): the daemon watches only while
        some page listens to ``/v1/events``."""
        ...

    def stop(self) -> None: ...


class PcscSource:
    """The OS smart-card service.

    The reader monitor runs only while someone listens (:meth:`watch`): libpcsclite splits
    an "infinite" SCardGetStatusChange into 60-second waits, so a monitor that always ran
    would wake the idle PC once a minute. Without it, reader states are read on demand and
    the worker notices a pulled or swapped card through :meth:`Transport.is_present`.
    """

    name = "pcsc"

    def __init__(self, preferred: str | None = None, *, connect_delay: float = 0.0) -> None:
        self.preferred = preferred
        self.connect_delay = connect_delay
        self._listener: Listener | None = None
        self._monitor: ReaderMonitor | None = None
        self._lock = threading.Lock()

    def readers(self) -> list[ReaderState]:
        return list_readers()

    def connect(self) -> Transport:
        reader = choose_reader(self.readers(), self.preferred)
        return PcscTransport(reader.name, connect_delay=self.connect_delay)

    def start(self, listener: Listener) -> None:
        self._listener = listener

    def watch(self, active: bool) -> None:
        with self._lock:
            if active and self._monitor is None and self._listener is not None:
                self._monitor = ReaderMonitor(self._listener)
                self._monitor.start()
                return
            if active or self._monitor is None:
                return
            monitor, self._monitor = self._monitor, None
        monitor.stop()

    @property
    def watching(self) -> bool:
        return self._monitor is not None

    def stop(self) -> None:
        self.watch(False)
        self._listener = None


class LocalSource:
    """One in-process reader; :meth:`insert` and :meth:`remove` act like a user's hand and
    emit the same events as the PC/SC monitor."""

    name = "in-process"

    def __init__(self, reader: LocalReader | None = None) -> None:
        self.reader = reader or LocalReader()
        self._listener: Listener | None = None
        self._lock = threading.Lock()

    def readers(self) -> list[ReaderState]:
        card = self.reader.card
        atr = card.atr if card is not None else None
        return [ReaderState(self.reader.name, card is not None, atr, False, False)]

    def connect(self) -> Transport:
        choose_reader(self.readers())  # NoCard when empty, like the PC/SC path
        return self.reader.connect()

    def insert(self, card: LocalCard) -> None:
        self.reader.insert(card)
        self._emit(ReaderEvent(ReaderEventKind.CARD_INSERTED, self.reader.name, card.atr))

    def remove(self) -> None:
        self.reader.remove()
        self._emit(ReaderEvent(ReaderEventKind.CARD_REMOVED, self.reader.name))

    def _emit(self, event: ReaderEvent) -> None:
        with self._lock:
            listener = self._listener
        if listener is not None:
            listener(event)

    def start(self, listener: Listener) -> None:
        with self._lock:
            self._listener = listener
        listener(ReaderEvent(ReaderEventKind.READER_ADDED, self.reader.name))

    def watch(self, active: bool) -> None:
        """Insertions and removals are reported as they happen; nothing to start."""

    def stop(self) -> None:
        with self._lock:
            self._listener = None
