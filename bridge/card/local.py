"""In-process transport: the host talks to a card object in the same process (the virtual
card in unit tests and in the demo on a machine without pcscd)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from bridge.card.errors import CardMute, CardRemoved, NoCard
from bridge.card.transport import Transport


class LocalCard(Protocol):
    """A card as a reader sees it: power, reset, ATR, one APDU in and one response out.

    ``process`` takes a raw short command APDU and returns response data followed by SW1 SW2,
    exactly what a T=0 card returns through a reader (``61xx`` included).
    """

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> bytes: ...

    def power_off(self) -> None: ...

    def reset(self) -> bytes: ...

    def process(self, apdu: bytes) -> bytes: ...


class FaultVerdict(Protocol):
    @property
    def value(self) -> str: ...


class FaultHook(Protocol):
    """A fault plan (``bridge.emulator.latency.FaultPlan``): consulted before the card sees
    each command; its verdict's value is ``"none"``, ``"remove"`` or ``"mute"``."""

    def on_apdu(self, command: bytes) -> FaultVerdict: ...

    def reinsert(self) -> None: ...


class LocalReader:
    """A reader slot holding at most one in-process card; cards can be inserted and pulled
    from another thread, as a user does."""

    def __init__(
        self,
        name: str = "Virtual in-process reader",
        *,
        latency: Callable[[bytes, bytes], float] | None = None,
        control: Callable[[int, bytes], bytes] | None = None,
    ) -> None:
        self.name = name
        self.latency = latency
        self.control_handler = control
        self.card: LocalCard | None = None
        self.generation = 0
        """Bumped at each insertion, so a connection to a pulled card stays dead."""
        self.lock = threading.Lock()
        self.mute = False
        """The chip no longer answers (a damaged card): every command fails."""
        self.faults: FaultHook | None = None
        """Planned faults: the card pulled, or one command unanswered, at a given APDU."""

    def insert(self, card: LocalCard) -> None:
        with self.lock:
            if self.faults is not None:
                self.faults.reinsert()
            self.card = card
            self.generation += 1
            card.power_on()

    def remove(self) -> None:
        with self.lock:
            if self.card is not None:
                self.card.power_off()
            self.card = None

    def connect(self) -> LocalTransport:
        return LocalTransport(self)

    def apply_faults(self, apdu: bytes) -> LocalCard:
        """The card about to receive ``apdu``, after the injected faults; call under
        ``lock``. Raises ``CardRemoved`` (the card leaves the reader) or ``CardMute``."""
        card = self.card
        if card is None:
            raise CardRemoved(f"{self.name}: the card was removed")
        if self.mute:
            raise CardMute(f"{self.name}: the card does not answer")
        verdict = self.faults.on_apdu(apdu).value if self.faults is not None else "none"
        if verdict == "remove":
            card.power_off()
            self.card = None
            raise CardRemoved(f"{self.name}: the card was removed during a command")
        if verdict == "mute":
            raise CardMute(f"{self.name}: the card did not answer")
        return card


class LocalTransport(Transport):
    def __init__(self, reader: LocalReader) -> None:
        self._reader = reader
        self.reader = reader.name
        with reader.lock:
            if reader.card is None:
                raise NoCard(f"{reader.name}: no card")
            if reader.mute:
                raise CardMute(f"{reader.name}: the card does not answer")
            self._generation = reader.generation
            self._atr = reader.card.atr

    def _card(self) -> LocalCard:
        card = self._reader.card
        if card is None or self._reader.generation != self._generation:
            raise CardRemoved(f"{self.reader}: the card was removed")
        return card

    @property
    def atr(self) -> bytes:
        return self._atr

    def is_present(self) -> bool:
        with self._reader.lock:
            return self._reader.card is not None and self._reader.generation == self._generation

    def transmit(self, apdu: bytes) -> bytes:
        with self._reader.lock:
            self._card()
            response = self._reader.apply_faults(apdu).process(apdu)
        if self._reader.latency is not None:
            time.sleep(self._reader.latency(apdu, response))
        return response

    def control(self, code: int, data: bytes) -> bytes:
        with self._reader.lock:
            self._card()  # a connection to a pulled card must not reach its successor
        if self._reader.control_handler is None:
            raise NotImplementedError("this reader has no control channel")
        return self._reader.control_handler(code, data)

    def reconnect(self, *, reset: bool = False) -> None:
        with self._reader.lock:
            card = self._card()
            if reset:
                self._atr = card.reset()

    def close(self) -> None:
        pass
