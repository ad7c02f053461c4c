"""Real Chromium (Debian's, driven by Playwright) against the real daemon and the example
relying party. Never ``playwright install``: the browser is ``/usr/bin/chromium``."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import async_playwright

from bridge.tokens.nonces import MemoryNonceStore
from bridge.tokens.validator import TokenValidator
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationPolicy
from tests.bridge_harness import ServicePki
from webclient.example.server import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]



@dataclass
class RelyingParty:
    origin: str
    app: web.Application


def require_chromium() -> None:
    """Skip without Debian's Chromium, except in CI, which must run the browser tests."""
    if not shutil.which(CHROMIUM):
        missing = f"{CHROMIUM} is missing (Debian package 'chromium')"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    require_chromium()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def relying_party(service_pki: ServicePki) -> AsyncIterator[RelyingParty]:
    """The example relying party on http://127.0.0.1:<port>, trusting the test PKI."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    validator = TokenValidator(
        TrustStore.for_test_pki(service_pki.pki),
        origin=origin,
        nonces=MemoryNonceStore(),
        intermediates=service_pki.ca_certificates,
        revocation=RevocationPolicy(timeout=3.0),
    )
    app = make_app(validator)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield RelyingParty(origin, app)
    finally:
        await runner.cleanup()
        sock.close()


OpenPage = Callable[..., contextlib.AbstractAsyncContextManager[Any]]


@pytest.fixture
def open_page(browser: Any, relying_party: RelyingParty) -> OpenPage:
    """``async with open_page(bridge_port) as page``: the example page in a fresh context
    (no cached discovery), ``window.demo`` ready."""

    @contextlib.asynccontextmanager
    async def open_(
        port: int, *, events: bool = False, init_script: str | None = None
    ) -> AsyncIterator[Any]:
        context = await browser.new_context()
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            if init_script:
                await page.add_init_script(init_script)
            query = f"?bridgePort={port}" + ("" if events else "&noevents")
            await page.goto(relying_party.origin + "/" + query)
            await page.wait_for_function("window.demo !== undefined", timeout=10_000)
            yield page
            assert not errors, errors
        finally:
            await context.close()

    return open_
