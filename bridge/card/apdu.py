"""Command and response APDUs, and the status words the BELPIC applets answer.

Sources: BELPIC applet 1.7 and 1.8 reference manuals, section 6 (status-byte tables);
see ``shared/belpic.md`` section 7.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SW(IntEnum):
    """Status words with a fixed value. ``61xx``, ``63Cx`` and ``6Cxx`` carry a count in SW2
    and are recognised with the helpers below rather than enumerated."""

    OK = 0x9000
    FILE_NOT_ACTIVATED = 0x6283
    NO_PRECISE_DIAGNOSTIC = 0x6400
    EEPROM_CORRUPTED = 0x6581
    WRONG_LENGTH = 0x6700
    WRONG_CLASS_OR_CHANNEL = 0x6881
    RECORD_ON_NON_STRUCTURED = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_METHOD_BLOCKED = 0x6983
    CONDITIONS_OF_USE_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    FORBIDDEN_LOGICAL_CHANNEL = 0x6999
    INCORRECT_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    WRONG_P1P2 = 0x6A86
    LC_INCONSISTENT = 0x6A87
    REFERENCE_NOT_FOUND = 0x6A88
    WRONG_PARAMETERS = 0x6B00
    INS_NOT_AVAILABLE = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


def is_more_data(sw: int) -> bool:
    """``61xx``: xx more bytes are waiting for GET RESPONSE (``00`` means 256)."""
    return sw >> 8 == 0x61


def is_wrong_le(sw: int) -> bool:
    """``6Cxx``: Le was wrong; xx is the length the card has."""
    return sw >> 8 == 0x6C


def is_pin_retry(sw: int) -> bool:
    """``63Cx``: verification failed, x tries left."""
    return sw & 0xFFF0 == 0x63C0


class Ins(IntEnum):
    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_RECORD = 0xB2
    GET_RESPONSE = 0xC0
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    RESET_RETRY_COUNTER = 0x2C
    MANAGE_SECURITY_ENVIRONMENT = 0x22
    PERFORM_SECURITY_OPERATION = 0x2A
    INTERNAL_AUTHENTICATE = 0x88
    GET_CHALLENGE = 0x84
    GET_CARD_DATA = 0xE4
    LOG_OFF = 0xE6
    MANAGE_CHANNEL = 0x70


CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A short (non-extended) command APDU. The BELPIC applets speak T=0 only, so case-4
    commands go out without Le and the data comes back through ``61xx`` + GET RESPONSE."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} out of range: {value}")
        if len(self.data) > 255:
            raise ValueError("short APDUs carry at most 255 data bytes")
        if self.le is not None and not 0 <= self.le <= 256:
            raise ValueError(f"Le out of range: {self.le}")

    def to_bytes(self) -> bytes:
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le & 0xFF,))
        return out

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse a short APDU (used by the emulator). Raises ``ValueError`` on a malformed one."""
        if len(raw) < 4:
            raise ValueError("APDU shorter than its header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0:
            raise ValueError("extended APDUs are not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), le=body[-1] or 256)
        raise ValueError("Lc does not match the APDU length")


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ValueError("response shorter than its status word")
        return cls(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])

    def to_bytes(self) -> bytes:
        return self.data + bytes((self.sw >> 8, self.sw & 0xFF))
