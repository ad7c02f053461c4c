"""The BELPIC applet, card side: a virtual Belgian eID (applet 1.7 RSA-2048 or 1.8 ECDSA P-384).

One ``BelpicApplet`` runs one ``CardProfile`` and answers raw command APDUs exactly as the
card does through a T=0 reader: case-4 commands (PSO:CDS, INTERNAL AUTHENTICATE) answer
``61xx`` and the data comes back through GET RESPONSE; a case-2 command with the wrong Le
answers ``6Cxx``. Sources are cited as M17/M18 (applet reference manuals 1.7/1.8, section
numbers), C17/C18 (card-content documents) and ``shared/belpic.md`` (section numbers).

Behaviour the manuals leave open, and what this emulator does (also in the report of the
change that added it):

* READ RECORD on 1.7, INTERNAL AUTHENTICATE on 1.7, GET CHALLENGE, RESET RETRY COUNTER on 1.7:
  not in the 1.7 command table (M17 Table 7) -> ``6D00``. RESET RETRY COUNTER on 1.8 needs the
  administration role (M18 §3.1), never available here -> ``6982``.
* VERIFY with Lc other than 0 or 8 -> ``6700``, rights untouched. A malformed PIN block ->
  ``6A80`` without a decrement. The wrong PIN that brings the counter to 0 answers ``63C0``;
  from then on VERIFY/CHANGE answer ``6983``.
* GET CARD DATA with Le > length -> ``6C<length>``; Le < length -> the first Le bytes and
  ``61<rest>`` (what the minidriver accepts, belpic.md §1.2).
* MSE:SET that fails clears the security environment. Key ``81`` is accepted on 1.8 (commons-eid
  sets it before INTERNAL AUTHENTICATE) but PSO:CDS with it answers ``6982`` (access NEV).
* "PIN just before" on 1.8: the one command allowed between VERIFY and PSO:CDS may be anything
  but VERIFY, CHANGE REFERENCE DATA, PSO:CDS, MSE:SET, INTERNAL AUTHENTICATE and LOG OFF (the
  commands that use or reset the PIN or the SE, M18 §5.1.2 footnote). GET RESPONSE is answered
  by the card runtime and does not count as a command.
* Re-selecting the applet by AID makes the MF current again and keeps the PIN state and SE; a
  SELECT with an empty AID selects the card manager (M18 §6.6 footnote), after which only a
  SELECT of the applet AID is answered (others: ``6D00``, SELECT of another AID: ``6A82``).
* Wrong CLA -> ``6E00``; a logical channel in CLA -> ``6881``; SELECT by AID on another
  channel and MANAGE CHANNEL (open) -> ``6999`` (M18 §6.2.1: Belpic refuses other channels).
* Case-4 commands are also accepted with an Le byte (a non-T=0 client): the card still
  answers ``61xx``. Case-3 commands ignore a trailing Le.
* The INTERNAL AUTHENTICATE counter lives on this object (the profile has no field for it):
  a new ``BelpicApplet`` for the same profile starts again from 0.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from bridge.card.apdu import CLA_ISO, CLA_PROPRIETARY, SW, CommandApdu, Ins
from bridge.card.constants import (
    BELPIC_APPLET_AID,
    DF_BELPIC,
    DF_ID,
    ID_DF_AID,
    MF,
    PIN_REFERENCE,
    PKCS15_AID,
    AppletVersion,
    EcAlgorithm,
    FileId,
    KeyRef,
    RsaAlgorithm,
)
from bridge.emulator.profile import CardProfile

_log = logging.getLogger(__name__)

PIN_BLOCK_LENGTH = 8
MAX_SHORT_RESPONSE = 256

_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")
_MD5_DIGEST_INFO = bytes.fromhex("3020300c06082a864886f70d020505000410")
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

RSA_ALGORITHMS_1_7 = frozenset(RsaAlgorithm)
"""M17 Table 11; 1.1 had only 01/02/04 (belpic.md §5.3), not emulated here."""
EC_ALGORITHMS_1_8 = frozenset(EcAlgorithm)
"""M18 Table 14."""

EC_DTBS_LENGTHS: dict[int, frozenset[int]] = {
    EcAlgorithm.ECDSA_SHA256: frozenset({32}),
    EcAlgorithm.ECDSA_SHA3_256: frozenset({32}),
    EcAlgorithm.ECDSA_SHA384: frozenset({48}),
    EcAlgorithm.ECDSA_SHA3_384: frozenset({48}),
    EcAlgorithm.ECDSA_SHA512: frozenset({64}),
    EcAlgorithm.ECDSA_SHA3_512: frozenset({64}),
    EcAlgorithm.ECDSA_RAW: frozenset({20, 28, 32, 48, 64}),
}
"""M18 Table 42: Lc of PSO:CDS per algorithm reference."""

_INTERNAL_AUTH_PARAMETERS = {256: (0x01, 32), 384: (0x02, 48), 512: (0x04, 64), 521: (0x04, 64)}
"""M18 §6.11: (P1, challenge length) per basic-key size (P-521 uses SHA-512)."""

_PREHASHED_BY_LENGTH: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    20: hashes.SHA1,
    28: hashes.SHA224,
    32: hashes.SHA256,
    48: hashes.SHA384,
    64: hashes.SHA512,
}
"""The card signs an off-card hash and knows only its length: any hash of that size will do
for cryptography's ``Prehashed``."""


class SelectedApplication(enum.Enum):
    """Which application the basic channel talks to."""

    BELPIC = "belpic"
    CARD_MANAGER = "card manager"


class AccessEvent(enum.Enum):
    """How the PIN access-condition machine sees a command (M17/M18 §5.1)."""

    VERIFY_OK = "verify ok"
    PIN_FAILED = "pin failed"
    SIGN_AUTH = "sign auth"
    SIGN_NON_REPUDIATION = "sign non-rep"
    RESETTING = "resetting"
    """Uses or resets PIN/SE: MSE:SET, INTERNAL AUTHENTICATE, LOG OFF, VERIFY status query."""
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SecurityEnvironment:
    algorithm: int
    key: KeyRef


class StatusWordError(Exception):
    """Internal control flow: abort the command with this status word."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class PinRights:
    """The PINcardholder access rights of M17/M18 §5.1.

    A successful VERIFY is *pending* until it is known what it was for: if the next command
    (1.7), or the next command after at most one allowed command (1.8), is a non-repudiation
    signature, it was a "non-repudiation VERIFY" and is consumed by that signature; otherwise
    it becomes the "PIN once" right (``established``) that the authentication key and every
    CHV-protected command use until reset, LOG OFF or a wrong PIN ("PIN mixed" mode: a VERIFY
    directly followed by a non-repudiation signature never opens the authentication key).
    """

    def __init__(self, window: int) -> None:
        self._window = window
        """Allowed commands between VERIFY and the non-repudiation PSO:CDS (0 on 1.7, 1 on 1.8)."""
        self.established = False
        self._pending_age: int | None = None

    def clear(self) -> None:
        self.established = False
        self._pending_age = None

    @property
    def pending(self) -> bool:
        return self._pending_age is not None

    @property
    def verified(self) -> bool:
        """What VERIFY with Lc=0 reports as "PIN verified"."""
        return self.established or self.pending

    def may_sign(self, key: KeyRef) -> bool:
        if key is KeyRef.NON_REPUDIATION:
            return self.pending
        if key is KeyRef.AUTHENTICATION:
            return self.established or self.pending
        return False  # basic key: PSO:CDS access NEV (M18 Table 4)

    def before(self, command: AccessEvent) -> None:
        """Age or settle a pending VERIFY before ``command`` runs."""
        if self._pending_age is None or command is AccessEvent.SIGN_NON_REPUDIATION:
            return
        if command is AccessEvent.OTHER and self._pending_age < self._window:
            self._pending_age += 1
            return
        self._settle_as_authentication()

    def after(self, command: AccessEvent) -> None:
        if command is AccessEvent.VERIFY_OK:
            self._pending_age = 0
        elif command is AccessEvent.PIN_FAILED:
            self.clear()  # a wrong PIN resets ALL PIN access conditions (M18 §5.1)
        elif command is AccessEvent.SIGN_NON_REPUDIATION:
            self._pending_age = None  # consumed, successful or not (M17 §5.1 footnote 1)

    def _settle_as_authentication(self) -> None:
        self._pending_age = None
        self.established = True


class BelpicApplet:
    """A BELPIC card (applet 1.7 or 1.8) implementing ``VirtualCard``.

    PIN value and tries live in ``profile`` and survive power cycles and re-insertion; access
    rights, the SE, the current file and pending response data are volatile.
    """

    def __init__(self, profile: CardProfile) -> None:
        self.profile = profile
        self.log: list[tuple[bytes, bytes]] = []
        """Every exchange as (command, response), PIN blocks masked."""
        self.internal_authenticate_count = 0
        self.powered = True
        self._rights = PinRights(window=1 if self.is_1_8 else 0)
        self._pin_event: AccessEvent | None = None
        self._handlers = self._command_table()
        self._reset_volatile_state()

    def __repr__(self) -> str:
        return f"BelpicApplet(profile={self.profile.name!r}, applet={self.profile.applet.name})"

    # --- VirtualCard -------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self.profile.atr

    @property
    def is_1_8(self) -> bool:
        return self.profile.applet >= AppletVersion.V1_8

    def power_on(self) -> bytes:
        self.powered = True
        self._reset_volatile_state()
        return self.atr

    def power_off(self) -> None:
        self.powered = False
        self._reset_volatile_state()

    def reset(self) -> bytes:
        return self.power_on()

    def clear_log(self) -> None:
        self.log.clear()

    def process(self, apdu: bytes) -> bytes:
        try:
            response = self._process(bytes(apdu))
        except Exception:  # a card never throws at its reader: answer "no precise diagnosis"
            _log.exception("emulator bug while processing an APDU")
            response = _sw(SW.NO_PRECISE_DIAGNOSTIC)
        self.log.append((mask_pin_blocks(apdu), response))
        return response

    # --- state ---------------------------------------------------------------------------

    def _reset_volatile_state(self) -> None:
        """After reset: applet implicitly selected, MF current, no PIN, no SE (M18 §2)."""
        self._application = SelectedApplication.BELPIC
        self._current_df = MF
        self._current_ef: bytes | None = None
        self._se: SecurityEnvironment | None = None
        self._rights.clear()
        self._pending_response = b""

    @property
    def pin_verified(self) -> bool:
        return self._rights.verified

    @property
    def security_environment(self) -> SecurityEnvironment | None:
        return self._se

    @property
    def current_file(self) -> bytes | None:
        """Absolute path of the current EF (None when a DF was selected last)."""
        return self._current_ef

    @property
    def current_df(self) -> bytes:
        return self._current_df

    # --- dispatch ------------------------------------------------------------------------

    def _process(self, raw: bytes) -> bytes:
        if len(raw) < 4:
            return _sw(SW.WRONG_LENGTH)
        cla, ins = raw[0], raw[1]
        if ins == Ins.GET_RESPONSE and cla == CLA_ISO:
            # Answered by the card runtime: it neither clears the pending data nor counts
            # as a command for the PIN rules.
            return self._guard(lambda: self._get_response(raw))
        self._pending_response = b""  # any other command discards unread output
        kind = self._classify(raw)
        self._rights.before(kind)
        self._pin_event = None
        response = self._guard(lambda: self._dispatch(raw))
        self._rights.after(self._pin_event or kind)
        return response

    @staticmethod
    def _guard(handler: Callable[[], bytes]) -> bytes:
        try:
            return handler()
        except StatusWordError as error:
            return _sw(error.sw)

    def _dispatch(self, raw: bytes) -> bytes:
        cla, ins = raw[0], raw[1]
        if cla == 0xFF:
            raise StatusWordError(SW.CLA_NOT_SUPPORTED)  # invalid CLA (ISO 7816-4 §5.4.1)
        if cla & 0x03 or 0x40 <= cla < 0x80:
            # A logical channel other than the basic one (ISO 7816-4 §5.4.1).
            if ins == Ins.SELECT and len(raw) > 2 and raw[2] == 0x04:
                raise StatusWordError(SW.FORBIDDEN_LOGICAL_CHANNEL)
            raise StatusWordError(SW.WRONG_CLASS_OR_CHANNEL)
        if cla not in (CLA_ISO, CLA_PROPRIETARY):
            raise StatusWordError(SW.CLA_NOT_SUPPORTED)
        if self._application is SelectedApplication.CARD_MANAGER:
            return self._card_manager(raw)
        handler = self._handlers.get((cla, ins))
        if handler is None:
            other_cla = CLA_PROPRIETARY if cla == CLA_ISO else CLA_ISO
            if (other_cla, ins) in self._handlers or ins == Ins.GET_RESPONSE:
                raise StatusWordError(SW.CLA_NOT_SUPPORTED)
            raise StatusWordError(SW.INS_NOT_AVAILABLE)
        try:
            command = CommandApdu.parse(raw)
        except ValueError:
            raise StatusWordError(SW.WRONG_LENGTH) from None
        return handler(command)

    def _command_table(self) -> dict[tuple[int, int], Callable[[CommandApdu], bytes]]:
        handlers: dict[tuple[int, int], Callable[[CommandApdu], bytes]] = {
            (CLA_ISO, Ins.SELECT): self._select,
            (CLA_ISO, Ins.READ_BINARY): self._read_binary,
            (CLA_ISO, Ins.VERIFY): self._verify,
            (CLA_ISO, Ins.CHANGE_REFERENCE_DATA): self._change_reference_data,
            (CLA_ISO, Ins.MANAGE_SECURITY_ENVIRONMENT): self._manage_security_environment,
            (CLA_ISO, Ins.PERFORM_SECURITY_OPERATION): self._perform_security_operation,
            (CLA_ISO, Ins.MANAGE_CHANNEL): self._manage_channel,
            (CLA_PROPRIETARY, Ins.GET_CARD_DATA): self._get_card_data,
            (CLA_PROPRIETARY, Ins.LOG_OFF): self._log_off,
        }
        if self.is_1_8:
            handlers[(CLA_PROPRIETARY, Ins.READ_RECORD)] = self._read_record
            handlers[(CLA_ISO, Ins.INTERNAL_AUTHENTICATE)] = self._internal_authenticate
            handlers[(CLA_ISO, Ins.RESET_RETRY_COUNTER)] = self._reset_retry_counter
        return handlers

    def _classify(self, raw: bytes) -> AccessEvent:
        """What the command will be for the PIN rules, decided before it runs."""
        cla, ins = raw[0], raw[1]
        if cla != CLA_ISO and not (cla == CLA_PROPRIETARY and ins == Ins.LOG_OFF):
            return AccessEvent.OTHER
        if ins == Ins.PERFORM_SECURITY_OPERATION and raw[2:4] == b"\x9e\x9a" and self._se:
            if self._se.key is KeyRef.NON_REPUDIATION:
                return AccessEvent.SIGN_NON_REPUDIATION
            return AccessEvent.SIGN_AUTH
        if ins in (
            Ins.VERIFY,
            Ins.CHANGE_REFERENCE_DATA,
            Ins.PERFORM_SECURITY_OPERATION,
            Ins.MANAGE_SECURITY_ENVIRONMENT,
            Ins.INTERNAL_AUTHENTICATE,
            Ins.LOG_OFF,
        ):
            return AccessEvent.RESETTING
        return AccessEvent.OTHER

    # --- GET RESPONSE (M17 §6.1, M18 §6.1-6.2) -------------------------------------------

    def _get_response(self, raw: bytes) -> bytes:
        try:
            command = CommandApdu.parse(raw)
        except ValueError:
            raise StatusWordError(SW.WRONG_LENGTH) from None
        if command.data:
            raise StatusWordError(SW.WRONG_LENGTH)
        if (command.p1, command.p2) != (0, 0):
            raise StatusWordError(SW.WRONG_PARAMETERS)
        if not self._pending_response:
            raise StatusWordError(SW.CONDITIONS_OF_USE_NOT_SATISFIED)
        available = len(self._pending_response)
        le = command.le if command.le is not None else MAX_SHORT_RESPONSE
        if le > available:
            # Le too long: the chain is kept whatever Le comes next (M17 Table 10 note).
            return _sw(0x6C00 | available)
        data, self._pending_response = self._pending_response[:le], self._pending_response[le:]
        return data + self._more_or_ok()

    def _more_or_ok(self) -> bytes:
        remaining = len(self._pending_response)
        if remaining == 0:
            return _sw(SW.OK)
        return _sw(0x6100 | (min(remaining, MAX_SHORT_RESPONSE) & 0xFF))

    def _answer_case_4(self, data: bytes) -> bytes:
        """T=0 case 4: keep the output for GET RESPONSE and announce it with ``61xx``."""
        self._pending_response = data
        return self._more_or_ok()

    def _answer_case_2(self, data: bytes, le: int) -> bytes:
        """The first ``le`` bytes; what is left waits for GET RESPONSE behind ``61xx`` (case-2
        output chaining, M18 Table 12)."""
        first, self._pending_response = data[:le], data[le:]
        return first + self._more_or_ok()

    # --- SELECT FILE (M17 §6.3, M18 §6.6) ------------------------------------------------

    def _select(self, command: CommandApdu) -> bytes:
        if command.p2 not in (0x00, 0x0C):
            raise StatusWordError(SW.WRONG_P1P2)
        data = _case_3_data(command)
        if command.p1 == 0x02:
            self._select_file_id(data)
        elif command.p1 == 0x04:
            self._select_aid(data)
        elif command.p1 == 0x08:
            self._select_path(data)
        else:
            raise StatusWordError(SW.WRONG_P1P2)
        return _sw(SW.OK)  # the card never returns FCI

    def _select_file_id(self, fid: bytes) -> None:
        if len(fid) != 2:
            raise StatusWordError(SW.LC_INCONSISTENT)
        if fid == MF:
            self._enter(MF)
            return
        # Children of the current DF first, then of the MF (so DF00/DF01/2F00 are always
        # reachable); never grandchildren: eid-mw expects 6A82 for 4031 from the MF.
        for parent in (self._current_df, MF):
            if self._exists(parent + fid):
                self._enter(parent + fid)
                return
        if self._current_df.endswith(fid):
            self._enter(self._current_df)
            return
        raise StatusWordError(SW.FILE_NOT_FOUND)

    def _select_path(self, path: bytes) -> None:
        if not path or len(path) % 2:
            raise StatusWordError(SW.LC_INCONSISTENT)
        # The manual says "absolute path without the MF"; every client sends it with 3F00.
        absolute = path if path.startswith(MF) else MF + path
        if not self._exists(absolute):
            raise StatusWordError(SW.FILE_NOT_FOUND)
        self._enter(absolute)

    def _select_aid(self, aid: bytes) -> None:
        if not aid:
            # Implicit selection of the card manager (M18 §6.6 footnote 1).
            self._application = SelectedApplication.CARD_MANAGER
            return
        if not 5 <= len(aid) <= 16:
            raise StatusWordError(SW.LC_INCONSISTENT)
        target = {BELPIC_APPLET_AID: MF, PKCS15_AID: MF + DF_BELPIC, ID_DF_AID: MF + DF_ID}.get(aid)
        if target is None:
            raise StatusWordError(SW.FILE_NOT_FOUND)
        self._enter(target)

    def _card_manager(self, raw: bytes) -> bytes:
        """With the card manager selected only a SELECT of the Belpic applet gets through."""
        if raw[:3] != bytes((CLA_ISO, Ins.SELECT, 0x04)):
            raise StatusWordError(SW.INS_NOT_AVAILABLE)
        try:
            command = CommandApdu.parse(raw)
        except ValueError:
            raise StatusWordError(SW.WRONG_LENGTH) from None
        if command.data != BELPIC_APPLET_AID:
            raise StatusWordError(SW.FILE_NOT_FOUND)
        self._application = SelectedApplication.BELPIC
        self._enter(MF)
        return _sw(SW.OK)

    def _is_df(self, path: bytes) -> bool:
        if path in (MF, MF + DF_BELPIC, MF + DF_ID):
            return True
        return any(len(name) > len(path) and name.startswith(path) for name in self.profile.files)

    def _exists(self, path: bytes) -> bool:
        return path in self.profile.files or self._is_df(path)

    def _enter(self, path: bytes) -> None:
        if path in self.profile.files:
            self._current_ef = path
            self._current_df = path[:-2]
        else:
            self._current_df = path
            self._current_ef = None

    # --- READ BINARY (M17 §6.4, M18 §6.7) ------------------------------------------------

    def _read_binary(self, command: CommandApdu) -> bytes:
        if command.data:
            raise StatusWordError(SW.WRONG_LENGTH)
        if command.p1 & 0x80:
            raise StatusWordError(SW.WRONG_PARAMETERS)  # no short EF identifiers
        content = self._current_content()
        offset = (command.p1 << 8) | command.p2
        if offset >= len(content):
            raise StatusWordError(SW.WRONG_PARAMETERS)  # offset outside the EF
        remaining = len(content) - offset
        le = command.le if command.le is not None else MAX_SHORT_RESPONSE
        if le > remaining:
            return _sw(0x6C00 | remaining)
        return content[offset : offset + le] + _sw(SW.OK)

    def _current_content(self) -> bytes:
        if self._current_ef is None or self._current_ef not in self.profile.files:
            raise StatusWordError(SW.COMMAND_NOT_ALLOWED)
        return self.profile.files[self._current_ef]

    # --- READ RECORD, 1.8 only (M18 §6.8) ------------------------------------------------

    def _read_record(self, command: CommandApdu) -> bytes:
        if command.data:
            raise StatusWordError(SW.WRONG_LENGTH)
        content = self._current_content()
        if self._current_ef not in (FileId.IDENTITY.path, FileId.ADDRESS.path):
            raise StatusWordError(SW.RECORD_ON_NON_STRUCTURED)
        first, last = command.p1, command.p2
        if last < first:
            raise StatusWordError(SW.RECORD_NOT_FOUND)
        records = [raw for tag, raw in simple_tlv_records(content) if first <= tag <= last]
        if not records:
            raise StatusWordError(SW.RECORD_NOT_FOUND)
        data = b"".join(records)
        if command.le is None or command.le == MAX_SHORT_RESPONSE:
            # Le=00: the whole record(s), chained with 61xx beyond 256 bytes.
            return self._answer_case_2(data, min(len(data), MAX_SHORT_RESPONSE))
        if command.le > len(data):
            return _sw(0x6C00 | len(data))
        return data[: command.le] + _sw(SW.OK)  # partial read (cases a and c)

    # --- GET CARD DATA (M17 §6.9, M18 §6.14) ---------------------------------------------

    def card_data(self, with_pin_counter: bool = False) -> bytes:
        profile = self.profile
        if self.is_1_8:
            global_os, pkcs1, key_exchange = b"\x00\x01", 0x00, 0x02
        else:
            global_os, pkcs1, key_exchange = b"\x00\x03", 0x21, 0x01
        data = (
            profile.serial
            + bytes(
                (
                    profile.component_code,
                    profile.os_number,
                    profile.os_version,
                    profile.softmask_number,
                    profile.softmask_version,
                    int(profile.applet),
                )
            )
            + global_os
            + bytes((0x00, pkcs1, key_exchange, profile.life_cycle))
        )
        if with_pin_counter:
            data += bytes((profile.pin_tries_left & 0xFF, 0xFF, 0xFF))
        return data

    def _get_card_data(self, command: CommandApdu) -> bytes:
        if command.data:
            raise StatusWordError(SW.WRONG_LENGTH)
        if command.p1 != 0 or command.p2 not in (0, 1) or (command.p2 == 1 and not self.is_1_8):
            raise StatusWordError(SW.WRONG_PARAMETERS)  # 1.7 knows only P2=00 (M18 §6.14 note)
        data = self.card_data(with_pin_counter=command.p2 == 1)
        le = command.le if command.le is not None else MAX_SHORT_RESPONSE
        if le > len(data):
            return _sw(0x6C00 | len(data))
        return self._answer_case_2(data, le)

    # --- VERIFY and CHANGE REFERENCE DATA (M17 §6.5-6.6, M18 §6.9-6.10) ------------------

    def _check_pin_reference(self, command: CommandApdu) -> None:
        if command.p1 != 0x00:
            raise StatusWordError(SW.WRONG_P1P2)
        if command.p2 != PIN_REFERENCE:
            raise StatusWordError(SW.REFERENCE_NOT_FOUND)

    @property
    def pin_blocked(self) -> bool:
        return self.profile.pin_tries_left <= 0

    def _verify(self, command: CommandApdu) -> bytes:
        self._check_pin_reference(command)
        data = _case_3_data(command)
        if not data:
            # Status query: no decrement on 1.7/1.8 (M17 §6.5 "VERIFY with Lc=0").
            if self.pin_blocked:
                raise StatusWordError(SW.AUTHENTICATION_METHOD_BLOCKED)
            if self._rights.verified:
                return _sw(SW.OK)
            return _sw(0x63C0 | min(self.profile.pin_tries_left, 0x0F))
        if len(data) != PIN_BLOCK_LENGTH:
            raise StatusWordError(SW.WRONG_LENGTH)
        if self.pin_blocked:
            raise StatusWordError(SW.AUTHENTICATION_METHOD_BLOCKED)
        self._check_pin(data)
        return _sw(SW.OK)

    def _change_reference_data(self, command: CommandApdu) -> bytes:
        self._check_pin_reference(command)
        data = _case_3_data(command)
        if len(data) != 2 * PIN_BLOCK_LENGTH:
            raise StatusWordError(SW.WRONG_LENGTH)
        if self.pin_blocked:
            raise StatusWordError(SW.AUTHENTICATION_METHOD_BLOCKED)
        old, new = data[:PIN_BLOCK_LENGTH], data[PIN_BLOCK_LENGTH:]
        new_pin = decode_pin_block(new)
        if new_pin is None:
            raise StatusWordError(SW.INCORRECT_DATA)
        self._check_pin(old)
        self.profile.pin = new_pin  # atomic update; the access right is granted (M18 §6.10)
        return _sw(SW.OK)

    def _check_pin(self, block: bytes) -> None:
        """Compare a PIN block; on failure decrement and drop every right (M17/M18 §5.1)."""
        pin = decode_pin_block(block)
        if pin is None:
            raise StatusWordError(SW.INCORRECT_DATA)
        if pin != self.profile.pin:
            self.profile.pin_tries_left = max(0, self.profile.pin_tries_left - 1)
            self._pin_event = AccessEvent.PIN_FAILED
            raise StatusWordError(0x63C0 | min(self.profile.pin_tries_left, 0x0F))
        self.profile.pin_tries_left = self.profile.pin_max_tries
        self.internal_authenticate_count = 0  # unblocks INTERNAL AUTHENTICATE (M18 §5.2)
        self._pin_event = AccessEvent.VERIFY_OK

    def _reset_retry_counter(self, command: CommandApdu) -> bytes:
        """Listed by M18 Table 7 only; needs the administration role, never granted here."""
        raise StatusWordError(SW.SECURITY_STATUS_NOT_SATISFIED)

    # --- LOG OFF (M17 §6.10, M18 §6.15) --------------------------------------------------

    def _log_off(self, command: CommandApdu) -> bytes:
        if (command.p1, command.p2) != (0, 0):
            raise StatusWordError(SW.WRONG_PARAMETERS)
        if _case_3_data(command):
            raise StatusWordError(SW.WRONG_LENGTH)
        self._rights.clear()
        return _sw(SW.OK)

    # --- MSE:SET (M17 §6.7, M18 §6.12) ---------------------------------------------------

    def _manage_security_environment(self, command: CommandApdu) -> bytes:
        self._se = None
        if (command.p1, command.p2) != (0x41, 0xB6):
            raise StatusWordError(SW.WRONG_PARAMETERS)
        data = _case_3_data(command)
        if len(data) != 5:
            raise StatusWordError(SW.WRONG_LENGTH)
        if data[0] != 0x04 or data[1] != 0x80 or data[3] != 0x84:
            raise StatusWordError(SW.INCORRECT_DATA)
        algorithm, key_ref = data[2], data[4]
        allowed = EC_ALGORITHMS_1_8 if self.is_1_8 else RSA_ALGORITHMS_1_7
        if algorithm not in allowed:
            raise StatusWordError(SW.INCORRECT_DATA)
        key = self._key_for_mse(key_ref)
        self._se = SecurityEnvironment(algorithm, key)
        return _sw(SW.OK)

    def _key_for_mse(self, key_ref: int) -> KeyRef:
        signing = {KeyRef.AUTHENTICATION, KeyRef.NON_REPUDIATION}
        if self.is_1_8:
            signing.add(KeyRef.BASIC)  # commons-eid sets it before INTERNAL AUTHENTICATE
        try:
            key = KeyRef(key_ref)
        except ValueError:
            raise StatusWordError(SW.REFERENCE_NOT_FOUND) from None
        if key not in signing or key not in self.profile.keys:
            raise StatusWordError(SW.REFERENCE_NOT_FOUND)
        return key

    # --- PSO: COMPUTE DIGITAL SIGNATURE (M17 §6.8, M18 §6.13) ----------------------------

    def _perform_security_operation(self, command: CommandApdu) -> bytes:
        if (command.p1, command.p2) != (0x9E, 0x9A):
            raise StatusWordError(SW.WRONG_PARAMETERS)
        se = self._se
        if se is None:
            raise StatusWordError(SW.CONDITIONS_OF_USE_NOT_SATISFIED)
        if not self._rights.may_sign(se.key):
            raise StatusWordError(SW.SECURITY_STATUS_NOT_SATISFIED)
        dtbs = command.data
        key = self.profile.keys[se.key]
        if isinstance(key, rsa.RSAPrivateKey) and not self.is_1_8:
            signature = self._sign_rsa(key, se.algorithm, dtbs)
        elif isinstance(key, ec.EllipticCurvePrivateKey) and self.is_1_8:
            if len(dtbs) not in EC_DTBS_LENGTHS[se.algorithm]:
                raise StatusWordError(SW.WRONG_LENGTH)
            signature = sign_ecdsa_plain(key, dtbs)
        else:
            raise StatusWordError(SW.CONDITIONS_OF_USE_NOT_SATISFIED)  # key not usable
        return self._answer_case_4(signature)

    def _sign_rsa(self, key: rsa.RSAPrivateKey, algorithm: int, dtbs: bytes) -> bytes:
        modulus_bytes = (key.key_size + 7) // 8
        if algorithm == RsaAlgorithm.PKCS1:
            # "Hashing format not specified": DTBS = DigestInfo || hash, <= k - 11 bytes.
            if not 0 < len(dtbs) <= modulus_bytes - 11:
                raise StatusWordError(SW.WRONG_LENGTH)
            return rsa_pkcs1_v15_sign(key, dtbs)
        prefix_by_algorithm = {
            RsaAlgorithm.PKCS1_SHA1: (_SHA1_DIGEST_INFO, 20),
            RsaAlgorithm.PKCS1_MD5: (_MD5_DIGEST_INFO, 16),
            RsaAlgorithm.PKCS1_SHA256: (_SHA256_DIGEST_INFO, 32),
        }
        if algorithm in prefix_by_algorithm:
            prefix, size = prefix_by_algorithm[RsaAlgorithm(algorithm)]
            if len(dtbs) != size:
                raise StatusWordError(SW.WRONG_LENGTH)
            return rsa_pkcs1_v15_sign(key, prefix + dtbs)
        hash_algorithm: hashes.HashAlgorithm = (
            hashes.SHA1()  # noqa: S303 - RSASSA-PSS with SHA-1 is an algorithm of the 1.7 card
            if algorithm == RsaAlgorithm.PSS_SHA1
            else hashes.SHA256()
        )
        if len(dtbs) != hash_algorithm.digest_size:
            raise StatusWordError(SW.WRONG_LENGTH)
        # PSS salt = hash length (M17 §1.7), MGF1 with the same hash.
        return key.sign(
            dtbs,
            padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size),
            utils.Prehashed(hash_algorithm),
        )

    # --- INTERNAL AUTHENTICATE, 1.8 only (M18 §5.2, §6.11) -------------------------------

    def _internal_authenticate(self, command: CommandApdu) -> bytes:
        if command.p2 in (KeyRef.AUTHENTICATION, KeyRef.NON_REPUDIATION):
            raise StatusWordError(SW.SECURITY_STATUS_NOT_SATISFIED)  # access NEV (Tables 5, 6)
        key = self.profile.keys.get(KeyRef.BASIC)
        if command.p2 != KeyRef.BASIC or not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StatusWordError(SW.REFERENCE_NOT_FOUND)
        algorithm, challenge_size = _INTERNAL_AUTH_PARAMETERS.get(key.curve.key_size, (None, 0))
        if command.p1 != algorithm:
            raise StatusWordError(SW.WRONG_PARAMETERS)
        if not command.data:
            raise StatusWordError(SW.WRONG_LENGTH)
        challenge = _challenge(command.data, challenge_size)
        if self.internal_authenticate_count >= self.profile.internal_authenticate_limit:
            raise StatusWordError(SW.CONDITIONS_OF_USE_NOT_SATISFIED)  # blocked until VERIFY
        signature = sign_ecdsa_plain(key, challenge)
        self.internal_authenticate_count += 1
        self._se = None  # a successful INTERNAL AUTHENTICATE clears the SE (M18 §6.11)
        return self._answer_case_4(signature)

    # --- MANAGE CHANNEL (M18 §6.2) -------------------------------------------------------

    def _manage_channel(self, command: CommandApdu) -> bytes:
        if command.p1 == 0x00:
            # Opening a channel selects Belpic on it, which the applet refuses (M18 §6.2.1).
            raise StatusWordError(SW.FORBIDDEN_LOGICAL_CHANNEL)
        raise StatusWordError(SW.WRONG_CLASS_OR_CHANNEL)  # closing: no other channel is open


# --- helpers (module level so that host-side tests can reuse them) ------------------------


def _sw(sw: int) -> bytes:
    return bytes((sw >> 8 & 0xFF, sw & 0xFF))


def _case_3_data(command: CommandApdu) -> bytes:
    """Data of a case-1/3 command. A lone P3 byte parses as Le: ``00`` is T=0's empty Lc,
    anything else announced data that is missing."""
    if not command.data and command.le is not None and command.le != MAX_SHORT_RESPONSE:
        raise StatusWordError(SW.WRONG_LENGTH)
    return command.data


def _challenge(data: bytes, size: int) -> bytes:
    """``94 L CHL`` of INTERNAL AUTHENTICATE, L = the hash size for the basic key."""
    if len(data) != 2 + size or data[0] != 0x94 or data[1] != size:
        raise StatusWordError(SW.INCORRECT_DATA)
    return data[2:]


def simple_tlv_records(content: bytes) -> list[tuple[int, bytes]]:
    """Split an identity/address file into (tag, encoded record) pairs.

    Simplified TLV of C18 §6.1: one tag byte, a length of one byte or ``FF``-continued
    (``FF x`` = 255 + x). Tags ascend (M18 §6.8), so a tag that does not (the ``00`` bytes of
    the zero padding) ends the records, as does a truncated one."""
    records: list[tuple[int, bytes]] = []
    position = 0
    previous_tag = -1
    while position + 2 <= len(content):
        start, tag = position, content[position]
        if tag <= previous_tag:
            break
        position += 1
        length = 0
        while position < len(content) and content[position] == 0xFF:
            length += 0xFF
            position += 1
        if position >= len(content):
            break
        length += content[position]
        position += 1
        if position + length > len(content):
            break
        position += length
        records.append((tag, content[start:position]))
        previous_tag = tag
    return records


def decode_pin_block(block: bytes) -> str | None:
    """The digits of a GlobalPlatform PIN block (M17/M18 §3.2: ``2L`` then BCD, ``F``
    padding), or None when the block is malformed."""
    if len(block) != PIN_BLOCK_LENGTH or block[0] >> 4 != 0x2:
        return None
    length = block[0] & 0x0F
    if not 4 <= length <= 12:
        return None
    nibbles = [n for byte in block[1:] for n in (byte >> 4, byte & 0x0F)]
    digits, padding_nibbles = nibbles[:length], nibbles[length:]
    if any(n > 9 for n in digits) or any(n != 0xF for n in padding_nibbles):
        return None
    return "".join(str(n) for n in digits)


def encode_pin_block(pin: str) -> bytes:
    """The 8-byte PIN block for ``pin`` (4..12 digits)."""
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError("a PIN is 4 to 12 digits")
    nibbles = f"2{len(pin):X}{pin}".ljust(16, "F")
    return bytes.fromhex(nibbles)


def mask_pin_blocks(apdu: bytes) -> bytes:
    """The APDU as it may be logged: VERIFY/CHANGE/RESET RETRY COUNTER data replaced by
    ``FF`` bytes (length kept so the log still shows the APDU's shape)."""
    if len(apdu) > 5 and apdu[1] in (
        Ins.VERIFY,
        Ins.CHANGE_REFERENCE_DATA,
        Ins.RESET_RETRY_COUNTER,
    ):
        return bytes(apdu[:5]) + b"\xff" * (len(apdu) - 5)
    return bytes(apdu)


def rsa_pkcs1_v15_sign(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """EMSA-PKCS1-v1_5 over ``payload`` (DigestInfo || hash, already built) then RSASP1.

    cryptography only signs a DigestInfo it builds itself, so the padding is applied here and
    the private operation is done with the key's CRT numbers."""
    size = (key.key_size + 7) // 8
    if len(payload) > size - 11:
        raise ValueError("payload too long for PKCS#1 v1.5")
    encoded = b"\x00\x01" + b"\xff" * (size - 3 - len(payload)) + b"\x00" + payload
    numbers = key.private_numbers()
    message = int.from_bytes(encoded, "big")
    m1 = pow(message, numbers.dmp1, numbers.p)
    m2 = pow(message, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (m1 - m2)) % numbers.p
    signature = m2 + h * numbers.q
    return signature.to_bytes(size, "big")


def sign_ecdsa_plain(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """ECDSA over an off-card hash, in the plain ``r || s`` format of TR-03111 (M18 §6.13)."""
    hash_factory = _PREHASHED_BY_LENGTH.get(len(digest))
    if hash_factory is None:
        raise StatusWordError(SW.WRONG_LENGTH)
    try:
        der = key.sign(digest, ec.ECDSA(utils.Prehashed(hash_factory())))
    except UnsupportedAlgorithm:
        raise StatusWordError(SW.CONDITIONS_OF_USE_NOT_SATISFIED) from None
    r, s = utils.decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
