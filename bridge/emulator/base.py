"""What every virtual card offers to a transport (in-process or vpcd).

The contract lives in the card layer (``bridge.card.local.LocalCard``), which must not
import the emulator; ``VirtualCard`` is its name on this side."""

from __future__ import annotations

from bridge.card.local import LocalCard as VirtualCard

__all__ = ["VirtualCard"]
