"""Organisations: adding by enterprise number, joining, confirming, roles, audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

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
)

NUMBER = "0403170701"
OTHER_NUMBER = "0203201340"

NEW_ORG = {
    "step": "create", "enterprise_number": "BE 0403.170.701", "name": "Immo Dupont",
    "legal_form": "SRL", "street": "Rue Haute 1", "postcode": "1000", "city": "Bruxelles",
    "email": "info@dupont.be", "org_phone": "", "contact_email": "ann@dupont.be",
    "job_title": "Gérante", "phone": "+32 2 123 45 67",
}


async def logged_in(portal: Portal, user: User, *, default: bool = False) -> Browser:
    visitor = browser(portal) if default else portal.browser()
    await visitor.login(user.username)
    await visitor.post("/language", {"lang": user.language, "next": "/"})
    return visitor


async def memberships(portal: Portal, organisation_id: int) -> dict[int, Membership]:
    async with portal.db() as db:
        rows = await db.scalars(select(Membership).where(
            Membership.organisation_id == organisation_id))
        return {m.user_id: m for m in rows}


async def audit_rows(portal: Portal, organisation_id: int) -> list[AuditEvent]:
    async with portal.db() as db:
        return list(await db.scalars(select(AuditEvent).where(
            AuditEvent.organisation_id == organisation_id).order_by(AuditEvent.id)))


async def text_of(response: Any) -> str:
    return str(await response.text())


# -- adding and joining ---------------------------------------------------------------------


async def test_unknown_number_creates_the_organisation_with_me_as_manager(portal: Portal) -> None:
    ann = await portal.make_user("ann", email="ann@home.be")
    visitor = await logged_in(portal, ann, default=True)
    page = await visitor.get("/organisations")
    assert "Add an organisation" in await page.text()

    step1 = await visitor.post("/organisations/add", {"step": "number",
                                                      "enterprise_number": "BE0403170701"})
    form = await step1.text()
    assert step1.status == 200
    assert "0403.170.701" in form
    assert 'name="legal_form"' in form
    assert 'value="ann@home.be"' in form  # the personal address is the default contact

    created = await visitor.post("/organisations/add", NEW_ORG)
    assert created.status == 303
    async with portal.db() as db:
        org = await db.scalar(select(Organisation))
    assert org is not None
    assert org.enterprise_number == NUMBER
    assert org.postcode == "1000"
    assert created.headers["Location"] == f"/org/{org.id}"
    mine = (await memberships(portal, org.id))[ann.id]
    assert mine.is_manager
    assert mine.contact_email == "ann@dupont.be"
    assert mine.job_title == "Gérante"
    assert mine.phone == "+32 2 123 45 67"

    listing = await text_of(await visitor.get("/organisations"))
    assert "Immo Dupont" in listing
    assert "0403.170.701" in listing
    assert 'class="manager-star"' in listing
    assert "★" in listing
    assert [e.action for e in await audit_rows(portal, org.id)] == ["organisation.created"]


async def test_create_form_refuses_bad_fields_and_keeps_what_was_typed(
        sqlite_portal: Portal) -> None:
    ann = await sqlite_portal.make_user("ann")
    visitor = await logged_in(sqlite_portal, ann, default=True)
    bad = {**NEW_ORG, "postcode": "12", "legal_form": "GmbH", "contact_email": "nope",
           "name": ""}
    response = await visitor.post("/organisations/add", bad)
    page = await response.text()
    assert response.status == 400
    assert "A Belgian postcode has 4 digits" in page
    assert "Choose the legal form from the list." in page
    assert "Enter a valid e-mail address" in page
    assert 'value="Rue Haute 1"' in page
    async with sqlite_portal.db() as db:
        assert await db.scalar(select(Organisation)) is None


async def test_bad_enterprise_numbers_are_refused_on_the_page(sqlite_portal: Portal) -> None:
    ann = await sqlite_portal.make_user("ann")
    visitor = await logged_in(sqlite_portal, ann, default=True)
    for raw, expected in (("0403170702", "check digits"), ("12345", "10 digits"),
                          ("abc", "digits only")):
        response = await visitor.post("/organisations/add",
                                      {"step": "number", "enterprise_number": raw})
        assert response.status == 400
        assert expected in await response.text()
    # The number is checked again at step 2, whatever the hidden field says.
    response = await visitor.post("/organisations/add",
                                  {**NEW_ORG, "enterprise_number": "0403170702"})
    assert response.status == 400


async def test_known_number_asks_to_join_and_mails_every_manager(portal: Portal) -> None:
    boss = await portal.make_user("boss", email="boss@home.be", language="nl")
    deputy = await portal.make_user("deputy", email="deputy@home.be", language="fr")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    await portal.make_membership(deputy, org, role=MembershipRole.MANAGER)
    bob = await portal.make_user("bob", first_name="Bob", last_name="Maes")
    visitor = await logged_in(portal, bob, default=True)

    step1 = await visitor.post("/organisations/add",
                               {"step": "number", "enterprise_number": "0403.170.701"})
    page = await step1.text()
    assert "Immo Test" in page
    assert 'name="legal_form"' not in page
    before = portal.mail.last_id
    joined = await visitor.post("/organisations/add", {
        "step": "join", "enterprise_number": NUMBER, "contact_email": "bob@immo.be",
        "job_title": "Agent", "phone": ""})
    assert joined.status == 303
    assert joined.headers["Location"] == f"/org/{org.id}"
    mine = (await memberships(portal, org.id))[bob.id]
    assert mine.status is MembershipStatus.PENDING
    assert mine.role is MembershipRole.EMPLOYEE

    # Each manager in their own language, with a link to the employee list.
    dutch = await portal.mail.wait_for("boss@home.be", after_id=before)
    french = await portal.mail.wait_for("deputy@home.be", after_id=before)
    assert "Bob Maes" in dutch.subject
    assert "vraagt" in dutch.subject
    assert "demande" in french.subject
    assert f"/org/{org.id}/employees" in dutch.text
    assert "bob@immo.be" in french.text

    own = await text_of(await visitor.get(f"/org/{org.id}"))
    assert "awaiting confirmation" in own
    assert "bob@immo.be" in own
    assert "Rue de la Loi" not in own  # pending: only their own info
    listing = await text_of(await visitor.get("/organisations"))
    assert "awaiting confirmation" in listing

    # Asking again, or adding the number again, says so clearly.
    again = await visitor.post("/organisations/add",
                               {"step": "number", "enterprise_number": NUMBER})
    assert again.status == 303
    assert "already asked to join" in await text_of(await visitor.get(again.headers["Location"]))


async def test_already_a_member_is_told_so(sqlite_portal: Portal) -> None:
    ann = await sqlite_portal.make_user("ann")
    org = await sqlite_portal.make_organisation(NUMBER, "Immo Test", manager=ann)
    visitor = await logged_in(sqlite_portal, ann, default=True)
    response = await visitor.post("/organisations/add",
                                  {"step": "join", "enterprise_number": NUMBER,
                                   "contact_email": "a@b.be"})
    assert response.status == 303
    assert response.headers["Location"] == f"/org/{org.id}"
    assert "already a member of Immo Test" in await text_of(await visitor.get(f"/org/{org.id}"))


async def test_two_people_creating_the_same_number_at_once(portal: Portal) -> None:
    ann = await portal.make_user("ann")
    bob = await portal.make_user("bob")
    first = await logged_in(portal, ann)
    second = await logged_in(portal, bob)
    responses = await asyncio.gather(
        first.post("/organisations/add", NEW_ORG),
        second.post("/organisations/add", {**NEW_ORG, "name": "Dupont Immo"}),
    )
    assert [r.status for r in responses] == [303, 303], [r.status for r in responses]
    async with portal.db() as db:
        orgs = list(await db.scalars(select(Organisation)))
    assert len(orgs) == 1
    roles = await memberships(portal, orgs[0].id)
    statuses = sorted((m.status.value, m.role.value) for m in roles.values())
    assert statuses == [("confirmed", "manager"), ("pending", "employee")]
    loser = first if roles[ann.id].status is MembershipStatus.PENDING else second
    page = await text_of(await loser.get(f"/org/{orgs[0].id}"))
    assert "a moment before you" in page


async def test_number_registered_between_the_two_steps_becomes_a_join(portal: Portal) -> None:
    """The unique constraint decides: the late one becomes a pending member, told why."""
    boss = await portal.make_user("boss", email="boss@home.be")
    ann = await portal.make_user("ann")
    visitor = await logged_in(portal, ann, default=True)
    await visitor.post("/organisations/add", {"step": "number", "enterprise_number": NUMBER})
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    before = portal.mail.last_id
    response = await visitor.post("/organisations/add", NEW_ORG)
    assert response.status == 303
    assert response.headers["Location"] == f"/org/{org.id}"
    mine = (await memberships(portal, org.id))[ann.id]
    assert mine.status is MembershipStatus.PENDING
    assert mine.contact_email == "ann@dupont.be"
    assert "a moment before you" in await text_of(await visitor.get(f"/org/{org.id}"))
    await portal.mail.wait_for("boss@home.be", after_id=before)
    async with portal.db() as db:
        org_row = await db.get(Organisation, org.id)
    assert org_row is not None
    assert org_row.name == "Immo Test"


async def test_one_person_in_several_organisations_with_a_contact_per_organisation(
        portal: Portal) -> None:
    ann = await portal.make_user("ann")
    boss = await portal.make_user("boss")
    first = await portal.make_organisation(NUMBER, "Alpha", manager=boss)
    second = await portal.make_organisation(OTHER_NUMBER, "Beta", manager=boss)
    visitor = await logged_in(portal, ann, default=True)
    for org, number, address in ((first, NUMBER, "ann@alpha.be"),
                                 (second, OTHER_NUMBER, "ann@beta.be")):
        await visitor.post("/organisations/add", {"step": "join", "enterprise_number": number,
                                                  "contact_email": address})
        assert (await memberships(portal, org.id))[ann.id].contact_email == address
    listing = await text_of(await visitor.get("/organisations"))
    assert "Alpha" in listing
    assert "Beta" in listing


# -- access to an organisation's pages -------------------------------------------------------


async def test_who_sees_what(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    other_boss = await portal.make_user("otherboss")
    other = await portal.make_organisation(OTHER_NUMBER, "Other", manager=other_boss)
    pending_user = await portal.make_user("pend")
    pending = await portal.make_membership(pending_user, org, status=MembershipStatus.PENDING)
    employee_user = await portal.make_user("emp")
    employee = await portal.make_membership(employee_user, org)
    stranger = await portal.make_user("stranger")

    outsider = await logged_in(portal, stranger)
    for path in (f"/org/{org.id}", f"/org/{org.id}/employees", f"/org/{org.id}/tools",
                 f"/org/{org.id}/audit", f"/org/{org.id}/edit", "/org/999999"):
        assert (await outsider.get(path)).status == 404, path
    assert (await outsider.post(f"/org/{org.id}/members/{pending.id}/confirm")).status == 404

    waiting = await logged_in(portal, pending_user)
    assert (await waiting.get(f"/org/{org.id}")).status == 200
    assert (await waiting.get(f"/org/{org.id}/employees")).status == 403
    assert (await waiting.get(f"/org/{org.id}/tools")).status == 403

    staff = await logged_in(portal, employee_user)
    listing = await staff.get(f"/org/{org.id}/employees")
    assert listing.status == 200
    page = await listing.text()
    assert "★" in page
    assert "awaiting confirmation" in page
    assert "pend@example.be" in page
    for action in ("confirm", "refuse", "promote", "demote", "remove"):
        response = await staff.post(f"/org/{org.id}/members/{pending.id}/{action}")
        assert response.status == 403, action
    for path in (f"/org/{org.id}/edit", f"/org/{org.id}/audit",
                 f"/org/{org.id}/members/{employee.id}/tools"):
        assert (await staff.get(path)).status == 403, path

    # A manager of another organisation is a stranger here; and cannot reach this
    # organisation's members through their own.
    foreign = await logged_in(portal, other_boss)
    assert (await foreign.post(f"/org/{org.id}/members/{pending.id}/confirm")).status == 404
    assert (await foreign.post(f"/org/{other.id}/members/{pending.id}/confirm")).status == 404
    assert (await foreign.get(f"/org/{other.id}/members/{employee.id}/edit")).status == 404
    assert (await memberships(portal, org.id))[pending_user.id].status is MembershipStatus.PENDING


async def test_not_logged_in_goes_to_login(sqlite_portal: Portal) -> None:
    response = await browser(sqlite_portal).get("/organisations", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")


# -- managers --------------------------------------------------------------------------------


async def test_confirm_then_tool_access_and_the_employee_is_mailed(portal: Portal) -> None:
    boss = await portal.make_user("boss", recognitions=(Recognition.IPI,))
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob", email="bob@home.be", language="fr")
    pending = await portal.make_membership(bob, org, status=MembershipStatus.PENDING)
    async with portal.db() as db:
        db.add(OrganisationTool(organisation_id=org.id, tool="antiblanchiment"))
        await db.commit()
    manager = await logged_in(portal, boss, default=True)
    # Tool access waits for the confirmation.
    early = await manager.post(f"/org/{org.id}/members/{pending.id}/tools",
                               {"tool": "antiblanchiment"})
    assert early.status == 400

    before = portal.mail.last_id
    confirmed = await manager.post(f"/org/{org.id}/members/{pending.id}/confirm")
    assert confirmed.status == 303
    assert confirmed.headers["Location"] == f"/org/{org.id}/members/{pending.id}/tools"
    mail = await portal.mail.wait_for("bob@home.be", after_id=before)
    assert "Immo Test" in mail.subject
    assert "confirmée" in mail.subject
    row = (await memberships(portal, org.id))[bob.id]
    assert row.status is MembershipStatus.CONFIRMED
    assert row.confirmed_by == boss.id

    form = await text_of(await manager.get(confirmed.headers["Location"]))
    assert 'value="antiblanchiment"' in form
    assert 'value="cibweb"' not in form
    # Only registered tools can be granted.
    refused = await manager.post(f"/org/{org.id}/members/{pending.id}/tools",
                                 {"tool": "cibweb"})
    assert refused.status == 400
    granted = await manager.post(f"/org/{org.id}/members/{pending.id}/tools",
                                 {"tool": "antiblanchiment"})
    assert granted.status == 303
    async with portal.db() as db:
        assert list(await db.scalars(select(ToolAccess.tool))) == ["antiblanchiment"]
    listing = await text_of(await manager.get(f"/org/{org.id}/employees"))
    assert "Anti-Blanchiment" in listing
    await manager.post(f"/org/{org.id}/members/{pending.id}/tools", {})
    events = await audit_rows(portal, org.id)
    assert [(e.action, e.actor_id, e.subject_id) for e in events] == [
        ("member.confirmed", boss.id, bob.id),
        ("tool_access.changed", boss.id, bob.id),
        ("tool_access.changed", boss.id, bob.id),
    ]
    assert events[1].details == {"tools": [[], ["antiblanchiment"]]}
    assert events[2].details == {"tools": [["antiblanchiment"], []]}
    # Confirming twice changes nothing.
    again = await manager.post(f"/org/{org.id}/members/{pending.id}/confirm")
    assert again.status == 303
    assert len(await audit_rows(portal, org.id)) == 3


async def test_refuse_mails_the_person_who_then_sees_nothing(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob", email="bob@home.be")
    pending = await portal.make_membership(bob, org, status=MembershipStatus.PENDING)
    manager = await logged_in(portal, boss)
    before = portal.mail.last_id
    response = await manager.post(f"/org/{org.id}/members/{pending.id}/refuse")
    assert response.status == 303
    mail = await portal.mail.wait_for("bob@home.be", after_id=before)
    assert "refused" in mail.subject
    assert (await memberships(portal, org.id))[bob.id].status is MembershipStatus.REFUSED
    refused = await logged_in(portal, bob)
    assert (await refused.get(f"/org/{org.id}")).status == 404
    assert "Immo Test" not in await text_of(await refused.get("/organisations"))
    assert [e.action for e in await audit_rows(portal, org.id)] == ["member.refused"]
    # They may ask again; the request is pending once more.
    await refused.post("/organisations/add", {"step": "join", "enterprise_number": NUMBER,
                                              "contact_email": "bob@home.be"})
    assert (await memberships(portal, org.id))[bob.id].status is MembershipStatus.PENDING


async def test_promote_demote_and_the_last_manager_rule(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob")
    bob_membership = await portal.make_membership(bob, org)
    boss_membership = (await memberships(portal, org.id))[boss.id]
    manager = await logged_in(portal, boss, default=True)

    # The only manager can neither step down nor leave.
    response = await manager.post(f"/org/{org.id}/members/{boss_membership.id}/demote")
    assert response.status == 303
    assert "at least one manager" in await text_of(await manager.get(response.headers["Location"]))
    response = await manager.post(f"/org/{org.id}/leave")
    assert "last manager" in await text_of(await manager.get(response.headers["Location"]))
    assert (await memberships(portal, org.id))[boss.id].is_manager

    assert (await manager.post(f"/org/{org.id}/members/{bob_membership.id}/promote")).status == 303
    assert (await memberships(portal, org.id))[bob.id].is_manager
    # Now boss may step down; the other manager (bob) stays.
    await manager.post(f"/org/{org.id}/members/{boss_membership.id}/demote")
    rows = await memberships(portal, org.id)
    assert not rows[boss.id].is_manager
    assert rows[bob.id].is_manager
    assert (await manager.get(f"/org/{org.id}/audit")).status == 403
    second = await logged_in(portal, bob)
    response = await second.post(f"/org/{org.id}/members/{bob_membership.id}/demote")
    assert (await memberships(portal, org.id))[bob.id].is_manager
    events = await audit_rows(portal, org.id)
    assert [(e.action, e.details) for e in events] == [
        ("member.promoted", {"role": ["employee", "manager"]}),
        ("member.demoted", {"role": ["manager", "employee"]}),
    ]


async def test_two_managers_demoting_each_other_at_once_keep_one(portal: Portal) -> None:
    ann = await portal.make_user("ann")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=ann)
    bob = await portal.make_user("bob")
    await portal.make_membership(bob, org, role=MembershipRole.MANAGER)
    rows = await memberships(portal, org.id)
    first, second = await logged_in(portal, ann), await logged_in(portal, bob)
    await asyncio.gather(
        first.post(f"/org/{org.id}/members/{rows[bob.id].id}/demote"),
        second.post(f"/org/{org.id}/members/{rows[ann.id].id}/demote"),
    )
    assert sum(m.is_manager for m in (await memberships(portal, org.id)).values()) == 1


async def test_remove_and_leave(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob")
    bob_membership = await portal.make_membership(bob, org)
    carl = await portal.make_user("carl")
    await portal.make_membership(carl, org)
    manager = await logged_in(portal, boss)
    response = await manager.post(f"/org/{org.id}/members/{bob_membership.id}/remove")
    assert response.status == 303
    assert bob.id not in await memberships(portal, org.id)
    leaving = await logged_in(portal, carl)
    response = await leaving.post(f"/org/{org.id}/leave")
    assert response.status == 303
    assert response.headers["Location"] == "/organisations"
    assert set(await memberships(portal, org.id)) == {boss.id}
    assert (await leaving.get(f"/org/{org.id}")).status == 404
    assert [(e.action, e.actor_id, e.subject_id) for e in await audit_rows(portal, org.id)] == [
        ("member.removed", boss.id, bob.id), ("member.left", carl.id, carl.id)]


async def test_edit_organisation_keeps_the_number_and_audits_old_and_new(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    manager = await logged_in(portal, boss, default=True)
    page = await text_of(await manager.get(f"/org/{org.id}/edit"))
    assert "0403.170.701" in page
    assert "readonly" in page
    data = {"name": "Immo Test Nouveau", "legal_form": "SA", "street": "Rue de la Loi 16",
            "postcode": "1040", "city": "Etterbeek", "email": "info@immo.example.be",
            "phone": "", "enterprise_number": OTHER_NUMBER}
    response = await manager.post(f"/org/{org.id}/edit", data)
    assert response.status == 303
    async with portal.db() as db:
        fresh = await db.get(Organisation, org.id)
    assert fresh is not None
    assert fresh.enterprise_number == NUMBER
    assert (fresh.name, fresh.legal_form, fresh.postcode) == ("Immo Test Nouveau", "SA", "1040")
    [event] = await audit_rows(portal, org.id)
    assert event.action == "organisation.edited"
    assert event.actor_id == boss.id
    assert event.details == {"name": ["Immo Test", "Immo Test Nouveau"],
                             "legal_form": ["SRL", "SA"], "postcode": ["1000", "1040"],
                             "city": ["Bruxelles", "Etterbeek"]}
    bad = await manager.post(f"/org/{org.id}/edit", {**data, "postcode": "99999"})
    assert bad.status == 400
    assert len(await audit_rows(portal, org.id)) == 1

    trail = await text_of(await manager.get(f"/org/{org.id}/audit"))
    assert "Organisation details changed" in trail
    assert "Postcode: 1000 → 1040" in trail
    assert "Legal form: SRL / BV → SA / NV" in trail


async def test_member_details_editable_by_themself_and_managers_only(portal: Portal) -> None:
    boss = await portal.make_user("boss")
    org = await portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await portal.make_user("bob")
    bob_membership = await portal.make_membership(bob, org)
    carl = await portal.make_user("carl")
    await portal.make_membership(carl, org)
    path = f"/org/{org.id}/members/{bob_membership.id}/edit"

    colleague = await logged_in(portal, carl)
    assert (await colleague.get(path)).status == 403
    assert (await colleague.post(path, {"contact_email": "x@y.be"})).status == 403

    himself = await logged_in(portal, bob)
    assert (await himself.get(path)).status == 200
    response = await himself.post(path, {"contact_email": "bob@work.be", "job_title": "Agent",
                                         "phone": ""})
    assert response.status == 303
    bad = await himself.post(path, {"contact_email": "broken"})
    assert bad.status == 400

    manager = await logged_in(portal, boss)
    await manager.post(path, {"contact_email": "bob@work.be", "job_title": "Senior agent",
                              "phone": "02 123 45 67"})
    row = (await memberships(portal, org.id))[bob.id]
    assert (row.contact_email, row.job_title, row.phone) == (
        "bob@work.be", "Senior agent", "02 123 45 67")
    events = await audit_rows(portal, org.id)
    assert [(e.action, e.actor_id, e.details) for e in events] == [
        ("member.edited", bob.id, {"contact_email": ["bob@example.be", "bob@work.be"],
                                   "job_title": [None, "Agent"]}),
        ("member.edited", boss.id, {"job_title": ["Agent", "Senior agent"],
                                    "phone": [None, "02 123 45 67"]}),
    ]


async def test_audit_trail_is_newest_first_and_paginated(sqlite_portal: Portal) -> None:
    boss = await sqlite_portal.make_user("boss", first_name="Anna", last_name="Boss")
    org = await sqlite_portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    async with sqlite_portal.db() as db:
        for index in range(55):
            db.add(AuditEvent(organisation_id=org.id, actor_id=boss.id,
                              action="organisation.edited",
                              details={"city": [f"c{index}", f"c{index + 1}"]}))
        await db.commit()
    manager = await logged_in(sqlite_portal, boss, default=True)
    first = await text_of(await manager.get(f"/org/{org.id}/audit"))
    assert first.count('class="audit-row"') == 50
    assert first.index("c54 → c55") < first.index("c53 → c54")
    assert "Anna Boss" in first
    assert "Page 1 of 2" in first
    second = await text_of(await manager.get(f"/org/{org.id}/audit?page=2"))
    assert second.count('class="audit-row"') == 5
    assert "c0 → c1" in second
    assert "c54" not in second
    odd = await manager.get(f"/org/{org.id}/audit?page=abc")
    assert odd.status == 200


async def test_pages_are_translated(sqlite_portal: Portal) -> None:
    boss = await sqlite_portal.make_user("boss")
    org = await sqlite_portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    manager = await logged_in(sqlite_portal, boss, default=True)
    for language, words in (("fr", "Ajouter une organisation"),
                            ("nl", "Organisatie toevoegen")):
        await manager.post("/language", {"lang": language, "next": "/"})
        assert words in await text_of(await manager.get("/organisations"))
        page = await text_of(await manager.get(f"/org/{org.id}/employees"))
        assert "Employees of" not in page


async def test_less_travelled_pages_render(sqlite_portal: Portal) -> None:
    boss = await sqlite_portal.make_user("boss")
    org = await sqlite_portal.make_organisation(NUMBER, "Immo Test", manager=boss)
    bob = await sqlite_portal.make_user("bob")
    pending = await sqlite_portal.make_membership(bob, org, status=MembershipStatus.PENDING)
    carl = await sqlite_portal.make_user("carl")
    carl_membership = await sqlite_portal.make_membership(carl, org)
    ann = await sqlite_portal.make_user("ann")
    visitor = await logged_in(sqlite_portal, ann, default=True)
    bad_join = await visitor.post("/organisations/add", {
        "step": "join", "enterprise_number": NUMBER, "contact_email": "nope"})
    assert bad_join.status == 400
    assert "Enter a valid e-mail address" in await bad_join.text()
    # A join form for a number nobody registered offers to register it.
    stale = await visitor.post("/organisations/add", {
        "step": "join", "enterprise_number": OTHER_NUMBER, "contact_email": "a@b.be"})
    assert 'name="legal_form"' in await stale.text()
    assert (await visitor.get("/organisations/add")).status == 200

    manager = await logged_in(sqlite_portal, boss)
    waiting = await text_of(await manager.get(f"/org/{org.id}/members/{pending.id}/tools"))
    assert "before giving access to tools" in waiting
    none_yet = await text_of(await manager.get(
        f"/org/{org.id}/members/{carl_membership.id}/tools"))
    assert "has not registered any tool yet" in none_yet
    page = await text_of(await manager.get(f"/org/{org.id}"))
    assert "To confirm: 1" in page
    assert "Audit trail" in page
    empty = await text_of(await manager.get(f"/org/{org.id}/audit"))
    assert "Nothing recorded yet." in empty
    for language in ("fr", "nl"):
        await manager.post("/language", {"lang": language, "next": "/"})
        for path in (f"/org/{org.id}", f"/org/{org.id}/employees", f"/org/{org.id}/edit",
                     f"/org/{org.id}/tools", f"/org/{org.id}/members/{pending.id}/edit",
                     "/organisations/add", "/tools", "/tools/cadastrefinder"):
            assert (await manager.get(path)).status == 200, (language, path)
