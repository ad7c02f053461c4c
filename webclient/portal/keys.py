"""The application's shared objects, one typed key each."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bridge.tokens.validator import TokenValidator
from webclient.portal.mail import Mailer
from webclient.portal.settings import PortalSettings

SETTINGS = web.AppKey("settings", PortalSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
MAILER = web.AppKey("mailer", Mailer)
VALIDATOR = web.AppKey("validator", TokenValidator)
