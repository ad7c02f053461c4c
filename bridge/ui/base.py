"""What the daemon asks the user, and the contract every provider (Tk dialog, console,
scripted for tests) fulfils.

The daemon calls a provider from its single card-worker thread and blocks until the user
answers. Every call receives ``cancel``: a :class:`threading.Event` that the daemon sets when
the web page gave up (tab closed, request aborted, timeout); the provider then closes its
dialog and returns as if the user had cancelled. Providers never touch the card and never
keep a PIN after returning it.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class Operation(enum.Enum):
    """Why the daemon asks: decides the dialog's title and wording."""

    AUTHENTICATE = "authenticate"
    """Log in to the site with the card (authentication key, PIN)."""
    SIGN = "sign"
    """Sign a document with the qualified signature key (PIN every time)."""
    IDENTITY = "identity"
    """Give the site the identity, address and photo read from the card (no PIN)."""
    CERTIFICATE = "certificate"
    """Give the site the signature certificate (carries name and national number; no PIN)."""


class KeyChoice(enum.Enum):
    AUTHENTICATION = "authentication"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class OriginApproval:
    """First use of the bridge by a site: may it talk to the bridge at all? Remembered per
    origin until the user revokes it."""

    origin: str
    language: str = "en"


@dataclass(frozen=True)
class ConsentRequest:
    """May ``origin`` do ``operation``? Used alone for operations without PIN (identity,
    certificate) and before a PIN-pad entry; PIN operations on the keyboard get their consent
    from the PIN dialog itself, which shows the same facts."""

    origin: str
    operation: Operation
    language: str = "en"
    label: str | None = None
    """For SIGN: the page's human-readable description of what is signed (untrusted text,
    shown as plain text, never as markup)."""
    digest_hex: str | None = None
    """For SIGN: the hash that will be signed, so a careful user can compare it."""
    holder: str | None = None
    """Card holder's name as printed on the card, when already known."""


@dataclass(frozen=True)
class PinRequest:
    origin: str
    operation: Operation
    key: KeyChoice
    language: str = "en"
    label: str | None = None
    digest_hex: str | None = None
    tries_left: int | None = None
    """Attempts left before the PIN blocks; None when the card cannot tell."""
    previous_error: str | None = None
    """The localised message of the previous attempt (wrong PIN, bad format), shown above
    the field when the user retries."""
    pinpad: bool = False
    """True: the PIN is typed on the reader; the dialog only says so."""

    @property
    def last_try(self) -> bool:
        """A wrong PIN now blocks the card: the dialog warns in bold."""
        return self.tries_left == 1


class UserInterface(Protocol):
    def approve_origin(self, request: OriginApproval, cancel: threading.Event) -> bool:
        """True when the user lets ``request.origin`` use the bridge."""
        ...

    def consent(self, request: ConsentRequest, cancel: threading.Event) -> bool:
        """True when the user agrees to the operation."""
        ...

    def ask_pin(self, request: PinRequest, cancel: threading.Event) -> str | None:
        """The PIN the user typed (digits, unchecked), or None when the user cancelled or
        ``cancel`` was set. Shows ``request.origin`` prominently and, for SIGN, the label."""
        ...

    def pinpad_prompt(
        self, request: PinRequest, cancel: threading.Event
    ) -> contextlib.AbstractContextManager[None]:
        """A notice "type your PIN on the reader" shown while the reader waits for the PIN;
        closed when the context exits."""
        ...


class NullPinpadPrompt:
    """For providers that have nothing to show while the reader waits."""

    @staticmethod
    @contextlib.contextmanager
    def pinpad_prompt(request: PinRequest, cancel: threading.Event) -> Iterator[None]:
        yield
