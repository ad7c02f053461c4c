"""The portal's pages, one module per area; each has ``setup(app)`` adding its routes."""

from __future__ import annotations

from types import ModuleType

from webclient.portal.views import accounts, admin, eid, home, orgs, support, tools

ROUTE_MODULES: tuple[ModuleType, ...] = (home, accounts, eid, orgs, tools, support, admin)
