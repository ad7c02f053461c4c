"""Online top-ups with the simulated provider: the checkout, the webhook that alone credits,
duplicates, reordering and outages, the return page, validation and access."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update

from tests.portal_harness import Browser, Portal, browser
from webclient.portal.db import transaction
from webclient.portal.models import (
    JournalEntry,
    MembershipRole,
    Organisation,
    Payment,
    PaymentStatus,
    SimulatedPayment,
    User,
)
from webclient.portal.views.wallet_topup import PAYMENT_PROVIDER
from webclient.portal.wallet import ledger
from webclient.portal.wallet.communication import display, wallet_communication
from webclient.portal.wallet.payments import SimulatedProvider, parse_amount


@dataclass
class Shop:
    manager: User
    organisation: Organisation
    visitor: Browser

    @property
    def topup(self) -> str:
        return f"/org/{self.organisation.id}/wallet/topup"


@pytest.fixture
async def shop(portal: Portal) -> Shop:
    manager = await portal.make_user("boss", first_name="Anne")
    organisation = await portal.make_organisation(manager=manager)
    visitor = browser(portal)
    await visitor.login("boss")
    return Shop(manager, organisation, visitor)


def simulator(portal: Portal) -> SimulatedProvider:
    provider = portal.app[PAYMENT_PROVIDER]
    assert isinstance(provider, SimulatedProvider)
    return provider


async def start(shop: Shop, amount: str = "75,50", method: str = "bancontact") -> str:
    """Start a top-up; returns the simulated provider's payment id."""
    await shop.visitor.get(shop.topup)
    response = await shop.visitor.post(shop.topup, {"amount": amount, "method": method})
    assert response.status == 303, await response.text()
    found = re.search(r"/simulated-psp/checkout/(sim_[\w-]+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def local(url: str) -> str:
    """The path of an absolute URL on the portal (the test client wants paths)."""
    return "/" + url.split("/", 3)[3]


async def set_simulated(portal: Portal, provider_id: str, **values: object) -> None:
    async with transaction(portal.db) as db:
        await db.execute(update(SimulatedPayment).where(SimulatedPayment.id == provider_id)
                         .values(**values))


async def deliver(portal: Portal, provider_id: str) -> int:
    response = await portal.client.post("/payments/webhook/simulated", data={"id": provider_id})
    return response.status


async def books(portal: Portal, organisation_id: int) -> tuple[int, int, list[str]]:
    async with transaction(portal.db) as db:
        entries = await db.scalar(select(func.count()).select_from(JournalEntry))
        return (await ledger.balance(db, organisation_id), int(entries or 0),
                await ledger.verify_ledger(db))


async def payment_of(portal: Portal, provider_id: str) -> Payment:
    async with transaction(portal.db) as db:
        payment = await db.scalar(select(Payment).where(Payment.provider_id == provider_id))
    assert payment is not None
    return payment


async def test_topup_page_shows_online_form_and_transfer_details(portal: Portal,
                                                                 shop: Shop) -> None:
    page = await shop.visitor.get(shop.topup)
    text = await page.text()
    assert page.status == 200
    assert 'id="topup-form"' in text
    assert display(wallet_communication(shop.organisation.id)) in text
    assert portal.settings.bank_iban in text
    assert portal.settings.bank_bic in text
    qr = await shop.visitor.get(f"/org/{shop.organisation.id}/wallet/qr.png")
    assert qr.status == 200
    assert qr.headers["Content-Type"] == "image/png"
    assert (await qr.read()).startswith(b"\x89PNG")
    with_amount = await shop.visitor.get(f"/org/{shop.organisation.id}/wallet/qr.png?amount=60")
    assert with_amount.status == 200
    bad = await shop.visitor.get(f"/org/{shop.organisation.id}/wallet/qr.png?amount=abc")
    assert bad.status == 400


async def test_paying_at_the_checkout_credits_once_through_the_webhook(
    portal: Portal, shop: Shop
) -> None:
    provider_id = await start(shop, "75,50", "debitmastercard")
    checkout = await shop.visitor.get(f"/simulated-psp/checkout/{provider_id}")
    assert "75,50" in await checkout.text() or "75.50" in await checkout.text()
    response = await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}",
                                       {"choice": "pay"})
    assert response.status == 303
    back = local(response.headers["Location"])
    assert back.endswith(f"/org/{shop.organisation.id}/wallet/topup/"
                         f"{(await payment_of(portal, provider_id)).id}")
    await simulator(portal).drain()
    assert await books(portal, shop.organisation.id) == (7550, 1, [])
    payment = await payment_of(portal, provider_id)
    assert payment.status is PaymentStatus.PAID
    assert payment.method == "debitmastercard"
    page = await shop.visitor.get(back)
    assert 'data-status="paid"' in await page.text()
    mail = await portal.mail.wait_for("boss@example.be", subject_contains="75")
    assert "Immo Test SRL" in mail.text
    # Paying again on the provider's page changes nothing.
    again = await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}", {"choice": "pay"})
    assert again.status == 303
    await simulator(portal).drain()
    assert (await books(portal, shop.organisation.id))[:2] == (7550, 1)


async def test_same_webhook_five_times_out_of_order_with_a_failure_credits_once(
    portal: Portal, shop: Shop
) -> None:
    provider_id = await start(shop, "50")
    # 1. The bank is still confirming.
    await set_simulated(portal, provider_id, status="pending")
    assert await deliver(portal, provider_id) == 200
    assert (await payment_of(portal, provider_id)).status is PaymentStatus.PENDING
    # 2. Paid, but the provider cannot be reached to verify: 503, so it retries.
    await set_simulated(portal, provider_id, status="paid", failing_fetches=1)
    assert await deliver(portal, provider_id) == 503
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)
    # 3-4. The retry and a duplicate, at the same time.
    statuses = await asyncio.gather(deliver(portal, provider_id), deliver(portal, provider_id))
    assert list(statuses) == [200, 200]
    # 5. A stale "pending" arrives last: a paid payment is never downgraded.
    await set_simulated(portal, provider_id, status="pending")
    assert await deliver(portal, provider_id) == 200
    assert (await payment_of(portal, provider_id)).status is PaymentStatus.PAID
    assert await books(portal, shop.organisation.id) == (5000, 1, [])


async def test_simulated_duplicate_and_fail_first_modes(portal: Portal, shop: Shop) -> None:
    simulator(portal).modes.duplicate = 3
    simulator(portal).modes.fail_first = 2
    provider_id = await start(shop, "100")
    await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}", {"choice": "pay"})
    await simulator(portal).drain()
    assert await books(portal, shop.organisation.id) == (10000, 1, [])
    async with transaction(portal.db) as db:
        state = await db.get(SimulatedPayment, provider_id)
    assert state is not None
    assert state.failing_fetches == 0  # both outages were met, and retried past


async def test_delayed_webhook_return_page_waits_and_never_credits(
    portal: Portal, shop: Shop
) -> None:
    simulator(portal).modes.delay = 1
    provider_id = await start(shop, "60")
    response = await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}",
                                       {"choice": "pay"})
    back = local(response.headers["Location"])
    for _ in range(3):
        page = await shop.visitor.get(back)
        text = await page.text()
        assert 'data-status="open"' in text
        assert 'http-equiv="refresh"' in text
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)
    await simulator(portal).drain()
    page = await shop.visitor.get(back)
    assert 'data-status="paid"' in await page.text()
    assert (await books(portal, shop.organisation.id))[:2] == (6000, 1)


async def test_failed_and_cancelled_payments_credit_nothing(portal: Portal, shop: Shop) -> None:
    for choice, status in (("fail", PaymentStatus.FAILED), ("cancel", PaymentStatus.CANCELED)):
        provider_id = await start(shop, "50")
        response = await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}",
                                           {"choice": choice})
        await simulator(portal).drain()
        assert (await payment_of(portal, provider_id)).status is status
        page = await shop.visitor.get(local(response.headers["Location"]))
        text = await page.text()
        assert f'data-status="{status.value}"' in text
        assert shop.topup in text  # "try again"
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)
    bad_choice = await shop.visitor.post(f"/simulated-psp/checkout/{provider_id}",
                                         {"choice": "steal"})
    assert bad_choice.status == 400


@pytest.mark.parametrize(("amount", "method"), [
    ("49,99", "bancontact"), ("abc", "bancontact"), ("", "bancontact"), ("50.001", "bancontact"),
    ("-50", "bancontact"), ("1e3", "bancontact"), ("10000,01", "bancontact"),
    ("50", "maestro"), ("50", ""), ("0x40", "bancontact"),
])
async def test_bad_topups_are_refused_and_start_nothing(
    portal: Portal, shop: Shop, amount: str, method: str
) -> None:
    await shop.visitor.get(shop.topup)
    response = await shop.visitor.post(shop.topup, {"amount": amount, "method": method})
    assert response.status == 400
    assert 'class="error"' in await response.text()
    async with transaction(portal.db) as db:
        assert await db.scalar(select(func.count()).select_from(Payment)) == 0


async def test_minimum_amount_message_names_the_minimum(portal: Portal, shop: Shop) -> None:
    await shop.visitor.get(shop.topup)
    response = await shop.visitor.post(shop.topup, {"amount": "20", "method": "bancontact"},
                                       headers={"Accept-Language": "fr"})
    assert "50,00" in await response.text()


def test_amount_parsing() -> None:
    assert parse_amount("50") == 5000
    assert parse_amount("75,5") == 7550
    assert parse_amount("1 000,50 €") == 100050
    assert parse_amount("1.000,50") == 100050
    assert parse_amount("1,000.50") == 100050
    assert parse_amount("1.000,5") == 100050
    assert parse_amount("1.000.50") is None
    assert parse_amount("EUR 60") is None or parse_amount("EUR 60") == 6000
    for bad in ("", "abc", "5,0,0", "1e3", "-1", "50.001", "nan", "inf", "١٠٠"):
        assert parse_amount(bad) is None, bad


async def test_webhook_ignores_unknown_and_malformed_ids(portal: Portal, shop: Shop) -> None:
    assert await deliver(portal, "sim_doesnotexist") == 200
    response = await portal.client.post("/payments/webhook/simulated", data={"id": "../x"})
    assert response.status == 400
    response = await portal.client.post("/payments/webhook/simulated", data={})
    assert response.status == 400
    response = await portal.client.post("/payments/webhook/mollie", data={"id": "tr_1"})
    assert response.status == 404
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)


async def test_provider_unreachable_answers_503_and_credits_nothing(
    portal: Portal, shop: Shop
) -> None:
    provider_id = await start(shop, "50")
    await set_simulated(portal, provider_id, status="paid", failing_fetches=100)
    for _ in range(3):
        assert await deliver(portal, provider_id) == 503
    assert (await payment_of(portal, provider_id)).status is PaymentStatus.OPEN
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)


async def test_webhook_trusts_only_the_refetched_state(portal: Portal, shop: Shop) -> None:
    provider_id = await start(shop, "50")
    # The provider says paid, but for another amount: not ours to credit.
    await set_simulated(portal, provider_id, status="paid", amount=500000)
    assert await deliver(portal, provider_id) == 200
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)
    # Open at the provider: a webhook claiming anything changes nothing.
    other = await start(shop, "50")
    assert await deliver(portal, other) == 200
    assert (await payment_of(portal, other)).status is PaymentStatus.OPEN


async def test_return_page_never_credits(portal: Portal, shop: Shop) -> None:
    provider_id = await start(shop, "50")
    await set_simulated(portal, provider_id, status="paid")  # paid, webhook not yet arrived
    payment = await payment_of(portal, provider_id)
    page = await shop.visitor.get(f"{shop.topup}/{payment.id}")
    assert 'data-status="open"' in await page.text()
    assert (await books(portal, shop.organisation.id))[:2] == (0, 0)


async def test_only_managers_top_up(portal: Portal, shop: Shop) -> None:
    provider_id = await start(shop, "50")
    payment = await payment_of(portal, provider_id)
    employee = await portal.make_user("clerk")
    await portal.make_membership(employee, shop.organisation, role=MembershipRole.EMPLOYEE)
    outsider = await portal.make_user("outsider")
    other_org = await portal.make_organisation("0202239951", "Autre SRL", manager=outsider)
    clerk = portal.browser()
    await clerk.login("clerk")
    for path in (shop.topup, f"{shop.topup}/{payment.id}",
                 f"/org/{shop.organisation.id}/wallet/qr.png"):
        assert (await clerk.get(path)).status == 403
    assert (await clerk.post(shop.topup, {"amount": "50", "method": "bancontact"})).status == 403
    stranger = portal.browser()
    await stranger.login("outsider")
    assert (await stranger.get(shop.topup)).status == 404
    # Another organisation's payment through one's own organisation's path.
    assert (await stranger.get(f"/org/{other_org.id}/wallet/topup/{payment.id}")).status == 404
    anonymous = portal.browser()
    response = await anonymous.get(shop.topup, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login")
    assert (await stranger.get(f"{shop.topup}/abc")).status == 404


async def test_simulated_provider_is_off_outside_demo_mode(portal: Portal) -> None:
    from webclient.portal.settings import PortalSettings
    from webclient.portal.wallet.payments import make_provider

    class FakeApp(dict):  # type: ignore[type-arg]
        pass

    from webclient.portal.keys import DB, SETTINGS

    app = FakeApp()
    app[SETTINGS] = PortalSettings(demo=False)
    app[DB] = portal.db
    assert make_provider(app) is None  # type: ignore[arg-type]
    app[SETTINGS] = PortalSettings(demo=True)
    assert isinstance(make_provider(app), SimulatedProvider)  # type: ignore[arg-type]
    app[SETTINGS] = PortalSettings(demo=True, payment_provider="paypal")
    with pytest.raises(ValueError, match="payment_provider"):
        make_provider(app)  # type: ignore[arg-type]
