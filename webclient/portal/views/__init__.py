"""The portal's pages, one module per area; each has ``setup(app)`` adding its routes."""

from __future__ import annotations

from types import ModuleType

from webclient.portal.views import (
    accounts,
    admin,
    bank_admin,
    eid,
    home,
    orgs,
    support,
    syndic,
    syndic_backoffice,
    tools,
    wallet,
    wallet_topup,
)

ROUTE_MODULES: tuple[ModuleType, ...] = (
    home, accounts, eid, orgs, tools, support, admin, wallet, wallet_topup, bank_admin,
    syndic, syndic_backoffice,
)
