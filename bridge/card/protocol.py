"""The BELPIC protocol layer: sends APDUs, follows ``61xx``/``6Cxx`` as T=0 requires, and
turns status words into typed errors.

Sources: applet manuals 1.7/1.8 section 6.1 (GET RESPONSE), READ BINARY status words;
``shared/belpic.md`` sections 2.7 and 7.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.card.apdu import (
    SW,
    CommandApdu,
    Ins,
    ResponseApdu,
    is_more_data,
    is_pin_retry,
    is_wrong_le,
)
from bridge.card.errors import (
    ApduError,
    CardError,
    ConditionsNotSatisfied,
    FileNotFound,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    SecurityStatusNotSatisfied,
)
from bridge.card.transport import Transport

# OpenSC waits 40 ms and eid-mw 50 ms before re-sending after 6Cxx, because early applets
# (V1.0/1.1) do not answer a command that follows too quickly. Later applets need no delay.
SLOW_APPLET_RESEND_DELAY = 0.05
MAX_CHAINED_RESPONSES = 64  # a 16 kB answer; nothing the applet sends is larger


@dataclass
class ApduStats:
    """What went over the wire; the benchmarks and the diagnostics read it."""

    apdus: int = 0
    bytes_out: int = 0
    bytes_in: int = 0

    def reset(self) -> None:
        self.apdus = self.bytes_out = self.bytes_in = 0


def error_for(sw: int, command: str) -> CardError:
    """The one table from a status word to the error the caller can act on."""
    if is_pin_retry(sw):
        return PinIncorrect(sw & 0x0F)
    if sw == SW.AUTHENTICATION_METHOD_BLOCKED:
        return PinBlocked()
    if sw == SW.FILE_NOT_FOUND:
        return FileNotFound(sw, command)
    if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
        return SecurityStatusNotSatisfied(sw, command)
    if sw == SW.CONDITIONS_OF_USE_NOT_SATISFIED:
        return ConditionsNotSatisfied(sw, command)
    if sw == SW.INCORRECT_DATA and command in {"VERIFY", "CHANGE REFERENCE DATA"}:
        return PinFormatError("the card refused the PIN format")
    return ApduError(sw, command)


class BelpicProtocol:
    """APDU exchange with the response rules of a T=0 card."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.stats = ApduStats()
        self.resend_delay = 0.0

    def _exchange(self, apdu: bytes) -> ResponseApdu:
        raw = self.transport.transmit(apdu)
        self.stats.apdus += 1
        self.stats.bytes_out += len(apdu)
        self.stats.bytes_in += len(raw)
        return ResponseApdu.from_bytes(raw)

    def send(self, command: CommandApdu) -> ResponseApdu:
        """Send ``command``; collect chained data; return the final status word unraised."""
        response = self._exchange(command.to_bytes())
        if is_wrong_le(response.sw) and command.le is not None:
            if self.resend_delay:
                time.sleep(self.resend_delay)
            retry = CommandApdu(
                command.cla,
                command.ins,
                command.p1,
                command.p2,
                command.data,
                le=response.sw2 or 256,
            )
            response = self._exchange(retry.to_bytes())
        data = response.data
        chained = 0
        while is_more_data(response.sw):
            chained += 1
            if chained > MAX_CHAINED_RESPONSES:
                raise ApduError(response.sw, "GET RESPONSE (endless chaining)")
            get = CommandApdu(0x00, Ins.GET_RESPONSE, 0, 0, le=response.sw2 or 256)
            response = self._exchange(get.to_bytes())
            data += response.data
        return ResponseApdu(data, response.sw)

    def call(self, command: CommandApdu, name: str) -> bytes:
        """Send ``command`` and return its data, or raise the typed error for its SW."""
        response = self.send(command)
        if response.sw != SW.OK:
            raise error_for(response.sw, name)
        return response.data
