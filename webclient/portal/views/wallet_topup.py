"""Topping a wallet up: online (Bancontact, Debit Mastercard) through the payment provider, or
by bank transfer with the wallet's structured communication; the provider's webhook; the
simulated provider's checkout (demo and tests)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webclient.portal import csrf, throttle
from webclient.portal.access import Access, current_user, path_id, requires
from webclient.portal.db import transaction
from webclient.portal.i18n import gettext as _
from webclient.portal.i18n import money
from webclient.portal.keys import DB, MAILER, SETTINGS
from webclient.portal.mail import MailError
from webclient.portal.models import Organisation, Payment, PaymentStatus, SimulatedPayment
from webclient.portal.pages import log, read_form, redirect, render
from webclient.portal.wallet import ledger
from webclient.portal.wallet.communication import display
from webclient.portal.wallet.payments import (
    PROVIDER_ID,
    PaymentMethod,
    PaymentProvider,
    ProviderRefused,
    ProviderUnavailable,
    SimulatedProvider,
    handle_webhook,
    make_provider,
    managers_of,
    parse_amount,
    start_topup,
)
from webclient.portal.wallet.transfers import epc_payload, epc_qr_png

PAYMENT_PROVIDER = web.AppKey("payment_provider", object)
"""The :class:`PaymentProvider` in use, or None when online payment is off."""
TOPUP_LIMIT = 20
"""Online payments one organisation may start per throttle window."""


def provider_of(app: web.Application) -> PaymentProvider | None:
    found = app.get(PAYMENT_PROVIDER)
    return found  # type: ignore[return-value]


def method_choices() -> list[tuple[str, str]]:
    return [(PaymentMethod.BANCONTACT.value, "Bancontact"),
            (PaymentMethod.DEBIT_MASTERCARD.value, "Debit Mastercard")]


async def _topup_page(request: web.Request, values: dict[str, str], errors: dict[str, str],
                      status: int = 200) -> web.Response:
    settings = request.app[SETTINGS]
    organisation_id = path_id(request, "org_id")
    async with transaction(request.app[DB]) as db:
        organisation = await db.get(Organisation, organisation_id)
        account = await ledger.wallet_account(db, organisation_id)
        current = await ledger.balance(db, organisation_id)
    assert organisation is not None
    assert account.structured_communication is not None
    return await render(request, "wallet/topup.html", {
        "organisation": organisation,
        "balance": current,
        "values": values,
        "errors": errors,
        "methods": method_choices(),
        "online": provider_of(request.app) is not None,
        "min_topup": settings.min_topup,
        "max_topup": settings.max_topup,
        "communication": display(account.structured_communication),
        "iban": settings.bank_iban,
        "bic": settings.bank_bic,
        "beneficiary": settings.bank_beneficiary,
    }, status=status)


@requires(Access.MANAGER)
async def topup_form(request: web.Request) -> web.Response:
    return await _topup_page(request, {"amount": "", "method": PaymentMethod.BANCONTACT.value},
                             {})


@requires(Access.MANAGER)
async def topup_start(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    provider = provider_of(request.app)
    form = await read_form(request)
    values = {"amount": form.get("amount", ""), "method": form.get("method", "")}
    errors: dict[str, str] = {}
    if provider is None:
        errors["form"] = _("Online payment is not available at the moment. Top up by bank "
                           "transfer with the details below.")
        return await _topup_page(request, values, errors, status=503)
    amount = parse_amount(values["amount"])
    if amount is None:
        errors["amount"] = _("Enter an amount in euros, for example 50 or 75,50.")
    elif amount < settings.min_topup:
        errors["amount"] = _("The minimum top-up is %(amount)s. Enter a larger amount.",
                             amount=money(settings.min_topup))
    elif amount > settings.max_topup:
        errors["amount"] = _("At most %(amount)s can be paid online at once. Pay the rest in "
                             "another payment or by bank transfer.",
                             amount=money(settings.max_topup))
    try:
        method = PaymentMethod(values["method"])
    except ValueError:
        errors["method"] = _("Choose Bancontact or Debit Mastercard.")
    if errors or amount is None:
        return await _topup_page(request, values, errors, status=400)
    organisation_id = path_id(request, "org_id")
    key = f"topup:{organisation_id}"
    async with transaction(request.app[DB]) as db:
        if await throttle.exceeded(db, key, TOPUP_LIMIT, settings.throttle_window):
            errors["form"] = _("Too many payments were started for this organisation. Wait a "
                               "few minutes and try again.")
            return await _topup_page(request, values, errors, status=429)
        await throttle.record(db, key)
        name = (await db.get(Organisation, organisation_id))
    user = current_user(request)
    assert user is not None
    assert name is not None
    try:
        _payment, checkout = await start_topup(
            request.app[DB], provider, organisation_id=organisation_id, user_id=user.id,
            amount=amount, method=method, origin=settings.origin,
            description=f"Wallet top-up {name.name}"[:255],
        )
    except ProviderUnavailable:
        errors["form"] = _("The payment service cannot be reached. Try again in a few minutes, "
                           "or top up by bank transfer.")
        return await _topup_page(request, values, errors, status=503)
    except ProviderRefused:
        log.exception("payment provider refused a top-up")
        errors["form"] = _("The payment service refused this payment. Try the other payment "
                           "method, or top up by bank transfer.")
        return await _topup_page(request, values, errors, status=502)
    raise redirect(checkout)


@requires(Access.MANAGER)
async def topup_return(request: web.Request) -> web.Response:
    """Where the payer comes back: shows the status, never credits (only the webhook does)."""
    payment_id = path_id(request, "payment_id")
    async with transaction(request.app[DB]) as db:
        payment = await db.get(Payment, payment_id)
        if payment is None or payment.organisation_id != path_id(request, "org_id"):
            raise web.HTTPNotFound()
        current = await ledger.balance(db, payment.organisation_id)
    waiting = payment.status in (PaymentStatus.OPEN, PaymentStatus.PENDING)
    return await render(request, "wallet/topup_return.html", {
        "payment": payment, "balance": current, "waiting": waiting,
        "org_id": payment.organisation_id,
        "failed": payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED,
                                     PaymentStatus.EXPIRED),
    })


@requires(Access.MANAGER)
async def transfer_qr(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    raw_amount = request.query.get("amount", "")
    amount = parse_amount(raw_amount) if raw_amount else None
    if raw_amount and (amount is None or amount <= 0 or amount > 99_999_999_999):
        raise web.HTTPBadRequest()
    async with transaction(request.app[DB]) as db:
        account = await ledger.wallet_account(db, path_id(request, "org_id"))
    assert account.structured_communication is not None
    payload = epc_payload(name=settings.bank_beneficiary, iban=settings.bank_iban,
                          bic=settings.bank_bic, communication=account.structured_communication,
                          amount=amount)
    return web.Response(body=epc_qr_png(payload), content_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})


@csrf.exempt
@requires(Access.PUBLIC)
async def webhook(request: web.Request) -> web.Response:
    """The provider says a payment changed (``id=tr_...``): verified by re-fetching it."""
    provider = provider_of(request.app)
    if provider is None or request.match_info["provider"] != provider.name:
        raise web.HTTPNotFound()
    form = await request.post()
    provider_id = form.get("id")
    if not isinstance(provider_id, str) or not PROVIDER_ID.match(provider_id):
        return web.Response(status=400, text="missing or malformed id")
    outcome = await handle_webhook(request.app[DB], provider, provider_id)
    if outcome.credited is not None:
        await _mail_receipt(request.app, outcome.credited)
    if outcome.status >= 500:
        return web.Response(status=outcome.status, text="try again later")
    return web.Response(status=outcome.status, text="ok")


async def _mail_receipt(app: web.Application, payment: Payment) -> None:
    async with transaction(app[DB]) as db:
        managers = await managers_of(db, payment.organisation_id)
        organisation = await db.get(Organisation, payment.organisation_id)
        current = await ledger.balance(db, payment.organisation_id)
    for manager in managers:
        try:
            await app[MAILER].send_template(app, manager.email, "topup_received", {
                "user": manager, "organisation": organisation, "payment": payment,
                "balance": current,
            }, language=manager.language)
        except MailError:
            # The credit is committed; the receipt is a courtesy (the wallet page has it).
            log.warning("top-up receipt for payment %s not mailed", payment.id)


# -- the simulated provider's pages (demo and tests only) ------------------------------------


def _simulator(request: web.Request) -> SimulatedProvider:
    provider = provider_of(request.app)
    if not isinstance(provider, SimulatedProvider):
        raise web.HTTPNotFound()
    return provider


@requires(Access.PUBLIC)
async def psp_checkout(request: web.Request) -> web.Response:
    _simulator(request)
    async with transaction(request.app[DB]) as db:
        payment = await db.get(SimulatedPayment, request.match_info["provider_id"])
    if payment is None:
        raise web.HTTPNotFound()
    return await render(request, "wallet/psp_checkout.html", {"payment": payment})


@requires(Access.PUBLIC)
async def psp_decide(request: web.Request) -> web.Response:
    simulator = _simulator(request)
    form = await read_form(request)
    choices: dict[str, PaymentStatus] = {"pay": PaymentStatus.PAID, "fail": PaymentStatus.FAILED,
                                         "cancel": PaymentStatus.CANCELED}
    choice = choices.get(form.get("choice", ""))
    if choice is None:
        raise web.HTTPBadRequest()
    payment = await simulator.settle(request.match_info["provider_id"], choice)
    if payment is None:
        raise web.HTTPNotFound()
    raise redirect(payment.redirect_url)


async def _close_provider(app: web.Application) -> None:
    provider: Any = provider_of(app)
    if provider is not None:
        await provider.close()


def setup(app: web.Application) -> None:
    app[PAYMENT_PROVIDER] = make_provider(app)
    app.on_cleanup.append(_close_provider)
    app.router.add_get("/org/{org_id}/wallet/topup", topup_form, name="wallet_topup")
    app.router.add_post("/org/{org_id}/wallet/topup", topup_start)
    app.router.add_get("/org/{org_id}/wallet/topup/{payment_id}", topup_return,
                       name="wallet_topup_return")
    app.router.add_get("/org/{org_id}/wallet/qr.png", transfer_qr, name="wallet_qr")
    app.router.add_post("/payments/webhook/{provider}", webhook, name="payment_webhook")
    app.router.add_get("/simulated-psp/checkout/{provider_id}", psp_checkout,
                       name="psp_checkout")
    app.router.add_post("/simulated-psp/checkout/{provider_id}", psp_decide)
