"""The portal application: settings → database, mail, eID token validator, pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware

from bridge.tokens.nonces import AsyncNonceStore
from bridge.tokens.validator import BELGIAN_EID_ALGORITHMS, TokenValidator, load_certificates
from bridge.trust.anchors import TrustStore, production_roots
from bridge.trust.revocation import RevocationPolicy
from webclient.portal import access, csrf, pages
from webclient.portal.db import make_engine, make_sessionmaker
from webclient.portal.headers import add_security_headers
from webclient.portal.i18n import jinja_globals, language_middleware
from webclient.portal.keys import DB, ENGINE, MAILER, SETTINGS, VALIDATOR
from webclient.portal.mail import Mailer
from webclient.portal.nonces import DatabaseNonceStore
from webclient.portal.sessions import DatabaseStorage
from webclient.portal.settings import PortalSettings
from webclient.portal.views import ROUTE_MODULES

HERE = Path(__file__).resolve().parent
MAX_UPLOAD = 5 * 1024 * 1024
"""Largest request body (a screenshot for the helpdesk, a register CSV)."""


def trust_store(settings: PortalSettings) -> TrustStore:
    if not settings.trust_test_roots:
        return TrustStore.production()
    if not settings.demo:
        raise ValueError("setting 'trust_test_roots' is only accepted with 'demo' on")
    from cryptography import x509

    test_roots = tuple(
        x509.load_der_x509_certificate(der) for der in load_certificates(settings.trust_test_roots)
    )
    return TrustStore(roots=production_roots(), test_roots=test_roots)


def shipped_intermediates() -> tuple[bytes, ...]:
    from bridge.trust.intermediates import production_intermediates  # type: ignore[import-not-found,unused-ignore]

    return tuple(production_intermediates())


def make_validator(
    settings: PortalSettings,
    nonces: AsyncNonceStore,
    *,
    store: TrustStore | None = None,
    intermediates: Sequence[bytes] = (),
    revocation: RevocationPolicy | None = None,
) -> TokenValidator:
    return TokenValidator(
        store or trust_store(settings),
        origin=settings.origin,
        nonces=nonces,
        intermediates=(
            *shipped_intermediates(),
            *load_certificates(settings.extra_intermediates),
            *intermediates,
        ),
        revocation=revocation,
        allowed_algorithms=BELGIAN_EID_ALGORITHMS,
    )


def create_app(
    settings: PortalSettings,
    *,
    store: TrustStore | None = None,
    intermediates: Sequence[bytes] = (),
    revocation: RevocationPolicy | None = None,
    mailer: Mailer | None = None,
) -> web.Application:
    settings.require_secret()
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    app = web.Application(
        client_max_size=MAX_UPLOAD,
        middlewares=[
            language_middleware,
            pages.error_middleware,
            session_middleware(
                DatabaseStorage(
                    db, max_age=settings.session_max_age, secure=settings.secure_cookies
                )
            ),
            csrf.csrf_middleware,
            access.access_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[DB] = db
    app[MAILER] = mailer or Mailer(settings)
    app[VALIDATOR] = make_validator(
        settings,
        DatabaseNonceStore(db),
        store=store,
        intermediates=intermediates,
        revocation=revocation,
    )
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("webclient.portal", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(jinja_globals())
    environment.globals["current_csrf_token"] = csrf.rendering_token
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    app.on_response_prepare.append(add_security_headers)
    environment.globals["static"] = lambda name: str(
        app.router["static"].url_for(filename=name)
    )
    for module in ROUTE_MODULES:
        module.setup(app)
    access.check_routes(app)

    async def dispose(_app: web.Application) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app.cleanup_ctx.append(dispose)
    return app
