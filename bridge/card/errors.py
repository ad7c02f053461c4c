"""Typed errors of the card layer.

Every failure a caller can act on has its own class, so the service layer maps them
to stable API codes in one table and never parses messages.
"""

from __future__ import annotations


class CardError(Exception):
    """Base class of every card-layer error."""


# --- transport / PC/SC -----------------------------------------------------------------


class TransportError(CardError):
    """The bytes could not be exchanged with the card."""


class PcscUnavailable(TransportError):
    """The PC/SC service (pcscd, WinSCard) is not running or not reachable."""


class NoReader(TransportError):
    """No smart-card reader is connected."""


class ReaderNotFound(NoReader):
    """The named reader is not (or no longer) connected."""


class NoCard(TransportError):
    """The reader has no card in it."""


class CardRemoved(TransportError):
    """The card was pulled out (possibly in the middle of an operation)."""


class CardReset(TransportError):
    """Another application reset the card; state such as a verified PIN is lost."""


class CardMute(TransportError):
    """The card does not answer (no ATR, or no answer to a command): damaged chip?"""


class SharingViolation(TransportError):
    """Another application holds the card exclusively."""


# --- protocol ---------------------------------------------------------------------------


class ApduError(CardError):
    """The card answered with a status word that the operation cannot accept."""

    def __init__(self, sw: int, command: str = "") -> None:
        self.sw = sw
        self.command = command
        where = f" to {command}" if command else ""
        super().__init__(f"card answered {sw:04X}{where}")


class FileNotFound(ApduError):
    pass


class SecurityStatusNotSatisfied(ApduError):
    """The operation needs a PIN verification first (``6982``)."""


class ConditionsNotSatisfied(ApduError):
    """``6985``: security environment not set, key not activated, nothing to GET RESPONSE…"""


class UnsupportedCard(CardError):
    """The card in the reader is not a Belgian eID this software knows."""


# --- PIN --------------------------------------------------------------------------------


class PinError(CardError):
    pass


class PinIncorrect(PinError):
    """Wrong PIN; the card has ``tries_left`` attempts left before it blocks."""

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(f"wrong PIN, {tries_left} tries left")


class PinIncorrectTriesUnknown(PinIncorrect):
    """Wrong PIN, through a path (PKCS#11) that does not say how many tries are left."""

    def __init__(self) -> None:
        PinError.__init__(self, "wrong PIN")
        self.tries_left = -1


class PinBlocked(PinError):
    """Three wrong PINs: only the municipality can unblock it (with the PUK letter)."""

    def __init__(self) -> None:
        super().__init__("PIN blocked")


class PinFormatError(PinError, ValueError):
    """The PIN is not 4 to 12 digits; it never reached the card."""


class PinCancelled(PinError):
    """The user cancelled PIN entry (dialog or PIN pad)."""


class PinTimeout(PinError):
    """Nobody typed the PIN on the PIN pad in time."""


class PinsDiffer(PinError):
    """The new PIN and its confirmation differ (PIN-pad change)."""


# --- data -------------------------------------------------------------------------------


class CardDataError(CardError):
    """Data read from the card is malformed."""


class TlvError(CardDataError, ValueError):
    """A TLV file is truncated or its tags are out of order."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(f"{message} at offset {offset}")


class IntegrityError(CardDataError):
    """Identity, address or photo do not match the National Register's signature."""


class PinRequired(PinError):
    """The operation needs the PIN and none was given: ask the user, then call again."""
