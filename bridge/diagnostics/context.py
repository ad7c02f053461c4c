"""What the checks share: the options of a run, and what earlier checks found."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bridge.card.readers import ReaderState
from bridge.card.session import BelpicSession, CardCertificates
from bridge.card.transport import Transport
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from bridge.trust.validate import Verdict


class ReaderSource(Protocol):
    """Reader states without touching a card, and a connection to the chosen card
    (``bridge.service.cards.PcscSource`` and ``LocalSource`` fit)."""

    name: str

    def readers(self) -> list[ReaderState]: ...

    def connect(self) -> Transport: ...


@dataclass(frozen=True)
class TlsProbe:
    """A known HTTPS host and what its certificate must look like: the SHA-256 of the
    leaf's public key (``pins``, hex) or an issuer organisation among ``issuers``."""

    host: str
    port: int = 443
    pins: frozenset[str] = frozenset()
    issuers: tuple[str, ...] = ()


# The Belgian government's eID site, served by a public CA. Interception shows up as a leaf
# issued by something else (the antivirus' or firewall's own CA).
DEFAULT_TLS_PROBES = (
    TlsProbe(
        "eid.belgium.be",
        issuers=(
            "DigiCert",
            "GlobalSign",
            "Sectigo",
            "Let's Encrypt",
            "Entrust",
            "QuoVadis",
            "Google Trust Services",
            "Amazon",
            "Microsoft",
            "GEANT",
        ),
    ),
)
MIDDLEWARE_PATHS = (
    Path("/usr/lib/x86_64-linux-gnu/libbeidpkcs11.so.0"),
    Path("/usr/lib/libbeidpkcs11.so.0"),
    Path("/usr/local/lib/libbeidpkcs11.so.0"),
    Path("/Library/Belgium Identity Card/Pkcs11/beid-pkcs11.bundle"),
    Path("C:/Windows/System32/beidpkcs11.dll"),
    Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/opensc-pkcs11.so"),
)
PCSC_DRIVER_DIR = Path("/usr/lib/pcsc/drivers")
USB_DEVICES = Path("/sys/bus/usb/devices")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Options:
    source: ReaderSource
    store: TrustStore | None = None
    """Trust anchors for the chain check (None: that check is skipped)."""
    revocation: RevocationPolicy | None = None
    clock: Callable[[], dt.datetime] = _utcnow
    include_name: bool = False
    sign_test: bool = False
    pin: Callable[[], str | None] | None = None
    """Asked for the PIN by the signature test (None: PIN pad or cancelled)."""
    session: Callable[[], BelpicSession] | None = None
    """How to get the card session (the daemon passes its worker's); default: connect."""
    tls_probes: Sequence[TlsProbe] = DEFAULT_TLS_PROBES
    clock_reference: str | None = None
    """URL whose HTTP Date is the reference time; default: a revocation server answered."""
    network_timeout: float = 2.0
    middleware_paths: Sequence[Path] = MIDDLEWARE_PATHS
    driver_dir: Path = PCSC_DRIVER_DIR
    usb_devices: Path = USB_DEVICES


@dataclass
class Context:
    options: Options
    readers: list[ReaderState] = field(default_factory=list)
    reader: ReaderState | None = None
    session: BelpicSession | None = None
    transport: Transport | None = None
    certificates: CardCertificates | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    server_dates: list[tuple[str, dt.datetime, dt.datetime]] = field(default_factory=list)
    """(URL, its HTTP Date, our clock when it answered) from the network checks."""

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
