"""An example relying party: a page that logs users in with their eID through the bridge.

It serves the page, the browser library, a challenge nonce bound to a session cookie and the
login route that validates the Web eID token with :class:`bridge.tokens.validator.TokenValidator`;
``/api/verify-signature`` checks a signature made with ``sign()``. The portal mounts
:func:`make_app` as a sub-application later; ``python -m webclient.example.server`` runs it
alone (production trust roots, CA certificates given with ``--ca``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import inspect
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.card.constants import HashAlgorithm
from bridge.messages import explain, message_for
from bridge.tokens.errors import TokenError
from bridge.tokens.format import verify_digest_signature
from bridge.tokens.nonces import AsyncNonceStore, MemoryNonceStore, NonceStore
from bridge.tokens.validator import TokenValidator, VerifiedIdentity, load_certificates
from bridge.trust.anchors import TrustStore

SESSION_COOKIE = "rp_session"
VALIDATOR_KEY = web.AppKey("validator", TokenValidator)
NONCES_KEY: web.AppKey[NonceStore | AsyncNonceStore] = web.AppKey("nonces")
USERS_KEY = web.AppKey("users", dict[str, VerifiedIdentity])
_HASHES: dict[str, HashAlgorithm] = {h.value: h for h in HashAlgorithm}


def _library() -> bytes:
    return (Path(__file__).resolve().parent.parent / "js" / "eid-bridge.js").read_bytes()


def _page() -> bytes:
    return resources.files("webclient.example").joinpath("index.html").read_bytes()


def _session(request: web.Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if 16 <= len(value) <= 64 else None


async def index(request: web.Request) -> web.Response:
    return web.Response(body=_page(), content_type="text/html", charset="utf-8")


async def library(request: web.Request) -> web.Response:
    return web.Response(body=_library(), content_type="text/javascript", charset="utf-8")


async def nonce(request: web.Request) -> web.Response:
    """A fresh challenge for this browser's session (a cookie is set on first use)."""
    session = _session(request) or secrets.token_urlsafe(24)
    issued = request.app[NONCES_KEY].issue(session)
    value = await issued if inspect.isawaitable(issued) else issued
    response = web.json_response({"nonce": value})
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


def _problem(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def login(request: web.Request) -> web.Response:
    """``{"authToken": {...}, "nonce": "..."}`` → the holder's name, or a 401 explaining why."""
    session = _session(request)
    if session is None:
        return _problem(401, "NO_SESSION", "ask for a challenge first (GET /api/nonce)")
    try:
        body = await request.json()
    except ValueError:
        return _problem(400, "BAD_REQUEST", "the body is not JSON")
    if not isinstance(body, dict) or "authToken" not in body:
        return _problem(400, "BAD_REQUEST", "send {authToken, nonce}")
    given_nonce = body.get("nonce")
    try:
        identity = await request.app[VALIDATOR_KEY].validate(
            body["authToken"],
            session_id=session,
            nonce=given_nonce if isinstance(given_nonce, str) else None,
        )
    except TokenError as exc:
        return _problem(401, message_for(exc).code, explain(exc, "en"))
    request.app[USERS_KEY][session] = identity  # a real site would start its own session
    return web.json_response(
        {
            "givenName": identity.given_name,
            "surname": identity.surname,
            "country": identity.country,
            "algorithm": str(identity.algorithm.value),
        }
    )


async def verify_signature(request: web.Request) -> web.Response:
    """``{certificate, hash, hashFunction, signature}`` (base64) → ``{"valid": bool}``.

    Only the mathematics: a real site also validates the certificate (``bridge.trust``) and
    computes the hash itself from the document instead of trusting the page's."""
    try:
        body: Any = await request.json()
        hash_name = body["hashFunction"]
        if hash_name not in _HASHES:
            raise KeyError(hash_name)
        certificate, digest, signature = (
            base64.b64decode(body[name], validate=True)
            for name in ("certificate", "hash", "signature")
        )
        valid = verify_digest_signature(certificate, digest, _HASHES[hash_name], signature)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return _problem(400, "BAD_REQUEST", "send base64 certificate, hash, signature")
    return web.json_response({"valid": valid})


def make_app(validator: TokenValidator) -> web.Application:
    """The example relying party around ``validator`` (whose nonce store it uses)."""
    app = web.Application()
    app[VALIDATOR_KEY] = validator
    app[NONCES_KEY] = validator.nonces
    app[USERS_KEY] = {}
    app.add_routes(
        [
            web.get("/", index),
            web.get("/eid-bridge.js", library),
            web.get("/api/nonce", nonce),
            web.post("/api/login", login),
            web.post("/api/verify-signature", verify_signature),
        ]
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--origin", help="this site's origin (default http://HOST:PORT)")
    parser.add_argument(
        "--ca", action="append", type=Path, default=[], help="PEM/DER of a card-issuing CA"
    )
    args = parser.parse_args(argv)
    origin = args.origin or f"http://{args.host}:{args.port}"
    validator = TokenValidator(
        TrustStore.production(),
        origin=origin,
        nonces=MemoryNonceStore(),
        intermediates=load_certificates(args.ca),
    )
    print(f"example relying party on {origin}", flush=True)
    web.run_app(make_app(validator), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
