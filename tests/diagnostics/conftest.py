"""Diagnostics on real set-ups: the virtual card in an in-process reader (or in pcscd via
vpcd), the test PKI with its OCSP/CRL server running, or with its URLs on a closed port."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from bridge.card.local import LocalReader
from bridge.diagnostics import Options, Report, diagnose
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import build_card
from bridge.service.cards import LocalSource
from bridge.trust.anchors import TrustStore
from tests.bridge_harness import ServicePki


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def down_pki() -> TestPki:
    """A test PKI whose OCSP and CRL URLs point at a closed port: the services are down."""
    base = f"http://127.0.0.1:{closed_port()}"
    return TestPki.generate(ocsp_base_url=base, crl_base_url=base, rsa_root_bits=2048)


Run = Callable[..., Report]


def source_with(
    profile: str | None, pki: TestPki, reader: str = "Virtual in-process reader"
) -> LocalSource:
    source = LocalSource(LocalReader(reader))
    if profile is not None:
        source.reader.insert(BelpicApplet(build_card(profile, pki).profile))
    return source


@pytest.fixture
def run(service_pki: ServicePki) -> Run:
    """Diagnose a virtual card of ``profile`` (None: empty reader) against the running test
    PKI (``pki=`` another one); other keywords go to :class:`Options`."""

    def go(
        profile: str | None,
        *,
        pki: TestPki | None = None,
        reader: str = "Virtual in-process reader",
        mute: bool = False,
        only: tuple[str, ...] | None = None,
        **options: Any,
    ) -> Report:
        chosen = pki or service_pki.pki
        source = source_with(profile, chosen, reader)
        source.reader.mute = mute
        options.setdefault("tls_probes", ())
        options.setdefault("store", TrustStore.for_test_pki(chosen))
        return diagnose(Options(source=source, **options), only=only)

    return go


def statuses(report: Report) -> dict[str, str]:
    return {c.id: c.status.value for c in report.checks}


def code(report: Report, check_id: str) -> str | None:
    remedy = report.check(check_id).remedy
    return None if remedy is None else remedy.code
