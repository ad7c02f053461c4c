"""The ``/v1`` routes: check the input, hand card work to the worker, shape the answer.

GET routes have no side effects and carry no personal data. The origin a token or a
signature is bound to is the one the guards read from the Origin header, never the body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import platform
import re
import sys
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from bridge import __version__
from bridge.card.errors import PcscUnavailable
from bridge.service import operations
from bridge.service.cards import card_kind
from bridge.service.daemon import API_VERSION, Daemon
from bridge.service.errors import BadRequest, OriginNotAllowed, UserDenied, UserUnavailable
from bridge.service.guards import REQUEST_ORIGIN, read_json
from bridge.tokens.errors import TokenError
from bridge.tokens.format import check_nonce, check_origin
from bridge.ui.errors import UiUnavailable

DAEMON_KEY = web.AppKey("daemon", Daemon)
MAX_LABEL = 200
MAX_CERTIFICATE = 8 * 1024
CAPABILITIES = ["authenticate", "certificate", "sign", "identity", "events", "diagnostics"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _daemon(request: web.Request) -> Daemon:
    return request.app[DAEMON_KEY]


def _origin(request: web.Request) -> str:
    origin = request[REQUEST_ORIGIN]
    assert origin  # the guards let no card operation through without one
    return origin


def _b64_field(body: dict[str, Any], name: str, *, limit: int) -> bytes:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit * 4 // 3 + 4:
        raise BadRequest(f"'{name}' must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"'{name}' is not valid base64") from None


def clean_label(value: object) -> str:
    """The page's description of what is signed, made safe to show: a plain single line
    without control or bidi-override characters (which could disguise the text)."""
    if not isinstance(value, str):
        raise BadRequest("'label' must be a string describing what is signed")
    if len(value) > MAX_LABEL:
        raise BadRequest(f"'label' is longer than {MAX_LABEL} characters")
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text:
        raise BadRequest("'label' must describe what is signed")
    return text


async def _on_worker(request: web.Request, name: str, action: Any) -> Any:
    daemon = _daemon(request)
    try:
        return await daemon.worker.run(action, name=name, timeout=daemon.settings.request_timeout)
    except UiUnavailable as exc:  # no display and no terminal: nobody can consent
        raise UserUnavailable(str(exc)) from exc


# --- open routes ------------------------------------------------------------------------------


async def hello(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = request[REQUEST_ORIGIN]
    return web.json_response(
        {
            "name": "eid-bridge",
            "version": __version__,
            "apiVersion": API_VERSION,
            "tokenFormat": "web-eid:1.0",
            "capabilities": CAPABILITIES,
            "originAllowed": bool(origin) and daemon.origins.is_allowed(origin),
        }
    )


async def _readers(daemon: Daemon) -> dict[str, Any]:
    try:
        readers = await asyncio.to_thread(daemon.source.readers)
    except PcscUnavailable:
        return {"service": "down", "readers": []}
    return {
        "service": "up",
        "readers": [
            {
                "name": reader.name,
                "cardPresent": reader.card_present,
                "card": card_kind(reader.atr) if reader.card_present else None,
                "pinpad": daemon.pinpads.get(reader.name),
            }
            for reader in readers
        ],
    }


async def status(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    body = await _readers(daemon)
    body["busy"] = daemon.worker.current is not None
    body["waiting"] = daemon.worker.waiting
    return web.json_response(body)


async def diagnostics(request: web.Request) -> web.Response:
    """The helpdesk checks (bridge.diagnostics), redacted for web pages: no name, no national
    number, no serial numbers; no PIN operation (the signature test is CLI-only)."""
    from bridge.diagnostics import Options, diagnose

    daemon = _daemon(request)
    services = daemon.services

    def run_checks(ctx: Any) -> dict[str, Any]:
        options = Options(
            source=daemon.source,
            store=services.store,
            revocation=services.revocation,
            session=ctx.session,
        )
        return diagnose(options).to_dict(redact=True, identifiers=False)

    report = await _on_worker(request, "diagnostics", run_checks)
    body = {
        "bridge": {"version": __version__, "apiVersion": API_VERSION, "port": daemon.port},
        "system": {
            "os": platform.system(),
            "release": platform.release(),
            "python": sys.version.split()[0],
        },
        "pcsc": await _readers(daemon),
        "supportCode": report["supportCode"],
        "createdAt": report["createdAt"],
        "result": report["result"],
        "checks": report["checks"],
    }
    return web.json_response(body)


@functools.cache
def openapi_document() -> bytes:
    return resources.files("bridge.service").joinpath("openapi.json").read_bytes()


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type="application/json")


async def events(request: web.Request) -> web.StreamResponse:
    daemon = _daemon(request)
    ws = web.WebSocketResponse(max_msg_size=4096)  # no heartbeat: idle means silent
    await ws.prepare(request)
    # The state first, then the changes: a subscriber never sees an event before "hello".
    await ws.send_json({"type": "hello", **(await _readers(daemon))})
    await daemon.hub.add(ws)
    try:
        async for message in ws:  # the page has nothing to say; drain until it closes
            if message.type == WSMsgType.ERROR:
                break
    finally:
        await daemon.hub.discard(ws)
    return ws


# --- origin approval ------------------------------------------------------------------------


async def request_access(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = _origin(request)
    await read_json(request)
    if daemon.origins.is_allowed(origin):
        return web.json_response({"origin": origin, "allowed": True})
    if daemon.origins.recently_denied(origin):
        raise UserDenied("the user refused this site a moment ago")
    pending = daemon.pending_approvals.get(origin)
    if pending is None:
        # One question per origin at a time: a page opening ten tabs gets one dialog.
        pending = asyncio.ensure_future(
            _on_worker(
                request,
                "approve-origin",
                lambda ctx: operations.approve_origin(ctx, daemon.services, origin),
            )
        )
        daemon.pending_approvals[origin] = pending
        pending.add_done_callback(lambda _: daemon.pending_approvals.pop(origin, None))
    approved = await asyncio.shield(pending)
    if not approved:
        daemon.origins.deny(origin)
        raise UserDenied("the user refused the site")
    daemon.origins.approve(origin)
    return web.json_response({"origin": origin, "allowed": True})


# --- card operations --------------------------------------------------------------------------


async def authenticate(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = _origin(request)
    body = await read_json(request)
    nonce = body.get("nonce")
    if not isinstance(nonce, str):
        raise BadRequest("'nonce' must be the relying party's base64 challenge")
    try:
        check_nonce(nonce)
    except TokenError as exc:
        raise BadRequest(str(exc)) from None
    try:
        check_origin(origin)  # the token format's own rule, stricter than the guards' one
    except TokenError:
        raise OriginNotAllowed(origin) from None
    token = await _on_worker(
        request,
        "authenticate",
        lambda ctx: operations.authenticate(ctx, daemon.services, origin, nonce),
    )
    return web.json_response({"token": token})


async def certificate(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = _origin(request)
    await read_json(request)
    body = await _on_worker(
        request,
        "certificate",
        lambda ctx: operations.signing_certificate(ctx, daemon.services, origin),
    )
    return web.json_response(body)


async def sign(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = _origin(request)
    body = await read_json(request)
    name = body.get("hashFunction")
    if not isinstance(name, str) or name not in operations.HASHES:  # [] and {} are unhashable
        raise BadRequest(f"'hashFunction' must be one of {', '.join(operations.HASHES)}")
    hash_algorithm = operations.HASHES[name]
    digest = _b64_field(body, "hash", limit=64)
    if len(digest) != hash_algorithm.digest_size:
        raise BadRequest(f"a {name} hash has {hash_algorithm.digest_size} bytes")
    cert = _b64_field(body, "certificate", limit=MAX_CERTIFICATE)
    label = clean_label(body.get("label"))
    answer = await _on_worker(
        request,
        "sign",
        lambda ctx: operations.sign(
            ctx, daemon.services, origin, cert, digest, hash_algorithm, label
        ),
    )
    return web.json_response(answer)


async def identity(request: web.Request) -> web.Response:
    daemon = _daemon(request)
    origin = _origin(request)
    await read_json(request)
    body = await _on_worker(
        request, "identity", lambda ctx: operations.identity(ctx, daemon.services, origin)
    )
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/v1/hello", hello),
            web.get("/v1/status", status),
            web.get("/v1/diagnostics", diagnostics),
            web.get("/v1/openapi.json", openapi),
            web.get("/v1/events", events),
            web.post("/v1/origins", request_access),
            web.post("/v1/authenticate", authenticate),
            web.post("/v1/certificate", certificate),
            web.post("/v1/sign", sign),
            web.post("/v1/identity", identity),
        ]
    )
