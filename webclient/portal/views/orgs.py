"""Organisations: add one by enterprise number, join, confirm members, roles, audit trail."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webclient.portal import organisations as rules
from webclient.portal.access import MEMBERSHIP, USER, Access, path_id, requires
from webclient.portal.catalogue import TOOLS, tool
from webclient.portal.db import transaction
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, MAILER, SETTINGS
from webclient.portal.mail import MailError
from webclient.portal.models import (
    AuditEvent,
    Membership,
    MembershipStatus,
    Organisation,
    ToolAccess,
    User,
)
from webclient.portal.organisations import MembershipError
from webclient.portal.pages import flash, read_form, redirect, render

log = logging.getLogger("webclient.portal.orgs")

AUDIT_PAGE_SIZE = 50


def org_id_of(request: web.Request) -> int:
    return path_id(request, "org_id")


def member_id_of(request: web.Request) -> int:
    return path_id(request, "membership_id")


async def organisation(db: AsyncSession, request: web.Request) -> Organisation:
    found = await db.get(Organisation, org_id_of(request))
    if found is None:
        raise web.HTTPNotFound()
    return found


async def member_or_404(db: AsyncSession, request: web.Request) -> Membership:
    found = await rules.member_in(db, org_id_of(request), member_id_of(request))
    if found is None or found.status is MembershipStatus.REFUSED:
        raise web.HTTPNotFound()
    return found


def legal_form_label(code: str) -> str:
    for known, label in rules.LEGAL_FORMS:
        if known == code:
            return _("other") if code == "other" else label
    return code


def template_helpers() -> dict[str, Any]:
    return {
        "enterprise": rules.format_enterprise_number,
        "legal_forms": [(code, legal_form_label(code)) for code, _l in rules.LEGAL_FORMS],
        "legal_form_label": legal_form_label,
    }


# -- my organisations, adding one -----------------------------------------------------------


@requires(Access.ACTIVATED)
async def my_organisations(request: web.Request) -> web.Response:
    user = request[USER]
    async with transaction(request.app[DB]) as db:
        rows = (await db.execute(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.user_id == user.id, Membership.status != MembershipStatus.REFUSED)
            .order_by(Organisation.name)
        )).all()
    return await render(request, "orgs/list.html", {"rows": rows, **template_helpers()})


def _employee_defaults(user: User, form: dict[str, str] | None = None) -> dict[str, str]:
    form = form or {}
    return {"contact_email": form.get("contact_email", user.email),
            "job_title": form.get("job_title", ""),
            "phone": form.get("phone", user.phone or "")}


@requires(Access.ACTIVATED)
async def add_organisation(request: web.Request) -> web.Response:
    """Step 1 the number; step 2 either a new organisation's data or a request to join."""
    user = request[USER]
    if request.method == "GET":
        return await render(request, "orgs/add_number.html", {"number": "", "errors": {}})
    form = await read_form(request)
    step = form.get("step", "number")
    number, error = rules.parse_enterprise_number(form.get("enterprise_number", ""))
    if number is None:
        return await render(request, "orgs/add_number.html", {
            "number": form.get("enterprise_number", ""),
            "errors": {"enterprise_number": error}}, status=400)
    if step == "create":
        # No look-up first: the unique number decides, also between two people at once.
        return await _create(request, user, number, form, {
            "number": number, "organisation": None, "errors": {},
            "form": {**form, **_employee_defaults(user, form)}, **template_helpers()})
    async with transaction(request.app[DB]) as db:
        existing = await rules.find_organisation(db, number)
        mine = await rules.membership_of(db, user.id, existing.id) if existing else None
    if existing is not None and mine is not None and mine.status is not MembershipStatus.REFUSED:
        await flash(request, rules.already_member_text(mine, existing), "info")
        raise redirect(f"/org/{existing.id}")
    values = {"number": number, "organisation": existing, "errors": {},
              "form": _employee_defaults(user, form if step == "join" else None),
              **template_helpers()}
    if step == "number":
        template = "orgs/add_join.html" if existing else "orgs/add_create.html"
        return await render(request, template, values)
    if step == "join" and existing is not None:
        return await _join(request, user, existing, form, values)
    if step == "join":
        # Asked to join a number nobody registered (a stale form): register it instead.
        return await render(request, "orgs/add_create.html", values)
    raise web.HTTPBadRequest()


async def _create(request: web.Request, user: User, number: str, form: dict[str, str],
                  values: dict[str, Any]) -> web.Response:
    # The form has two phones: the organisation's (``org_phone``) and the person's.
    data, org_errors = rules.check_organisation_form({**form, "phone": form.get("org_phone", "")})
    errors = {("org_phone" if key == "phone" else key): text for key, text in org_errors.items()}
    employee, employee_errors = rules.check_employee_form(form)
    errors.update(employee_errors)
    if data is None or employee is None:
        return await render(request, "orgs/add_create.html", {**values, "errors": errors},
                            status=400)
    try:
        async with transaction(request.app[DB]) as db:
            created = await rules.create_organisation(db, user, number, data, employee)
    except IntegrityError:
        # Two people registered the same number at once: the second joins the first's.
        async with transaction(request.app[DB]) as db:
            existing = await rules.find_organisation(db, number)
            if existing is None:
                raise
            try:
                membership = await rules.request_membership(db, user, existing, employee)
            except MembershipError as refused:
                await flash(request, refused.message, "info")
                raise redirect(f"/org/{existing.id}") from None
        await flash(request, _("Someone registered %(name)s a moment before you. You asked to "
                               "join it; a manager must confirm your membership.",
                               name=existing.name), "info")
        await notify_managers(request, existing, user, membership)
        raise redirect(f"/org/{existing.id}") from None
    await flash(request, _("%(name)s is registered. You are its manager.", name=created.name),
                "success")
    raise redirect(f"/org/{created.id}")


async def _join(request: web.Request, user: User, existing: Organisation, form: dict[str, str],
                values: dict[str, Any]) -> web.Response:
    employee, errors = rules.check_employee_form(form)
    if employee is None:
        return await render(request, "orgs/add_join.html", {**values, "errors": errors},
                            status=400)
    try:
        async with transaction(request.app[DB]) as db:
            fresh = await db.get(Organisation, existing.id)
            if fresh is None:
                raise web.HTTPNotFound()
            membership = await rules.request_membership(db, user, fresh, employee)
    except MembershipError as refused:
        await flash(request, refused.message, "info")
        raise redirect(f"/org/{existing.id}") from None
    except IntegrityError:
        # The same person sent the form twice at once; the first request stands.
        raise redirect(f"/org/{existing.id}") from None
    await flash(request, _("Your request to join %(name)s is sent. A manager must confirm it; "
                           "you will get an e-mail then.", name=existing.name), "success")
    await notify_managers(request, existing, user, membership)
    raise redirect(f"/org/{existing.id}")


async def notify_managers(request: web.Request, org: Organisation, requester: User,
                          membership: Membership) -> None:
    """Every manager gets the request in their own language; a failed mail loses nothing
    (the request waits on the employee list)."""
    async with transaction(request.app[DB]) as db:
        recipients = await rules.managers(db, org.id)
    origin = request.app[SETTINGS].origin
    failed = False
    for manager_membership, manager in recipients:
        try:
            await request.app[MAILER].send_template(
                request.app, manager_membership.contact_email, "join_request",
                {"organisation": org, "requester": requester, "membership": membership,
                 "manager": manager, "link": f"{origin}/org/{org.id}/employees"},
                language=manager.language,
            )
        except MailError:
            failed = True
    if failed:
        await flash(request, _("Your request is saved, but we could not e-mail every manager. "
                               "Ask a manager to look at the employee list."), "error")


async def _notify_member(request: web.Request, org: Organisation, membership: Membership,
                         template: str) -> None:
    async with transaction(request.app[DB]) as db:
        member = await db.get(User, membership.user_id)
    if member is None:
        return
    try:
        await request.app[MAILER].send_template(
            request.app, membership.contact_email, template,
            {"organisation": org, "member": member,
             "link": f"{request.app[SETTINGS].origin}/org/{org.id}"},
            language=member.language,
        )
    except MailError:
        await flash(request, _("Done, but the e-mail to %(name)s could not be sent. Let them "
                               "know yourself.", name=member.full_name), "error")


# -- an organisation ------------------------------------------------------------------------


@requires(Access.MEMBER)
async def organisation_page(request: web.Request) -> web.Response:
    mine = request[MEMBERSHIP]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        pending = 0
        if mine.is_manager:
            pending = int(await db.scalar(select(func.count()).select_from(Membership).where(
                Membership.organisation_id == org.id,
                Membership.status == MembershipStatus.PENDING)) or 0)
    return await render(request, "orgs/page.html", {
        "org": org, "mine": mine, "pending": pending, **template_helpers()})


@requires(Access.EMPLOYEE)
async def employees(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        rows = (await db.execute(
            select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.organisation_id == org.id,
                   Membership.status != MembershipStatus.REFUSED)
            .order_by(User.last_name, User.first_name)
        )).all()
        grants = (await db.execute(
            select(ToolAccess.membership_id, ToolAccess.tool).join(
                Membership, Membership.id == ToolAccess.membership_id)
            .where(Membership.organisation_id == org.id)
        )).all()
        managers = await rules.manager_count(db, org.id)
    access: dict[int, list[str]] = {}
    for membership_id, code in grants:
        found = tool(code)
        access.setdefault(membership_id, []).append(found.name if found else code)
    # Pending requests first: they are what a manager comes here for.
    ordered = sorted(rows, key=lambda r: r[0].status is not MembershipStatus.PENDING)
    return await render(request, "orgs/employees.html", {
        "org": org, "rows": ordered, "access": access, "managers": managers,
        "mine": request[MEMBERSHIP], **template_helpers()})


MEMBER_ACTIONS: dict[str, Callable[[AsyncSession, User, Membership], Awaitable[None]]] = {
    "confirm": rules.confirm, "refuse": rules.refuse, "promote": rules.promote,
    "demote": rules.demote, "remove": rules.remove,
}


async def _member_action(request: web.Request, action: str) -> web.Response:
    actor = request[USER]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        membership = await member_or_404(db, request)
        try:
            await MEMBER_ACTIONS[action](db, actor, membership)
        except MembershipError as refused:
            error: str | None = refused.message
        else:
            error = None
        member = await db.get(User, membership.user_id)
    name = member.full_name if member else "?"
    if error is not None:
        await flash(request, error, "error")
        raise redirect(f"/org/{org.id}/employees")
    if action == "confirm":
        await flash(request, _("%(name)s is now a member. Choose the tools they may use.",
                               name=name), "success")
        await _notify_member(request, org, membership, "membership_confirmed")
        raise redirect(f"/org/{org.id}/members/{membership.id}/tools")
    if action == "refuse":
        await flash(request, _("The request of %(name)s is refused.", name=name), "success")
        await _notify_member(request, org, membership, "membership_refused")
    elif action == "promote":
        await flash(request, _("%(name)s is now a manager.", name=name), "success")
    elif action == "demote":
        await flash(request, _("%(name)s is no longer a manager.", name=name), "success")
        if membership.user_id == actor.id:
            raise redirect(f"/org/{org.id}")
    elif action == "remove":
        if membership.user_id == actor.id:
            await flash(request, _("You left %(name)s.", name=org.name), "success")
            raise redirect("/organisations")
        await flash(request, _("%(name)s is removed from the organisation.", name=name),
                    "success")
    raise redirect(f"/org/{org.id}/employees")


@requires(Access.MANAGER)
async def confirm_member(request: web.Request) -> web.Response:
    return await _member_action(request, "confirm")


@requires(Access.MANAGER)
async def refuse_member(request: web.Request) -> web.Response:
    return await _member_action(request, "refuse")


@requires(Access.MANAGER)
async def promote_member(request: web.Request) -> web.Response:
    return await _member_action(request, "promote")


@requires(Access.MANAGER)
async def demote_member(request: web.Request) -> web.Response:
    return await _member_action(request, "demote")


@requires(Access.MANAGER)
async def remove_member(request: web.Request) -> web.Response:
    return await _member_action(request, "remove")


@requires(Access.MEMBER)
async def leave(request: web.Request) -> web.Response:
    """Leave the organisation, or withdraw a request still awaiting confirmation."""
    user = request[USER]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        membership = await rules.membership_of(db, user.id, org.id)
        if membership is None:
            raise web.HTTPNotFound()
        try:
            await rules.remove(db, user, membership)
        except MembershipError as refused:
            error: str | None = refused.message
        else:
            error = None
    if error is not None:
        await flash(request, error, "error")
        raise redirect(f"/org/{org.id}")
    await flash(request, _("You left %(name)s.", name=org.name), "success")
    raise redirect("/organisations")


@requires(Access.MANAGER)
async def edit_organisation(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        if request.method == "GET":
            form = {name: getattr(org, name) or "" for name in rules.ORGANISATION_FIELDS}
            return await render(request, "orgs/edit.html", {
                "org": org, "form": form, "errors": {}, **template_helpers()})
        posted = await read_form(request)
        data, errors = rules.check_organisation_form(posted)
        if data is None:
            return await render(request, "orgs/edit.html", {
                "org": org, "form": posted, "errors": errors, **template_helpers()},
                status=400)
        diff = await rules.edit_organisation(db, request[USER], org, data)
    await flash(request, _("The organisation's details are saved.") if diff
                else _("Nothing changed."), "success")
    raise redirect(f"/org/{org.id}")


@requires(Access.MEMBER)
async def edit_member(request: web.Request) -> web.Response:
    """The member themself, or a manager, edits their details for this organisation."""
    mine = request[MEMBERSHIP]
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        membership = await member_or_404(db, request)
        if membership.id != mine.id and not mine.is_manager:
            raise web.HTTPForbidden(reason="manager only")
        member = await db.get(User, membership.user_id)
        values = {"org": org, "membership": membership, "member": member}
        if request.method == "GET":
            form = {name: getattr(membership, name) or "" for name in rules.EMPLOYEE_FIELDS}
            return await render(request, "orgs/member_edit.html",
                                {**values, "form": form, "errors": {}})
        posted = await read_form(request)
        info, errors = rules.check_employee_form(posted)
        if info is None:
            return await render(request, "orgs/member_edit.html",
                                {**values, "form": posted, "errors": errors}, status=400)
        diff = await rules.edit_employee(db, request[USER], membership, info)
    await flash(request, _("The details are saved.") if diff else _("Nothing changed."),
                "success")
    raise redirect(f"/org/{org.id}/employees" if mine.is_manager else f"/org/{org.id}")


@requires(Access.MANAGER)
async def member_tools(request: web.Request) -> web.Response:
    """The tools one member may use (checkboxes; registered tools only)."""
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        membership = await member_or_404(db, request)
        member = await db.get(User, membership.user_id)
        registered = await rules.registered_tools(db, org.id)
        error: str | None = None
        saved = False
        if request.method == "POST":
            posted = await request.post()
            wanted = [v for v in posted.getall("tool", []) if isinstance(v, str)]
            try:
                await rules.set_tool_access(db, request[USER], membership, wanted)
            except MembershipError as refused:
                error = refused.message
            else:
                saved = True
        granted = await rules.tool_access_of(db, membership.id)
    if saved:
        await flash(request, _("Tool access saved."), "success")
        raise redirect(f"/org/{org.id}/employees")
    if error is not None:
        await flash(request, error, "error")
    return await render(request, "orgs/member_tools.html", {
        "org": org, "membership": membership, "member": member,
        "tools": [t for t in TOOLS if t.code in registered], "granted": granted,
        "confirmed": membership.status is MembershipStatus.CONFIRMED,
    }, status=400 if error else 200)


# -- audit trail ----------------------------------------------------------------------------


def field_label(name: str) -> str:
    labels = {
        "name": _("Name"), "legal_form": _("Legal form"), "street": _("Street and number"),
        "postcode": _("Postcode"), "city": _("City"), "email": _("E-mail"),
        "phone": _("Phone"), "contact_email": _("Contact e-mail"),
        "job_title": _("Job title"), "role": _("Role"), "tools": _("Tools"),
        "status": _("Status"), "enterprise_number": _("Enterprise number"),
        "tool": _("Tool"),
    }
    return labels.get(name, name)


def action_label(action: str) -> str:
    labels = {
        "organisation.created": _("Organisation registered"),
        "organisation.edited": _("Organisation details changed"),
        "member.requested": _("Asked to join"),
        "member.confirmed": _("Membership confirmed"),
        "member.refused": _("Membership refused"),
        "member.promoted": _("Made manager"),
        "member.demoted": _("No longer manager"),
        "member.removed": _("Removed from the organisation"),
        "member.left": _("Left the organisation"),
        "member.edited": _("Employee details changed"),
        "tool.registered": _("Tool registered"),
        "tool.unregistered": _("Tool unregistered"),
        "tool_access.changed": _("Tool access changed"),
    }
    return labels.get(action, action)


def _value_text(name: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if name == "role":
        return {"manager": _("manager"), "employee": _("employee")}.get(str(value), str(value))
    if name == "status":
        return {"pending": _("awaiting confirmation"), "confirmed": _("confirmed")}.get(
            str(value), str(value))
    if name == "legal_form":
        return legal_form_label(str(value))
    if name == "tool":
        found = tool(str(value))
        return found.name if found else str(value)
    if name == "tools" and isinstance(value, list):
        return ", ".join(_value_text("tool", code) for code in value)
    if name == "enterprise_number":
        return rules.format_enterprise_number(str(value))
    return str(value)


def describe(details: dict[str, Any]) -> list[str]:
    """Readable lines: ``Field: old → new`` for changes, ``Field: value`` otherwise."""
    lines = []
    for name, value in details.items():
        if isinstance(value, list) and len(value) == 2:
            old, new = value
            lines.append(f"{field_label(name)}: {_value_text(name, old)} → "
                         f"{_value_text(name, new)}")
        else:
            lines.append(f"{field_label(name)}: {_value_text(name, value)}")
    return lines


@requires(Access.MANAGER)
async def audit_trail(request: web.Request) -> web.Response:
    raw = request.query.get("page", "1")
    page = int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
    page = max(page, 1)
    async with transaction(request.app[DB]) as db:
        org = await organisation(db, request)
        total = int(await db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.organisation_id == org.id)) or 0)
        pages = max(1, math.ceil(total / AUDIT_PAGE_SIZE))
        page = min(page, pages)
        events = (await db.scalars(
            select(AuditEvent).where(AuditEvent.organisation_id == org.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE)
        )).all()
        ids = {i for e in events for i in (e.actor_id, e.subject_id) if i is not None}
        users = {u.id: u for u in (await db.scalars(select(User).where(User.id.in_(ids)))).all()}
    rows = [{
        "at": event.at,
        "actor": users[event.actor_id].full_name if event.actor_id in users else "—",
        "action": action_label(event.action),
        "subject": users[event.subject_id].full_name if event.subject_id in users else "",
        "details": describe(event.details or {}),
    } for event in events]
    return await render(request, "orgs/audit.html", {
        "org": org, "rows": rows, "page": page, "pages": pages})


def setup(app: web.Application) -> None:
    member = r"/org/{org_id}/members/{membership_id:\d{1,12}}"
    app.router.add_get("/organisations", my_organisations, name="organisations")
    app.router.add_get("/organisations/add", add_organisation, name="organisation_add")
    app.router.add_post("/organisations/add", add_organisation)
    app.router.add_get("/org/{org_id}", organisation_page, name="organisation")
    app.router.add_get("/org/{org_id}/employees", employees, name="employees")
    app.router.add_get("/org/{org_id}/edit", edit_organisation, name="organisation_edit")
    app.router.add_post("/org/{org_id}/edit", edit_organisation)
    app.router.add_post("/org/{org_id}/leave", leave, name="organisation_leave")
    app.router.add_get("/org/{org_id}/audit", audit_trail, name="audit")
    app.router.add_post(f"{member}/confirm", confirm_member)
    app.router.add_post(f"{member}/refuse", refuse_member)
    app.router.add_post(f"{member}/promote", promote_member)
    app.router.add_post(f"{member}/demote", demote_member)
    app.router.add_post(f"{member}/remove", remove_member)
    app.router.add_get(f"{member}/edit", edit_member)
    app.router.add_post(f"{member}/edit", edit_member)
    app.router.add_get(f"{member}/tools", member_tools)
    app.router.add_post(f"{member}/tools", member_tools)

