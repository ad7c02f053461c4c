"""eID login and linking with real tokens from virtual cards, checked against the test PKI."""

from __future__ import annotations

import asyncio
import base64
from datetime import date

from sqlalchemy import select

from tests.bridge_harness import ServicePki
from tests.portal.eid_cards import card, challenge, present
from tests.portal_harness import SECRET, Portal, browser
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction
from webclient.portal.models import RegisterEntry, ThrottleEvent, User, UserRecognition
from webclient.portal.security import nrn_hmac, unseal


async def test_login_with_a_linked_card(portal: Portal, service_pki: ServicePki) -> None:
    the_card = card(service_pki)
    user = await portal.make_user("jpeeters", national_number=the_card.national_number)
    visitor = browser(portal)
    page = await visitor.get("/login/eid?next=/tools")
    text = await page.text()
    assert page.status == 200
    assert 'data-next="/tools"' in text
    status, body = await present(visitor, "/api/eid/login", the_card, next="/tools")
    assert (status, body) == (200, {"redirect": "/tools"})
    profile = await visitor.get("/profile/eid", allow_redirects=False)
    assert profile.status == 200
    assert user.username in await profile.text()


async def test_login_never_redirects_to_another_site(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    await portal.make_user("jpeeters", national_number=the_card.national_number)
    status, body = await present(browser(portal), "/api/eid/login", the_card,
                                 next="//evil.example/")
    assert (status, body) == (200, {"redirect": "/"})


async def test_unknown_card_says_how_to_link_it(portal: Portal, service_pki: ServicePki) -> None:
    the_card = card(service_pki)
    visitor = browser(portal)
    status, body = await present(visitor, "/api/eid/login", the_card,
                                 headers={"Accept-Language": "en"})
    assert status == 404
    assert body["error"]["code"] == "EID_NOT_LINKED"
    assert "not linked to any account" in body["error"]["message"]
    assert body["error"]["links"] == {"login": "/login", "register": "/register"}
    assert the_card.national_number not in str(body)
    # Still not logged in.
    response = await visitor.get("/profile/eid", allow_redirects=False)
    assert response.status == 303


async def test_unknown_card_message_in_french_and_dutch(
    sqlite_portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    for language, words in (("fr", "n'est liée à aucun compte"), ("nl", "aan geen enkele account")):
        visitor = sqlite_portal.browser()
        status, body = await present(visitor, "/api/eid/login", the_card,
                                     headers={"Accept-Language": language})
        assert status == 404
        assert words in body["error"]["message"], body


async def test_unactivated_account_is_sent_to_activation(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    await portal.make_user("late", activated=False, national_number=the_card.national_number)
    status, body = await present(browser(portal), "/api/eid/login", the_card)
    assert (status, body) == (200, {"redirect": "/activate"})


async def test_wrong_nonce_replay_and_other_origin_are_refused(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    await portal.make_user("jpeeters", national_number=the_card.national_number)
    visitor = browser(portal)
    english = {"Accept-Language": "en"}

    # A nonce this session was never given.
    status, body = await present(visitor, "/api/eid/login", the_card,
                                 nonce=base64.b64encode(bytes(32)).decode(), headers=english)
    assert status == 401
    assert body["error"]["code"]
    assert body["error"]["message"]

    # A token signed for another challenge than the one posted.
    other = await challenge(visitor)
    status, body = await present(visitor, "/api/eid/login", the_card, sign_nonce=other,
                                 headers=english)
    assert status == 401

    # A token made for another site.
    status, body = await present(visitor, "/api/eid/login", the_card,
                                 origin="https://evil.example", headers=english)
    assert status == 401
    assert "site" in body["error"]["message"].lower() or body["error"]["message"]

    # A good token replayed: its nonce is used up.
    nonce = await challenge(visitor)
    token = the_card.token(portal.origin, nonce)
    replayer = portal.browser()
    await replayer.get("/")
    first = await visitor.post_json("/api/eid/login", {"authToken": token, "nonce": nonce})
    assert first.status == 200
    await visitor.get("/")
    again = await visitor.post_json("/api/eid/login", {"authToken": token, "nonce": nonce},
                                    headers=english)
    assert again.status == 401
    # Another browser cannot use it either: the nonce belongs to the first session.
    stolen = await replayer.post_json("/api/eid/login", {"authToken": token, "nonce": nonce})
    assert stolen.status == 401


async def test_bad_requests_are_400(portal: Portal) -> None:
    visitor = browser(portal)
    bodies: list[object] = [None, [], {"nonce": "x"}, {"authToken": 3}]
    for body in bodies:
        response = await visitor.post_json("/api/eid/login", body)
        assert response.status == 400
    response = await visitor.post_json("/api/eid/login", {"authToken": {"format": "x"},
                                                          "nonce": "x"})
    assert response.status == 401


async def test_post_without_csrf_header_is_refused(portal: Portal, service_pki: ServicePki
                                                   ) -> None:
    visitor = browser(portal)
    nonce = await challenge(visitor)
    token = card(service_pki).token(portal.origin, nonce)
    response = await visitor.client.post("/api/eid/login", json={"authToken": token,
                                                                 "nonce": nonce})
    assert response.status == 403


async def test_failures_are_throttled_per_address(
    sqlite_portal: Portal, service_pki: ServicePki
) -> None:
    portal = sqlite_portal
    the_card = card(service_pki)
    await portal.make_user("jpeeters", national_number=the_card.national_number)
    visitor = browser(portal)
    limit = portal.settings.login_max_failures * 4
    for _ in range(limit):
        status, _body = await present(visitor, "/api/eid/login", the_card,
                                      origin="https://evil.example")
        assert status == 401
    status, body = await present(visitor, "/api/eid/login", the_card)
    assert status == 429
    assert body["error"]["code"] == "TOO_MANY_ATTEMPTS"
    async with portal.db() as db:
        keys = set((await db.scalars(select(ThrottleEvent.key))).all())
    assert keys == {"eid:ip:127.0.0.1"}


# -- linking ------------------------------------------------------------------------------------


async def test_link_takes_the_card_names_and_grants_recognitions(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    person = the_card.built.person
    user = await portal.make_user("jan", first_name="jan", last_name="peters")
    async with transaction(portal.db) as db:
        db.add(RegisterEntry(register=Recognition.IPI.value, reference="IPI-501234",
                             nrn_hmac=nrn_hmac(SECRET, the_card.national_number)))
        db.add(RegisterEntry(register=Recognition.CIB.value, reference="CIB-77",
                             nrn_hmac=nrn_hmac(SECRET, "85073003427")))  # someone else
    visitor = browser(portal)
    await visitor.login("jan")
    page = await visitor.get("/profile/eid")
    assert 'data-mode="link"' in await page.text()
    status, body = await present(visitor, "/api/eid/link", the_card,
                                 headers={"Accept-Language": "en"})
    assert status == 200, body
    assert body["new"] is True
    assert [r["code"] for r in body["recognitions"]] == ["ipi"]
    assert the_card.national_number not in str(body)
    async with portal.db() as db:
        stored = await db.get(User, user.id)
        assert stored is not None
        assert (stored.first_name, stored.last_name) == (person.first_names, person.surname)
        assert stored.birth_date == date(1985, 7, 30) == person.birth_date
        assert stored.sex == "M"
        assert stored.eid_nrn_hmac == nrn_hmac(SECRET, the_card.national_number)
        assert stored.eid_nrn_sealed is not None
        assert the_card.national_number.encode() not in stored.eid_nrn_sealed
        assert unseal(SECRET, stored.eid_nrn_sealed, f"user:{user.id}".encode()) == \
            the_card.national_number.encode()
        granted = (await db.scalars(select(UserRecognition).where(
            UserRecognition.user_id == user.id))).all()
        assert [(g.recognition, g.reference) for g in granted] == [("ipi", "IPI-501234")]
    # The session now counts as an eID login, and the page shows the card's data.
    await visitor.get("/")
    page = await visitor.get("/profile/eid")
    text = await page.text()
    assert person.surname in text
    assert 'data-mode="link"' not in text
    # Relinking the same card: a success that changes nothing.
    status, body = await present(visitor, "/api/eid/link", the_card)
    assert status == 200
    assert body["new"] is False
    assert body["recognitions"] == []
    # And the card now logs in.
    other = portal.browser()
    status, body = await present(other, "/api/eid/login", the_card)
    assert status == 200


async def test_card_linked_to_another_account_is_refused(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    await portal.make_user("owner", national_number=the_card.national_number)
    await portal.make_user("intruder")
    visitor = browser(portal)
    await visitor.login("intruder")
    status, body = await present(visitor, "/api/eid/link", the_card,
                                 headers={"Accept-Language": "en"})
    assert status == 409
    assert body["error"]["code"] == "EID_LINKED_ELSEWHERE"
    assert body["error"]["links"] == {"contact": "/contact"}
    assert "contact support" in body["error"]["message"]
    async with portal.db() as db:
        intruder = await db.scalar(select(User).where(User.username == "intruder"))
        assert intruder is not None
        assert intruder.eid_nrn_hmac is None


async def test_account_with_another_card_cannot_switch(
    portal: Portal, service_pki: ServicePki
) -> None:
    the_card = card(service_pki)
    await portal.make_user("jan", national_number="85073003427")
    visitor = browser(portal)
    await visitor.login("jan")
    status, body = await present(visitor, "/api/eid/link", the_card)
    assert status == 409
    assert body["error"]["code"] == "ACCOUNT_HAS_OTHER_EID"


async def test_two_accounts_racing_for_one_card(portal: Portal, service_pki: ServicePki) -> None:
    the_card = card(service_pki)
    visitors = []
    for name in ("first", "second"):
        await portal.make_user(name)
        visitor = portal.browser()
        await visitor.login(name)
        visitors.append(visitor)
    tokens = []
    for visitor in visitors:
        nonce = await challenge(visitor)
        await visitor.token()
        tokens.append((visitor, the_card.token(portal.origin, nonce), nonce))
    responses = await asyncio.gather(*(
        visitor.post_json("/api/eid/link", {"authToken": token, "nonce": nonce})
        for visitor, token, nonce in tokens
    ))
    assert sorted(r.status for r in responses) == [200, 409]
    async with portal.db() as db:
        linked = (await db.scalars(select(User.username).where(
            User.eid_nrn_hmac.is_not(None)))).all()
    assert len(linked) == 1


async def test_link_needs_an_activated_login(portal: Portal, service_pki: ServicePki) -> None:
    visitor = browser(portal)
    response = await visitor.get("/profile/eid", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")
    status, _body = await present(visitor, "/api/eid/link", card(service_pki))
    assert status == 401


async def test_library_is_served_as_javascript(portal: Portal) -> None:
    response = await browser(portal).get("/js/eid-bridge.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "export async function authenticate" in await response.text()
