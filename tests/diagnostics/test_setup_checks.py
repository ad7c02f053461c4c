"""The computer's side: PC/SC service, readers and drivers, USB topology, middleware, TLS
interception, proxy; with pcscd and vpcd where the check is about them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.card.readers import ReaderState
from bridge.card.transport import Transport
from bridge.diagnostics import Options, TlsProbe, diagnose
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard
from bridge.service.cards import PcscSource
from bridge.trust.anchors import TrustStore
from tests.bridge_harness import ServicePki
from tests.diagnostics.conftest import Run, code, source_with, statuses
from tests.services import READER_INDEX, TEST_READER, Pcscd, wait_for_card

ROOT = Path(__file__).resolve().parents[2]


def test_pcsc_service_down() -> None:
    """libpcsclite finds pcscd through its socket; pointing the client at a socket where
    nothing listens is, for this process, exactly "pcscd is stopped" (without stopping the
    machine's pcscd under other test runs)."""
    env = os.environ | {
        "PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm",
        "EID_BRIDGE_LANGUAGE": "fr",
    }
    answer = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "diagnose", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert answer.returncode == 1, answer.stderr
    report = json.loads(answer.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["pcsc.service"]["status"] == "failed"
    assert checks["pcsc.service"]["remedy"]["code"] == "PCSC_UNAVAILABLE"
    assert "pcscd" in checks["pcsc.service"]["remedy"]["fr"]
    for dependant in ("readers.list", "card.present", "card.pin", "trust.chain"):
        assert checks[dependant]["status"] == "skipped"


class NoReaders:
    """A PC/SC service that answers with an empty reader list (what pcscd says with no
    reader plugged in; vpcd's readers cannot be unplugged from a running pcscd)."""

    name = "pcsc"

    def readers(self) -> list[ReaderState]:
        return []

    def connect(self) -> Transport:
        raise AssertionError("nothing to connect to")


def test_no_reader() -> None:
    report = diagnose(Options(source=NoReaders(), tls_probes=()))
    assert report.check("pcsc.service").status.value == "ok"
    assert report.check("readers.list").status.value == "failed"
    assert code(report, "readers.list") == "NO_READER"
    assert report.check("card.present").status.value == "skipped"


@pytest.mark.pcsc
def test_through_pcscd_and_vpcd(pcscd: Pcscd, service_pki: ServicePki) -> None:
    card = VpcdCard(
        BelpicApplet(service_pki.card("citizen-1.8").profile), port=VPCD_PORT + READER_INDEX
    )
    card.insert()
    try:
        wait_for_card(TEST_READER, present=True)
        options = Options(
            source=PcscSource(TEST_READER),
            tls_probes=(),
            store=TrustStore.for_test_pki(service_pki.pki),
        )
        report = diagnose(options)
        seen = statuses(report)
        for check_id in (
            "pcsc.service",
            "readers.list",
            "readers.driver",
            "card.present",
            "card.atr",
            "card.applet",
            "card.pin",
            "trust.chain",
        ):
            assert seen[check_id] == "ok", (check_id, report.check(check_id).summary)
        drivers = report.check("readers.driver").evidence["readers"]
        assert {
            "reader": TEST_READER,
            "driver": "vsmartcard vpcd (virtual reader)",
            "installed": True,
        } in drivers
        assert seen["readers.usb_hub"] == "skipped"  # vpcd readers are not USB devices

        card.mute_wait = 0.2
        card.mute = True  # the chip stops answering
        muted = diagnose(options)
        assert "CARD_MUTE" in {code(muted, "card.atr"), code(muted, "card.applet")}, statuses(muted)
        card.mute = False
    finally:
        card.remove()
    wait_for_card(TEST_READER, present=False)
    empty = diagnose(options)
    assert code(empty, "card.present") == "NO_CARD"


def test_reader_driver_table(run: Run, tmp_path: Path) -> None:
    missing = run(None, reader="ACS ACR38U 00 00", driver_dir=tmp_path)
    check = missing.check("readers.driver")
    assert check.status.value == "warning"
    assert code(missing, "readers.driver") == "DIAG_DRIVER_MISSING"
    assert "libacsccid1" in (check.remedy_text("en") or "")
    (tmp_path / "ifd-acsccid.bundle").mkdir()
    present = run(None, reader="ACS ACR38U 00 00", driver_dir=tmp_path)
    assert present.check("readers.driver").status.value == "ok"
    generic = run(None, reader="Gemalto PC Twin Reader 00 00", driver_dir=tmp_path)
    assert generic.check("readers.driver").status.value == "warning"  # no ifd-ccid here
    assert "libccid" in generic.check("readers.driver").summary


def _usb_device(root: Path, name: str, maker: str, product: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "manufacturer").write_text(maker + "\n")
    (root / name / "product").write_text(product + "\n")


def test_usb_hub(run: Run, tmp_path: Path) -> None:
    """A sysfs tree as Linux lays it out: ``1-1.4`` is port 4 of a hub on port 1."""
    sysfs = tmp_path / "devices"
    _usb_device(sysfs, "usb1", "Linux", "xHCI Host Controller")
    _usb_device(sysfs, "1-1", "Genesys Logic", "USB2.0 Hub")
    _usb_device(sysfs, "1-1.4", "ACS", "ACR38U")
    (sysfs / "1-1.4:1.0").mkdir()
    hub = run(None, reader="ACS ACR38U 00 00", usb_devices=sysfs)
    assert hub.check("readers.usb_hub").status.value == "warning"
    assert code(hub, "readers.usb_hub") == "DIAG_USB_HUB"
    direct_tree = tmp_path / "direct"
    _usb_device(direct_tree, "2-3", "ACS", "ACR38U")
    direct = run(None, reader="ACS ACR38U 00 00", usb_devices=direct_tree)
    assert direct.check("readers.usb_hub").status.value == "ok"
    virtual = run(None, usb_devices=sysfs)
    assert virtual.check("readers.usb_hub").status.value == "skipped"


def test_middleware(run: Run, tmp_path: Path) -> None:
    none = run(None, middleware_paths=[tmp_path / "libbeidpkcs11.so.0"])
    assert none.check("system.middleware").status.value == "warning"
    assert code(none, "system.middleware") == "DIAG_NO_MIDDLEWARE"
    (tmp_path / "libbeidpkcs11.so.0").write_bytes(b"\x7fELF")
    found = run(None, middleware_paths=[tmp_path / "libbeidpkcs11.so.0"])
    assert found.check("system.middleware").status.value == "ok"
    assert found.check("system.middleware").evidence["modules"][0]["module"] == "beidpkcs11"


def test_system_and_proxy(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    report = run(None)
    assert report.check("system.os").evidence["bridge"]
    proxy = report.check("network.proxy").evidence
    assert proxy["https_proxy"] == "http://***@proxy.example:3128"
    assert "secret" not in report.to_json()


# --- TLS interception against a real TLS server on 127.0.0.1 ---------------------------------


def _self_signed(directory: Path, issuer: str) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        cert_path,
        key_path,
        hashlib.sha256(spki).hexdigest(),
    )


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A TLS server on 127.0.0.1 presenting a self-signed certificate from "AV Web Shield"
    (what an intercepting antivirus looks like); yields its port and key pin."""
    import socket

    cert, key, pin = _self_signed(tmp_path, "AV Web Shield")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, pin
    stop.set()
    thread.join(5)
    listener.close()


def test_tls_interception(run: Run, tls_server: tuple[int, str]) -> None:
    port, pin = tls_server
    expected = TlsProbe("127.0.0.1", port, pins=frozenset({pin}))
    clean = run(None, tls_probes=(expected,))
    assert clean.check("network.tls_interception").status.value == "ok"
    # The same server, where a public CA's certificate was expected: intercepted.
    public = TlsProbe("127.0.0.1", port, pins=frozenset({"00" * 32}), issuers=("DigiCert",))
    intercepted = run(None, tls_probes=(public,))
    check = intercepted.check("network.tls_interception")
    assert check.status.value == "failed"
    assert code(intercepted, "network.tls_interception") == "DIAG_TLS_INTERCEPTED"
    assert "AV Web Shield" in (check.remedy_text("nl") or "")
    from tests.diagnostics.conftest import closed_port

    unreachable = run(None, tls_probes=(TlsProbe("127.0.0.1", closed_port()),), network_timeout=1.0)
    assert unreachable.check("network.tls_interception").status.value == "warning"
    offline = run(None, tls_probes=(TlsProbe("eid.invalid"),), network_timeout=1.0)
    assert offline.check("network.tls_interception").status.value == "skipped"
    assert run(None).check("network.tls_interception").status.value == "skipped"


def test_source_with_builds_an_empty_reader(service_pki: ServicePki) -> None:
    assert source_with(None, service_pki.pki).readers()[0].card_present is False
