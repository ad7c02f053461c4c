"""``eid-bridge run``: build the daemon from the settings and serve until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from bridge.config import Settings
from bridge.service.cards import CardSource, LocalSource, PcscSource
from bridge.service.daemon import Daemon, serving
from bridge.trust.anchors import TrustStore
from bridge.ui.base import UserInterface


def build_daemon(
    settings: Settings,
    *,
    ui: UserInterface,
    source: CardSource | None = None,
    test_pki: Any = None,
) -> Daemon:
    """The daemon for these settings. ``test_pki`` (demo mode only) adds the test PKI's
    roots to the trust store, so the virtual card's certificates validate."""
    store = TrustStore.for_settings(settings, test_pki)
    if source is None:
        source = PcscSource(settings.reader, connect_delay=settings.connect_delay)
    return Daemon(settings, source=source, ui=ui, store=store)


def in_process_source(profile: str, test_pki: Any) -> LocalSource:
    """A reader holding the virtual card, for machines without a PC/SC service."""
    from bridge.emulator.applet import BelpicApplet
    from bridge.emulator.profiles import build_card

    built = build_card(profile, test_pki)
    source = LocalSource()
    source.reader.name = f"Virtual in-process reader ({profile})"
    source.insert(BelpicApplet(built.profile))
    return source


DEMO_SITE_PORT = 8480


@contextlib.asynccontextmanager
async def demo_site(settings: Settings, test_pki: Any) -> AsyncIterator[str]:
    """The example relying party (``webclient/example``) on 127.0.0.1, validating tokens
    against the test PKI: the page a demo user opens to log in with the virtual card."""
    from aiohttp import web

    from bridge.tokens.nonces import MemoryNonceStore
    from bridge.tokens.validator import TokenValidator
    from webclient.example.server import make_app

    origin = f"http://127.0.0.1:{DEMO_SITE_PORT}"
    validator = TokenValidator(
        TrustStore.for_settings(settings, test_pki),
        origin=origin,
        nonces=MemoryNonceStore(),
        intermediates=test_pki.issuing_ca_ders(),
    )
    runner = web.AppRunner(make_app(validator), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", DEMO_SITE_PORT).start()
        yield origin
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def demo_portal(
    settings: Settings, test_pki: Any, announce: Callable[[str], None]
) -> AsyncIterator[str | None]:
    """The professional portal (``webclient/portal``) seeded with demo data, when that part
    of the product is installed; ``None`` otherwise."""
    try:
        from webclient.portal.demo import DEMO_PASSWORD
        from webclient.portal.demo import demo_portal as start
    except ImportError:
        yield None
        return
    async with start(
        settings.data_dir / "portal-demo",
        store=TrustStore.for_settings(settings, test_pki),
        intermediates=test_pki.issuing_ca_ders(),
    ) as portal:
        announce(f"portal: open {portal.origin}/ (the mails it sends: {portal.mail_page})")
        announce(f"portal: demo accounts {', '.join(portal.users)}; password {DEMO_PASSWORD}")
        yield portal.origin


async def serve_until_stopped(
    daemon: Daemon,
    announce: Callable[[str], None] = print,
    *,
    test_pki: Any = None,
    portal: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM. With ``test_pki`` (demo mode) also the example site, and
    with ``portal`` the seeded demo portal, both allowed without asking."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        if test_pki is not None:  # demo: a page to log in from, allowed without asking
            site = await stack.enter_async_context(demo_site(daemon.settings, test_pki))
            daemon.origins.allow(site)
            announce(f"demo site: open {site}/ and log in with the virtual card (PIN 1234)")
        if test_pki is not None and portal:
            portal_origin = await stack.enter_async_context(
                demo_portal(daemon.settings, test_pki, announce)
            )
            if portal_origin is not None:
                daemon.origins.allow(portal_origin)
        listening = await stack.enter_async_context(serving(daemon))
        announce(f"eID bridge listening on {', '.join(listening.addresses)}")
        allowed = [a.origin for a in daemon.origins.approvals()]
        announce(
            "allowed origins: "
            + (", ".join(allowed) if allowed else "none yet (asked on first use)")
        )
        await stop.wait()
    announce("eID bridge stopped")
