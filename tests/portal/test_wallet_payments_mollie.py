"""The Mollie adapter against a local fake of Mollie's documented Payments API v2 (the real
PSP cannot run here), and a top-up through the portal with it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from tests.bridge_harness import ServicePki
from tests.portal_harness import Portal, browser, start_portal
from webclient.portal.db import transaction
from webclient.portal.mailcatcher import MailCatcher
from webclient.portal.models import JournalEntry, Payment, PaymentStatus
from webclient.portal.wallet import ledger
from webclient.portal.wallet.payments import (
    MollieProvider,
    PaymentMethod,
    PaymentNotFound,
    ProviderRefused,
    ProviderUnavailable,
)

Status = PaymentStatus
KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"


@dataclass
class FakeMollie:
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/payments", self.create)
        app.router.add_get("/v2/payments/{id}", self.get)
        return app

    def _guard(self, request: web.Request) -> web.Response | None:
        if self.fail_with is not None:
            return web.json_response({"status": self.fail_with, "title": "Error"},
                                     status=self.fail_with)
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"status": 401, "title": "Unauthorized Request",
                                      "detail": "Missing authentication"}, status=401)
        return None

    async def create(self, request: web.Request) -> web.Response:
        refused = self._guard(request)
        if refused is not None:
            return refused
        body = await request.json()
        self.requests.append(body)
        amount = body.get("amount", {})
        if (amount.get("currency") != "EUR"
                or not re.fullmatch(r"\d+\.\d{2}", str(amount.get("value", "")))
                or body.get("method") not in ("bancontact", "creditcard")
                or not body.get("redirectUrl") or not body.get("description")):
            return web.json_response({"status": 422, "title": "Unprocessable Entity",
                                      "detail": "bad request", "field": "amount"}, status=422)
        payment_id = f"tr_{len(self.payments) + 1:08d}"
        self.payments[payment_id] = {
            "resource": "payment", "id": payment_id, "status": "open", "amount": amount,
            "metadata": body.get("metadata"), "method": body["method"],
            "_links": {"checkout": {"href": f"{self.url}/checkout/{payment_id}"}},
        }
        return web.json_response(self.payments[payment_id], status=201)

    async def get(self, request: web.Request) -> web.Response:
        refused = self._guard(request)
        if refused is not None:
            return refused
        found = self.payments.get(request.match_info["id"])
        if found is None:
            return web.json_response({"status": 404, "title": "Not Found"}, status=404)
        return web.json_response(found)


@pytest.fixture
async def mollie() -> AsyncIterator[FakeMollie]:
    fake = FakeMollie()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


async def test_adapter_follows_the_payments_api(mollie: FakeMollie) -> None:
    provider = MollieProvider(KEY, mollie.url)
    try:
        provider_id, checkout = await provider.create_payment(
            amount=5050, method=PaymentMethod.DEBIT_MASTERCARD, description="Top-up",
            redirect_url="https://portal.example/back", webhook_url="https://portal.example/wh",
            metadata={"payment": 7},
        )
        assert mollie.requests[-1]["amount"] == {"currency": "EUR", "value": "50.50"}
        assert mollie.requests[-1]["method"] == "creditcard"
        assert mollie.requests[-1]["webhookUrl"] == "https://portal.example/wh"
        assert checkout.endswith(f"/checkout/{provider_id}")
        for mollie_status, ours in (("open", Status.OPEN), ("authorized", Status.PENDING),
                                    ("pending", Status.PENDING), ("paid", Status.PAID),
                                    ("expired", Status.EXPIRED), ("canceled", Status.CANCELED),
                                    ("failed", Status.FAILED)):
            mollie.payments[provider_id]["status"] = mollie_status
            state = await provider.get_payment(provider_id)
            assert state.status is ours
            assert (state.amount, state.currency, state.metadata) == (5050, "EUR", {"payment": 7})
        with pytest.raises(PaymentNotFound):
            await provider.get_payment("tr_unknown")
        mollie.fail_with = 503
        with pytest.raises(ProviderUnavailable):
            await provider.get_payment(provider_id)
        mollie.fail_with = None
        mollie.payments[provider_id]["amount"] = {"currency": "EUR", "value": "50.5"}
        with pytest.raises(ProviderUnavailable):
            await provider.get_payment(provider_id)
    finally:
        await provider.close()
    wrong_key = MollieProvider("test_wrong", mollie.url)
    try:
        with pytest.raises(ProviderRefused):
            await wrong_key.get_payment("tr_00000001")
    finally:
        await wrong_key.close()
    unreachable = MollieProvider(KEY, "http://127.0.0.1:9", timeout=2)
    try:
        with pytest.raises(ProviderUnavailable):
            await unreachable.get_payment("tr_1")
    finally:
        await unreachable.close()
    with pytest.raises(ValueError, match="mollie_api_key"):
        MollieProvider("")


async def test_topup_through_mollie(
    mollie: FakeMollie, sqlite_url: str, service_pki: ServicePki, mail_catcher: MailCatcher
) -> None:
    async for portal in start_portal(sqlite_url, service_pki, mail_catcher,
                                     payment_provider="mollie", mollie_api_key=KEY,
                                     mollie_api_url=mollie.url):
        await _topup(portal, mollie)


async def _topup(portal: Portal, mollie: FakeMollie) -> None:
    manager = await portal.make_user("boss")
    organisation = await portal.make_organisation(manager=manager)
    visitor = browser(portal)
    await visitor.login("boss")
    topup = f"/org/{organisation.id}/wallet/topup"
    await visitor.get(topup)
    response = await visitor.post(topup, {"amount": "50", "method": "bancontact"})
    assert response.status == 303
    assert response.headers["Location"].startswith(f"{mollie.url}/checkout/tr_")
    provider_id = response.headers["Location"].rsplit("/", 1)[1]
    request = mollie.requests[-1]
    assert request["method"] == "bancontact"
    assert request["webhookUrl"] == f"{portal.settings.origin}/payments/webhook/mollie"
    # Mollie posts only the id; unpaid yet: nothing.
    webhook = "/payments/webhook/mollie"
    assert (await portal.client.post(webhook, data={"id": provider_id})).status == 200
    mollie.payments[provider_id]["status"] = "paid"
    mollie.fail_with = 502
    assert (await portal.client.post(webhook, data={"id": provider_id})).status == 503
    mollie.fail_with = None
    for _ in range(3):
        assert (await portal.client.post(webhook, data={"id": provider_id})).status == 200
    async with transaction(portal.db) as db:
        assert await ledger.balance(db, organisation.id) == 5000
        assert await db.scalar(select(func.count()).select_from(JournalEntry)) == 1
        payment = await db.scalar(select(Payment))
        assert payment is not None
        assert payment.status is PaymentStatus.PAID
    # Mollie down when starting a payment: a clear message, the payment marked failed.
    mollie.fail_with = 500
    response = await visitor.post(topup, {"amount": "60", "method": "debitmastercard"})
    assert response.status == 503
    assert "injoignable" in await response.text()  # French: the browser sent no language
    mollie.fail_with = None
    async with transaction(portal.db) as db:
        statuses = (await db.scalars(select(Payment.status).order_by(Payment.id))).all()
    assert statuses == [PaymentStatus.PAID, PaymentStatus.FAILED]
