"""Card benchmark: our card layer against OpenSC 0.23 and against the floor the spec allows.

Run with ``.venv/bin/python benchmarks/card.py`` on a machine where pcscd runs with
vsmartcard's vpcd readers. It starts nothing system-wide: it inserts a virtual card (with the
latency of a real card in a contact reader, ``LatencyModel.for_atr``) into the vpcd reader
chosen by ``EID_TEST_READER_INDEX`` (default 0) and pulls it out at the end. OpenSC is made to
ignore the other vpcd reader (``OPENSC_CONF`` with ``ignored_readers``), so the card a
colleague has in it never sees an APDU from here.

Per applet (1.7 RSA, 1.8 EC) it measures:

(a) a cold read of identity + address + photo + the 5 certificates: our ``BelpicSession`` over
    ``PcscTransport`` (a new connection, ``read_all(verify=False)``);
(b) the same files through OpenSC. Its PKCS#11 module exposes only 4 certificates (the CDF has
    no RRN certificate and there are no data objects), so: the module (cold C_Initialize,
    slot scan, session, login where the 1.7 CDF makes the certificates private, CKA_VALUE of
    the 4 certificates) plus OpenSC's own card driver for the other 4 files through
    ``opensc-explorer`` (``get``); the explorer's start-up and directory navigation
    (GET CARD DATA, SELECT of the MF and DFs) are not counted, its SELECT of each file and
    READ BINARYs are;
(c) one signature with the authentication key and the PIN (a fresh connection for ours, a
    new logged-in session of the already-initialised module for OpenSC), then a second one
    with PIN and key already set;
(d) the floor: one SELECT per file (path with 3F00) and 256-byte READ BINARY chunks with the
    exact Le, certificates cut at their DER length; a signature is MSE:SET + VERIFY + PSO:CDS
    + GET RESPONSE (4), or PSO:CDS + GET RESPONSE (2) once PIN and key are set.

APDUs and bytes (command + response, SW included) are counted on the virtual card, so both
clients are counted the same way; ours are cross-checked with ``session.protocol.stats``.
Times are card-side spans (first command in to last answer out, on the card's clock, latency
included; for the explorer minus the latency of the uncounted APDUs); the floor's time is the
latency model's cost of the floor's exchanges. A last section runs our layer in-process with
``LatencyModel.zero()``: the host's own overhead.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from bridge.card.constants import CERTIFICATE_FILES, FileId, HashAlgorithm, KeyRef
from bridge.card.local import LocalReader
from bridge.card.pcsc import PcscTransport
from bridge.card.readers import list_readers
from bridge.card.session import BelpicSession, der_length
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.latency import LatencyModel
from bridge.emulator.pki import TestPki
from bridge.emulator.profile import CardProfile
from bridge.emulator.profiles import BuiltCard, build_card
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard

READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
PROFILES = ("citizen-1.7", "citizen-1.8")
PIN = "1234"
TARGET = 1.10
"""Ours may use at most 10 % more than the floor."""
MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
READ_FILES = (FileId.IDENTITY, FileId.ADDRESS, FileId.PHOTO, *CERTIFICATE_FILES)
EXPLORER_FILES: tuple[tuple[FileId, str], ...] = (
    (FileId.IDENTITY, "DF01"),
    (FileId.ADDRESS, "DF01"),
    (FileId.PHOTO, "DF01"),
    (FileId.CERT_RRN, "DF00"),
)
"""What OpenSC's PKCS#11 module does not expose, read with opensc-explorer (file, its DF)."""
CHUNK = 256

Exchange = tuple[bytes, bytes]


# --- measuring on the card -----------------------------------------------------------------


class CardClock:
    """The vpcd card's latency hook: sleeps the model's cost and notes when each exchange
    came in and when its answer left (aligned with ``applet.log``)."""

    def __init__(self, model: LatencyModel) -> None:
        self.model = model
        self.marks: list[tuple[float, float]] = []

    def __call__(self, command: bytes, response: bytes) -> float:
        cost = self.model.cost(command, response)
        now = time.perf_counter()
        self.marks.append((now, now + cost))
        return cost


@dataclass
class Measure:
    apdus: int
    bytes_out: int
    bytes_in: int
    seconds: float
    note: str = ""

    @property
    def total_bytes(self) -> int:
        return self.bytes_out + self.bytes_in

    @classmethod
    def of(cls, exchanges: Sequence[Exchange], seconds: float, note: str = "") -> Measure:
        return cls(
            apdus=len(exchanges),
            bytes_out=sum(len(c) for c, _ in exchanges),
            bytes_in=sum(len(r) for _, r in exchanges),
            seconds=seconds,
            note=note,
        )

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            self.apdus + other.apdus,
            self.bytes_out + other.bytes_out,
            self.bytes_in + other.bytes_in,
            self.seconds + other.seconds,
            "; ".join(n for n in (self.note, other.note) if n),
        )


@dataclass
class VirtualCard:
    built: BuiltCard
    applet: BelpicApplet
    clock: CardClock
    reader: str

    def clear(self) -> None:
        self.applet.clear_log()
        self.clock.marks.clear()

    def taken(
        self, keep: Callable[[Exchange], bool] | None = None, *, note: bool = False
    ) -> Measure:
        """What happened on the card since ``clear``; ``keep`` selects the counted exchanges
        (the span runs from the first to the last one, minus the others' latency); ``note``
        lists the commands."""
        log, marks = list(self.applet.log), list(self.clock.marks)
        if len(log) != len(marks):
            raise RuntimeError("card log and clock out of step")
        kept = [i for i, exchange in enumerate(log) if keep is None or keep(exchange)]
        if not kept:
            return Measure(0, 0, 0, 0.0)
        first, last = kept[0], kept[-1]
        span = marks[last][1] - marks[first][0]
        skipped = set(range(first, last + 1)) - set(kept)
        span -= sum(marks[i][1] - marks[i][0] for i in skipped)
        exchanges = [log[i] for i in kept]
        return Measure.of(exchanges, span, command_names(exchanges) if note else "")


INS_NAMES = {
    0xA4: "SELECT",
    0xB0: "READ",
    0x20: "VERIFY",
    0x22: "MSE",
    0x2A: "PSO",
    0xC0: "GET-RESPONSE",
    0xE4: "GET-CARD-DATA",
}


def command_names(exchanges: Sequence[Exchange]) -> str:
    return " ".join(INS_NAMES.get(command[1], f"{command[1]:02X}") for command, _ in exchanges)


def wait_for_card(reader: str, *, present: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.name == reader and s.card_present == present for s in list_readers()):
            return
        time.sleep(0.05)
    raise TimeoutError(f"pcscd never saw the card {'inserted' if present else 'removed'}")


@contextmanager
def inserted(built: BuiltCard, reader_index: int) -> Iterator[VirtualCard]:
    applet = BelpicApplet(built.profile)
    clock = CardClock(LatencyModel.for_atr(built.profile.atr))
    reader = READERS[reader_index]
    card = VpcdCard(applet, port=VPCD_PORT + reader_index, latency=clock)
    card.insert()
    try:
        wait_for_card(reader, present=True)
        yield VirtualCard(built, applet, clock, reader)
    finally:
        card.remove()
        wait_for_card(reader, present=False)


# --- the floor -------------------------------------------------------------------------------


def floor_read(profile: CardProfile) -> list[Exchange]:
    """The fewest exchanges that read the 8 files: SELECT by path, exact 256-byte chunks."""
    exchanges: list[Exchange] = []
    for file in READ_FILES:
        content = profile.files[file.path]
        size = len(content)
        if file in CERTIFICATE_FILES:
            size = der_length(content[:8]) or 0
        exchanges.append((bytes.fromhex("00a4080c06") + file.path, b"\x90\x00"))
        for offset in range(0, size, CHUNK):
            n = min(CHUNK, size - offset)
            command = bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, n & 0xFF])
            exchanges.append((command, content[offset : offset + n] + b"\x90\x00"))
    return exchanges


def floor_sign(profile: CardProfile, *, pin_and_key_set: bool) -> list[Exchange]:
    """MSE:SET, VERIFY, PSO:CDS (T=0 case 4: ``61xx``), GET RESPONSE; only the last two when
    the PIN was verified and the SE set before. 1.7 signs a SHA-256 hash with algorithm 08,
    1.8 a SHA-384 hash with algorithm 02 (what ours sends, the shortest DTBS)."""
    if profile.is_ec:
        algorithm, hash_size, signature_size = 0x02, 48, 96
    else:
        algorithm, hash_size, signature_size = 0x08, 32, 256
    pso = bytes([0x00, 0x2A, 0x9E, 0x9A, hash_size]) + b"\x00" * hash_size
    get_response = bytes([0x00, 0xC0, 0x00, 0x00, signature_size & 0xFF])
    exchanges: list[Exchange] = [
        (pso, bytes([0x61, signature_size & 0xFF])),
        (get_response, b"\x00" * signature_size + b"\x90\x00"),
    ]
    if not pin_and_key_set:
        mse = bytes(
            [0x00, 0x22, 0x41, 0xB6, 0x05, 0x04, 0x80, algorithm, 0x84, KeyRef.AUTHENTICATION]
        )
        verify = bytes([0x00, 0x20, 0x00, 0x01, 0x08]) + b"\xff" * 8
        exchanges[:0] = [(mse, b"\x90\x00"), (verify, b"\x90\x00")]
    return exchanges


def floor_measure(exchanges: list[Exchange], model: LatencyModel) -> Measure:
    return Measure.of(exchanges, sum(model.cost(c, r) for c, r in exchanges))


# --- our card layer --------------------------------------------------------------------------


def hash_for(profile: CardProfile) -> HashAlgorithm:
    return HashAlgorithm.SHA384 if profile.is_ec else HashAlgorithm.SHA256


def digest_of(algorithm: HashAlgorithm, data: bytes) -> bytes:
    return hashlib.new(algorithm.value.replace("-", "").lower(), data).digest()


def check_signature(cert_der: bytes, signature: bytes, digest: bytes, algo: HashAlgorithm) -> None:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    prehashed = utils.Prehashed(
        hashes.SHA384() if algo is HashAlgorithm.SHA384 else hashes.SHA256()
    )
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), prehashed)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, digest, ec.ECDSA(prehashed))
    else:
        raise TypeError("unexpected key type")


def check_read(built: BuiltCard, session: BelpicSession) -> None:
    contents = session.read_all(verify=False)
    if contents.photo != built.profile.files[FileId.PHOTO.path]:
        raise AssertionError("photo differs")
    if contents.certificates.rrn != built.credentials.rrn_cert_der:
        raise AssertionError("RRN certificate differs")
    if contents.identity.national_number != built.person.national_number:
        raise AssertionError("identity differs")


def ours_read(card: VirtualCard) -> Measure:
    card.clear()
    with PcscTransport(card.reader) as transport:
        session = BelpicSession(transport)
        check_read(card.built, session)
        stats = session.protocol.stats
    measure = card.taken()
    if (stats.apdus, stats.bytes_out, stats.bytes_in) != (
        measure.apdus,
        measure.bytes_out,
        measure.bytes_in,
    ):
        raise AssertionError(f"session stats {stats} disagree with the card's log {measure}")
    return measure


def ours_sign(card: VirtualCard) -> tuple[Measure, Measure]:
    profile = card.built.profile
    algorithm = hash_for(profile)
    digest = digest_of(algorithm, b"benchmark challenge")
    cert = card.built.credentials.auth_cert_der
    with PcscTransport(card.reader) as transport:
        session = BelpicSession(transport)
        card.clear()
        signature = session.sign(KeyRef.AUTHENTICATION, digest, algorithm, pin=PIN)
        cold = card.taken(note=True)
        check_signature(cert, signature, digest, algorithm)
        card.clear()
        signature = session.sign(KeyRef.AUTHENTICATION, digest, algorithm)
        warm = card.taken(note=True)
        check_signature(cert, signature, digest, algorithm)
    return cold, warm


# --- OpenSC ----------------------------------------------------------------------------------


@dataclass
class OpenScSetup:
    module: Path
    explorer: str
    env: dict[str, str]
    workdir: Path
    version: str = ""
    missing: list[str] = field(default_factory=list)


def opensc_setup(workdir: Path, reader_index: int) -> OpenScSetup:
    module = next((Path(p) for p in MODULE_CANDIDATES if Path(p).exists()), None)
    explorer = shutil.which("opensc-explorer")
    missing = [
        name
        for name, found in (("opensc-pkcs11.so", module), ("opensc-explorer", explorer))
        if not found
    ]
    others = [name for i, name in enumerate(READERS) if i != reader_index]
    config = workdir / "opensc.conf"
    ignored = ", ".join(f'"{name}"' for name in others)
    config.write_text(f"app default {{\n\tignored_readers = {ignored};\n}}\n")
    # Read by OpenSC's C_Initialize in this process and by the explorer.
    os.environ["OPENSC_CONF"] = str(config)
    version = ""
    if shutil.which("opensc-tool"):
        info = subprocess.run(
            ["opensc-tool", "--info"], capture_output=True, text=True, check=False
        )
        version = info.stdout.split("[", 1)[0].strip()
    return OpenScSetup(
        module or Path("/nonexistent"), explorer or "", dict(os.environ), workdir, version, missing
    )


class OpenScModule:
    """OpenSC's PKCS#11 module, loaded cold (C_Initialize) and finalised afterwards."""

    def __init__(self, setup: OpenScSetup, reader: str) -> None:
        self.path = str(setup.module)
        pkcs11.unload(self.path)  # a fresh C_Initialize, so the run is cold
        self.lib: Any = pkcs11.lib(self.path)
        slots = [
            s
            for s in self.lib.get_slots(token_present=True)
            if s.slot_description.strip() == reader
        ]
        if len(slots) != 1:
            raise RuntimeError(f"OpenSC sees {len(slots)} tokens in {reader}")
        self.token: Any = slots[0].get_token()
        major, minor = self.lib.library_version
        self.version = f"{major}.{minor}"

    def close(self) -> None:
        pkcs11.unload(self.path)


def opensc_read(card: VirtualCard, setup: OpenScSetup) -> tuple[Measure, OpenScModule]:
    """Certificates through the PKCS#11 module, the rest through OpenSC's card driver."""
    built = card.built
    expected = {
        "Authentication": built.credentials.auth_cert_der,
        "Signature": built.credentials.signature_cert_der,
        "CA": built.credentials.ca_cert_der,
        "Root": built.credentials.root_cert_der,
    }
    card.clear()
    module = OpenScModule(setup, card.reader)
    # The 1.7 CDF flags the certificates private: OpenSC shows them only after login.
    pin = None if built.profile.is_ec else PIN
    with module.token.open(user_pin=pin) as session:
        found = {
            str(obj[Attribute.LABEL]): bytes(obj[Attribute.VALUE])
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        }
    if found != expected:
        raise AssertionError(f"OpenSC's PKCS#11 certificates differ: {sorted(found)}")
    module_part = card.taken()
    module_part.note = f"PKCS#11 {module_part.apdus} (4 certificates{', login' if pin else ''})"

    script = setup.workdir / "explorer.txt"
    outputs: dict[FileId, Path] = {}
    lines: list[str] = []
    current = ""
    for file, df in EXPLORER_FILES:
        if df != current:
            lines += ([] if not current else ["cd .."]) + [f"cd {df}"]
            current = df
        outputs[file] = setup.workdir / f"{file.name}.bin"
        lines.append(f"get {file.fid.hex().upper()} {outputs[file]}")
    script.write_text("\n".join(lines) + "\n")
    card.clear()
    subprocess.run(
        [setup.explorer, "--reader", card.reader, str(script)],
        env=setup.env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    for file, path in outputs.items():
        data = path.read_bytes()
        stored = built.profile.files[file.path]
        if file is FileId.CERT_RRN:
            data = data[: der_length(data[:8]) or 0]
            stored = built.credentials.rrn_cert_der
        if data != stored:
            raise AssertionError(f"opensc-explorer read {file.name} wrong")
    file_paths = {bytes.fromhex("00a4080c06") + f.path for f, _ in EXPLORER_FILES}

    def file_work(exchange: Exchange) -> bool:
        command = exchange[0]
        if command[1] == 0xB0:
            return True
        return command in file_paths

    driver = card.taken(file_work)
    skipped = len(card.applet.log) - driver.apdus
    driver.note = f"driver {driver.apdus} (ID, address, photo, RRN cert; {skipped} uncounted)"
    return module_part + driver, module


def opensc_sign(
    card: VirtualCard, module: OpenScModule
) -> tuple[Measure | None, Measure | None, str]:
    profile = card.built.profile
    algorithm = hash_for(profile)
    digest = digest_of(algorithm, b"benchmark challenge")
    cert = card.built.credentials.auth_cert_der
    card.clear()
    try:
        with module.token.open(user_pin=PIN) as session:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="Authentication")
            if profile.is_ec:
                raw = key.sign(digest, mechanism=Mechanism.ECDSA)
                half = len(raw) // 2
                signature = utils.encode_dss_signature(
                    int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                )
            else:
                data = algorithm.digest_info_prefix + digest
                signature = bytes(key.sign(data, mechanism=Mechanism.RSA_PKCS))
            cold = card.taken(note=True)
            check_signature(cert, signature, digest, algorithm)
            card.clear()
            if profile.is_ec:
                key.sign(digest, mechanism=Mechanism.ECDSA)
            else:
                key.sign(algorithm.digest_info_prefix + digest, mechanism=Mechanism.RSA_PKCS)
            warm = card.taken(note=True)
    except p11.PKCS11Error as exc:
        code = CKR_NAMES.get(type(exc).__name__, type(exc).__name__)
        return None, None, f"OpenSC {module.version} cannot sign with this card: {code}"
    return cold, warm, ""


CKR_NAMES = {
    "MechanismInvalid": "CKR_MECHANISM_INVALID",
    "FunctionNotSupported": "CKR_FUNCTION_NOT_SUPPORTED",
    "KeyTypeInconsistent": "CKR_KEY_TYPE_INCONSISTENT",
}


# --- in-process, zero latency ---------------------------------------------------------------


class TimedApplet:
    """Wraps the applet to separate the emulator's own time from the host's."""

    def __init__(self, applet: BelpicApplet) -> None:
        self.applet = applet
        self.seconds = 0.0
        self.apdus = 0

    @property
    def atr(self) -> bytes:
        return self.applet.atr

    def power_on(self) -> bytes:
        return self.applet.power_on()

    def power_off(self) -> None:
        self.applet.power_off()

    def reset(self) -> bytes:
        return self.applet.reset()

    def process(self, apdu: bytes) -> bytes:
        start = time.perf_counter()
        try:
            return self.applet.process(apdu)
        finally:
            self.seconds += time.perf_counter() - start
            self.apdus += 1


@dataclass
class HostOverhead:
    operation: str
    apdus: int
    total_ms: float
    card_ms: float

    @property
    def host_ms(self) -> float:
        return self.total_ms - self.card_ms


def in_process(built: BuiltCard, repeats: int) -> list[HostOverhead]:
    zero = LatencyModel.zero()
    reader = LocalReader(latency=zero.cost)
    timed = TimedApplet(BelpicApplet(built.profile))
    reader.insert(timed)
    algorithm = hash_for(built.profile)
    digest = digest_of(algorithm, b"benchmark challenge")
    results: list[HostOverhead] = []

    def run(name: str, action: Callable[[], None]) -> None:
        totals: list[float] = []
        cards: list[float] = []
        apdus = 0
        for _ in range(repeats):
            timed.seconds, timed.apdus = 0.0, 0
            start = time.perf_counter()
            action()
            totals.append(time.perf_counter() - start)
            cards.append(timed.seconds)
            apdus = timed.apdus
        results.append(
            HostOverhead(
                name, apdus, statistics.median(totals) * 1e3, statistics.median(cards) * 1e3
            )
        )

    def read() -> None:
        BelpicSession(reader.connect()).read_all(verify=False)

    def sign_cold() -> None:
        BelpicSession(reader.connect()).sign(KeyRef.AUTHENTICATION, digest, algorithm, pin=PIN)

    session = BelpicSession(reader.connect())
    session.sign(KeyRef.AUTHENTICATION, digest, algorithm, pin=PIN)

    def sign_again() -> None:
        session.sign(KeyRef.AUTHENTICATION, digest, algorithm)

    run("read 8 files", read)
    run("sign (PIN)", sign_cold)
    run("sign again", sign_again)
    return results


# --- report -----------------------------------------------------------------------------------


@dataclass
class Row:
    operation: str
    floor: Measure
    ours: Measure
    opensc: Measure | None
    opensc_note: str = ""


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def format_measure(label: str, m: Measure | None, note: str = "") -> list[str]:
    if m is None:
        lines = [f"    {label:<7} {'n/a':>6}"]
    else:
        lines = [
            f"    {label:<7} {m.apdus:6d} {m.bytes_out:8,d} {m.bytes_in:8,d} "
            f"{m.total_bytes:8,d} {m.seconds:9.3f}"
        ]
    if note or (m is not None and m.note):
        lines.append(f"{'':14}{note or (m.note if m else '')}")
    return lines


def report(applet: str, title: str, rows: list[Row], verdicts: list[str]) -> None:
    print(title)
    print(f"    {'path':<7} {'APDUs':>6} {'out B':>8} {'in B':>8} {'total B':>8} {'time s':>9}")
    for row in rows:
        f, o, s = row.floor, row.ours, row.opensc
        print(f"  {row.operation}")
        for line in (
            format_measure("floor", f)
            + format_measure("ours", o)
            + format_measure("OpenSC", s, row.opensc_note)
        ):
            print(line)
        line = (
            f"    ours/floor: APDUs {ratio(o.apdus, f.apdus)}, bytes "
            f"{ratio(o.total_bytes, f.total_bytes)}, time {ratio(o.seconds, f.seconds)}"
        )
        if s is not None:
            line += (
                f"   OpenSC/ours: APDUs {ratio(s.apdus, o.apdus)}, bytes "
                f"{ratio(s.total_bytes, o.total_bytes)}, time {ratio(s.seconds, o.seconds)}"
            )
        print(line)
        over = [
            f"{name} x{ratio(a, b)}"
            for name, a, b in (
                ("APDUs", o.apdus, f.apdus),
                ("bytes", o.total_bytes, f.total_bytes),
                ("time", o.seconds, f.seconds),
            )
            if a > b * TARGET
        ]
        where = f"{applet} {row.operation}"
        verdicts.append(
            f"{'FAIL' if over else 'PASS'}  {where}: ours within 10% of the floor"
            + (f" (over: {', '.join(over)})" if over else "")
        )
        if s is None:
            verdicts.append(f"n/a   {where}: faster than OpenSC ({row.opensc_note})")
        else:
            verdicts.append(
                f"{'PASS' if o.seconds < s.seconds else 'FAIL'}  {where}: faster than OpenSC "
                f"({o.seconds:.3f} s vs {s.seconds:.3f} s)"
            )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=20, help="in-process repetitions")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)

    reader_index = int(os.environ.get("EID_TEST_READER_INDEX", "0"))
    reader = READERS[reader_index]
    if not any(s.name == reader for s in list_readers()):
        print(f"pcscd shows no reader '{reader}' (is vsmartcard-vpcd installed?)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    pki = TestPki.generate()
    verdicts: list[str] = []
    overheads: list[tuple[str, list[HostOverhead]]] = []
    with tempfile.TemporaryDirectory(prefix="eid-bench-") as tmp:
        setup = opensc_setup(Path(tmp), reader_index)
        if setup.missing:
            print(f"OpenSC missing: {', '.join(setup.missing)}", file=sys.stderr)
            return 2
        print(
            f"Belgian eID card benchmark: reader '{reader}', {setup.version}; latency "
            "LatencyModel.for_atr; times are card-side spans (first command to last answer)\n"
        )
        for name in PROFILES:
            built = build_card(name, pki)
            model = LatencyModel.for_atr(built.profile.atr)
            with inserted(built, reader_index) as card:
                read_ours = ours_read(card)
                sign_ours, again_ours = ours_sign(card)
                read_opensc, module = opensc_read(card, setup)
                try:
                    sign_opensc, again_opensc, opensc_note = opensc_sign(card, module)
                finally:
                    module.close()
            rows = [
                Row(
                    "read ID+address+photo+5 certs",
                    floor_measure(floor_read(built.profile), model),
                    read_ours,
                    read_opensc,
                ),
                Row(
                    "auth signature with PIN",
                    floor_measure(floor_sign(built.profile, pin_and_key_set=False), model),
                    sign_ours,
                    sign_opensc,
                    opensc_note,
                ),
                Row(
                    "auth signature, PIN+key set",
                    floor_measure(floor_sign(built.profile, pin_and_key_set=True), model),
                    again_ours,
                    again_opensc,
                    opensc_note,
                ),
            ]
            applet = name.rsplit("-", 1)[1]
            report(
                applet,
                f"applet {applet} ({name}; {model.byte_time * 1e6:.1f} us/byte, "
                f"{model.per_apdu * 1e3:.0f} ms/APDU, signature {model.signature * 1e3:.0f} ms)",
                rows,
                verdicts,
            )
            overheads.append((name, in_process(built, args.repeats)))

    print(
        f"in-process transport (LocalReader), LatencyModel.zero(), median of {args.repeats}; "
        "host = total - time inside the emulated applet"
    )
    print(
        f"    {'card':<12} {'operation':<14} {'APDUs':>6} {'total ms':>9} {'emulator ms':>12} "
        f"{'host ms':>8} {'host us/APDU':>13}"
    )
    for name, results in overheads:
        for r in results:
            print(
                f"    {name:<12} {r.operation:<14} {r.apdus:6d} {r.total_ms:9.2f} "
                f"{r.card_ms:12.2f} {r.host_ms:8.2f} {r.host_ms * 1e3 / max(r.apdus, 1):13.1f}"
            )
    print()
    for verdict in verdicts:
        print(verdict)
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")
    failed = any(v.startswith("FAIL") for v in verdicts)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
