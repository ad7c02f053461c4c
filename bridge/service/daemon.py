"""The running bridge: its parts wired together, the aiohttp application and the listener.

Listens on 127.0.0.1 and ::1 only, on :data:`DEFAULT_PORT` or, when another program holds
it, the next two ports (the browser library tries them in this order).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge import __version__
from bridge.card.readers import ReaderEvent, ReaderEventKind
from bridge.card.session import BelpicSession
from bridge.config import Settings
from bridge.service.cards import CardSource
from bridge.service.certcache import CertificateCache
from bridge.service.guards import ORIGIN_KEY, GuardSettings, build_middlewares
from bridge.service.operations import Services
from bridge.service.origins import OriginPolicy
from bridge.service.worker import CardWorker
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationCache, RevocationPolicy
from bridge.ui.base import UserInterface

log = logging.getLogger(__name__)

DEFAULT_PORT = 24801
PORT_FALLBACKS = 2
APP_VERSION = f"https://github.com/eid-bridge/eid-bridge/releases/tag/v{__version__}"
API_VERSION = "1.0"


class EventHub:
    """WebSocket subscribers of reader and card changes. Nothing is sent while nothing
    happens (no heartbeats), so idle browsers and the idle daemon both sleep."""

    def __init__(self, on_listeners: Callable[[bool], None] | None = None) -> None:
        self.sockets: set[web.WebSocketResponse] = set()
        self._on_listeners = on_listeners
        """Told True when the first subscriber arrives, False when the last one leaves."""

    async def add(self, ws: web.WebSocketResponse) -> None:
        self.sockets.add(ws)
        if len(self.sockets) == 1 and self._on_listeners is not None:
            await asyncio.shield(asyncio.to_thread(self._sync_watch))

    async def discard(self, ws: web.WebSocketResponse) -> None:
        if ws in self.sockets:
            self.sockets.discard(ws)
            if not self.sockets and self._on_listeners is not None:
                # Shielded: the page's handler is often being cancelled (the tab closed)
                # and the watch must stop all the same.
                await asyncio.shield(asyncio.to_thread(self._sync_watch))

    def _sync_watch(self) -> None:
        # Read the count when the thread runs, not when it was asked: of two overlapping
        # calls (a page arriving as another leaves) the later one sets the final state.
        assert self._on_listeners is not None
        self._on_listeners(bool(self.sockets))

    async def publish(self, message: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            # A closing socket: its handler leaves the hub (and stops the watch if last).
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(message)

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        source: CardSource,
        ui: UserInterface,
        store: TrustStore,
        revocation: RevocationPolicy | None = None,
        cache: CertificateCache | None = None,
        origins: OriginPolicy | None = None,
        queue_size: int = 16,
        rate: float = 20.0,
        burst: float = 40.0,
    ) -> None:
        """``rate``/``burst``: requests per second an origin may sustain, and its burst
        (benchmarks and API fuzzing raise them; users never need to)."""
        self.settings = settings
        self.rate, self.burst = rate, burst
        self.source = source
        self.pinpads: dict[str, bool] = {}
        self.worker = CardWorker(source.connect, queue_size=queue_size, on_session=self._seen)
        self.origins = origins or OriginPolicy(
            settings.allowed_origins, settings.config_dir / "origins.json"
        )
        self.services = Services(
            ui=ui,
            language=settings.language,
            store=store,
            revocation=revocation
            or RevocationPolicy(cache=RevocationCache(settings.cache_dir / "revocation")),
            cache=cache if cache is not None else CertificateCache.for_settings(settings),
            app_version=APP_VERSION,
        )
        self.hub = EventHub(source.watch)
        self.port = settings.port
        self.pending_approvals: dict[str, asyncio.Future[bool]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _seen(self, session: BelpicSession) -> None:
        reader = getattr(session.transport, "reader", None)
        if isinstance(reader, str):
            self.pinpads[reader] = session.pinpad().can_verify

    def _on_reader_event(self, event: ReaderEvent) -> None:
        """From the monitor's thread: tell subscribers. (The worker needs no telling: it
        asks the reader at each job whether its card is still there.)"""
        if event.kind is ReaderEventKind.READER_REMOVED and event.reader:
            self.pinpads.pop(event.reader, None)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            message = {"type": event.kind.value, "reader": event.reader}
            asyncio.run_coroutine_threadsafe(self.hub.publish(message), loop)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.worker.start()
        self.source.start(self._on_reader_event)

    async def stop(self) -> None:
        close = getattr(self.services.ui, "close", None)
        if callable(close):  # an open dialog closes as cancelled
            await asyncio.to_thread(close)
        await self.hub.close()
        await asyncio.to_thread(self.source.stop)
        await asyncio.to_thread(self.worker.stop)
        self._loop = None

    def make_app(self) -> web.Application:
        from bridge.service.routes import DAEMON_KEY, add_routes

        guards = GuardSettings(
            port=self.port,
            language=self.settings.language,
            rate=self.rate,
            burst=self.burst,
            global_rate=max(100.0, self.rate * 5),
            global_burst=max(200.0, self.burst * 5),
        )
        app = web.Application(middlewares=build_middlewares(guards), client_max_size=64 * 1024)
        app[ORIGIN_KEY] = self.origins
        app[DAEMON_KEY] = self
        add_routes(app)

        async def close_events(_: web.Application) -> None:
            # Before the runner waits for open handlers: a listening page would otherwise
            # hold the shutdown for aiohttp's whole grace period (60 s).
            await self.hub.close()

        app.on_shutdown.append(close_events)
        return app


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _bind(port: int, hosts: list[str]) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass
class Listening:
    port: int
    addresses: list[str]


def runtime_file(settings: Settings) -> Path:
    return settings.data_dir / "daemon.json"


@contextlib.asynccontextmanager
async def serving(daemon: Daemon, *, port: int | None = None) -> AsyncIterator[Listening]:
    """Start the daemon and listen; ``port`` 0 takes a free port (tests)."""
    hosts = ["127.0.0.1"] + (["::1"] if _ipv6_loopback() else [])
    first = daemon.settings.port if port is None else port
    candidates = [first] if first == 0 else [first + i for i in range(PORT_FALLBACKS + 1)]
    sockets: list[socket.socket] = []
    for candidate in candidates:
        try:
            sockets = _bind(candidate, hosts)
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or candidate == candidates[-1]:
                raise
            log.warning("port %d is taken, trying the next one", candidate)
    daemon.port = sockets[0].getsockname()[1]
    if first == 0 and len(hosts) > 1:  # a free port on 127.0.0.1 may be taken on ::1
        for sock in sockets:
            sock.close()
        sockets = _bind(daemon.port, hosts)
    await daemon.start()
    runner = web.AppRunner(daemon.make_app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        addresses = [f"http://{'[' + h + ']' if ':' in h else h}:{daemon.port}" for h in hosts]
        _write_runtime(daemon)
        yield Listening(daemon.port, addresses)
    finally:
        await runner.cleanup()
        await daemon.stop()
        with contextlib.suppress(OSError):
            runtime_file(daemon.settings).unlink()


def _write_runtime(daemon: Daemon) -> None:
    """Where a running daemon listens, for ``eid-bridge status`` and the tray."""
    path = runtime_file(daemon.settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"port": daemon.port, "pid": os.getpid()}), "utf-8")
    except OSError:
        log.warning("cannot write %s", path)
