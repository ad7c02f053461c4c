"""PC/SC transport through pyscard's thin ``scard`` binding.

The low-level API is used on purpose: it hands back the PC/SC return codes, so each one
becomes the typed error the user can act on (card pulled, reader gone, service down...).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smartcard import scard

from bridge.card.errors import (
    CardError,
    CardMute,
    CardRemoved,
    CardReset,
    NoCard,
    NoReader,
    PcscUnavailable,
    ReaderNotFound,
    SharingViolation,
    TransportError,
)
from bridge.card.transport import Transport

_SERVICE_DOWN = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_F_COMM_ERROR,
    scard.SCARD_E_INVALID_HANDLE,
}
# SCardStatus card states (pcsclite.h); pyscard does not export them.
SCARD_ABSENT = 0x0002
SCARD_PRESENT = 0x0004

REMOVAL_SETTLE_SECONDS = 1.0

# pcscd answers a few codes as unsigned 32-bit values, pyscard sometimes as signed.
_MASK = 0xFFFFFFFF

# eid-mw sleeps 200 ms after SCardConnect because some reader/card pairs fail a transmit
# sent too soon; our own tests show vpcd needs no delay, so it is a setting.
DEFAULT_CONNECT_DELAY = 0.0


def pcsc_error(code: int, action: str, reader: str = "") -> CardError:
    """Map a PC/SC return code to the card layer's typed error."""
    code &= _MASK
    where = f" ({reader})" if reader else ""
    text = f"{action}{where}: {scard.SCardGetErrorMessage(code)}"
    if code in {c & _MASK for c in _SERVICE_DOWN}:
        return PcscUnavailable(text)
    if code == scard.SCARD_E_NO_READERS_AVAILABLE & _MASK:
        return NoReader(text)
    if code in {scard.SCARD_E_UNKNOWN_READER & _MASK, scard.SCARD_E_READER_UNAVAILABLE & _MASK}:
        return ReaderNotFound(text)
    if code == scard.SCARD_E_NO_SMARTCARD & _MASK:
        return NoCard(text)
    if code == scard.SCARD_W_REMOVED_CARD & _MASK:
        return CardRemoved(text)
    if code == scard.SCARD_W_RESET_CARD & _MASK:
        return CardReset(text)
    if code in {scard.SCARD_W_UNRESPONSIVE_CARD & _MASK, scard.SCARD_W_UNPOWERED_CARD & _MASK}:
        return CardMute(text)
    if code == scard.SCARD_E_SHARING_VIOLATION & _MASK:
        return SharingViolation(text)
    return TransportError(text)


class PcscContext:
    """An SCardEstablishContext handle; one per thread that uses PC/SC."""

    def __init__(self) -> None:
        rc, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if rc != scard.SCARD_S_SUCCESS:
            # Whatever the code (pcscd shutting down answers "access denied", polkit refusals
            # too), without a context the service is unusable for us.
            error = pcsc_error(rc, "connecting to the PC/SC service")
            if isinstance(error, PcscUnavailable):
                raise error
            raise PcscUnavailable(str(error)) from error

    def readers(self) -> list[str]:
        rc, readers = scard.SCardListReaders(self.handle, [])
        if rc & _MASK == scard.SCARD_E_NO_READERS_AVAILABLE & _MASK:
            return []
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "listing readers")
        return list(readers)

    def cancel(self) -> None:
        """Wake a thread blocked in SCardGetStatusChange on this context."""
        scard.SCardCancel(self.handle)

    def close(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None

    def __enter__(self) -> PcscContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcscTransport(Transport):
    """A shared T=0 connection to the card in ``reader``.

    The card is shared (other applications may use it between our operations) and left
    powered on close, so a PIN verified for the authentication key survives our disconnect
    as it does with the official middleware (eid-mw disconnects with SCARD_LEAVE_CARD).
    """

    def __init__(
        self,
        reader: str,
        *,
        context: PcscContext | None = None,
        connect_delay: float = DEFAULT_CONNECT_DELAY,
    ) -> None:
        self.reader = reader
        self._own_context = context is None
        self._context = context or PcscContext()
        self._in_transaction = False
        try:
            rc, self._card, self._protocol = scard.SCardConnect(
                self._context.handle,
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if rc != scard.SCARD_S_SUCCESS:
                raise pcsc_error(rc, "connecting to the card", reader)
        except BaseException:
            if self._own_context:
                self._context.close()
            raise
        self._atr = self._read_atr()
        if connect_delay:
            time.sleep(connect_delay)

    @property
    def _handle(self) -> Any:
        if self._card is None:
            raise TransportError(f"{self.reader}: the connection to the card is closed")
        return self._card

    def _read_atr(self) -> bytes:
        rc, _name, _state, _protocol, atr = scard.SCardStatus(self._handle)
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "reading the card status", self.reader)
        return bytes(atr)

    @property
    def atr(self) -> bytes:
        return self._atr

    def is_present(self) -> bool:
        if self._card is None:
            return False
        rc = scard.SCardStatus(self._card)[0]
        # A reset by another application keeps the card (the session re-selects); a removal
        # (even if a card is back in the slot) ends this handle for good.
        return bool(rc == scard.SCARD_S_SUCCESS or rc & _MASK == scard.SCARD_W_RESET_CARD & _MASK)

    @property
    def protocol(self) -> int:
        return int(self._protocol)

    def transmit(self, apdu: bytes) -> bytes:
        pci = (
            scard.SCARD_PCI_T0 if self._protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        )
        rc, response = scard.SCardTransmit(self._handle, pci, list(apdu))
        if rc != scard.SCARD_S_SUCCESS:
            raise self._classify_failure(pcsc_error(rc, "sending a command", self.reader))
        if len(response) < 2:
            # Drivers answer a card pulled mid-command with an empty response or
            # "not transacted"; the reader's state tells a pulled card from a mute one.
            raise self._classify_failure(CardMute(f"{self.reader}: the card gave no answer"))
        return bytes(response)

    def _classify_failure(self, error: CardError) -> CardError:
        if not isinstance(error, TransportError) or isinstance(
            error, (CardRemoved, PcscUnavailable, NoReader)
        ):
            return error
        # The driver fails the command before pcscd has noticed the card leaving: give the
        # reader state a moment to settle (failure path only, so the wait costs nothing
        # in normal use).
        deadline = time.monotonic() + REMOVAL_SETTLE_SECONDS
        while True:
            rc, _name, state, _protocol, _atr = scard.SCardStatus(self._handle)
            code = rc & _MASK
            if code in (scard.SCARD_W_REMOVED_CARD & _MASK, scard.SCARD_E_NO_SMARTCARD & _MASK):
                return CardRemoved(f"{self.reader}: the card was removed during a command")
            if code in (
                scard.SCARD_E_READER_UNAVAILABLE & _MASK,
                scard.SCARD_E_UNKNOWN_READER & _MASK,
            ):
                return ReaderNotFound(f"{self.reader}: the reader was unplugged")
            if code == scard.SCARD_S_SUCCESS and (
                state & SCARD_ABSENT or not state & SCARD_PRESENT
            ):
                return CardRemoved(f"{self.reader}: the card was removed during a command")
            if code in {c & _MASK for c in _SERVICE_DOWN}:
                return PcscUnavailable(f"{self.reader}: the PC/SC service stopped")
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if type(error) is TransportError:
            return CardMute(f"{self.reader}: the card stopped answering ({error})")
        return error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:  # nested operations share the outer lock
            yield
            return
        rc = scard.SCardBeginTransaction(self._handle)
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "locking the card", self.reader)
        self._in_transaction = True
        try:
            yield
        finally:
            self._in_transaction = False
            # A card pulled inside the transaction makes End fail; the error that matters
            # was already raised by the transmit.
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)

    def control(self, code: int, data: bytes) -> bytes:
        rc, response = scard.SCardControl(self._handle, code, list(data))
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "controlling the reader", self.reader)
        return bytes(response)

    def reconnect(self, *, reset: bool = False) -> None:
        rc, self._protocol = scard.SCardReconnect(
            self._handle,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD,
        )
        if rc != scard.SCARD_S_SUCCESS:
            raise pcsc_error(rc, "reconnecting to the card", self.reader)
        self._atr = self._read_atr()

    def close(self) -> None:
        card: Any = getattr(self, "_card", None)
        if card is not None:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
            self._card = None
        if self._own_context:
            self._context.close()
