"""How long a real card in a contact reader would take, and faults to inject.

Both are transport-agnostic: the in-process transport sleeps ``LatencyModel.cost`` after each
exchange (or adds it to a virtual clock), the vpcd adapter does the same before answering; both
ask ``FaultPlan`` before handing an APDU to the card and act on its verdict (report the card
removed, or stay silent).

Timing model (all figures are estimates, reasoning in the comments):

* Transmission: T=0 (ISO/IEC 7816-3 §7, §10). One character is 12 etu (start bit, 8 data bits,
  parity bit, and the guard time of 2 etu). One etu lasts ``Fi / (Di * f)`` seconds, with Fi
  and Di read from TA1 of the ATR (ISO/IEC 7816-3 Tables 7 and 8) and ``f`` = 3.5712 MHz, the
  clock most CCID contact readers supply. TA1 = ``13`` (applet 1.1/1.7 ATR): Fi 372, Di 4 ->
  93 clocks per etu, 26 µs, 312.5 µs per byte (38,400 bit/s). TA1 = ``96`` (applet 1.8 ATR):
  Fi 512, Di 32 -> 16 clocks per etu, 4.5 µs, 54 µs per byte (223,200 bit/s), assuming the
  reader negotiates that speed with PPS (current readers do).
  Bytes on the wire for one exchange: the 5-byte header, one procedure byte (INS) when data
  flows either way, the command data (Le is not sent on T=0 case 4), the response data and
  SW1 SW2.
* Per APDU: a USB full-speed CCID reader exchanges one bulk-out and one bulk-in message per
  APDU, each aligned on 1 ms USB frames, plus the reader's firmware and the Java Card runtime's
  dispatch to the applet: about 4 ms in total.
* On-card work: an RSA-2048 CRT signature on the smart-card coprocessors of the applet 1.7
  generation (2009 chips) takes a few hundred milliseconds -> 250 ms; ECDSA P-384 on the 2020
  chips of applet 1.8 is faster -> 80 ms. A PIN comparison writes the retry counter to EEPROM
  (decrement before the compare, restore after, a few ms per write) -> 15 ms.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bridge.card.constants import ATR_APPLET_1_8

CCID_CLOCK_HZ = 3.5712e6
ETU_PER_CHARACTER = 12

# ISO/IEC 7816-3 Table 7 (Fi by the high nibble of TA1) and Table 8 (Di by the low nibble);
# None marks RFU values.
_FI: tuple[int | None, ...] = (
    372, 372, 558, 744, 1116, 1488, 1860, None, None, 512, 768, 1024, 1536, 2048, None, None,
)  # fmt: skip
_DI: tuple[int | None, ...] = (
    None, 1, 2, 4, 8, 16, 32, 64, 12, 20, None, None, None, None, None, None,
)  # fmt: skip

DEFAULT_TA1 = 0x11
"""ISO/IEC 7816-3 default when the ATR has no TA1: Fi 372, Di 1."""


def ta1_of(atr: bytes) -> int:
    """TA1 of an ATR, or the default ``11`` when T0 announces none."""
    if len(atr) >= 3 and atr[1] & 0x10:
        return atr[2]
    return DEFAULT_TA1


def clocks_per_etu(ta1: int) -> float:
    fi, di = _FI[ta1 >> 4], _DI[ta1 & 0x0F]
    if fi is None or di is None:
        raise ValueError(f"TA1 {ta1:02X} uses RFU values")
    return fi / di


def t0_wire_bytes(command: bytes, response: bytes) -> int:
    """Characters exchanged for one command/response pair under T=0."""
    header = 5
    body = command[4:]
    data_out = 0
    if len(body) > 1:
        lc = body[0]
        data_out = min(lc, len(body) - 1)  # a trailing Le (case 4) is not sent on T=0
    data_in = max(0, len(response) - 2)
    procedure = 1 if data_out or data_in else 0
    return header + procedure + data_out + data_in + min(2, len(response))


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Seconds a real card in a contact reader would take for one exchange."""

    clocks_per_etu: float = 93.0
    clock_hz: float = CCID_CLOCK_HZ
    per_apdu: float = 0.004
    signature: float = 0.25
    """On-card time of one PSO:CDS or INTERNAL AUTHENTICATE."""
    pin_check: float = 0.015

    @classmethod
    def for_atr(cls, atr: bytes, **overrides: float) -> LatencyModel:
        """Defaults for the card with this ATR: its TA1 speed and its signature algorithm."""
        signature = 0.08 if atr == ATR_APPLET_1_8 else 0.25
        model = cls(clocks_per_etu=clocks_per_etu(ta1_of(atr)), signature=signature)
        return replace(model, **overrides) if overrides else model

    @classmethod
    def zero(cls) -> LatencyModel:
        """No delay at all: for benchmarks of the software's own overhead."""
        return cls(clocks_per_etu=0.0, per_apdu=0.0, signature=0.0, pin_check=0.0)

    @property
    def byte_time(self) -> float:
        return ETU_PER_CHARACTER * self.clocks_per_etu / self.clock_hz

    def cost(self, command: bytes, response: bytes) -> float:
        return (
            self.per_apdu
            + t0_wire_bytes(command, response) * self.byte_time
            + self._card_work(command, response)
        )

    def _card_work(self, command: bytes, response: bytes) -> float:
        if len(command) < 4 or len(response) < 2:
            return 0.0
        cla, ins = command[0], command[1]
        sw1 = response[-2]
        if cla == 0x00 and ins in (0x2A, 0x88) and sw1 in (0x61, 0x90):
            return self.signature  # PSO:CDS / INTERNAL AUTHENTICATE that signed
        if cla == 0x00 and ins in (0x20, 0x24) and len(command) > 5:
            return self.pin_check  # VERIFY / CHANGE with a PIN block
        return 0.0


# --- fault injection ----------------------------------------------------------------------


class FaultAction(enum.Enum):
    NONE = "none"
    REMOVE = "remove"
    """The card is pulled out now: the transport reports it removed, the APDU gets no answer."""
    MUTE = "mute"
    """The card stays in but never answers this APDU (a reader time-out)."""


ApduPredicate = Callable[[bytes], bool]


def any_apdu(_: bytes) -> bool:
    return True


def ins_is(ins: int, cla: int | None = None) -> ApduPredicate:
    """Matches commands with this INS (and CLA, if given)."""

    def predicate(command: bytes) -> bool:
        return len(command) >= 2 and command[1] == ins and (cla is None or command[0] == cla)

    return predicate


def starts_with(prefix: bytes) -> ApduPredicate:
    return lambda command: command.startswith(prefix)


@dataclass(slots=True)
class _Trigger:
    predicate: ApduPredicate
    nth: int
    action: FaultAction
    seen: int = 0
    fired: bool = False


@dataclass(slots=True)
class FaultPlan:
    """Faults to inject, checked by the transport for every APDU and every power-on.

    ``remove_at(3, ins_is(0x2A))`` pulls the card when the third PSO:CDS arrives;
    ``mute_at(1)`` leaves the first APDU unanswered; ``mute_atr()`` makes the card give no ATR.
    Each trigger fires once; once the card was removed, every later APDU is REMOVE too.
    """

    _triggers: list[_Trigger] = field(default_factory=list)
    atr_muted: bool = False
    removed: bool = False

    def remove_at(self, nth: int, predicate: ApduPredicate = any_apdu) -> FaultPlan:
        return self._add(nth, predicate, FaultAction.REMOVE)

    def mute_at(self, nth: int, predicate: ApduPredicate = any_apdu) -> FaultPlan:
        return self._add(nth, predicate, FaultAction.MUTE)

    def mute_atr(self, muted: bool = True) -> FaultPlan:
        self.atr_muted = muted
        return self

    def _add(self, nth: int, predicate: ApduPredicate, action: FaultAction) -> FaultPlan:
        if nth < 1:
            raise ValueError("nth counts from 1")
        self._triggers.append(_Trigger(predicate, nth, action))
        return self

    def on_power_on(self) -> FaultAction:
        """What to do on power-on/reset: MUTE means no ATR (the reader sees a mute card)."""
        if self.removed:
            return FaultAction.REMOVE
        return FaultAction.MUTE if self.atr_muted else FaultAction.NONE

    def on_apdu(self, command: bytes) -> FaultAction:
        """Called before the card sees ``command``; counts it against every trigger."""
        if self.removed:
            return FaultAction.REMOVE
        verdict = FaultAction.NONE
        for trigger in self._triggers:
            if trigger.fired or not trigger.predicate(command):
                continue
            trigger.seen += 1
            if trigger.seen == trigger.nth:
                trigger.fired = True
                if verdict is not FaultAction.REMOVE:
                    verdict = trigger.action
        if verdict is FaultAction.REMOVE:
            self.removed = True
        return verdict

    def reinsert(self) -> None:
        """The card is back in the reader (triggers that already fired stay spent)."""
        self.removed = False

    @property
    def pending(self) -> int:
        """Triggers that have not fired yet."""
        return sum(not trigger.fired for trigger in self._triggers)
