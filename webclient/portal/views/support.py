"""The contact page (a question for the helpdesk, with the bridge's diagnostics report) and
the helpdesk's list and detail of the requests."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from webclient.portal import throttle
from webclient.portal.access import Access, current_user, path_id, requires
from webclient.portal.catalogue import TOOLS, tool
from webclient.portal.db import transaction, utcnow
from webclient.portal.i18n import current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, MAILER, SETTINGS
from webclient.portal.mail import MailError
from webclient.portal.models import SupportRequest, User
from webclient.portal.pages import flash, log, redirect, render
from webclient.portal.support import (
    MAX_QUESTION,
    MAX_SCREENSHOT,
    TOOL_CODES,
    ParsedReport,
    ReportError,
    normalise_code,
    parse_report,
    redact_nrn_text,
    report_rows,
    screenshot_type,
    valid_code,
    valid_email,
)

ANONYMOUS_LIMIT = 5
"""Requests one client address may send without logging in, per throttle window."""
USER_LIMIT = 20
PAGE_SIZE = 25
FILTERS = ("open", "closed", "all")


def tool_choices() -> list[tuple[str, str]]:
    return [
        *((t.code, t.name) for t in TOOLS),
        ("eid_login", _("Logging in with the eID card")),
        ("other", _("Something else")),
    ]


def tool_label(code: str | None) -> str:
    if code is None:
        return ""
    found = tool(code)
    if found is not None:
        return found.name
    return dict(tool_choices()).get(code, code)


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _contact_form(
    request: web.Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> web.Response:
    return await render(request, "support/contact.html", {
        "values": values,
        "errors": errors,
        "tools": tool_choices(),
        "max_question": MAX_QUESTION,
        "bridge_help_url": request.app[SETTINGS].bridge_help_url,
    }, status=status)


@requires(Access.PUBLIC)
async def contact_page(request: web.Request) -> web.Response:
    user = current_user(request)
    values = {"email": user.email if user else "", "question": "", "tool": "",
              "include_name": False, "report": "", "support_code": "", "browser": ""}
    return await _contact_form(request, values, {})


def _screenshot(form: MultiDictProxy[Any], errors: dict[str, str]) -> tuple[bytes, str] | None:
    upload = form.get("screenshot")
    if upload is None or isinstance(upload, str):
        return None
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload[: MAX_SCREENSHOT + 1])  # an empty file input has no file name
    else:
        data = upload.file.read(MAX_SCREENSHOT + 1)
    if not data:
        return None
    if len(data) > MAX_SCREENSHOT:
        errors["screenshot"] = _("The screenshot is larger than 2 MB. Choose a smaller image "
                                 "(or crop it) and send the form again.")
        return None
    kind = screenshot_type(data)
    if kind is None:
        errors["screenshot"] = _("The screenshot must be a PNG or JPEG image. Choose another "
                                 "file and send the form again.")
        return None
    return data, kind


def _client_address(request: web.Request) -> str:
    return request.remote or "unknown"


@requires(Access.PUBLIC)
async def contact_submit(request: web.Request) -> web.Response:
    user = current_user(request)
    form = await request.post()
    question = _text(form, "question")
    values: dict[str, Any] = {
        "question": question,
        "email": _text(form, "email")[:254],
        "tool": _text(form, "tool")[:32],
        "include_name": _text(form, "include_name") == "1",
        "report": _text(form, "report"),
        "support_code": _text(form, "support_code")[:40],
        "browser": _text(form, "browser")[:300],
    }
    errors: dict[str, str] = {}
    settings = request.app[SETTINGS]
    key = f"support:user:{user.id}" if user else f"support:ip:{_client_address(request)}"
    limit = USER_LIMIT if user else ANONYMOUS_LIMIT
    async with transaction(request.app[DB]) as db:
        too_many = await throttle.exceeded(db, key, limit, settings.throttle_window)
    if too_many:
        errors["form"] = _("You have sent many questions in a short time. Wait a quarter of an "
                           "hour and send this one again; your text is kept below.")
        return await _contact_form(request, values, errors, status=429)

    if not question:
        errors["question"] = _("Write your question.")
    elif len(question) > MAX_QUESTION:
        errors["question"] = _("Your question is too long (at most %(max)s characters). "
                               "Shorten it and send it again.", max=MAX_QUESTION)
    if values["tool"] not in TOOL_CODES:
        errors["tool"] = _("Choose the tool your question is about (or \"Something else\").")
    email = values["email"] or (user.email if user else "")
    if not email:
        errors["email"] = _("Give the e-mail address where we can answer you.")
    elif not valid_email(email):
        errors["email"] = _("This e-mail address does not look right. Check it and try again.")
    code = normalise_code(values["support_code"]) if values["support_code"] else None
    if code is not None and not valid_code(code):
        errors["support_code"] = _("A support code has 8 letters and digits, like ABCD-EF23. "
                                   "Check it, or leave the field empty.")
    report: ParsedReport | None = None
    if values["report"]:
        try:
            report = parse_report(values["report"], include_name=values["include_name"])
        except ReportError as exc:
            errors["report"] = str(exc)
            values["report"] = ""  # a bad report is not sent back: running it again fixes it
    screenshot = _screenshot(form, errors)
    if errors:
        return await _contact_form(request, values, errors, status=400)

    browser = (report.browser if report else None) or values["browser"] or None
    async with transaction(request.app[DB]) as db:
        row = SupportRequest(
            user_id=user.id if user else None,
            contact_email=email,
            tool=values["tool"],
            question=redact_nrn_text(question),
            screenshot=screenshot[0] if screenshot else None,
            screenshot_type=screenshot[1] if screenshot else None,
            support_code=(report.support_code if report and report.support_code else code),
            report=report.to_json() if report else None,
            failing_checks=report.failing if report else 0,
            warning_checks=report.warnings if report else 0,
            browser=redact_nrn_text(browser)[:300] if browser else None,
            status="open",
            language=current_language(),
        )
        db.add(row)
        await throttle.record(db, key)
        await db.flush()
        reference = row.reference
    try:
        await request.app[MAILER].send_template(
            request.app, email, "support_received",
            # The label is looked up while the mail renders, in the recipient's language.
            {"reference": reference, "support_code": row.support_code,
             "tool": row.tool, "tool_label": tool_label},
            language=user.language if user else current_language(),
        )
    except MailError:
        await flash(request, _("Your question was received under reference %(reference)s, but "
                               "the confirmation e-mail could not be sent. Note the reference; "
                               "there is no need to send the question again.",
                               reference=reference), "info")
    else:
        await flash(request, _("Thank you. Your question was received under reference "
                               "%(reference)s; a confirmation was sent to %(email)s.",
                               reference=reference, email=email), "success")
    raise redirect("/contact")


# -- helpdesk ------------------------------------------------------------------------------


def _filters(request: web.Request) -> tuple[str, str, str, int]:
    code = normalise_code(request.query.get("code", ""))[:16]
    email = request.query.get("email", "").strip()[:254]
    # Searching a code looks through closed requests too unless told otherwise.
    status = request.query.get("status", "all" if code else "open")
    if status not in FILTERS:
        status = "open"
    raw_page = request.query.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 1
    return status, code, email, max(page, 1)


@requires(Access.HELPDESK)
async def helpdesk_list(request: web.Request) -> web.Response:
    status, code, email, page = _filters(request)
    conditions: list[ColumnElement[bool]] = []
    if status != "all":
        conditions.append(SupportRequest.status == status)
    if code:
        conditions.append(SupportRequest.support_code == code if len(code) >= 8
                          else SupportRequest.support_code.startswith(code, autoescape=True))
    if email:
        conditions.append(func.lower(SupportRequest.contact_email).contains(
            email.lower(), autoescape=True))
    async with transaction(request.app[DB]) as db:
        total = int(await db.scalar(
            select(func.count()).select_from(SupportRequest).where(*conditions)) or 0)
        rows = (await db.scalars(
            select(SupportRequest).where(*conditions).order_by(
                case((SupportRequest.status == "open", 0), else_=1),
                SupportRequest.failing_checks.desc(),
                SupportRequest.warning_checks.desc(),
                SupportRequest.created_at.desc(),
                SupportRequest.id.desc(),
            ).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )).all()
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return await render(request, "support/helpdesk_list.html", {
        "requests": rows, "total": total, "page": page, "pages": pages,
        "status": status, "code": code, "email": email, "filters": FILTERS,
        "tool_label": tool_label,
    })


async def _load(request: web.Request) -> SupportRequest:
    request_id = path_id(request, "request_id")
    async with transaction(request.app[DB]) as db:
        row = await db.get(SupportRequest, request_id)
    if row is None:
        raise web.HTTPNotFound(reason="no such request")
    return row


@requires(Access.HELPDESK)
async def helpdesk_detail(request: web.Request) -> web.Response:
    row = await _load(request)
    async with transaction(request.app[DB]) as db:
        requester = await db.get(User, row.user_id) if row.user_id else None
        handler = await db.get(User, row.handled_by) if row.handled_by else None
    report: dict[str, Any] | None = None
    if row.report:
        try:
            loaded = json.loads(row.report)
            report = loaded if isinstance(loaded, dict) else None
        except ValueError:
            log.warning("support request %s has an unreadable report", row.id)
    return await render(request, "support/helpdesk_detail.html", {
        "item": row,
        "requester": requester,
        "handler": handler,
        "tool_name": tool_label(row.tool),
        "report": report,
        "rows": report_rows(report, current_language()) if report else [],
        "raw_report": json.dumps(report, indent=2, ensure_ascii=False) if report else "",
    })


@requires(Access.HELPDESK)
async def helpdesk_screenshot(request: web.Request) -> web.Response:
    row = await _load(request)
    if row.screenshot is None or row.screenshot_type is None:
        raise web.HTTPNotFound(reason="no screenshot")
    return web.Response(
        body=row.screenshot,
        content_type=row.screenshot_type,
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


async def _set_status(request: web.Request, status: str) -> web.Response:
    request_id = path_id(request, "request_id")
    user = current_user(request)
    assert user is not None  # HELPDESK routes always have one
    async with transaction(request.app[DB]) as db:
        row = await db.get(SupportRequest, request_id)
        if row is None:
            raise web.HTTPNotFound(reason="no such request")
        row.status = status
        row.handled_by = user.id
        row.handled_at = utcnow()
        reference = row.reference
    message = (_("Request %(reference)s is closed.", reference=reference) if status == "closed"
               else _("Request %(reference)s is open again.", reference=reference))
    await flash(request, message, "success")
    raise redirect(f"/helpdesk/{request_id}")


@requires(Access.HELPDESK)
async def helpdesk_close(request: web.Request) -> web.Response:
    return await _set_status(request, "closed")


@requires(Access.HELPDESK)
async def helpdesk_reopen(request: web.Request) -> web.Response:
    return await _set_status(request, "open")


def setup(app: web.Application) -> None:
    app.router.add_get("/contact", contact_page, name="contact")
    app.router.add_post("/contact", contact_submit, name="contact_submit")
    app.router.add_get("/helpdesk", helpdesk_list, name="helpdesk")
    item = r"/helpdesk/{request_id:\d{1,12}}"
    app.router.add_get(item, helpdesk_detail, name="helpdesk_request")
    app.router.add_get(f"{item}/screenshot", helpdesk_screenshot, name="helpdesk_screenshot")
    app.router.add_post(f"{item}/close", helpdesk_close, name="helpdesk_close")
    app.router.add_post(f"{item}/reopen", helpdesk_reopen, name="helpdesk_reopen")
