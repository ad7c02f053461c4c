"""The byte pipe between the host and a card: one interface, two implementations
(``pcsc.PcscTransport`` through pyscard, ``local.LocalTransport`` to an in-process card)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager


class Transport(abc.ABC):
    """A connection to one card in one reader.

    ``transmit`` sends one raw command APDU and returns the raw response (data + SW1 SW2);
    it does not follow ``61xx``/``6Cxx``: that is the protocol layer's job.
    """

    reader: str

    @property
    @abc.abstractmethod
    def atr(self) -> bytes: ...

    @abc.abstractmethod
    def transmit(self, apdu: bytes) -> bytes: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the card exclusively for a multi-APDU operation (PC/SC SCardBeginTransaction),
        so that no other application slips an APDU between VERIFY and PSO:CDS."""
        yield

    def control(self, code: int, data: bytes) -> bytes:
        """SCardControl to the reader (PIN-pad features). Readers without it raise."""
        raise NotImplementedError("this transport has no reader control channel")

    def reconnect(self, *, reset: bool = False) -> None:  # noqa: B027 - optional hook
        """Re-attach after a reset by another application (or reset the card ourselves)."""

    def is_present(self) -> bool:
        """Whether this connection still reaches the card it was opened on, asked of the
        reader without sending an APDU (a pulled or swapped card answers False)."""
        return True

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
