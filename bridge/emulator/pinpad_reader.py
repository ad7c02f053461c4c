"""An emulated PIN-pad reader (PC/SC v2 part 10, CCID secure PIN entry) for the in-process
transport.

The reader answers ``SCardControl`` as a class-2 CCID reader driven by pcsc-lite does:

* ``CM_IOCTL_GET_FEATURE_REQUEST`` -> the TLV feature list, ``tag 04 <ioctl, 4 bytes BE>``
  for FEATURE_VERIFY_PIN_DIRECT (06) and FEATURE_MODIFY_PIN_DIRECT (07) (PC/SC part 10 §2.2;
  ``shared/belpic.md`` §4.8);
* the VERIFY ioctl -> parses the PIN_VERIFY_STRUCTURE (part 10 §2.5.2), takes the digits from
  a scripted keypad, inserts them into the APDU template the way the CCID specification
  describes (PIN length in its bit field, digits BCD or ASCII at the PIN position, left or
  right justified), sends the APDU to the card in the reader and returns the card's answer;
* the MODIFY ioctl -> the same with PIN_MODIFY_STRUCTURE (part 10 §2.5.3): current PIN, new PIN
  and its confirmation, each inserted at its offset.

The reader's own status words (``bridge.card.pinpad.PinpadSW``): ``6400`` nobody typed in time,
``6401`` cancelled, ``6402`` new PIN and confirmation differ, ``6403`` PIN too short or too
long, ``6B80`` a structure the reader cannot execute.

Choices where the specifications leave room:

* A PIN with fewer than the minimum or more than the maximum digits answers ``6403`` and
  nothing reaches the card (some real readers stop accepting keys at the maximum instead).
* An entry the keypad does not provide (empty script, no keypad) counts as a timeout.
* Only BCD and ASCII PIN types are executed; a binary PIN type answers ``6B80``.

The digits never leave this object except inside the APDU sent to the card: nothing is logged,
and neither ``repr`` nor the recorded prompts and requests contain them.

Usage::

    pad = PinpadReader(keypad=lambda prompt: "1234")
    reader = pad.create_reader()          # LocalReader(control=pad.control), attached
    reader.insert(applet)
"""

from __future__ import annotations

import enum
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bridge.card import pinpad
from bridge.card.apdu import SW
from bridge.card.errors import CardMute, CardRemoved, TransportError
from bridge.card.local import LocalReader

CLASS2_IOCTL_MAGIC = 0x330000
"""pcsc-lite's CCID driver numbers its part-10 ioctls ``SCARD_CTL_CODE(0x330000 + tag)``."""

VERIFY_IOCTL = 0x42000000 + CLASS2_IOCTL_MAGIC + pinpad.Feature.VERIFY_PIN_DIRECT
MODIFY_IOCTL = 0x42000000 + CLASS2_IOCTL_MAGIC + pinpad.Feature.MODIFY_PIN_DIRECT

VERIFY_HEADER = struct.Struct("<BBBBBHBBHB3sI")
"""PIN_VERIFY_STRUCTURE up to abData: bTimerOut, bTimerOut2, bmFormatString,
bmPINBlockString, bmPINLengthFormat, wPINMaxExtraDigit, bEntryValidationCondition,
bNumberMessage, wLangId, bMsgIndex, bTeoPrologue, ulDataLength (19 bytes, little-endian)."""
MODIFY_HEADER = struct.Struct("<BBBBBBBHBBBHBBB3sI")
"""PIN_MODIFY_STRUCTURE up to abData (24 bytes): as VERIFY plus bInsertionOffsetOld,
bInsertionOffsetNew, bConfirmPIN and three message indexes."""

APDU_HEADER = 5
"""CLA INS P1 P2 Lc: the PIN positions count from the first byte after Lc."""

PIN_TYPE_BINARY = 0x00
PIN_TYPE_BCD = 0x01
PIN_TYPE_ASCII = 0x02

CONFIRM_NEW_PIN = 0x01
"""bConfirmPIN bit 0: the new PIN is typed twice."""
ASK_CURRENT_PIN = 0x02
"""bConfirmPIN bit 1: the current PIN is typed first."""


class KeypadAction(enum.Enum):
    """What the user did instead of typing digits and OK."""

    CANCEL = "cancel"
    TIMEOUT = "timeout"


KeyEntry = str | KeypadAction
"""One PIN entry on the keypad: the digits confirmed with OK, or an action."""


class PinPurpose(enum.Enum):
    VERIFY = "verify"
    CURRENT = "current PIN"
    NEW = "new PIN"
    CONFIRM = "confirm new PIN"


@dataclass(frozen=True)
class PinPrompt:
    """What the reader's display asks for (it never carries digits)."""

    purpose: PinPurpose
    min_digits: int
    max_digits: int
    timeout_seconds: int
    """bTimerOut; 0 means the reader's default."""
    lang_id: int
    message_index: int


Keypad = Callable[[PinPrompt], KeyEntry]


class StructureError(ValueError):
    """The PIN_VERIFY/MODIFY_STRUCTURE is malformed or asks for something this reader cannot
    do (answered ``6B80``)."""


@dataclass(frozen=True)
class PinFormat:
    """The fields common to both structures (CCID §6.1.11, PC/SC part 10 §2.5)."""

    timeout: int
    timeout2: int
    format_string: int
    pin_block_string: int
    pin_length_format: int
    min_digits: int
    max_digits: int
    entry_validation: int

    @property
    def units_in_bytes(self) -> bool:
        """bmFormatString bit 7 (bmSysUnits): PIN position in bytes (1) or bits (0)."""
        return bool(self.format_string & 0x80)

    @property
    def pin_position(self) -> int:
        """bmFormatString bits 6-3, in system units, after the insertion offset."""
        return (self.format_string >> 3) & 0x0F

    @property
    def right_justified(self) -> bool:
        return bool(self.format_string & 0x04)

    @property
    def pin_type(self) -> int:
        return self.format_string & 0x03

    @property
    def length_field_bits(self) -> int:
        """bmPINBlockString bits 7-4: size of the PIN length field, in bits (0: none)."""
        return self.pin_block_string >> 4

    @property
    def block_bytes(self) -> int:
        """bmPINBlockString bits 3-0: size of the PIN area after formatting, in bytes."""
        return self.pin_block_string & 0x0F

    @property
    def length_position_bits(self) -> int:
        """bmPINLengthFormat: bits 3-0 position of the length field, in bits or (bit 4
        set) in bytes."""
        position = self.pin_length_format & 0x0F
        return position * 8 if self.pin_length_format & 0x10 else position

    @property
    def pin_position_bits(self) -> int:
        return self.pin_position * 8 if self.units_in_bytes else self.pin_position

    def check(self, data_bytes: int, insertion_offsets: Iterable[int]) -> None:
        """Refuse what a reader cannot execute against an APDU with ``data_bytes`` after Lc."""
        if self.pin_type not in (PIN_TYPE_BCD, PIN_TYPE_ASCII):
            raise StructureError("only BCD and ASCII PIN types are supported")
        if not 0 < self.min_digits <= self.max_digits:
            raise StructureError("wPINMaxExtraDigit: minimum above maximum")
        if self.entry_validation == 0:
            raise StructureError("bEntryValidationCondition names no way to end the entry")
        digit_bits = 4 if self.pin_type == PIN_TYPE_BCD else 8
        if self.max_digits * digit_bits > self.block_bytes * 8:
            raise StructureError("the PIN block cannot hold the maximum number of digits")
        for offset in insertion_offsets:
            start = offset * 8
            pin_end = start + self.pin_position_bits + self.block_bytes * 8
            length_end = start + self.length_position_bits + self.length_field_bits
            if max(pin_end, length_end) > data_bytes * 8:
                raise StructureError("the PIN block lies outside the APDU data")


@dataclass(frozen=True)
class VerifyRequest:
    """A parsed PIN_VERIFY_STRUCTURE (PC/SC part 10 §2.5.2)."""

    pin_format: PinFormat
    number_message: int
    lang_id: int
    msg_index: int
    teo_prologue: bytes
    apdu_template: bytes


@dataclass(frozen=True)
class ModifyRequest:
    """A parsed PIN_MODIFY_STRUCTURE (PC/SC part 10 §2.5.3)."""

    pin_format: PinFormat
    insertion_offset_old: int
    insertion_offset_new: int
    confirm_pin: int
    number_message: int
    lang_id: int
    msg_indexes: tuple[int, int, int]
    teo_prologue: bytes
    apdu_template: bytes


def _template(raw: bytes, announced: int) -> bytes:
    if announced != len(raw):
        raise StructureError("ulDataLength does not match the APDU that follows")
    if len(raw) <= APDU_HEADER or raw[4] != len(raw) - APDU_HEADER:
        raise StructureError("the APDU template is not a short case-3 command")
    return raw


def _min_max(extra_digit: int) -> tuple[int, int]:
    """wPINMaxExtraDigit ``XXYY``: XX minimum, YY maximum number of digits."""
    return extra_digit >> 8, extra_digit & 0xFF


def parse_verify_structure(data: bytes) -> VerifyRequest:
    if len(data) < VERIFY_HEADER.size:
        raise StructureError("PIN_VERIFY_STRUCTURE too short")
    (
        timeout,
        timeout2,
        format_string,
        block_string,
        length_format,
        extra_digit,
        validation,
        number_message,
        lang_id,
        msg_index,
        prologue,
        data_length,
    ) = VERIFY_HEADER.unpack_from(data)
    minimum, maximum = _min_max(extra_digit)
    pin_format = PinFormat(
        timeout,
        timeout2,
        format_string,
        block_string,
        length_format,
        minimum,
        maximum,
        validation,
    )
    apdu = _template(bytes(data[VERIFY_HEADER.size :]), data_length)
    pin_format.check(len(apdu) - APDU_HEADER, [0])
    return VerifyRequest(pin_format, number_message, lang_id, msg_index, prologue, apdu)


def parse_modify_structure(data: bytes) -> ModifyRequest:
    if len(data) < MODIFY_HEADER.size:
        raise StructureError("PIN_MODIFY_STRUCTURE too short")
    (
        timeout,
        timeout2,
        format_string,
        block_string,
        length_format,
        offset_old,
        offset_new,
        extra_digit,
        confirm,
        validation,
        number_message,
        lang_id,
        index1,
        index2,
        index3,
        prologue,
        data_length,
    ) = MODIFY_HEADER.unpack_from(data)
    minimum, maximum = _min_max(extra_digit)
    pin_format = PinFormat(
        timeout,
        timeout2,
        format_string,
        block_string,
        length_format,
        minimum,
        maximum,
        validation,
    )
    apdu = _template(bytes(data[MODIFY_HEADER.size :]), data_length)
    offsets = [offset_new, offset_old] if confirm & ASK_CURRENT_PIN else [offset_new]
    pin_format.check(len(apdu) - APDU_HEADER, offsets)
    return ModifyRequest(
        pin_format,
        offset_old,
        offset_new,
        confirm,
        number_message,
        lang_id,
        (index1, index2, index3),
        prologue,
        apdu,
    )


def _write_bits(buffer: bytearray, bit_offset: int, width: int, value: int) -> None:
    """Write ``value`` as a ``width``-bit big-endian field starting ``bit_offset`` bits into
    ``buffer`` (bit 0 = most significant bit of byte 0)."""
    for index in range(width):
        bit = (value >> (width - 1 - index)) & 1
        position = bit_offset + index
        mask = 0x80 >> (position % 8)
        if bit:
            buffer[position // 8] |= mask
        else:
            buffer[position // 8] &= ~mask & 0xFF


def insert_pin(apdu: bytes, pin_format: PinFormat, digits: str, insertion_offset: int = 0) -> bytes:
    """The APDU with ``digits`` formatted into it as a CCID reader does: the PIN length in its
    bit field, the digits (BCD nibbles or ASCII bytes) at the PIN position, left or right
    justified within the PIN block; the other bits of the block keep the template's value
    (the ``F`` padding of the BELPIC block)."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("a keypad only has digits")
    data = bytearray(apdu[APDU_HEADER:])
    base = insertion_offset * 8
    if pin_format.length_field_bits:
        _write_bits(
            data,
            base + pin_format.length_position_bits,
            pin_format.length_field_bits,
            len(digits),
        )
    width = 4 if pin_format.pin_type == PIN_TYPE_BCD else 8
    start = base + pin_format.pin_position_bits
    if pin_format.right_justified:
        start += pin_format.block_bytes * 8 - len(digits) * width
    for index, char in enumerate(digits):
        value = int(char) if width == 4 else ord(char)
        _write_bits(data, start + index * width, width, value)
    return bytes(apdu[:APDU_HEADER]) + bytes(data)


def _sw(sw: int) -> bytes:
    return bytes((sw >> 8, sw & 0xFF))


class _Refused(Exception):
    """Internal: end the PIN entry with this reader status word."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class PinpadReader:
    """The PIN pad and firmware of a CCID reader; the card slot is a ``LocalReader``.

    Digits come from ``keypad`` when one is set, otherwise from the entries queued with
    ``type``. ``prompts`` and ``requests`` record what the reader showed and what structures
    it received, for tests; they never hold digits.
    """

    def __init__(
        self,
        reader: LocalReader | None = None,
        *,
        keypad: Keypad | None = None,
        verify: bool = True,
        modify: bool = True,
        verify_ioctl: int = VERIFY_IOCTL,
        modify_ioctl: int = MODIFY_IOCTL,
    ) -> None:
        self._reader = reader
        self.keypad = keypad
        self.verify_ioctl = verify_ioctl if verify else None
        self.modify_ioctl = modify_ioctl if modify else None
        self._entries: deque[KeyEntry] = deque()
        self._lock = threading.Lock()
        self.prompts: list[PinPrompt] = []
        self.requests: list[VerifyRequest | ModifyRequest] = []
        self.control_codes: list[int] = []

    def __repr__(self) -> str:
        return (
            f"PinpadReader(verify_ioctl={self.verify_ioctl!r}, modify_ioctl={self.modify_ioctl!r}, "
            f"queued_entries={len(self._entries)})"
        )

    # -- wiring ----------------------------------------------------------------------------

    def attach(self, reader: LocalReader) -> None:
        """The card slot this PIN pad sends its APDUs to."""
        self._reader = reader

    def create_reader(self, name: str = "Virtual PIN-pad reader") -> LocalReader:
        """A ``LocalReader`` whose control channel is this PIN pad, already attached."""
        reader = LocalReader(name, control=self.control)
        self.attach(reader)
        return reader

    # -- the keypad script -----------------------------------------------------------------

    def type(self, *entries: KeyEntry) -> None:
        """Queue what the user will do at the next prompts (digits, CANCEL, TIMEOUT)."""
        with self._lock:
            self._entries.extend(entries)

    @property
    def queued_entries(self) -> int:
        return len(self._entries)

    def _entry(self, prompt: PinPrompt) -> str:
        self.prompts.append(prompt)
        if self.keypad is not None:
            entry: KeyEntry = self.keypad(prompt)
        else:
            with self._lock:
                entry = self._entries.popleft() if self._entries else KeypadAction.TIMEOUT
        if entry is KeypadAction.CANCEL:
            raise _Refused(pinpad.PinpadSW.CANCELLED)
        if entry is KeypadAction.TIMEOUT:
            raise _Refused(pinpad.PinpadSW.TIMEOUT)
        if not isinstance(entry, str) or (entry and not (entry.isascii() and entry.isdigit())):
            raise ValueError("a keypad entry is digits, CANCEL or TIMEOUT")
        if not prompt.min_digits <= len(entry) <= prompt.max_digits:
            raise _Refused(pinpad.PinpadSW.WRONG_LENGTH)
        return entry

    @staticmethod
    def _prompt(
        purpose: PinPurpose, pin_format: PinFormat, lang_id: int, message_index: int
    ) -> PinPrompt:
        return PinPrompt(
            purpose,
            pin_format.min_digits,
            pin_format.max_digits,
            pin_format.timeout,
            lang_id,
            message_index,
        )

    # -- SCardControl ----------------------------------------------------------------------

    def features(self) -> bytes:
        """The GET_FEATURE_REQUEST answer."""
        out = b""
        for tag, ioctl in (
            (pinpad.Feature.VERIFY_PIN_DIRECT, self.verify_ioctl),
            (pinpad.Feature.MODIFY_PIN_DIRECT, self.modify_ioctl),
        ):
            if ioctl is not None:
                out += bytes((tag, 4)) + ioctl.to_bytes(4, "big")
        return out

    def control(self, code: int, data: bytes) -> bytes:
        """``SCardControl(code, data)``; for the PIN ioctls the answer is the card's response
        (SW1 SW2) or the reader's own status word."""
        self.control_codes.append(code)
        if code == pinpad.CM_IOCTL_GET_FEATURE_REQUEST:
            return self.features()
        if self.verify_ioctl is not None and code == self.verify_ioctl:
            return self._verify(bytes(data))
        if self.modify_ioctl is not None and code == self.modify_ioctl:
            return self._modify(bytes(data))
        raise TransportError(f"the reader does not support control code {code:#010x}")

    def _verify(self, data: bytes) -> bytes:
        try:
            request = parse_verify_structure(data)
        except StructureError:
            return _sw(pinpad.PinpadSW.PARAMETER_ERROR)
        self.requests.append(request)
        self._check_card()
        prompt = self._prompt(
            PinPurpose.VERIFY, request.pin_format, request.lang_id, request.msg_index
        )
        try:
            digits = self._entry(prompt)
        except _Refused as refused:
            return _sw(refused.sw)
        return self._transmit(insert_pin(request.apdu_template, request.pin_format, digits))

    def _modify(self, data: bytes) -> bytes:
        try:
            request = parse_modify_structure(data)
        except StructureError:
            return _sw(pinpad.PinpadSW.PARAMETER_ERROR)
        self.requests.append(request)
        self._check_card()
        pin_format = request.pin_format
        index_old, index_new, index_confirm = request.msg_indexes
        apdu = request.apdu_template
        try:
            if request.confirm_pin & ASK_CURRENT_PIN:
                current = self._entry(
                    self._prompt(PinPurpose.CURRENT, pin_format, request.lang_id, index_old)
                )
                apdu = insert_pin(apdu, pin_format, current, request.insertion_offset_old)
            new = self._entry(self._prompt(PinPurpose.NEW, pin_format, request.lang_id, index_new))
            if request.confirm_pin & CONFIRM_NEW_PIN:
                again = self._entry(
                    self._prompt(PinPurpose.CONFIRM, pin_format, request.lang_id, index_confirm)
                )
                if again != new:
                    raise _Refused(pinpad.PinpadSW.PINS_DIFFER)
        except _Refused as refused:
            return _sw(refused.sw)
        apdu = insert_pin(apdu, pin_format, new, request.insertion_offset_new)
        return self._transmit(apdu)

    # -- the card slot ---------------------------------------------------------------------

    def _slot(self) -> LocalReader:
        if self._reader is None:
            raise TransportError("the PIN pad is not attached to a reader")
        return self._reader

    def _check_card(self) -> None:
        """A reader refuses a secure PIN entry when its slot is empty or the card is mute."""
        reader = self._slot()
        with reader.lock:
            if reader.card is None:
                raise CardRemoved(f"{reader.name}: no card in the slot")
            if reader.mute:
                raise CardMute(f"{reader.name}: the card does not answer")

    def _transmit(self, apdu: bytes) -> bytes:
        """Send the completed APDU to the card, with the slot's fault injection."""
        reader = self._slot()
        with reader.lock:
            response = reader.apply_faults(apdu).process(apdu)
        if len(response) < 2:
            return _sw(SW.NO_PRECISE_DIAGNOSTIC)
        return response


__all__ = [
    "MODIFY_IOCTL",
    "VERIFY_IOCTL",
    "KeyEntry",
    "Keypad",
    "KeypadAction",
    "ModifyRequest",
    "PinFormat",
    "PinPrompt",
    "PinPurpose",
    "PinpadReader",
    "StructureError",
    "VerifyRequest",
    "insert_pin",
    "parse_modify_structure",
    "parse_verify_structure",
]
