"""Online top-ups: the payment provider boundary, the simulated provider, the Mollie adapter,
and the one place a confirmed payment credits a wallet.

The wallet is credited only from the webhook, and only after re-fetching the payment from the
provider: the webhook body names a payment, it proves nothing. Webhooks come at least once and
in any order, so crediting is idempotent on the provider's payment id and a paid payment is
never moved back to another status. The browser's return page only reads the status.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webclient.portal.db import transaction, utcnow
from webclient.portal.keys import DB, SETTINGS
from webclient.portal.models import (
    AccountKind,
    EntryKind,
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    Payment,
    PaymentStatus,
    SimulatedPayment,
    User,
)
from webclient.portal.settings import PortalSettings
from webclient.portal.wallet import ledger

log = logging.getLogger("webclient.portal.wallet")

CURRENCY = "EUR"
PROVIDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
FINAL = frozenset({PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELED,
                   PaymentStatus.EXPIRED})


class PaymentMethod(enum.StrEnum):
    BANCONTACT = "bancontact"
    DEBIT_MASTERCARD = "debitmastercard"
    """Debit Mastercard, which replaces Maestro on Belgian bank cards."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a server error: try again later."""


class ProviderRefused(Exception):
    """The provider refused the request (bad key, method not enabled...): retrying won't help."""


class PaymentNotFound(Exception):
    """The provider knows no payment with this id."""


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider reports it (the only state the portal trusts)."""

    provider_id: str
    status: PaymentStatus
    amount: int
    currency: str
    metadata: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self, *, amount: int, method: PaymentMethod, description: str, redirect_url: str,
        webhook_url: str, metadata: dict[str, Any],
    ) -> tuple[str, str]:
        """Create a payment; returns ``(provider_id, checkout_url)``."""
        ...

    async def get_payment(self, provider_id: str) -> ProviderPayment:
        """The payment's current state (:class:`PaymentNotFound`, :class:`ProviderUnavailable`)."""
        ...


def cents_to_value(cents: int) -> str:
    """``5000`` → ``"50.00"`` (Mollie's amount format)."""
    return f"{cents // 100}.{cents % 100:02d}"


def value_to_cents(value: str) -> int:
    """``"50.00"`` → ``5000``; anything but a plain two-decimal amount is refused."""
    if not re.fullmatch(r"\d{1,10}\.\d{2}", value, re.ASCII):
        raise ValueError(f"not an amount: {value!r}")
    units, decimals = value.split(".")
    return int(units) * 100 + int(decimals)


# ASCII digits only: int() would read other scripts' digits too.
_AMOUNT = re.compile(r"^(\d{1,7})(?:[.,](\d{1,2}))?$", re.ASCII)
_GROUPED = re.compile(r"(\d{1,3})([.,])(\d{3})([.,])(\d{1,2})", re.ASCII)


def parse_amount(text: str) -> int | None:
    """Euros typed by a person (``50``, ``75,50``, ``1 000.5``, ``€ 60``) → cents, else None."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text or "")
    if cleaned.upper().endswith("EUR"):
        cleaned = cleaned[:-3]
    # A thousands separator of the other kind (1.000,50 / 1,000.50).
    grouped = _GROUPED.fullmatch(cleaned)
    if grouped is not None and grouped.group(2) != grouped.group(4):
        cleaned = f"{grouped.group(1)}{grouped.group(3)}.{grouped.group(5)}"
    found = _AMOUNT.match(cleaned)
    if found is None:
        return None
    try:
        euros = Decimal(f"{found.group(1)}.{found.group(2) or '0'}")
    except InvalidOperation:
        return None
    return int(euros * 100)


# -- Mollie ----------------------------------------------------------------------------------

MOLLIE_METHODS = {
    PaymentMethod.BANCONTACT: "bancontact",
    # Mollie takes every card brand, debit or credit, through its "creditcard" method.
    PaymentMethod.DEBIT_MASTERCARD: "creditcard",
}
MOLLIE_STATUS = {
    "open": PaymentStatus.OPEN,
    "pending": PaymentStatus.PENDING,
    # Authorised card payments are not money yet: wait for "paid".
    "authorized": PaymentStatus.PENDING,
    "paid": PaymentStatus.PAID,
    "canceled": PaymentStatus.CANCELED,
    "expired": PaymentStatus.EXPIRED,
    "failed": PaymentStatus.FAILED,
}


class MollieProvider:
    """Mollie's Payments API v2 (``POST /v2/payments``, ``GET /v2/payments/{id}``)."""

    name = "mollie"

    def __init__(self, api_key: str, api_url: str = "https://api.mollie.com",
                 timeout: float = 15.0) -> None:
        if not api_key:
            raise ValueError("setting 'mollie_api_key' is missing (live_... or test_...)")
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.api_key}",
                         "Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
        try:
            async with self._client().request(method, f"{self.api_url}{path}", json=body) as res:
                text = await res.text()
                if res.status >= 500 or res.status == 429:
                    raise ProviderUnavailable(f"Mollie answered {res.status}")
                if res.status == 404:
                    raise PaymentNotFound(path)
                try:
                    data = await res.json(content_type=None)
                except ValueError:
                    raise ProviderUnavailable("Mollie answered something other than JSON") from None
                if res.status >= 400:
                    detail = data.get("detail") if isinstance(data, dict) else text[:200]
                    raise ProviderRefused(f"Mollie refused ({res.status}): {detail}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"Mollie unreachable: {exc.__class__.__name__}") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable("Mollie answered an unexpected document")
        return data

    async def create_payment(
        self, *, amount: int, method: PaymentMethod, description: str, redirect_url: str,
        webhook_url: str, metadata: dict[str, Any],
    ) -> tuple[str, str]:
        data = await self._call("POST", "/v2/payments", {
            "amount": {"currency": CURRENCY, "value": cents_to_value(amount)},
            "description": description[:255],
            "redirectUrl": redirect_url,
            "webhookUrl": webhook_url,
            "method": MOLLIE_METHODS[method],
            "metadata": metadata,
        })
        try:
            provider_id = str(data["id"])
            checkout = str(data["_links"]["checkout"]["href"])
        except (KeyError, TypeError):
            raise ProviderUnavailable("Mollie's answer has no id or checkout link") from None
        if not PROVIDER_ID.match(provider_id) or not checkout.startswith(("https://",
                                                                           "http://")):
            raise ProviderUnavailable("Mollie's answer has a bad id or checkout link")
        return provider_id, checkout

    async def get_payment(self, provider_id: str) -> ProviderPayment:
        data = await self._call("GET", f"/v2/payments/{provider_id}")
        try:
            status = MOLLIE_STATUS[str(data["status"])]
            amount = value_to_cents(str(data["amount"]["value"]))
            currency = str(data["amount"]["currency"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("Mollie's payment document is not understood") from None
        metadata = data.get("metadata")
        return ProviderPayment(str(data.get("id")), status, amount, currency,
                               metadata if isinstance(metadata, dict) else {})


# -- the simulated provider ------------------------------------------------------------------


@dataclass
class SimulatedModes:
    """How the simulated provider misbehaves for the next payments it creates (tests)."""

    delay: int = 0
    """``delay``: seconds before the webhook is sent."""
    duplicate: int = 1
    """``duplicate``: how many times each webhook is sent."""
    fail_first: int = 0
    """``fail_first``: re-fetches answered "unreachable" first (so the portal answers 503 and
    the webhook is retried)."""


class SimulatedProvider:
    """A payment provider living in the portal (demo and tests): a checkout page where the
    user pays, fails or cancels, then a webhook to the portal with retries."""

    name = "simulated"

    def __init__(self, db: async_sessionmaker[AsyncSession], settings: PortalSettings) -> None:
        self.db = db
        self.settings = settings
        self.modes = SimulatedModes()
        self.retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)
        self.tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def create_payment(
        self, *, amount: int, method: PaymentMethod, description: str, redirect_url: str,
        webhook_url: str, metadata: dict[str, Any],
    ) -> tuple[str, str]:
        provider_id = f"sim_{secrets.token_urlsafe(12)}".replace("-", "x")
        async with transaction(self.db) as db:
            db.add(SimulatedPayment(
                id=provider_id, amount=amount, currency=CURRENCY, method=method.value,
                description=description[:300], redirect_url=redirect_url,
                webhook_url=webhook_url, metadata_=dict(metadata), status="open",
                webhook_delay=self.modes.delay, webhook_copies=max(1, self.modes.duplicate),
                failing_fetches=self.modes.fail_first,
            ))
        return provider_id, f"{self.settings.origin}/simulated-psp/checkout/{provider_id}"

    async def get_payment(self, provider_id: str) -> ProviderPayment:
        async with transaction(self.db) as db:
            payment = await db.get(SimulatedPayment, provider_id)
            if payment is None:
                raise PaymentNotFound(provider_id)
            if payment.failing_fetches > 0:
                payment.failing_fetches -= 1
                unreachable = True
            else:
                unreachable = False
            state = ProviderPayment(payment.id, PaymentStatus(payment.status), payment.amount,
                                    payment.currency, dict(payment.metadata_))
        if unreachable:
            raise ProviderUnavailable("simulated outage")
        return state

    async def settle(self, provider_id: str, status: PaymentStatus) -> SimulatedPayment | None:
        """The user's choice on the checkout page; only an open payment can change."""
        async with transaction(self.db) as db:
            payment = await db.get(SimulatedPayment, provider_id)
            if payment is None:
                return None
            changed = payment.status == PaymentStatus.OPEN.value
            if changed:
                payment.status = status.value
        if changed:
            # After the commit: the portal's re-fetch must see the new state.
            self.send_webhook(payment)
        return payment

    def send_webhook(self, payment: SimulatedPayment) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(payment.webhook_url, payment.id, payment.webhook_delay,
                          payment.webhook_copies)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, provider_id: str, delay: int, copies: int) -> None:
        # Like a real provider: after the payer's transaction committed, at least once.
        await asyncio.sleep(max(delay, 0) + 0.01)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for _ in range(copies):
            for wait in (*self.retry_delays, None):
                try:
                    async with self._session.post(url, data={"id": provider_id}) as response:
                        if response.status < 300:
                            break
                        log.info("simulated webhook answered %s, retrying", response.status)
                except aiohttp.ClientError as exc:
                    log.info("simulated webhook failed (%s), retrying", exc.__class__.__name__)
                if wait is None:
                    log.warning("simulated webhook for %s given up", provider_id)
                    break
                await asyncio.sleep(wait)

    async def drain(self) -> None:
        """Wait for the webhooks under way (tests)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()


# -- the portal's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    """The HTTP status to answer the provider (200 done or ignored, 503 try again)."""
    credited: Payment | None = None


async def start_topup(
    db_maker: async_sessionmaker[AsyncSession], provider: PaymentProvider, *,
    organisation_id: int, user_id: int, amount: int, method: PaymentMethod, origin: str,
    description: str,
) -> tuple[Payment, str]:
    """Record the payment, create it at the provider; returns it and the checkout URL.

    Raises :class:`ProviderUnavailable` / :class:`ProviderRefused` (the payment is then marked
    failed)."""
    async with transaction(db_maker) as db:
        payment = Payment(
            organisation_id=organisation_id, provider=provider.name,
            # Unique until the provider's id is known (the webhook cannot come before: the
            # payer only sees the checkout once it is stored).
            provider_id=f"new:{secrets.token_urlsafe(16)}", method=method.value, amount=amount,
            status=PaymentStatus.OPEN, created_by=user_id,
        )
        db.add(payment)
        await db.flush()
    try:
        provider_id, checkout = await provider.create_payment(
            amount=amount, method=method, description=description,
            redirect_url=f"{origin}/org/{organisation_id}/wallet/topup/{payment.id}",
            webhook_url=f"{origin}/payments/webhook/{provider.name}",
            metadata={"payment": payment.id, "organisation": organisation_id},
        )
    except (ProviderUnavailable, ProviderRefused, PaymentNotFound):
        async with transaction(db_maker) as db:
            await db.execute(update(Payment).where(Payment.id == payment.id).values(
                status=PaymentStatus.FAILED, updated_at=utcnow()))
        raise
    async with transaction(db_maker) as db:
        await db.execute(update(Payment).where(Payment.id == payment.id).values(
            provider_id=provider_id, updated_at=utcnow()))
    payment.provider_id = provider_id
    return payment, checkout


async def handle_webhook(
    db_maker: async_sessionmaker[AsyncSession], provider: PaymentProvider, provider_id: str,
) -> WebhookOutcome:
    """Apply the provider's current state of one payment; credits at most once."""
    async with transaction(db_maker) as db:
        payment = await db.scalar(select(Payment).where(
            Payment.provider == provider.name, Payment.provider_id == provider_id))
    if payment is None:
        # Not ours (or a probe): nothing to do, and no reason to make the sender retry.
        log.info("webhook for an unknown %s payment ignored", provider.name)
        return WebhookOutcome(200)
    if payment.status is PaymentStatus.PAID:
        return WebhookOutcome(200)
    try:
        state = await provider.get_payment(provider_id)
    except PaymentNotFound:
        log.warning("payment %s unknown at %s", payment.id, provider.name)
        return WebhookOutcome(200)
    except ProviderUnavailable as exc:
        log.warning("payment %s not verified, provider unavailable: %s", payment.id, exc)
        return WebhookOutcome(503)
    if (state.amount != payment.amount or state.currency != CURRENCY
            or state.metadata.get("payment") != payment.id):
        log.error("payment %s: the provider's state does not match ours; not credited",
                  payment.id)
        return WebhookOutcome(200)
    async with transaction(db_maker) as db:
        if state.status is PaymentStatus.PAID:
            entry, created = await ledger.credit(
                db, organisation_id=payment.organisation_id, amount=payment.amount,
                kind=EntryKind.TOPUP_ONLINE, source=(AccountKind.PROVIDER, provider.name),
                idempotency_key=f"payment:{provider.name}:{provider_id}",
                description=f"Online top-up ({payment.method})",
                actor_id=payment.created_by,
                details={"payment": payment.id, "method": payment.method,
                         "provider_id": provider_id},
            )
            await db.execute(update(Payment).where(Payment.id == payment.id).values(
                status=PaymentStatus.PAID, entry_id=entry.id, updated_at=utcnow()))
            if created:
                return WebhookOutcome(200, payment)
            return WebhookOutcome(200)
        if state.status is not PaymentStatus.OPEN:
            # Never back from paid, even if a stale state reaches us after the credit.
            await db.execute(update(Payment).where(
                Payment.id == payment.id, Payment.status != PaymentStatus.PAID).values(
                status=state.status, updated_at=utcnow()))
    return WebhookOutcome(200)


async def managers_of(db: AsyncSession, organisation_id: int) -> list[User]:
    rows = await db.scalars(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.organisation_id == organisation_id,
        Membership.role == MembershipRole.MANAGER,
        Membership.status == MembershipStatus.CONFIRMED,
    ))
    return list(rows)


async def organisation_name(db: AsyncSession, organisation_id: int) -> str:
    organisation = await db.get(Organisation, organisation_id)
    return organisation.name if organisation is not None else ""


def make_provider(app: web.Application) -> PaymentProvider | None:
    """The provider the settings select; None when online payment is off (the simulated
    provider outside demo mode: a forgotten setting must not let anyone "pay" for free)."""
    settings = app[SETTINGS]
    if settings.payment_provider == "mollie":
        return MollieProvider(settings.mollie_api_key, settings.mollie_api_url)
    if settings.payment_provider == "simulated":
        if not settings.demo:
            log.error("the simulated payment provider only runs in demo mode: online "
                      "top-ups are off (set PORTAL_PAYMENT_PROVIDER=mollie)")
            return None
        return SimulatedProvider(app[DB], settings)
    raise ValueError(f"setting 'payment_provider' must be simulated or mollie, not "
                     f"{settings.payment_provider!r}")
