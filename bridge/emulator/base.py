"""What every virtual card offers to a transport (in-process or vpcd)."""

from __future__ import annotations

from typing import Protocol


class VirtualCard(Protocol):
    """A card as a reader sees it: power, reset, ATR, one APDU in and one response out.

    ``process`` takes a raw short command APDU and returns response data followed by SW1 SW2,
    exactly what a T=0 card returns through a reader (``61xx`` included).
    """

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> bytes:
        """Cold reset: the volatile state is lost; returns the ATR."""
        ...

    def power_off(self) -> None: ...

    def reset(self) -> bytes:
        """Warm reset: volatile state lost; returns the ATR."""
        ...

    def process(self, apdu: bytes) -> bytes: ...
