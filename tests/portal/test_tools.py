"""Tools: the catalogue, registration by recognition, access per employee, entering a tool."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from tests.portal_harness import Browser, Portal, browser
from webclient.portal.catalogue import Recognition
from webclient.portal.models import (
    AuditEvent,
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    OrganisationTool,
    ToolAccess,
    User,
    WebSession,
)

NUMBER = "0403170701"
OTHER_NUMBER = "0203201340"


async def logged_in(portal: Portal, user: User, *, default: bool = False) -> Browser:
    visitor = browser(portal) if default else portal.browser()
    await visitor.login(user.username)
    await visitor.post("/language", {"lang": user.language, "next": "/"})
    return visitor


async def as_eid_session(portal: Portal, user: User) -> None:
    """Test-only: mark the user's sessions as opened with the eID (the eID login is another
    area's; what matters here is the method the session records)."""
    async with portal.db() as db:
        for row in await db.scalars(select(WebSession).where(WebSession.user_id == user.id)):
            data = json.loads(row.data)
            data["method"] = "eid"
            row.data = json.dumps(data)
        await db.commit()


async def register(portal: Portal, org: Organisation, *codes: str) -> None:
    async with portal.db() as db:
        for code in codes:
            db.add(OrganisationTool(organisation_id=org.id, tool=code))
        await db.commit()


async def grant(portal: Portal, membership: Membership, *codes: str) -> None:
    async with portal.db() as db:
        for code in codes:
            db.add(ToolAccess(membership_id=membership.id, tool=code))
        await db.commit()


async def membership_of(portal: Portal, user: User, org: Organisation) -> Membership:
    async with portal.db() as db:
        found = await db.scalar(select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == org.id))
    assert found is not None
    return found


async def text(visitor: Browser, path: str) -> str:
    return str(await (await visitor.get(path)).text())


# -- registration ----------------------------------------------------------------------------


async def test_registration_needs_a_manager_with_a_recognition(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    manager = await logged_in(portal, boss, default=True)

    page = await text(manager, f"/org/{org.id}/tools")
    assert "IPI approved real-estate agent" in page
    response = await manager.post(f"/org/{org.id}/tools/antiblanchiment/register")
    assert response.status == 303
    refusal = await text(manager, response.headers["Location"])
    assert "Anti-Blanchiment can only be registered when" in refusal
    assert "IPI approved real-estate agent" in refusal
    async with portal.db() as db:
        assert await db.scalar(select(OrganisationTool)) is None

    # An employee's recognition does not count; a manager's does.
    expert = await portal.make_user("expert", recognitions=(Recognition.IPI,))
    expert_membership = await portal.make_membership(expert, org)
    await manager.post(f"/org/{org.id}/tools/antiblanchiment/register")
    async with portal.db() as db:
        assert await db.scalar(select(OrganisationTool)) is None
    await manager.post(f"/org/{org.id}/members/{expert_membership.id}/promote")
    response = await manager.post(f"/org/{org.id}/tools/antiblanchiment/register")
    assert "Anti-Blanchiment is registered" in await text(manager, response.headers["Location"])
    # Any of the tool's recognitions will do (CadastreFinder: IPI or Fonds 323) but CIBweb
    # needs CIB.
    await manager.post(f"/org/{org.id}/tools/cadastrefinder/register")
    await manager.post(f"/org/{org.id}/tools/cibweb/register")
    async with portal.db() as db:
        registered = set(await db.scalars(select(OrganisationTool.tool)))
        actions = [(e.action, e.details) for e in await db.scalars(
            select(AuditEvent).where(AuditEvent.action.like("tool.%")).order_by(AuditEvent.id))]
    assert registered == {"antiblanchiment", "cadastrefinder"}
    assert actions == [("tool.registered", {"tool": "antiblanchiment"}),
                       ("tool.registered", {"tool": "cadastrefinder"})]


async def test_unregistering_removes_everyones_access(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.CIB,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob")
    bob_membership = await portal.make_membership(bob, org)
    manager = await logged_in(portal, boss, default=True)
    await manager.post(f"/org/{org.id}/tools/cibweb/register")
    await manager.post(f"/org/{org.id}/members/{bob_membership.id}/tools", {"tool": "cibweb"})
    async with portal.db() as db:
        assert list(await db.scalars(select(ToolAccess.tool))) == ["cibweb"]
    response = await manager.post(f"/org/{org.id}/tools/cibweb/unregister")
    assert response.status == 303
    async with portal.db() as db:
        assert await db.scalar(select(ToolAccess)) is None
        assert await db.scalar(select(OrganisationTool)) is None
        last = await db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert last is not None
    assert last.action == "tool.unregistered"
    trail = await text(manager, f"/org/{org.id}/audit")
    assert "Tool unregistered" in trail
    assert "Tool access changed" in trail
    assert "Tools: — → CIBweb" in trail


async def test_employees_see_the_tools_page_but_cannot_register(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.IPI,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob", recognitions=(Recognition.IPI,))
    bob_membership = await portal.make_membership(bob, org)
    staff = await logged_in(portal, bob)
    page = await text(staff, f"/org/{org.id}/tools")
    assert "Anti-Blanchiment" in page
    assert "/register" not in page
    assert (await staff.post(f"/org/{org.id}/tools/antiblanchiment/register")).status == 403
    await register(portal, org, "antiblanchiment")
    assert (await staff.post(f"/org/{org.id}/tools/antiblanchiment/unregister")).status == 403
    assert (await staff.post(f"/org/{org.id}/members/{bob_membership.id}/tools",
                             {"tool": "antiblanchiment"})).status == 403
    manager = await logged_in(portal, boss)
    assert (await manager.post(f"/org/{org.id}/tools/nosuchtool/register")).status == 404


# -- the catalogue and entering a tool -------------------------------------------------------


async def test_catalogue_names_recognitions_in_my_language(sqlite_portal: Portal) -> None:
    ann = await sqlite_portal.make_user("ann", language="nl")
    visitor = await logged_in(sqlite_portal, ann, default=True)
    page = await text(visitor, "/tools")
    assert "Erkend vastgoedmakelaar BIV" in page
    assert "Lid CIB Vlaanderen" in page
    assert "CadastreFinder" in page
    assert "Nog niet beschikbaar voor u." in page
    await visitor.post("/language", {"lang": "fr", "next": "/"})
    assert "Agent immobilier agréé IPI" in await text(visitor, "/tools")


async def test_entering_a_tool_explains_why_not(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.IPI,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob")
    visitor = await logged_in(portal, bob, default=True)

    page = await text(visitor, "/tools/antiblanchiment")
    assert "not a member of any organisation" in page

    pending = await portal.make_membership(bob, org, status=MembershipStatus.PENDING)
    assert "awaiting confirmation" in await text(visitor, "/tools/antiblanchiment")
    async with portal.db() as db:
        row = await db.get(Membership, pending.id)
        assert row is not None
        row.status = MembershipStatus.CONFIRMED
        await db.commit()

    page = await text(visitor, "/tools/antiblanchiment")
    assert "Immo Test has not registered Anti-Blanchiment" in page
    landing = await visitor.get(f"/org/{org.id}/tools/antiblanchiment")
    assert landing.status == 403
    assert "has not registered" in await landing.text()

    await register(portal, org, "antiblanchiment")
    page = await text(visitor, "/tools/antiblanchiment")
    assert "no access to Anti-Blanchiment for Immo Test" in page
    assert "Ask a manager" in page
    landing = await visitor.get(f"/org/{org.id}/tools/antiblanchiment")
    assert landing.status == 403
    assert "no access" in await landing.text()
    assert (await visitor.get("/tools/nosuchtool")).status == 404
    assert (await visitor.get(f"/org/{org.id}/tools/nosuchtool")).status == 404


async def test_eid_tools_need_an_eid_login(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.IPI,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    await register(portal, org, "antiblanchiment")
    await grant(portal, await membership_of(portal, boss, org), "antiblanchiment")
    visitor = await logged_in(portal, boss, default=True)

    response = await visitor.get(f"/org/{org.id}/tools/antiblanchiment", allow_redirects=False)
    assert response.status == 303
    target = f"/org/{org.id}/tools/antiblanchiment"
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login/eid"
    assert parse_qs(location.query) == {"next": [target]}
    assert "log in with your eID card" in await text(visitor, "/tools")

    await as_eid_session(portal, boss)
    landing = await visitor.get(target, allow_redirects=False)
    page = await landing.text()
    assert landing.status == 200
    assert "Anti-Blanchiment" in page
    assert "Used for: Immo Test" in page
    assert 'href="/tools/antiblanchiment?choose=1"' in page
    assert "Switch organisation" in page


async def test_tools_without_eid_requirement_open_with_a_password(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.CIB,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    await register(portal, org, "cibweb")
    await grant(portal, await membership_of(portal, boss, org), "cibweb")
    visitor = await logged_in(portal, boss, default=True)
    # Exactly one organisation: straight there.
    response = await visitor.get("/tools/cibweb", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/org/{org.id}/tools/cibweb"
    landing = await visitor.get(response.headers["Location"], allow_redirects=False)
    assert landing.status == 200
    assert "Used for: Immo Test" in await landing.text()


async def test_choosing_among_organisations_is_remembered(portal: Portal) -> None:
    ann = await portal.make_user("ann", recognitions=(Recognition.CIB,))
    alpha = await portal.make_organisation(NUMBER, "Alpha", manager=ann)
    beta = await portal.make_organisation(OTHER_NUMBER, "Beta", manager=ann)
    for org in (alpha, beta):
        await register(portal, org, "cibweb")
        await grant(portal, await membership_of(portal, ann, org), "cibweb")
    visitor = await logged_in(portal, ann, default=True)

    chooser = await visitor.get("/tools/cibweb", allow_redirects=False)
    page = await chooser.text()
    assert chooser.status == 200
    assert "For which organisation?" in page
    assert f'href="/org/{alpha.id}/tools/cibweb"' in page
    assert f'href="/org/{beta.id}/tools/cibweb"' in page

    await visitor.get(f"/org/{beta.id}/tools/cibweb")
    again = await visitor.get("/tools/cibweb", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == f"/org/{beta.id}/tools/cibweb"
    switch = await visitor.get("/tools/cibweb?choose=1", allow_redirects=False)
    assert switch.status == 200
    assert "last used" in await switch.text()

    # The catalogue says where I can use it.
    catalogue = await text(visitor, "/tools")
    assert "You can use it for: Alpha, Beta" in catalogue


async def test_a_tool_stops_when_no_manager_holds_the_recognition(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    expert = await portal.make_user("expert", recognitions=(Recognition.CIB,))
    expert_membership = await portal.make_membership(expert, org, role=MembershipRole.MANAGER)
    await register(portal, org, "cibweb")
    await grant(portal, await membership_of(portal, boss, org), "cibweb")
    visitor = await logged_in(portal, boss, default=True)
    assert (await visitor.get(f"/org/{org.id}/tools/cibweb")).status == 200
    await visitor.post(f"/org/{org.id}/members/{expert_membership.id}/demote")
    assert (await visitor.get(f"/org/{org.id}/tools/cibweb")).status == 403
    assert "No manager holds a recognition" in await text(visitor, f"/org/{org.id}/tools")


async def test_other_organisations_tools_are_out_of_reach(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.CIB,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    await register(portal, org, "cibweb")
    stranger_user = await portal.make_user("stranger", recognitions=(Recognition.CIB,))
    await portal.make_organisation(OTHER_NUMBER, "Other", manager=stranger_user)
    stranger = await logged_in(portal, stranger_user)
    assert (await stranger.get(f"/org/{org.id}/tools")).status == 404
    assert (await stranger.get(f"/org/{org.id}/tools/cibweb")).status == 404
    assert (await stranger.post(f"/org/{org.id}/tools/cibweb/unregister")).status == 404
