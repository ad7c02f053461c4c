"""The test PKI's OCSP responder, CRL server and CA-certificate server, on 127.0.0.1 only.

Routes (the URLs :class:`~bridge.emulator.pki.TestPki` embeds in its certificates):

* ``POST /ocsp/<kind>`` with an ``application/ocsp-request`` body, and the RFC 6960 GET form
  ``GET /ocsp/<kind>/<url-encoded base64 request>``; ``kind`` is ``ec`` or ``rsa``;
* ``GET /crl/<ca-name>.crl`` (``application/pkix-crl``, DER, freshly signed per request);
* ``GET /ca/<ca-name>.crt`` (``application/pkix-cert``, DER) for AIA caIssuers.

The port is bound when the object is made, so :attr:`OcspCrlServer.base_url` is known before
the PKI is generated (the PKI must know it to put it in certificates)::

    srv = OcspCrlServer(port=0)
    srv.pki = TestPki.generate(ocsp_base_url=srv.base_url, crl_base_url=srv.base_url)
    async with srv:
        srv.mode = "slow"
        ...

The demo uses :data:`~bridge.emulator.pki.DEFAULT_PORT` (35980). Synchronous tests use
:meth:`OcspCrlServer.run_in_thread`.

Failure modes (:attr:`OcspCrlServer.mode`, for OCSP; CRLs and CA certificates follow
:attr:`OcspCrlServer.crl_mode` so that "OCSP down, CRL up" can be tested):

``good``           the truth from the PKI's revocation state (CRL-backed: unrevoked = good)
``revoked``        every certificate revoked (reason/time: ``revoked_reason``/``revoked_time``)
``unknown``        every certificate unknown
``slow``           wait ``slow_seconds`` then answer truthfully
``down``           HTTP 503 Service Unavailable
``refused``        the listening socket is closed: connections are refused (TCP RST). This
                   affects CRLs too; switching back re-binds the same port.
``malformed``      HTTP 200 ``application/ocsp-response`` whose body is not DER
``stale``          a signed answer whose nextUpdate has passed
``wrong_nonce``    the nonce extension does not match the request
``no_nonce``       the nonce extension is left out
``bad_signature``  signed by a look-alike responder certificate no CA issued
``try_later``      OCSPResponseStatus tryLater
``unauthorized``   OCSPResponseStatus unauthorized

CRL modes: ``good``, ``slow``, ``down`` (503), ``malformed`` (not DER), ``stale`` (nextUpdate
passed).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import datetime as dt
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, get_args

from aiohttp import web
from cryptography import x509
from cryptography.x509 import ocsp

from bridge.emulator.pki import HIERARCHY_KINDS, HierarchyKind, OcspOverrides, TestPki

log = logging.getLogger(__name__)

OcspMode = Literal[
    "good",
    "revoked",
    "unknown",
    "slow",
    "down",
    "refused",
    "malformed",
    "stale",
    "wrong_nonce",
    "no_nonce",
    "bad_signature",
    "try_later",
    "unauthorized",
]
CrlMode = Literal["good", "slow", "down", "malformed", "stale"]
OCSP_MODES: Final[tuple[OcspMode, ...]] = get_args(OcspMode)
CRL_MODES: Final[tuple[CrlMode, ...]] = get_args(CrlMode)

LOOPBACK: Final = "127.0.0.1"
MALFORMED_BODY: Final = b"this is not DER: the test server's 'malformed' mode\n"
_STOP_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class ServedRequest:
    """One request as the server saw it, for tests that count or inspect traffic."""

    endpoint: Literal["ocsp", "crl", "ca"]
    method: str
    path: str
    mode: str
    status: int
    at: float
    """``time.monotonic()`` when the request arrived."""


def _bind_loopback(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 only; listening at once so that connections made
    before the event loop serves queue in the backlog instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Lets "refused" -> "good" re-bind the port while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _decode_get_request(encoded: str) -> bytes:
    """RFC 6960 A.1: url-encoding of the base64 of the DER request. Also tolerates the
    base64url alphabet and missing padding, which some clients send."""
    text = urllib.parse.unquote(encoded).strip()
    text = text.replace("-", "+").replace("_", "/").replace(" ", "+")
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


class OcspCrlServer:
    """aiohttp server for OCSP, CRLs and CA certificates of a :class:`TestPki`."""

    def __init__(
        self,
        pki: TestPki | None = None,
        *,
        port: int = 0,
        mode: OcspMode = "good",
        crl_mode: CrlMode = "good",
        slow_seconds: float = 3.0,
    ) -> None:
        _check_mode(mode, OCSP_MODES)
        _check_mode(crl_mode, CRL_MODES)
        self.pki = pki
        """May be set after construction (the PKI needs :attr:`base_url` first)."""
        self._crl_mode: CrlMode = crl_mode
        self.slow_seconds = slow_seconds
        self.revoked_reason = x509.ReasonFlags.key_compromise
        """Reason claimed in ``revoked`` mode."""
        self.revoked_time: dt.datetime | None = None
        """Revocation time claimed in ``revoked`` mode; default one day before the answer."""
        self.requests: list[ServedRequest] = []
        self._sock: socket.socket | None = _bind_loopback(port)
        self._port: int = self._sock.getsockname()[1]
        self._mode: OcspMode = mode
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self._port}"

    def ocsp_url(self, kind: HierarchyKind) -> str:
        return f"{self.base_url}/ocsp/{kind}"

    def crl_url(self, ca_name: str) -> str:
        return f"{self.base_url}/crl/{ca_name}.crl"

    # -- modes -------------------------------------------------------------------------------

    @property
    def mode(self) -> OcspMode:
        return self._mode

    @mode.setter
    def mode(self, value: OcspMode) -> None:
        _check_mode(value, OCSP_MODES)
        previous, self._mode = self._mode, value
        if (previous == "refused") != (value == "refused") and self._loop is not None:
            self._in_loop(lambda: self._set_listening(value != "refused"))

    @property
    def crl_mode(self) -> CrlMode:
        return self._crl_mode

    @crl_mode.setter
    def crl_mode(self, value: CrlMode) -> None:
        _check_mode(value, CRL_MODES)
        self._crl_mode = value

    def reset(self) -> None:
        """Back to truthful answers with no delay, and forget the request log."""
        self.mode = "good"
        self.crl_mode = "good"
        self.revoked_reason = x509.ReasonFlags.key_compromise
        self.revoked_time = None
        self.requests.clear()

    def requests_to(self, endpoint: Literal["ocsp", "crl", "ca"]) -> list[ServedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("server already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/ocsp/{kind}", self._handle_ocsp)
        app.router.add_get("/ocsp/{kind}/{encoded:.+}", self._handle_ocsp)
        app.router.add_get("/crl/{name:[A-Za-z0-9_-]+}.crl", self._handle_crl)
        app.router.add_get("/ca/{name:[A-Za-z0-9_-]+}.crt", self._handle_ca)
        # A short shutdown timeout: tests stop servers with slow requests still pending.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        if self._mode == "refused":
            self._set_listening(False)
        elif self._sock is not None:
            sock, self._sock = self._sock, None
            await self._serve(sock)
        log.info("test OCSP/CRL server listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # wakes "slow" handlers so shutdown does not wait for them
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await self._serving
            self._serving = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if server is not None:
            await server.wait_closed()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._loop = None
        self._loop_thread = None

    async def __aenter__(self) -> OcspCrlServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def close(self) -> None:
        """Release the port of a server that was never started."""
        if self._runner is None and self._sock is not None:
            self._sock.close()
            self._sock = None

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[OcspCrlServer]:
        """Serve from a private event loop in a daemon thread, for synchronous tests.

        Mode changes made from the calling thread are applied in the server's loop; a change
        to or from ``refused`` has taken effect when the assignment returns.
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_run_loop, args=(loop,), name="test-ocsp-crl-server", daemon=True
        )
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(_STOP_TIMEOUT)
            try:
                yield self
            finally:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(_STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            if not thread.is_alive():
                loop.close()

    # -- listening socket (the "refused" mode) -----------------------------------------------

    def _in_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` in the server's loop; from another thread, wait until it has run."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            action()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                action()
            except BaseException as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)

        loop.call_soon_threadsafe(run)
        done.result(_STOP_TIMEOUT)
        if self._serving is not None:
            # Re-listening finishes in a task; wait for it too so the caller can connect.
            asyncio.run_coroutine_threadsafe(self._wait_serving(), loop).result(_STOP_TIMEOUT)

    async def _wait_serving(self) -> None:
        if self._serving is not None:
            await self._serving

    def _set_listening(self, listen: bool) -> None:
        """Synchronous in the loop thread: closing stops accepting at once; re-opening binds
        and listens at once (clients queue in the backlog) and starts accepting in a task."""
        if not listen:
            if self._server is not None:
                self._server.close()
                self._server = None
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._runner is not None and self._runner.server is not None:
                # Kept-alive connections would otherwise still reach the server.
                for handler in self._runner.server.connections:
                    handler.force_close()
            return
        if self._server is not None or self._loop is None:
            return
        sock = _bind_loopback(self._port)
        self._serving = self._loop.create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        if self._runner is None or self._runner.server is None:
            sock.close()
            raise RuntimeError("server not set up")
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(self._runner.server, sock=sock)
        except BaseException:
            sock.close()
            raise
        if self._mode == "refused":
            # Switched back to "refused" while this was starting.
            server.close()
            return
        self._server = server

    # -- handlers ----------------------------------------------------------------------------

    async def _delay(self) -> None:
        if self._stopping is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self.slow_seconds)

    def _record(
        self,
        endpoint: Literal["ocsp", "crl", "ca"],
        request: web.Request,
        mode: str,
        status: int,
        at: float,
    ) -> None:
        self.requests.append(
            ServedRequest(endpoint, request.method, request.path, mode, status, at)
        )

    async def _handle_ocsp(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        mode = self._mode
        response = await self._ocsp_response(request, mode)
        self._record("ocsp", request, mode, response.status, at)
        return response

    async def _ocsp_response(self, request: web.Request, mode: OcspMode) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in HIERARCHY_KINDS:
            return web.Response(status=404, text=f"no OCSP responder for {kind!r}\n")
        if request.method == "POST":
            body = await request.read()
        else:
            try:
                body = _decode_get_request(request.match_info["encoded"])
            except (binascii.Error, ValueError):
                return web.Response(status=400, text="request is not base64\n")
        if mode == "down":
            return _unavailable()
        if mode == "slow":
            await self._delay()
        pki = self.pki
        if pki is None:
            return _unavailable()
        if mode == "malformed":
            return web.Response(body=MALFORMED_BODY, content_type="application/ocsp-response")
        der = pki.ocsp_response(body, kind=_as_kind(kind), overrides=self._overrides(mode))
        return web.Response(body=der, content_type="application/ocsp-response")

    def _overrides(self, mode: OcspMode) -> OcspOverrides:
        if mode == "revoked":
            return OcspOverrides(
                status="revoked",
                revocation_reason=self.revoked_reason,
                revocation_time=self.revoked_time,
            )
        if mode == "unknown":
            return OcspOverrides(status="unknown")
        if mode == "stale":
            return OcspOverrides(stale=True)
        if mode == "wrong_nonce":
            return OcspOverrides(nonce="wrong")
        if mode == "no_nonce":
            return OcspOverrides(nonce="omit")
        if mode == "bad_signature":
            return OcspOverrides(rogue_signer=True)
        if mode == "try_later":
            return OcspOverrides(response_status=ocsp.OCSPResponseStatus.TRY_LATER)
        if mode == "unauthorized":
            return OcspOverrides(response_status=ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return OcspOverrides()

    async def _handle_crl(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_authority_file(request, "crl")

    async def _handle_ca(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_authority_file(request, "ca")

    async def _serve_authority_file(
        self, request: web.Request, kind: Literal["crl", "ca"]
    ) -> web.StreamResponse:
        """A CA's CRL or certificate; both follow ``crl_mode`` (OCSP has its own mode)."""
        at = time.monotonic()
        mode = self._crl_mode
        response = await self._authority_file(request.match_info["name"], mode, kind)
        self._record(kind, request, mode, response.status, at)
        return response

    async def _authority_file(
        self, name: str, mode: CrlMode, kind: Literal["crl", "ca"]
    ) -> web.Response:
        content_type = "application/pkix-crl" if kind == "crl" else "application/pkix-cert"
        if mode == "down":
            return _unavailable()
        if mode == "slow":
            await self._delay()
        pki = self.pki
        if pki is None:
            return _unavailable()
        try:
            authority = pki.ca(name)
        except KeyError:
            what = "CRL" if kind == "crl" else "CA"
            return web.Response(status=404, text=f"no {what} named {name!r}\n")
        if mode == "malformed":
            return web.Response(body=MALFORMED_BODY, content_type=content_type)
        if kind == "ca":
            return web.Response(body=authority.der, content_type=content_type)
        if mode == "stale":
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            der = pki.crl_der(
                authority,
                this_update=now - dt.timedelta(days=14),
                next_update=now - dt.timedelta(days=7),
            )
        else:
            der = pki.crl_der(authority)
        return web.Response(body=der, content_type=content_type)


def _unavailable() -> web.Response:
    return web.Response(
        status=503, text="test server is in 'down' mode\n", headers={"Retry-After": "1"}
    )


def _as_kind(kind: str) -> HierarchyKind:
    return "ec" if kind == "ec" else "rsa"


def _check_mode(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown mode {value!r}; expected one of {', '.join(allowed)}")


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


__all__ = [
    "CRL_MODES",
    "LOOPBACK",
    "MALFORMED_BODY",
    "OCSP_MODES",
    "CrlMode",
    "OcspCrlServer",
    "OcspMode",
    "ServedRequest",
]
