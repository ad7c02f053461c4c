"""The running bridge for service and browser tests (fixtures registered by tests/conftest.py): a
source (pcscd + vpcd, or the in-process reader), the scripted user, the test PKI with its
OCSP responder on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.config import Settings
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import BuiltCard, build_card
from bridge.service.cards import CardSource, LocalSource, PcscSource
from bridge.service.certcache import CertificateCache
from bridge.service.daemon import Daemon, serving
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from bridge.ui.base import UserInterface
from bridge.ui.scripted import ScriptedUI
from tests.services import TEST_READER

PORTAL = "https://portal.example"


@dataclass
class ServicePki:
    pki: TestPki
    server: OcspCrlServer

    def card(self, name: str) -> BuiltCard:
        return build_card(name, self.pki)

    @property
    def ca_certificates(self) -> list[bytes]:
        return list(self.pki.issuing_ca_ders())


@pytest.fixture(scope="session")
def service_pki() -> Iterator[ServicePki]:
    """A test PKI whose OCSP/CRL URLs point at a responder running for the whole session."""
    server = OcspCrlServer(port=0)
    pki = TestPki.generate(
        ocsp_base_url=server.base_url, crl_base_url=server.base_url, rsa_root_bits=2048
    )
    server.pki = pki
    with server.run_in_thread():
        yield ServicePki(pki, server)


@dataclass
class Bridge:
    daemon: Daemon
    port: int
    ui: Any
    """The provider the daemon uses (a :class:`ScriptedUI` unless a test chose another)."""
    http: aiohttp.ClientSession
    origin: str = PORTAL
    cache_dir: Path = field(default=Path())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        origin: str | None = PORTAL,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        sent = dict(headers or {})
        if origin is not None:
            sent.setdefault("Origin", origin)
        async with self.http.request(method, self.base + path, json=body, headers=sent) as response:
            raw = await response.read()
            try:
                data = await response.json(content_type=None) if raw else None
            except ValueError:
                data = raw
            return response.status, data, response

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, data, _ = await self.call("POST", path, {} if body is None else body, **kwargs)
        return status, data


def build_test_daemon(
    service_pki: ServicePki,
    tmp_path: Path,
    source: CardSource,
    *,
    ui: UserInterface,
    allowed: tuple[str, ...] = (PORTAL,),
    cache: bool = True,
    queue_size: int = 16,
    request_timeout: float = 60.0,
) -> Daemon:
    """A daemon over ``source`` trusting the test PKI, its files under ``tmp_path``."""
    settings = Settings(
        language="en",
        allowed_origins=allowed,
        request_timeout=request_timeout,
        config_dir=tmp_path / "config",
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        log_dir=tmp_path / "log",
    )
    key = os.urandom(32) if cache else None
    return Daemon(
        settings,
        source=source,
        ui=ui,
        store=TrustStore.for_test_pki(service_pki.pki),
        revocation=RevocationPolicy(timeout=3.0),
        cache=CertificateCache(tmp_path / "cache" / "certificates", key),
        queue_size=queue_size,
    )


BridgeFactory = Callable[..., contextlib.AbstractAsyncContextManager[Bridge]]


@pytest.fixture
def start_bridge(service_pki: ServicePki, tmp_path: Path) -> BridgeFactory:
    """``async with start_bridge(source, ui=ScriptedUI(...)) as bridge``."""

    @contextlib.asynccontextmanager
    async def start(
        source: CardSource,
        *,
        ui: UserInterface | None = None,
        allowed: tuple[str, ...] = (PORTAL,),
        cache: bool = True,
        queue_size: int = 16,
        request_timeout: float = 60.0,
    ) -> AsyncIterator[Bridge]:
        ui = ui or ScriptedUI(pins=["1234"] * 20)
        daemon = build_test_daemon(
            service_pki,
            tmp_path,
            source,
            ui=ui,
            allowed=allowed,
            cache=cache,
            queue_size=queue_size,
            request_timeout=request_timeout,
        )
        async with serving(daemon, port=0) as listening, aiohttp.ClientSession() as http:
            yield Bridge(daemon, listening.port, ui, http, cache_dir=tmp_path / "cache")

    return start


InProcess = Callable[[str], tuple[LocalSource, BelpicApplet, BuiltCard]]


@pytest.fixture
def in_process(service_pki: ServicePki) -> InProcess:
    """An in-process reader holding a fresh virtual card of the named profile."""

    def make(name: str) -> tuple[LocalSource, BelpicApplet, BuiltCard]:
        built = service_pki.card(name)
        applet = BelpicApplet(built.profile)
        source = LocalSource()
        source.insert(applet)
        return source, applet, built

    return make


def pcsc_source() -> PcscSource:
    return PcscSource(TEST_READER)
