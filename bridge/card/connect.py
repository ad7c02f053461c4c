"""Choosing the card to talk to: the preferred reader, else the first reader with a card."""

from __future__ import annotations

from bridge.card.errors import NoCard, NoReader, ReaderNotFound
from bridge.card.pcsc import PcscContext, PcscTransport
from bridge.card.readers import ReaderState, list_readers


def choose_reader(readers: list[ReaderState], preferred: str | None = None) -> ReaderState:
    if not readers:
        raise NoReader("no smart-card reader is connected")
    if preferred is not None:
        for reader in readers:
            if reader.name == preferred:
                if not reader.card_present:
                    raise NoCard(f"{preferred}: no card")
                return reader
        raise ReaderNotFound(f"reader '{preferred}' is not connected")
    for reader in readers:
        if reader.card_present:
            return reader
    raise NoCard("no reader holds a card")


def open_card(preferred: str | None = None, *, connect_delay: float = 0.0) -> PcscTransport:
    context = PcscContext()
    try:
        reader = choose_reader(list_readers(context), preferred)
    finally:
        context.close()
    return PcscTransport(reader.name, connect_delay=connect_delay)
