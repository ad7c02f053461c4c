"""Organisations and their members: the rules the pages apply, in one place.

Who may join, confirm, promote, leave; which tools an organisation may register (one of its
confirmed managers must hold one of the tool's recognitions) and who may enter them; and the
audit trail every change writes (actor, subject, old → new values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.be import vat
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from webclient.portal.catalogue import RECOGNITION_NAMES, TOOLS, Recognition, Tool
from webclient.portal.db import utcnow
from webclient.portal.i18n import current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.models import (
    AuditEvent,
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    OrganisationTool,
    ToolAccess,
    User,
    UserRecognition,
)

LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    ("SRL", "SRL / BV"),
    ("SA", "SA / NV"),
    ("SC", "SC / CV"),
    ("ASBL", "ASBL / VZW"),
    ("SNC", "SNC / VOF"),
    ("SComm", "SComm / CommV"),
    ("PP", "personne physique / natuurlijk persoon"),
    ("other", "other"),
)
"""Common Belgian legal forms: stored code, label (both languages; "other" is translated)."""
LEGAL_FORM_CODES = frozenset(code for code, _label in LEGAL_FORMS)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ./()-]{6,30}$")
_POSTCODE = re.compile(r"^[1-9][0-9]{3}$")


class MembershipError(Exception):
    """A rule refused the change; ``message`` is for the user (already translated)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- enterprise numbers ---------------------------------------------------------------------


def parse_enterprise_number(raw: str) -> tuple[str | None, str | None]:
    """``(compact number, None)`` or ``(None, error for the user)``. Accepts ``BE0403170701``,
    dots, spaces and the old nine-digit form."""
    if not raw.strip():
        return None, _("Enter the enterprise number.")
    try:
        return vat.validate(raw), None
    except InvalidLength:
        return None, _("An enterprise number has 10 digits, e.g. 0403.170.701. Check the number.")
    except InvalidChecksum:
        return None, _("This enterprise number does not exist (its check digits are wrong). "
                       "Check for a typing mistake.")
    except ValidationError:
        return None, _("Enter the enterprise number with digits only, e.g. 0403.170.701.")


def format_enterprise_number(compact: str) -> str:
    """``0403170701`` → ``0403.170.701`` (how the BCE/KBO writes it)."""
    return f"{compact[:4]}.{compact[4:7]}.{compact[7:]}" if len(compact) == 10 else compact


# -- forms --------------------------------------------------------------------------------


@dataclass
class EmployeeInfo:
    contact_email: str
    job_title: str | None
    phone: str | None


def _optional(value: str) -> str | None:
    return value or None


def check_employee_form(form: Mapping[str, str]) -> tuple[EmployeeInfo | None, dict[str, str]]:
    errors: dict[str, str] = {}
    email = form.get("contact_email", "").lower()
    if not _EMAIL.match(email) or len(email) > 254:
        errors["contact_email"] = _("Enter a valid e-mail address, e.g. name@agency.be.")
    job_title = form.get("job_title", "")
    if len(job_title) > 100:
        errors["job_title"] = _("Keep the job title under 100 characters.")
    phone = form.get("phone", "")
    if phone and not _PHONE.match(phone):
        errors["phone"] = _("Enter a phone number with digits only, e.g. +32 2 123 45 67.")
    if errors:
        return None, errors
    return EmployeeInfo(email, _optional(job_title), _optional(phone)), {}


ORGANISATION_FIELDS = ("name", "legal_form", "street", "postcode", "city", "email", "phone")


def check_organisation_form(
    form: Mapping[str, str],
) -> tuple[dict[str, str | None] | None, dict[str, str]]:
    """The organisation's data (without its number, which never changes) or the errors."""
    errors: dict[str, str] = {}
    limits = {"name": 200, "street": 200, "city": 100}
    for name, limit in limits.items():
        value = form.get(name, "")
        if not value:
            errors[name] = _("This field is required.")
        elif len(value) > limit:
            errors[name] = _("Keep this under %(limit)s characters.", limit=limit)
    if form.get("legal_form", "") not in LEGAL_FORM_CODES:
        errors["legal_form"] = _("Choose the legal form from the list.")
    if not _POSTCODE.match(form.get("postcode", "")):
        errors["postcode"] = _("A Belgian postcode has 4 digits, e.g. 1000.")
    email = form.get("email", "").lower()
    if not _EMAIL.match(email) or len(email) > 254:
        errors["email"] = _("Enter a valid e-mail address, e.g. name@agency.be.")
    phone = form.get("phone", "")
    if phone and not _PHONE.match(phone):
        errors["phone"] = _("Enter a phone number with digits only, e.g. +32 2 123 45 67.")
    if errors:
        return None, errors
    data: dict[str, str | None] = {name: form.get(name, "") for name in ORGANISATION_FIELDS}
    data["email"] = email
    data["phone"] = _optional(phone)
    return data, {}


# -- audit ----------------------------------------------------------------------------------


def audit(
    db: AsyncSession,
    organisation_id: int,
    actor: User | None,
    action: str,
    subject_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    db.add(AuditEvent(organisation_id=organisation_id, actor_id=actor.id if actor else None,
                      action=action, subject_id=subject_id, details=details or {}, at=utcnow()))


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value differs."""
    return {name: [old.get(name), value] for name, value in new.items()
            if old.get(name) != value}


# -- memberships ----------------------------------------------------------------------------


async def find_organisation(db: AsyncSession, enterprise_number: str) -> Organisation | None:
    return await db.scalar(
        select(Organisation).where(Organisation.enterprise_number == enterprise_number)
    )


async def membership_of(db: AsyncSession, user_id: int, organisation_id: int
                        ) -> Membership | None:
    return await db.scalar(select(Membership).where(
        Membership.user_id == user_id, Membership.organisation_id == organisation_id))


async def member_in(db: AsyncSession, organisation_id: int, membership_id: int
                    ) -> Membership | None:
    """A membership of this organisation (never another's, whatever id is asked)."""
    membership = await db.get(Membership, membership_id)
    if membership is None or membership.organisation_id != organisation_id:
        return None
    return membership


async def create_organisation(
    db: AsyncSession, user: User, enterprise_number: str, data: Mapping[str, str | None],
    employee: EmployeeInfo,
) -> Organisation:
    """A new organisation with ``user`` as its confirmed manager. The unique enterprise
    number makes a concurrent creation fail at flush (IntegrityError) for the second one."""
    organisation = Organisation(enterprise_number=enterprise_number, created_by=user.id,
                                **data)
    db.add(organisation)
    await db.flush()
    db.add(Membership(
        user_id=user.id, organisation_id=organisation.id, status=MembershipStatus.CONFIRMED,
        role=MembershipRole.MANAGER, contact_email=employee.contact_email,
        job_title=employee.job_title, phone=employee.phone, confirmed_at=utcnow(),
    ))
    audit(db, organisation.id, user, "organisation.created", user.id,
          {"enterprise_number": enterprise_number, "name": data.get("name")})
    return organisation


async def request_membership(
    db: AsyncSession, user: User, organisation: Organisation, employee: EmployeeInfo
) -> Membership:
    """A pending membership (managers must confirm). A refused person may ask again."""
    membership = await membership_of(db, user.id, organisation.id)
    if membership is not None and membership.status is not MembershipStatus.REFUSED:
        raise MembershipError(already_member_text(membership, organisation))
    if membership is None:
        membership = Membership(user_id=user.id, organisation_id=organisation.id)
        db.add(membership)
    membership.status = MembershipStatus.PENDING
    membership.role = MembershipRole.EMPLOYEE
    membership.contact_email = employee.contact_email
    membership.job_title = employee.job_title
    membership.phone = employee.phone
    membership.confirmed_at = None
    membership.confirmed_by = None
    await db.flush()
    audit(db, organisation.id, user, "member.requested", user.id)
    return membership


def already_member_text(membership: Membership, organisation: Organisation) -> str:
    if membership.status is MembershipStatus.PENDING:
        return _("You already asked to join %(name)s; your request is awaiting confirmation "
                 "by a manager.", name=organisation.name)
    return _("You are already a member of %(name)s.", name=organisation.name)


async def managers(db: AsyncSession, organisation_id: int) -> list[tuple[Membership, User]]:
    rows = await db.execute(
        select(Membership, User).join(User, User.id == Membership.user_id).where(
            Membership.organisation_id == organisation_id,
            Membership.status == MembershipStatus.CONFIRMED,
            Membership.role == MembershipRole.MANAGER,
        ).order_by(Membership.id)
    )
    return [(m, u) for m, u in rows.all()]


async def manager_count(db: AsyncSession, organisation_id: int) -> int:
    return int(await db.scalar(select(func.count()).select_from(Membership).where(
        Membership.organisation_id == organisation_id,
        Membership.status == MembershipStatus.CONFIRMED,
        Membership.role == MembershipRole.MANAGER,
    )) or 0)


async def confirm(db: AsyncSession, actor: User, membership: Membership) -> None:
    if membership.status is not MembershipStatus.PENDING:
        raise MembershipError(_("This person is not awaiting confirmation (any more)."))
    membership.status = MembershipStatus.CONFIRMED
    membership.confirmed_at = utcnow()
    membership.confirmed_by = actor.id
    audit(db, membership.organisation_id, actor, "member.confirmed", membership.user_id)


async def refuse(db: AsyncSession, actor: User, membership: Membership) -> None:
    if membership.status is not MembershipStatus.PENDING:
        raise MembershipError(_("This person is not awaiting confirmation (any more)."))
    membership.status = MembershipStatus.REFUSED
    await db.execute(delete(ToolAccess).where(ToolAccess.membership_id == membership.id))
    audit(db, membership.organisation_id, actor, "member.refused", membership.user_id)


async def promote(db: AsyncSession, actor: User, membership: Membership) -> None:
    if membership.status is not MembershipStatus.CONFIRMED:
        raise MembershipError(_("Confirm this person's membership before making them a "
                                "manager."))
    if membership.role is MembershipRole.MANAGER:
        raise MembershipError(_("This person is already a manager."))
    membership.role = MembershipRole.MANAGER
    audit(db, membership.organisation_id, actor, "member.promoted", membership.user_id,
          {"role": [MembershipRole.EMPLOYEE.value, MembershipRole.MANAGER.value]})


async def _lock_managers(db: AsyncSession, organisation_id: int) -> None:
    """Serialise "is this the last manager?" checks: two managers demoting each other at the
    same time must not leave the organisation without one. SQLite already writes one
    transaction at a time; PostgreSQL locks the organisation's row."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(select(Organisation.id).where(Organisation.id == organisation_id)
                         .with_for_update())


async def demote(db: AsyncSession, actor: User, membership: Membership) -> None:
    if not membership.is_manager:
        raise MembershipError(_("This person is not a manager."))
    await _lock_managers(db, membership.organisation_id)
    if await manager_count(db, membership.organisation_id) <= 1:
        raise MembershipError(_("An organisation needs at least one manager. Make someone "
                                "else a manager first."))
    membership.role = MembershipRole.EMPLOYEE
    audit(db, membership.organisation_id, actor, "member.demoted", membership.user_id,
          {"role": [MembershipRole.MANAGER.value, MembershipRole.EMPLOYEE.value]})


async def remove(db: AsyncSession, actor: User, membership: Membership) -> None:
    """A manager removes a member, or a member leaves (``actor`` is the member)."""
    if membership.is_manager:
        await _lock_managers(db, membership.organisation_id)
        if await manager_count(db, membership.organisation_id) <= 1:
            raise MembershipError(_("You are the last manager: make someone else a manager "
                                    "before leaving, so the organisation keeps one."))
    action = "member.left" if actor.id == membership.user_id else "member.removed"
    audit(db, membership.organisation_id, actor, action, membership.user_id,
          {"status": membership.status.value, "role": membership.role.value})
    await db.delete(membership)


EMPLOYEE_FIELDS = ("contact_email", "job_title", "phone")


async def edit_employee(db: AsyncSession, actor: User, membership: Membership,
                        info: EmployeeInfo) -> dict[str, list[Any]]:
    new = {"contact_email": info.contact_email, "job_title": info.job_title,
           "phone": info.phone}
    diff = changes({name: getattr(membership, name) for name in EMPLOYEE_FIELDS}, new)
    if diff:
        for name, (_old, value) in diff.items():
            setattr(membership, name, value)
        audit(db, membership.organisation_id, actor, "member.edited", membership.user_id, diff)
    return diff


async def edit_organisation(db: AsyncSession, actor: User, organisation: Organisation,
                            data: Mapping[str, str | None]) -> dict[str, list[Any]]:
    diff = changes({name: getattr(organisation, name) for name in ORGANISATION_FIELDS}, data)
    if diff:
        for name, (_old, value) in diff.items():
            setattr(organisation, name, value)
        audit(db, organisation.id, actor, "organisation.edited", None, diff)
    return diff


# -- tools ----------------------------------------------------------------------------------


async def manager_recognitions(db: AsyncSession, organisation_id: int) -> set[Recognition]:
    """The recognitions held by the organisation's confirmed managers."""
    values = await db.scalars(
        select(UserRecognition.recognition).join(
            Membership, Membership.user_id == UserRecognition.user_id
        ).where(
            Membership.organisation_id == organisation_id,
            Membership.status == MembershipStatus.CONFIRMED,
            Membership.role == MembershipRole.MANAGER,
        )
    )
    known = {r.value for r in Recognition}
    return {Recognition(value) for value in values if value in known}


def qualifies(tool: Tool, held: Iterable[Recognition]) -> bool:
    return bool(tool.recognitions & set(held))


async def registered_tools(db: AsyncSession, organisation_id: int) -> set[str]:
    return set(await db.scalars(select(OrganisationTool.tool).where(
        OrganisationTool.organisation_id == organisation_id)))


async def register_tool(db: AsyncSession, actor: User, organisation_id: int, tool: Tool) -> None:
    if not qualifies(tool, await manager_recognitions(db, organisation_id)):
        raise MembershipError(missing_recognition_text(tool))
    if tool.code in await registered_tools(db, organisation_id):
        raise MembershipError(_("%(tool)s is already registered for this organisation.",
                                tool=tool.name))
    db.add(OrganisationTool(organisation_id=organisation_id, tool=tool.code,
                            registered_by=actor.id))
    audit(db, organisation_id, actor, "tool.registered", None, {"tool": tool.code})


async def unregister_tool(db: AsyncSession, actor: User, organisation_id: int,
                          tool: Tool) -> None:
    row = await db.get(OrganisationTool, (organisation_id, tool.code))
    if row is None:
        raise MembershipError(_("%(tool)s is not registered for this organisation.",
                                tool=tool.name))
    member_ids = select(Membership.id).where(Membership.organisation_id == organisation_id)
    await db.execute(delete(ToolAccess).where(ToolAccess.tool == tool.code,
                                              ToolAccess.membership_id.in_(member_ids)))
    await db.delete(row)
    audit(db, organisation_id, actor, "tool.unregistered", None, {"tool": tool.code})


def recognition_list(tool: Tool, language: str) -> list[str]:
    return sorted(RECOGNITION_NAMES[r].get(language, RECOGNITION_NAMES[r]["en"])
                  for r in tool.recognitions)


def missing_recognition_text(tool: Tool) -> str:
    names = _(" or ").join(recognition_list(tool, current_language()))
    return _("%(tool)s can only be registered when one of the organisation's managers is "
             "recognised as: %(names)s. Such a person must link their eID to their account and "
             "be made a manager here first.", tool=tool.name, names=names)


async def tool_access_of(db: AsyncSession, membership_id: int) -> set[str]:
    return set(await db.scalars(select(ToolAccess.tool).where(
        ToolAccess.membership_id == membership_id)))


async def set_tool_access(db: AsyncSession, actor: User, membership: Membership,
                          wanted: Iterable[str]) -> tuple[list[str], list[str]]:
    """Grant exactly ``wanted`` (registered tools only); returns (old, new) sorted lists."""
    if membership.status is not MembershipStatus.CONFIRMED:
        raise MembershipError(_("Confirm this person's membership before giving access to "
                                "tools."))
    registered = await registered_tools(db, membership.organisation_id)
    wanted_set = set(wanted)
    if not wanted_set <= registered:
        raise MembershipError(_("Access can only be given to tools the organisation has "
                                "registered."))
    current = await tool_access_of(db, membership.id)
    for code in current - wanted_set:
        await db.execute(delete(ToolAccess).where(ToolAccess.membership_id == membership.id,
                                                  ToolAccess.tool == code))
    for code in sorted(wanted_set - current):
        db.add(ToolAccess(membership_id=membership.id, tool=code, granted_by=actor.id))
    old, new = sorted(current), sorted(wanted_set)
    if old != new:
        audit(db, membership.organisation_id, actor, "tool_access.changed", membership.user_id,
              {"tools": [old, new]})
    return old, new


@dataclass
class ToolUse:
    """Where one user may use one tool, and why not elsewhere."""

    usable: list[Organisation] = field(default_factory=list)
    not_registered: list[Organisation] = field(default_factory=list)
    no_access: list[Organisation] = field(default_factory=list)
    pending: list[Organisation] = field(default_factory=list)


async def tool_use(db: AsyncSession, user_id: int, tool: Tool) -> ToolUse:
    """The user's organisations sorted by whether they open ``tool`` for this user. A tool
    whose last qualifying manager left counts as not registered (it no longer may be)."""
    rows = await db.execute(
        select(Membership, Organisation).join(
            Organisation, Organisation.id == Membership.organisation_id
        ).where(Membership.user_id == user_id, Membership.status != MembershipStatus.REFUSED)
        .order_by(Organisation.name)
    )
    use = ToolUse()
    for membership, organisation in rows.all():
        if membership.status is MembershipStatus.PENDING:
            use.pending.append(organisation)
        elif not await organisation_offers(db, organisation.id, tool):
            use.not_registered.append(organisation)
        elif tool.code not in await tool_access_of(db, membership.id):
            use.no_access.append(organisation)
        else:
            use.usable.append(organisation)
    return use


async def organisation_offers(db: AsyncSession, organisation_id: int, tool: Tool) -> bool:
    """Registered, and still qualifying."""
    return tool.code in await registered_tools(db, organisation_id) and qualifies(
        tool, await manager_recognitions(db, organisation_id))


def all_tools() -> tuple[Tool, ...]:
    return TOOLS
