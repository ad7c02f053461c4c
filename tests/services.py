"""Real services the tests talk to: pcscd with vsmartcard's vpcd readers.

pcscd is one per machine (its socket lives in /run/pcscd): reuse a running one, otherwise
start ``pcscd -f`` (needs root) and stop it by its pid when the tests end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bridge.card.errors import PcscUnavailable
from bridge.card.readers import list_readers
from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import CardCredentials, HierarchyKind, TestPki

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
READER_0 = "Virtual PCD 00 00"
READER_1 = "Virtual PCD 00 01"
# Two people (or helpers) running PC/SC tests at once each take one vpcd reader.
READER_INDEX = int(os.environ.get("EID_TEST_READER_INDEX", "0"))
TEST_READER = (READER_0, READER_1)[READER_INDEX]


class ServiceMissing(RuntimeError):
    pass


def pcscd_running() -> bool:
    try:
        list_readers()
    except PcscUnavailable:
        return False
    return True


def wait_for_readers(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(r.name == READER_0 for r in list_readers()):
                return
        except PcscUnavailable:
            pass
        time.sleep(0.1)
    raise ServiceMissing(
        f"pcscd runs but shows no '{READER_0}' reader (is vsmartcard-vpcd installed?)"
    )


class Pcscd:
    """A pcscd process this test run started (or ``None`` when one was already running)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if pcscd_running():
            wait_for_readers()
            return
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(binary).exists():
            raise ServiceMissing("pcscd is not installed (Debian package 'pcscd')")
        if not VPCD_CONF.exists():
            raise ServiceMissing("vpcd is not installed (Debian package 'vsmartcard-vpcd')")
        if os.geteuid() != 0:
            raise ServiceMissing("pcscd is not running and only root can start it")
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "eid-bridge-tests-pcscd.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen([binary, "-f"], stdout=log, stderr=subprocess.STDOUT)
        wait_for_readers()

    def stop(self) -> None:
        """Stop pcscd (used by tests of "the PC/SC service is down", and at the end)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
            self.process = None
            return
        subprocess.run(["pkill", "-TERM", "-x", "pcscd"], check=False)
        deadline = time.monotonic() + 10
        while pcscd_running() and time.monotonic() < deadline:
            time.sleep(0.1)

    @property
    def owned(self) -> bool:
        return self.process is not None


def wait_for_card(reader: str, *, present: bool, timeout: float = 10.0) -> None:
    """Block until pcscd reports the card in ``reader`` present (or absent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for state in list_readers():
            if state.name == reader and state.card_present == present:
                return
        time.sleep(0.05)
    raise TimeoutError(f"pcscd never saw the card {'inserted' if present else 'removed'}")


@contextlib.contextmanager
def revocation_service() -> Iterator[
    tuple[OcspCrlServer, TestPki, dict[HierarchyKind, CardCredentials]]
]:
    """The test PKI's OCSP/CRL server on 127.0.0.1, with one card of each hierarchy (an EC
    citizen and an RSA foreigner). The port is bound first so the PKI embeds the server's
    real URLs; an RSA-2048 root keeps generation fast."""
    server = OcspCrlServer(port=0)
    pki = TestPki.generate(
        ocsp_base_url=server.base_url, crl_base_url=server.base_url, rsa_root_bits=2048
    )
    server.pki = pki
    cards: dict[HierarchyKind, CardCredentials] = {
        "ec": pki.issue_card(
            "ec", national_number="85073100145", first_names="Jan", surname="Peeters"
        ),
        "rsa": pki.issue_card(
            "rsa",
            national_number="90020212345",
            first_names="Anna Maria",
            surname="Rossi",
            foreigner=True,
        ),
    }
    with server.run_in_thread():
        yield server, pki, cards
