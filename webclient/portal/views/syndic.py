"""BCE ACP pages for syndics: requests of an organisation, the form, review, signature.

Every route is gated like the tool's landing page: a confirmed member with access to
``bceacp``, the organisation has registered the tool (and still qualifies for it), and this
session logged in with the eID.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy
from sqlalchemy import select

from webclient.portal import organisations as org_rules
from webclient.portal.access import AUTH_METHOD, MEMBERSHIP, USER, Access, path_id, requires
from webclient.portal.catalogue import tool
from webclient.portal.db import transaction
from webclient.portal.i18n import date_text, money
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, MAILER, SETTINGS, VALIDATOR
from webclient.portal.mail import MailError
from webclient.portal.models import Organisation, User
from webclient.portal.models.syndic import RequestKind, RequestStatus, SyndicEvent, SyndicRequest
from webclient.portal.pages import flash, json_error, pdf_response, redirect, render
from webclient.portal.syndic import deadlines, fees, rules
from webclient.portal.syndic import requests as service
from webclient.portal.syndic.summary import kind_text
from webclient.portal.wallet import ledger

TOOL_CODE = "bceacp"
ORG = web.RequestKey("syndic_org", Organisation)
MAX_JSON = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fee_table(app: web.Application) -> fees.FeeTable:
    return fees.fee_table(app[SETTINGS].syndic_fees_file)


def trust(app: web.Application) -> service.Trust:
    validator = app[VALIDATOR]
    return service.Trust(validator.store, validator.intermediates, validator.revocation)


async def tool_gate(request: web.Request) -> tuple[Organisation | None, str | None]:
    """The organisation, or why this member may not use BCE ACP for it (translated)."""
    found = tool(TOOL_CODE)
    assert found is not None
    mine = request[MEMBERSHIP]
    async with transaction(request.app[DB]) as db:
        org = await db.get(Organisation, mine.organisation_id)
        assert org is not None
        offered = await org_rules.organisation_offers(db, org.id, found)
        granted = TOOL_CODE in await org_rules.tool_access_of(db, mine.id)
    if not offered:
        return None, _("%(org)s has not registered %(tool)s. A manager of the organisation can "
                       "register it on the organisation's tools page.", org=org.name,
                       tool=found.name)
    if not granted:
        return None, _("You have no access to %(tool)s for %(org)s. Ask a manager of the "
                       "organisation to give you access.", org=org.name, tool=found.name)
    return org, None


def gated(json: bool = False) -> Callable[[Handler], Handler]:
    """Apply the tool's gate before the handler (under ``@requires(Access.EMPLOYEE)``)."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            found = tool(TOOL_CODE)
            assert found is not None
            org, reason = await tool_gate(request)
            if org is None:
                if json:
                    return json_error(403, "NO_ACCESS", reason or "")
                return await render(request, "tools/refused.html", {
                    "tool": found, "org": await _org(request), "reason": reason}, status=403)
            if found.requires_eid and request[AUTH_METHOD] != "eid":
                if json:
                    return json_error(401, "EID_REQUIRED", _(
                        "Log in with your eID card to use %(tool)s.", tool=found.name))
                await flash(request, _("%(tool)s handles sensitive data: log in with your eID "
                                       "card to use it.", tool=found.name), "info")
                raise redirect(f"/login/eid?next={quote(request.path_qs, safe='')}")
            request[ORG] = org
            return await handler(request)

        return inner

    return wrap


async def _org(request: web.Request) -> Organisation:
    async with transaction(request.app[DB]) as db:
        org = await db.get(Organisation, request[MEMBERSHIP].organisation_id)
    assert org is not None
    return org


def _base(org: Organisation) -> str:
    return f"/org/{org.id}/bceacp"


async def _load(db: Any, request: web.Request) -> SyndicRequest:
    item = await service.request_of(db, request[ORG].id, path_id(request, "request_id"))
    if item is None:
        raise web.HTTPNotFound()
    return item


def kinds() -> list[tuple[str, str, str]]:
    """(value, title, explanation) of each choice on the "new request" page."""
    return [
        (RequestKind.APPOINTMENT.value, _("Appointment of a syndic"),
         _("A new syndic (professional or not, natural or legal person, or a provisional "
           "syndic appointed by a judge) must be registered.")),
        (RequestKind.CHANGE.value, _("Change of the syndic's data"),
         _("The registered syndic's data changed: address, enterprise number, "
           "representative...")),
        (RequestKind.END.value, _("End of the syndic's mandate"),
         _("The mandate ends and no successor is filed in the same request.")),
        (RequestKind.END_AND_NEW.value,
         _("End of the outgoing syndic and appointment of the new one"),
         _("Both in one movement: one request, one fee (filed separately they are two "
           "requests and two fees).")),
        ("renewal", _("Renewal or continuation of the mandate"),
         _("Not a change: nothing is filed unless the syndic's data changed.")),
    ]


def status_text(status: RequestStatus) -> str:
    return {
        RequestStatus.DRAFT: _("Draft"),
        RequestStatus.SUBMITTED: _("Filed, waiting for the counter"),
        RequestStatus.REGISTERED: _("Registered in the BCE"),
        RequestStatus.REJECTED: _("Rejected"),
    }[status]


def template_values() -> dict[str, Any]:
    return {"status_text": status_text, "fmt": rules.format_enterprise,
            "kind_text": kind_text}


# -- list and new -------------------------------------------------------------------------------


@requires(Access.EMPLOYEE)
@gated()
async def index(request: web.Request) -> web.Response:
    org = request[ORG]
    async with transaction(request.app[DB]) as db:
        items = await service.requests_of(db, org.id)
        lacking = {}
        for item in items:
            if item.status is RequestStatus.REGISTERED and item.association_number and (
                    item.association_number not in lacking):
                last = await service.earlier_lacking(db, org.id, item.association_number)
                if last is not None:
                    lacking[item.association_number] = last
    return await render(request, "syndic/index.html", {
        "org": org, "items": items, "lacking": lacking, **template_values()})


@requires(Access.EMPLOYEE)
@gated()
async def new_page(request: web.Request) -> web.Response:
    return await render(request, "syndic/new.html", {"org": request[ORG], "kinds": kinds(),
                                                      "error": None})


@requires(Access.EMPLOYEE)
@gated()
async def new_post(request: web.Request) -> web.Response:
    org = request[ORG]
    form = await request.post()
    choice = form.get("kind", "")
    if choice == "renewal":
        changed = form.get("data_changed", "")
        if changed == "yes":
            choice = RequestKind.CHANGE.value
        else:
            return await render(request, "syndic/renewal.html", {"org": org,
                                                                  "asked": changed == "no"})
    if choice not in {k.value for k in RequestKind}:
        return await render(request, "syndic/new.html", {
            "org": org, "kinds": kinds(), "error": _("Choose what you want to file.")},
            status=400)
    async with transaction(request.app[DB]) as db:
        item = await service.create_draft(db, org.id, request[USER], RequestKind(str(choice)))
    raise redirect(f"{_base(org)}/{item.id}")


@requires(Access.EMPLOYEE)
@gated(json=True)
async def deadline_json(request: web.Request) -> web.Response:
    """The deadline for the dates being typed (the form shows it live)."""
    decision, error = rules.parse_date(request.query.get("decision", ""))
    start, error2 = rules.parse_date(request.query.get("start", ""))
    if decision is None or start is None:
        return json_error(400, "BAD_DATE", error or error2 or "")
    if decision > start:
        return json_error(400, "DECISION_AFTER_START", _(
            "The decision cannot come after the start or effective date. Check both dates."))
    due = deadlines.deadline(decision, start)
    today = service.today_in_belgium()
    late = deadlines.is_late(due.due, today)
    text = _("File by %(date)s at the latest.", date=date_text(due.due, "full"))
    if due.short_notice:
        text += " " + _("The decision came less than 8 working days before the start: you "
                        "have 8 working days after the decision.")
    if late:
        text += " " + _("This deadline has passed: the request will be marked late, but you "
                        "can still file it.")
    return web.json_response({"due": due.due.isoformat(), "shortNotice": due.short_notice,
                              "late": late, "text": text})


# -- the form -----------------------------------------------------------------------------------


async def _form_context(request: web.Request, item: SyndicRequest, errors: dict[str, str],
                        values: dict[str, Any] | None = None) -> dict[str, Any]:
    org = request[ORG]
    today = service.today_in_belgium()
    async with transaction(request.app[DB]) as db:
        lacking = (await service.earlier_lacking(db, org.id, item.association_number)
                   if item.kind is RequestKind.CHANGE else None)
        balance = await ledger.balance(db, org.id)
    table = fee_table(request.app)
    current = _values_of(item)
    if values:
        current.update(values)
    return {
        "org": org, "item": item, "errors": errors, "v": current,
        "timing": service.timing(item, today), "price": service.price_of(item, table, today),
        "balance": balance, "missing": service.missing(item), "lacking": lacking,
        "rule_texts": {rule.value: rules.explain_rule(rule) for rule in rules.RepresentativeRule},
        "with_incoming": item.kind in rules.WITH_INCOMING,
        "with_outgoing": item.kind in rules.WITH_OUTGOING,
        "with_appointment": item.kind in rules.WITH_APPOINTMENT,
        "table": table, **template_values(),
    }


def _values_of(item: SyndicRequest) -> dict[str, Any]:
    names = ("association_number", "association_name", "association_unknown", "decision_date",
             "start_date", "appointed_by", "syndic_kind", "syndic_name", "syndic_first_names",
             "syndic_profession", "syndic_address", "syndic_legal_form",
             "syndic_enterprise_number", "syndic_own_ipi", "contact_details",
             "representative_named", "representative_name", "representative_authorised",
             "outgoing_name", "outgoing_number", "change_note")
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(item, name)
        if isinstance(value, date):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        elif name.endswith("_number") and isinstance(value, str):
            value = rules.format_enterprise(value)
        values[name] = value if value is not None else ""
    return values


@requires(Access.EMPLOYEE)
@gated()
async def request_page(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
        events = await _events(db, item.id)
    if item.status is not RequestStatus.DRAFT:
        return await render(request, "syndic/detail.html", {
            "org": request[ORG], "item": item, "events": events, **template_values()})
    return await render(request, "syndic/form.html",
                        await _form_context(request, item, {}))


async def _events(db: Any, request_id: int) -> list[tuple[SyndicEvent, User | None]]:
    rows = await db.execute(select(SyndicEvent, User).outerjoin(
        User, User.id == SyndicEvent.actor_id).where(SyndicEvent.request_id == request_id)
        .order_by(SyndicEvent.id))
    return [(event, user) for event, user in rows.all()]


async def read_upload(request: web.Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]],
                                                      dict[str, str]]:
    """Fields, PDF files and upload errors of the form. Files up to 10 MB each when the page's
    script sends the form (CSRF header: the body is streamed here); without the script the
    whole form goes through the app's 5 MB body limit."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    errors: dict[str, str] = {}
    if request.headers.get("X-CSRF-Token") is None:
        posted: MultiDictProxy[Any] = await request.post()
        for key, value in posted.items():
            if isinstance(value, str):
                fields[key] = value.strip()[:2000]
            elif key in ("act", "revocation") and getattr(value, "filename", None):
                files[key] = (value.filename, value.file.read(rules.MAX_PDF + 1))
        return fields, files, errors
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            if part.name not in ("act", "revocation"):
                continue
            content = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                content.extend(chunk)
                if len(content) > rules.MAX_PDF:
                    break
            if len(content) > rules.MAX_PDF:
                errors[part.name] = rules.check_pdf(bytes(content)) or ""
                await part.release()
            elif content:
                files[part.name] = (part.filename, bytes(content))
        else:
            text = (await part.read(decode=True))[:8000].decode("utf-8", "replace")
            fields[part.name] = text.strip()[:2000]
    return fields, files, errors


@requires(Access.EMPLOYEE)
@gated()
async def request_save(request: web.Request) -> web.Response:
    fields, files, upload_errors = await read_upload(request)
    secret = request.app[SETTINGS].require_secret()
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
        if item.status is not RequestStatus.DRAFT:
            await flash(request, _("This request was already filed; it can no longer be "
                                   "changed. Start a new request for a change."), "error")
            raise redirect(f"{_base(request[ORG])}/{item.id}")
        lacking = (await service.earlier_lacking(db, item.organisation_id,
                                                 fields.get("association_number", "").replace(
                                                     ".", "").replace(" ", "") or None)
                   if item.kind is RequestKind.CHANGE else None)
        checked = rules.check_form(item.kind, fields,
                                   person_stored=item.syndic_person_sealed is not None,
                                   representative_stored=item.representative_sealed is not None,
                                   earlier_lacking=lacking is not None)
        errors = await service.save_draft(db, secret, item, checked, files)
        errors.update(upload_errors)
    if errors:
        shown = {k: v for k, v in fields.items() if not k.endswith("_number")
                 or k in ("association_number", "syndic_enterprise_number", "outgoing_number")}
        context = await _form_context(request, item, errors, shown)
        return await render(request, "syndic/form.html", context, status=400)
    if fields.get("action") == "review":
        raise redirect(f"{_base(request[ORG])}/{item.id}/review")
    await flash(request, _("Draft saved."), "success")
    raise redirect(f"{_base(request[ORG])}/{item.id}")


@requires(Access.EMPLOYEE)
@gated()
async def request_delete(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
        try:
            await service.delete_draft(db, item, request[USER])
        except service.RequestError as refused:
            error: str | None = refused.message
        else:
            error = None
    await flash(request, error or _("Draft deleted."), "error" if error else "success")
    raise redirect(_base(request[ORG]))


# -- review and signature --------------------------------------------------------------------


@requires(Access.EMPLOYEE)
@gated()
async def review(request: web.Request) -> web.Response:
    org = request[ORG]
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
    if item.status is not RequestStatus.DRAFT:
        raise redirect(f"{_base(org)}/{item.id}")
    context = await _form_context(request, item, {})
    context["label"] = service.signing_label(item)
    context["topup"] = f"/org/{org.id}/wallet/topup"
    return await render(request, "syndic/review.html", context)


@requires(Access.EMPLOYEE)
@gated()
async def summary(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
        if item.signed_pdf is not None:
            body = item.signed_pdf
        else:
            body = await service.summary_pdf(db, item, fee_table(request.app),
                                             service.today_in_belgium(), request[USER])
    return pdf_response(body, f"bceacp-{item.id}.pdf")


def stored_document(item: SyndicRequest, which: str) -> web.Response:
    """One of the files kept with a request: the act, the revocation proof, the signed PDF."""
    content = {"act": item.act_pdf, "revocation": item.revocation_pdf,
               "signed": item.signed_pdf}.get(which)
    if content is None:
        raise web.HTTPNotFound()
    return pdf_response(content, f"bceacp-{item.id}-{which}.pdf")


@requires(Access.EMPLOYEE)
@gated()
async def document(request: web.Request) -> web.Response:
    which = request.match_info["which"]
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
    return stored_document(item, which)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_JSON:
        raise web.HTTPRequestEntityTooLarge(MAX_JSON, request.content_length or 0)
    try:
        body = await request.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str) or len(value) > 16000:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


@requires(Access.EMPLOYEE)
@gated(json=True)
async def sign_prepare(request: web.Request) -> web.Response:
    """``{certificate, chain}`` (base64 DER) → ``{hash, hashFunction, label}`` to sign."""
    body = await _json_body(request)
    certificate = _b64(body.get("certificate"))
    raw_chain = body.get("chain", [])
    chain = [_b64(c) for c in raw_chain] if isinstance(raw_chain, list) else [None]
    if certificate is None or any(c is None for c in chain) or len(chain) > 4:
        return json_error(400, "BAD_REQUEST", _("The card's certificate could not be read. "
                                                "Try again."))
    org = request[ORG]
    async with transaction(request.app[DB]) as db:
        item = await _load(db, request)
        try:
            to_sign = await service.start_signing(
                db, request.app[SETTINGS].require_secret(), trust(request.app), item,
                request[USER], certificate, [c for c in chain if c is not None],
                fee_table(request.app), service.today_in_belgium())
        except service.InsufficientFunds as short:
            return json_error(402, short.code, short.message, topup=f"/org/{org.id}/wallet/topup")
        except service.RequestError as refused:
            return json_error(409, refused.code, refused.message)
    return web.json_response({"hash": to_sign.hash, "hashFunction": to_sign.hash_function,
                              "label": to_sign.label})


@requires(Access.EMPLOYEE)
@gated(json=True)
async def sign_finish(request: web.Request) -> web.Response:
    """``{signature}`` (base64) → the request is signed, paid and filed."""
    body = await _json_body(request)
    signature = _b64(body.get("signature"))
    if signature is None:
        return json_error(400, "BAD_REQUEST", _("The signature could not be read. Sign again."))
    org = request[ORG]
    user = request[USER]
    try:
        async with transaction(request.app[DB]) as db:
            item = await _load(db, request)
            await service.finish_signing(db, trust(request.app), item, user, signature,
                                         fee_table(request.app), service.today_in_belgium())
    except service.InsufficientFunds as short:
        return json_error(402, short.code, short.message, topup=f"/org/{org.id}/wallet/topup")
    except service.RequestError as refused:
        return json_error(409, refused.code, refused.message)
    message = _("Request no. %(id)s is signed, paid (%(price)s) and filed with the enterprise "
                "counter.", id=item.id, price=money((item.fee or 0) + (item.supplement or 0)
                                                   + (item.supplement_vat or 0)))
    if not await notify(request.app, item, user, "syndic_submitted"):
        message += " " + _("The confirmation e-mail could not be sent; the request is filed "
                           "all the same.")
    await flash(request, message, "success")
    return web.json_response({"redirect": f"{_base(org)}/{item.id}", "message": message})


async def notify(app: web.Application, item: SyndicRequest, user: User, template: str) -> bool:
    """Mail the requester; False when the mail server failed (nothing else is undone)."""
    async with transaction(app[DB]) as db:
        org = await db.get(Organisation, item.organisation_id)
    try:
        await app[MAILER].send_template(app, user.email, template, {
            "item": item, "user": user, "org": org, "fmt": rules.format_enterprise,
            "kind_text": kind_text,
            "link": f"{app[SETTINGS].origin}/org/{item.organisation_id}/bceacp/{item.id}",
        }, language=user.language)
    except MailError:
        return False
    return True


def setup(app: web.Application) -> None:
    base = "/org/{org_id}/bceacp"
    rid = "{request_id:[0-9]{1,11}}"
    app.router.add_get(base, index, name="syndic_index")
    app.router.add_get(f"{base}/new", new_page, name="syndic_new")
    app.router.add_post(f"{base}/new", new_post)
    app.router.add_get(f"{base}/deadline", deadline_json, name="syndic_deadline")
    app.router.add_get(f"{base}/{rid}", request_page, name="syndic_request")
    app.router.add_post(f"{base}/{rid}", request_save)
    app.router.add_post(f"{base}/{rid}/delete", request_delete)
    app.router.add_get(f"{base}/{rid}/review", review, name="syndic_review")
    app.router.add_get(f"{base}/{rid}/summary.pdf", summary, name="syndic_summary")
    app.router.add_get(f"{base}/{rid}/documents/{{which:act|revocation|signed}}.pdf", document)
    app.router.add_post(f"{base}/{rid}/sign/prepare", sign_prepare)
    app.router.add_post(f"{base}/{rid}/sign/finish", sign_finish)
