"""PIN-pad readers (PC/SC v2 part 10): feature discovery and the VERIFY/MODIFY structures
the official middleware sends for a BELPIC card (``shared/belpic.md`` section 4.8)."""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from enum import IntEnum

from bridge.card.errors import PinCancelled, PinFormatError, PinsDiffer, PinTimeout
from bridge.card.transport import Transport


def scard_ctl_code(code: int) -> int:
    if sys.platform == "win32":
        return (0x31 << 16) | (code << 2)
    return 0x42000000 + code


CM_IOCTL_GET_FEATURE_REQUEST = scard_ctl_code(3400)


class Feature(IntEnum):
    VERIFY_PIN_START = 0x01
    VERIFY_PIN_FINISH = 0x02
    MODIFY_PIN_START = 0x03
    MODIFY_PIN_FINISH = 0x04
    GET_KEY_PRESSED = 0x05
    VERIFY_PIN_DIRECT = 0x06
    MODIFY_PIN_DIRECT = 0x07
    IFD_PIN_PROPERTIES = 0x0A


class PinpadSW(IntEnum):
    """Status words the reader itself produces (not the card)."""

    TIMEOUT = 0x6400
    CANCELLED = 0x6401
    PINS_DIFFER = 0x6402
    WRONG_LENGTH = 0x6403
    PARAMETER_ERROR = 0x6B80


# Values of the official middleware (belpic.md 4.8): 30 s timeouts, BCD left-justified after
# a 4-bit length nibble, PIN of 4 to 12 digits, validation with the OK key.
TIMEOUT_SECONDS = 0x1E
FORMAT_STRING = 0x89
PIN_BLOCK_STRING = 0x47
PIN_LENGTH_FORMAT = 0x04
MIN_DIGITS = 4
MAX_DIGITS = 12
ENTRY_VALIDATION_OK_KEY = 0x02

LANGUAGE_IDS = {"en": 0x0409, "nl": 0x0813, "fr": 0x080C, "de": 0x0407}


def parse_features(tlv: bytes) -> dict[int, int]:
    """GET_FEATURE_REQUEST answer: repeated ``tag 04 <ioctl, 4 bytes big-endian>``."""
    features: dict[int, int] = {}
    offset = 0
    while offset + 6 <= len(tlv):
        tag, length = tlv[offset], tlv[offset + 1]
        if length != 4:
            break
        features[tag] = int.from_bytes(tlv[offset + 2 : offset + 6], "big")
        offset += 6
    return features


def _language(lang: str) -> bytes:
    # The reader reads wLangId as a little-endian USHORT (PC/SC part 10 structures are LE).
    return struct.pack("<H", LANGUAGE_IDS.get(lang, LANGUAGE_IDS["en"]))


def verify_structure(lang: str = "en") -> bytes:
    """PIN_VERIFY_STRUCTURE for ``00 20 00 01 08 <block>``: the reader fills in the digits."""
    apdu = bytes.fromhex("0020000108") + bytes([0x20]) + b"\xff" * 7
    return (
        bytes(
            [TIMEOUT_SECONDS, TIMEOUT_SECONDS, FORMAT_STRING, PIN_BLOCK_STRING, PIN_LENGTH_FORMAT]
        )
        + struct.pack("<H", (MIN_DIGITS << 8) | MAX_DIGITS)
        + bytes([ENTRY_VALIDATION_OK_KEY, 0x01])
        + _language(lang)
        + bytes([0x00])  # bMsgIndex
        + b"\x00\x00\x00"  # bTeoPrologue
        + struct.pack("<I", len(apdu))
        + apdu
    )


def modify_structure(lang: str = "en") -> bytes:
    """PIN_MODIFY_STRUCTURE for ``00 24 00 01 10 <old block> <new block>``."""
    block = bytes([0x20]) + b"\xff" * 7
    apdu = bytes.fromhex("0024000110") + block + block
    return (
        bytes(
            [TIMEOUT_SECONDS, TIMEOUT_SECONDS, FORMAT_STRING, PIN_BLOCK_STRING, PIN_LENGTH_FORMAT]
        )
        + bytes([0x00, 0x08])  # bInsertionOffsetOld, bInsertionOffsetNew
        + struct.pack("<H", (MIN_DIGITS << 8) | MAX_DIGITS)
        + bytes([0x03, ENTRY_VALIDATION_OK_KEY, 0x03])  # confirm new PIN; 3 messages
        + _language(lang)
        + bytes([0x00, 0x01, 0x02])
        + b"\x00\x00\x00"
        + struct.pack("<I", len(apdu))
        + apdu
    )


@dataclass(frozen=True)
class PinpadCapabilities:
    verify_ioctl: int | None
    modify_ioctl: int | None

    @property
    def can_verify(self) -> bool:
        return self.verify_ioctl is not None


NO_PINPAD = PinpadCapabilities(None, None)


def detect(transport: Transport) -> PinpadCapabilities:
    """Ask the reader which part 10 features it has. Readers and stacks that do not support
    SCardControl are reported as having no PIN pad, never as an error."""
    try:
        answer = transport.control(CM_IOCTL_GET_FEATURE_REQUEST, b"")
    except Exception:  # any refusal of the control channel means "no PIN pad"
        return NO_PINPAD
    features = parse_features(answer)
    return PinpadCapabilities(
        features.get(Feature.VERIFY_PIN_DIRECT), features.get(Feature.MODIFY_PIN_DIRECT)
    )


def raise_for_reader_sw(sw: int) -> None:
    """Turn the reader's own status words into PIN errors; card SWs pass through."""
    if sw == PinpadSW.TIMEOUT:
        raise PinTimeout("nobody typed the PIN on the reader in time")
    if sw == PinpadSW.CANCELLED:
        raise PinCancelled("PIN entry cancelled on the reader")
    if sw == PinpadSW.PINS_DIFFER:
        raise PinsDiffer("the new PIN and its confirmation differ")
    if sw == PinpadSW.WRONG_LENGTH:
        raise PinFormatError("the PIN typed on the reader has the wrong length")
    if sw == PinpadSW.PARAMETER_ERROR:
        raise PinFormatError("the reader refused the PIN-pad parameters")
