"""Logging in with the eID, linking it to an account, and the example relying party.

Both flows are the same three steps: the page asks for a challenge bound to its session
(``/api/eid/challenge``), the bridge on the user's computer has the card sign it, the page
posts the token here, where :class:`bridge.tokens.validator.TokenValidator` checks it for
this origin and that challenge. The national register number it yields is only ever kept as
a keyed hash (to find the account) and a sealed copy; it never reaches a log or a response.
"""

from __future__ import annotations

import inspect
import logging
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge.messages import explain, message_for
from bridge.tokens.errors import TokenError
from bridge.tokens.validator import VerifiedIdentity
from webclient.portal import identity, security, throttle
from webclient.portal.access import AUTH_METHOD, Access, current_user, requires
from webclient.portal.catalogue import RECOGNITION_NAMES, Recognition
from webclient.portal.db import transaction, utcnow
from webclient.portal.i18n import LANGUAGE, current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, SETTINGS, VALIDATOR
from webclient.portal.login import log_in
from webclient.portal.models import User
from webclient.portal.pages import flash, json_error, render, safe_next
from webclient.portal.recognitions import grant_for_user
from webclient.portal.sessions import session_key

log = logging.getLogger("webclient.portal.eid")

LIBRARY = Path(__file__).resolve().parents[2] / "js" / "eid-bridge.js"
MAX_TOKEN_BODY = 64 * 1024
IP_FAILURE_FACTOR = 4
"""Failed eID attempts allowed per client address: this many times ``login_max_failures``
(several people may share an address)."""


@cache
def _library() -> bytes:
    return LIBRARY.read_bytes()


@requires(Access.PUBLIC)
async def library(request: web.Request) -> web.Response:
    """The browser library, served from the one copy in the repository."""
    return web.Response(
        body=_library(),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


# -- pages -------------------------------------------------------------------------------------


@requires(Access.PUBLIC)
async def login_page(request: web.Request) -> web.Response:
    return await render(
        request,
        "eid/login.html",
        {"next": safe_next(request.query.get("next"))},
    )


@requires(Access.ACTIVATED)
async def link_page(request: web.Request) -> web.Response:
    user = current_user(request)
    assert user is not None
    return await render(request, "eid/link.html", {"account": user})


# -- the token flow ----------------------------------------------------------------------------


@requires(Access.PUBLIC)
async def challenge(request: web.Request) -> web.Response:
    """A fresh challenge nonce bound to this browser's session (single use, 5 minutes)."""
    issued = request.app[VALIDATOR].nonces.issue(await session_key(request))
    nonce = await issued if inspect.isawaitable(issued) else issued
    return web.json_response({"nonce": nonce}, headers={"Cache-Control": "no-store"})


def _throttle_key(request: web.Request) -> str:
    return f"eid:ip:{request.remote or '-'}"


def _too_many() -> web.Response:
    return json_error(
        429,
        "TOO_MANY_ATTEMPTS",
        _("Too many failed eID attempts from this connection. Wait a few minutes and try "
          "again."),
    )


async def _verified(request: web.Request) -> VerifiedIdentity | web.Response:
    """The identity in the posted token, or the error response to send."""
    settings = request.app[SETTINGS]
    limit = settings.login_max_failures * IP_FAILURE_FACTOR
    async with transaction(request.app[DB]) as db:
        if await throttle.exceeded(db, _throttle_key(request), limit, settings.throttle_window):
            return _too_many()
    if request.content_length is not None and request.content_length > MAX_TOKEN_BODY:
        return json_error(413, "TOO_LARGE", _("The request is too large."))
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("authToken"), dict | str):
        return json_error(
            400, "BAD_REQUEST", _("The page sent an incomplete request. Reload it and try again.")
        )
    nonce = body.get("nonce")
    try:
        verified = await request.app[VALIDATOR].validate(
            body["authToken"],
            session_id=await session_key(request),
            nonce=nonce if isinstance(nonce, str) else None,
        )
    except TokenError as exc:
        async with transaction(request.app[DB]) as db:
            await throttle.record(db, _throttle_key(request))
        # The error's detail names no person (bridge.tokens.errors); the class says enough.
        log.info("eID token refused: %s", type(exc).__name__)
        return json_error(401, message_for(exc).code, explain(exc, request.get(LANGUAGE, "fr")))
    request["eid_next"] = body.get("next")
    return verified


@requires(Access.PUBLIC)
async def login(request: web.Request) -> web.Response:
    """``{authToken, nonce, next}`` → ``{redirect}`` once logged in; 404 for a card linked
    to no account."""
    verified = await _verified(request)
    if isinstance(verified, web.Response):
        return verified
    digest = security.nrn_hmac(request.app[SETTINGS].require_secret(), verified.national_number)
    async with transaction(request.app[DB]) as db:
        user = await db.scalar(select(User).where(User.eid_nrn_hmac == digest))
    if user is None:
        return json_error(
            404,
            "EID_NOT_LINKED",
            _("This eID is not linked to any account: log in with your username and "
              "password, then link your eID in your profile — or create an account."),
            links={"login": "/login", "register": "/register"},
        )
    await log_in(request, user, "eid")
    log.info("user %s logged in with eID", user.id)
    if not user.activated:
        return web.json_response({"redirect": "/activate"})
    next_value = request.get("eid_next")
    return web.json_response(
        {"redirect": safe_next(next_value if isinstance(next_value, str) else None)}
    )


def _recognition_names(recognitions: list[Recognition]) -> list[dict[str, str]]:
    language = current_language()
    return [
        {"code": r.value, "name": RECOGNITION_NAMES[r].get(language, RECOGNITION_NAMES[r]["en"])}
        for r in recognitions
    ]


def _linked_elsewhere() -> web.Response:
    return json_error(
        409,
        "EID_LINKED_ELSEWHERE",
        _("This eID is already linked to another account. One eID can be linked to one "
          "account only. If that account is not yours, or you no longer have access to it, "
          "contact support."),
        links={"contact": "/contact"},
    )


@requires(Access.ACTIVATED)
async def link(request: web.Request) -> web.Response:
    """Links the card in the posted token to the logged-in account (one card per account,
    one account per card), takes the names from the card and grants the recognitions the
    registers list for it."""
    account = current_user(request)
    assert account is not None
    verified = await _verified(request)
    if isinstance(verified, web.Response):
        return verified
    secret = request.app[SETTINGS].require_secret()
    number = verified.national_number
    digest = security.nrn_hmac(secret, number)
    added: list[Recognition] = []
    try:
        async with transaction(request.app[DB]) as db:
            other = await db.scalar(
                select(User.id).where(User.eid_nrn_hmac == digest, User.id != account.id)
            )
            if other is not None:
                return _linked_elsewhere()
            user = await db.get(User, account.id)
            assert user is not None
            if user.eid_nrn_hmac is not None and user.eid_nrn_hmac != digest:
                return json_error(
                    409,
                    "ACCOUNT_HAS_OTHER_EID",
                    _("Your account is already linked to another eID card. If you have a new "
                      "card with another national register number, contact support."),
                    links={"contact": "/contact"},
                )
            newly = user.eid_nrn_hmac is None
            if newly:
                born, sex = identity.birth_date_and_sex(number)
                user.eid_nrn_hmac = digest
                user.eid_nrn_sealed = security.seal(
                    secret, number.encode("ascii"), context=f"user:{user.id}".encode()
                )
                user.eid_linked_at = utcnow()
                # As on the card: the certificate holds every given name.
                user.first_name = (verified.given_name or user.first_name)[:100]
                user.last_name = (verified.surname or user.last_name)[:100]
                user.birth_date = born
                user.sex = sex
                await db.flush()  # a concurrent link of the same card fails here
            added = await grant_for_user(db, user)
    except IntegrityError:
        return _linked_elsewhere()
    log.info("user %s %s their eID", account.id, "linked" if newly else "re-linked")
    # The card was just used in this session: the session counts as an eID login.
    if request.get(AUTH_METHOD) != "eid":
        await log_in(request, user, "eid")
    names = _recognition_names(added)
    if newly:
        message = _("Your eID is now linked to your account.")
    else:
        message = _("This eID was already linked to your account.")
    if names:
        message += " " + _("Recognitions added: %(names)s.",
                           names=", ".join(n["name"] for n in names))
    await flash(request, message, "success")
    return web.json_response(
        {"linked": True, "new": newly, "recognitions": names, "message": message,
         "redirect": "/profile/eid"}
    )


# -- the example relying party (issue 7) -------------------------------------------------------


def mount_example(app: web.Application) -> None:
    """``webclient.example`` under ``/example/``, sharing the portal's validator (its origin
    and the database nonce store). Its routes are public; its POSTs skip the portal's CSRF
    token: they touch only the example's own session (a ``SameSite=Strict`` cookie) and log
    nobody into the portal."""
    from webclient.example.server import make_app

    example = make_app(app[VALIDATOR])
    for route in example.router.routes():
        handler: Any = route.handler
        handler.access = Access.PUBLIC
        if route.method == "POST":
            handler.csrf_exempt = True
    app.add_subapp("/example/", example)
    app.router.add_get("/example", example_without_slash, name="example_redirect")


@requires(Access.PUBLIC)
async def example_without_slash(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/example/")


def setup(app: web.Application) -> None:
    app.router.add_get("/js/eid-bridge.js", library, name="eid_library")
    app.router.add_get("/login/eid", login_page, name="eid_login")
    app.router.add_get("/profile/eid", link_page, name="eid_link")
    app.router.add_get("/api/eid/challenge", challenge, name="eid_challenge")
    app.router.add_post("/api/eid/login", login, name="eid_login_api")
    app.router.add_post("/api/eid/link", link, name="eid_link_api")
    mount_example(app)
