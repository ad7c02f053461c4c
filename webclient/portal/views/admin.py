"""The administrator's pages: overview, professional register imports, roles of users."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import func, or_, select

from webclient.portal.access import Access, current_user, path_id, requires
from webclient.portal.catalogue import RECOGNITION_NAMES, Recognition
from webclient.portal.db import transaction
from webclient.portal.i18n import current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, SETTINGS
from webclient.portal.models import (
    Membership,
    MembershipStatus,
    Organisation,
    RegisterImport,
    User,
    UserRole,
)
from webclient.portal.pages import flash, redirect, render
from webclient.portal.recognitions import RegisterFileError, import_register

log = logging.getLogger("webclient.portal.admin")

USERS_SHOWN = 50
IMPORTS_SHOWN = 20
ASSIGNABLE_ROLES = (UserRole.USER, UserRole.HELPDESK)


def register_names() -> list[tuple[str, str]]:
    language = current_language()
    return [(r.value, RECOGNITION_NAMES[r].get(language, r.value)) for r in Recognition]


async def _recent_imports(request: web.Request) -> list[tuple[RegisterImport, str | None]]:
    async with transaction(request.app[DB]) as db:
        rows = (
            await db.execute(
                select(RegisterImport, User.username)
                .outerjoin(User, User.id == RegisterImport.imported_by)
                .order_by(RegisterImport.imported_at.desc(), RegisterImport.id.desc())
                .limit(IMPORTS_SHOWN)
            )
        ).all()
    return [(row[0], row[1]) for row in rows]


@requires(Access.ADMIN)
async def overview(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        def counting(*where: Any) -> Any:
            return select(func.count()).select_from(User).where(*where)

        counts = {
            "users": await db.scalar(counting()),
            "activated": await db.scalar(counting(User.activated_at.is_not(None))),
            "linked": await db.scalar(counting(User.eid_nrn_hmac.is_not(None))),
            "organisations": await db.scalar(select(func.count()).select_from(Organisation)),
            "pending": await db.scalar(
                select(func.count()).select_from(Membership).where(
                    Membership.status == MembershipStatus.PENDING
                )
            ),
        }
    return await render(
        request,
        "admin/index.html",
        {"counts": {k: int(v or 0) for k, v in counts.items()},
         "imports": await _recent_imports(request),
         "register_names": dict(register_names())},
    )


async def _registers_page(
    request: web.Request, values: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    return await render(
        request,
        "admin/registers.html",
        {"registers": register_names(), "register_names": dict(register_names()),
         "imports": await _recent_imports(request), "chosen": "", "error": None,
         "report": None, **(values or {})},
        status=status,
    )


@requires(Access.ADMIN)
async def registers(request: web.Request) -> web.Response:
    return await _registers_page(request)


@requires(Access.ADMIN)
async def import_upload(request: web.Request) -> web.Response:
    form: MultiDictProxy[Any] = await request.post()
    chosen = form.get("register")
    upload = form.get("file")
    try:
        register = Recognition(chosen) if isinstance(chosen, str) else None
    except ValueError:
        register = None
    if register is None:
        return await _registers_page(
            request, {"error": _("Choose the register this file comes from.")}, status=400
        )
    if not isinstance(upload, web.FileField):
        return await _registers_page(
            request, {"chosen": register.value, "error": _("Choose the CSV file to import.")},
            status=400,
        )
    data = upload.file.read()
    admin = current_user(request)
    try:
        report = await import_register(
            request.app[DB],
            request.app[SETTINGS].require_secret(),
            register,
            upload.filename or "",
            data,
            imported_by=admin.id if admin else None,
        )
    except RegisterFileError as exc:
        return await _registers_page(
            request, {"chosen": register.value, "error": str(exc)}, status=400
        )
    log.info(
        "register %s imported: %d rows, %d added, %d updated, %d rejected, %d granted",
        register.value, report.rows, report.added, report.updated, len(report.rejected),
        report.granted,
    )
    return await _registers_page(request, {"chosen": register.value, "report": report})


@requires(Access.ADMIN)
async def users(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:100]
    async with transaction(request.app[DB]) as db:
        statement = select(User).order_by(User.username).limit(USERS_SHOWN)
        if query:
            pattern = f"%{query.lower()}%"
            statement = statement.where(
                or_(
                    func.lower(User.username).like(pattern),
                    func.lower(User.email).like(pattern),
                    func.lower(User.first_name).like(pattern),
                    func.lower(User.last_name).like(pattern),
                    func.lower(User.first_name + " " + User.last_name).like(pattern),
                )
            )
        found = list((await db.scalars(statement)).all())
    return await render(
        request,
        "admin/users.html",
        {"query": query, "found": found, "limit": USERS_SHOWN,
         "roles": [(r.value, role_name(r)) for r in ASSIGNABLE_ROLES]},
    )


def role_name(role: UserRole) -> str:
    return {
        UserRole.USER: _("User"),
        UserRole.HELPDESK: _("Helpdesk"),
        UserRole.ADMIN: _("Administrator"),
    }[role]


@requires(Access.ADMIN)
async def set_role(request: web.Request) -> web.Response:
    form = await request.post()
    wanted = form.get("role")
    back = form.get("q")
    query = f"?{urlencode({'q': back})}" if isinstance(back, str) and back else ""
    target = f"/admin/users{query}"
    user_id = path_id(request, "user_id")
    admin = current_user(request)
    assert admin is not None
    try:
        role = UserRole(wanted) if isinstance(wanted, str) else None
    except ValueError:
        role = None
    if role not in ASSIGNABLE_ROLES:
        raise web.HTTPBadRequest(reason="unknown role")
    assert role is not None
    if user_id == admin.id:
        await flash(request, _("You cannot change your own role: ask another administrator."),
                    "error")
        raise redirect(target)
    async with transaction(request.app[DB]) as db:
        user = await db.get(User, user_id)
        if user is None:
            raise web.HTTPNotFound()
        previous = user.role
        user.role = role
        username = user.username
    log.info("admin %s set the role of user %s: %s -> %s", admin.id, user_id, previous.value,
             role.value)
    await flash(request, _("%(username)s is now: %(role)s.", username=username,
                           role=role_name(role)), "success")
    raise redirect(target)


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", overview, name="admin")
    app.router.add_get("/admin/registers", registers, name="admin_registers")
    app.router.add_post("/admin/registers", import_upload, name="admin_registers_import")
    app.router.add_get("/admin/users", users, name="admin_users")
    app.router.add_post("/admin/users/{user_id}/role", set_role, name="admin_user_role")
