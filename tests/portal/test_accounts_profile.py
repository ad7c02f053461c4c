"""The profile: contact data, photo, password and e-mail changes; the forgotten password."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from aiohttp import FormData
from sqlalchemy import select, update

from tests.portal.test_accounts import NEW_PASSWORD, code_in, english, user_named
from tests.portal_harness import PASSWORD, Browser, Portal, browser
from webclient.portal.accounts import login_user_key
from webclient.portal.db import transaction, utcnow
from webclient.portal.models import PasswordReset, ThrottleEvent, User

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def logged_in(portal: Portal, username: str = "jan", **options: Any) -> Browser:
    await portal.make_user(username, **options)
    visitor = english(browser(portal))
    await visitor.login(username)
    return visitor


async def upload(visitor: Browser, data: bytes, filename: str, content_type: str) -> str:
    form = FormData()
    form.add_field("_csrf", await visitor.token())
    form.add_field("photo", data, filename=filename, content_type=content_type)
    response = await visitor.client.post("/profile/photo", data=form, allow_redirects=False)
    assert response.status == 303
    return await (await visitor.get(response.headers["Location"])).text()


# -- profile data ----------------------------------------------------------------------------


async def test_profile_shows_the_account_and_saves_contact_data(portal: Portal) -> None:
    visitor = await logged_in(portal)
    page = await (await visitor.get("/profile")).text()
    assert "jan" in page
    assert "never changes" in page
    assert 'href="/profile/eid"' in page
    response = await visitor.post("/profile", {"first_name": "Jan-Willem", "last_name": "Peeters",
                                              "phone": "+32 470 12 34 56", "username": "boss"})
    assert response.status == 303
    user = await user_named(portal, "jan")
    assert user is not None
    assert (user.first_name, user.phone) == ("Jan-Willem", "+32 470 12 34 56")
    assert await user_named(portal, "boss") is None  # the username never changes


async def test_profile_errors_keep_the_input(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal)
    response = await visitor.post("/profile", {"first_name": "", "last_name": "Peeters",
                                              "phone": "call me"})
    page = await response.text()
    assert response.status == 400
    assert "as it is written on your identity card" in page
    assert "Enter a phone number" in page
    assert 'value="call me"' in page


async def test_no_route_changes_the_username(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal)
    for path in ("/profile/username", "/profile/rename"):
        assert (await visitor.post(path, {"username": "boss"})).status in (404, 405)


async def test_names_come_from_the_card_once_the_eid_is_linked(portal: Portal) -> None:
    visitor = await logged_in(portal, national_number="85073003328")
    page = await (await visitor.get("/profile")).text()
    assert "come from your eID card" in page
    assert 'href="/profile/eid"' not in page
    assert re.search(r'name="first_name"[^>]*readonly', page)
    response = await visitor.post("/profile", {"first_name": "Someone", "last_name": "Else",
                                              "phone": "02 123 45 67"})
    assert response.status == 303
    user = await user_named(portal, "jan")
    assert user is not None
    assert (user.first_name, user.last_name, user.phone) == ("Jan", "Peeters", "02 123 45 67")


async def test_unactivated_account_is_sent_to_activation(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal, activated=False)
    response = await visitor.get("/profile", allow_redirects=False)
    assert response.headers["Location"].startswith("/activate")


# -- photo -----------------------------------------------------------------------------------


async def test_photo_upload_serve_and_remove(portal: Portal) -> None:
    visitor = await logged_in(portal)
    assert (await visitor.get("/profile/photo")).status == 404
    page = await upload(visitor, PNG, "me.png", "image/png")
    assert "Your photo is saved" in page
    served = await visitor.get("/profile/photo")
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Cache-Control"].startswith("private")
    assert await served.read() == PNG
    # A JPEG announced as PNG is stored as what it is.
    await upload(visitor, JPEG, "me.png", "image/png")
    assert (await visitor.get("/profile/photo")).headers["Content-Type"] == "image/jpeg"
    # Somebody else sees only their own (none).
    other = english(portal.browser())
    await portal.make_user("piet")
    await other.login("piet")
    assert (await other.get("/profile/photo")).status == 404
    response = await visitor.post("/profile/photo/delete")
    assert response.status == 303
    assert (await visitor.get("/profile/photo")).status == 404


async def test_photo_that_is_not_an_image_or_too_large_is_refused(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal)
    page = await upload(visitor, b"<svg onload=alert(1)>", "me.png", "image/png")
    assert "not a JPEG or PNG picture" in page
    page = await upload(visitor, PNG + b"\x00" * (1024 * 1024), "big.png", "image/png")
    assert "larger than 1024 KB" in page
    assert (await visitor.get("/profile/photo")).status == 404


# -- password change -------------------------------------------------------------------------


async def test_password_change_logs_out_the_other_sessions(portal: Portal) -> None:
    visitor = await logged_in(portal)
    other = english(portal.browser())
    await other.login("jan")
    await visitor.get("/profile/password")
    response = await visitor.post("/profile/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})
    assert response.status == 303
    assert (await visitor.get("/profile")).status == 200
    kicked = await other.get("/profile", allow_redirects=False)
    assert kicked.headers["Location"].startswith("/login")
    mail = await portal.mail.wait_for("jan@example.be", subject_contains="password was changed")
    assert "jan" in mail.text
    await other.get("/login")
    refused = await other.post("/login", {"username": "jan", "password": PASSWORD})
    assert refused.status == 401
    await other.login("jan", NEW_PASSWORD)


async def test_password_change_refuses_wrong_current_or_mismatch(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal)
    await visitor.get("/profile/password")
    response = await visitor.post("/profile/password", {
        "current_password": "not my password", "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})
    assert response.status == 400
    assert "not your current password" in await response.text()
    response = await visitor.post("/profile/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD + "x"})
    assert response.status == 400
    assert "two passwords are different" in await response.text()
    user = await user_named(sqlite_portal, "jan")
    assert user is not None
    assert (await visitor.get("/profile")).status == 200


# -- e-mail change ---------------------------------------------------------------------------


async def test_email_changes_only_once_the_new_address_is_confirmed(portal: Portal) -> None:
    visitor = await logged_in(portal)
    await visitor.get("/profile/email")
    refused = await visitor.post("/profile/email", {"email": "new@example.be",
                                                    "password": "wrong password"})
    assert refused.status == 400
    assert "not your current password" in await refused.text()
    response = await visitor.post("/profile/email", {"email": "new@example.be",
                                                     "password": PASSWORD})
    assert response.headers["Location"] == "/profile/email/confirm"
    code = code_in(await portal.mail.wait_for("new@example.be", subject_contains="Confirm"))
    user = await user_named(portal, "jan")
    assert user is not None
    assert user.email == "jan@example.be"  # not yet

    page = await (await visitor.get("/profile/email/confirm")).text()
    assert "new@example.be" in page
    wrong = await visitor.post("/profile/email/confirm", {"code": "12345x"})
    assert wrong.status == 400
    assert "attempts left" in await wrong.text()
    done = await visitor.post("/profile/email/confirm", {"code": code})
    assert (done.status, done.headers["Location"]) == (303, "/profile")
    user = await user_named(portal, "jan")
    assert user is not None
    assert user.email == "new@example.be"
    notice = await portal.mail.wait_for("jan@example.be", subject_contains="was changed")
    assert "new@example.be" in notice.text
    # The code is spent.
    again = await visitor.get("/profile/email/confirm", allow_redirects=False)
    assert again.headers["Location"] == "/profile/email"


async def test_email_change_refuses_a_bad_or_same_address(sqlite_portal: Portal) -> None:
    visitor = await logged_in(sqlite_portal)
    await visitor.get("/profile/email")
    for address, message in (("not-an-address", "Enter a valid e-mail address"),
                             ("JAN@example.be", "already your address")):
        response = await visitor.post("/profile/email", {"email": address, "password": PASSWORD})
        assert response.status == 400
        assert message in await response.text()


# -- forgotten password ----------------------------------------------------------------------


async def forgot(portal: Portal, login: str) -> tuple[int, str, str]:
    visitor = english(portal.browser())
    await visitor.get("/password/forgot")
    response = await visitor.post("/password/forgot", {"login": login})
    page = await (await visitor.get(response.headers["Location"])).text()
    flashed = re.search(r'<p class="flash [a-z]+"[^>]*>([^<]*)</p>', page)
    assert flashed
    return response.status, response.headers["Location"], flashed.group(1)


async def test_forgotten_password_answers_the_same_for_anyone(portal: Portal) -> None:
    await portal.make_user("jan")
    await portal.make_user("sleeper", activated=False)
    known = await forgot(portal, "jan")
    assert known == await forgot(portal, "nobody")
    assert known == await forgot(portal, "nobody@example.be")
    assert known == await forgot(portal, "sleeper")
    assert known[:2] == (303, "/login")
    assert "If an activated account matches" in known[2]
    await portal.mail.wait_for("jan@example.be", subject_contains="new password")
    assert portal.mail.messages("sleeper@example.be") == []


async def reset_link(portal: Portal, login: str, to: str) -> str:
    last = portal.mail.last_id
    await forgot(portal, login)
    mail = await portal.mail.wait_for(to, after_id=last)
    found = re.search(r"https?://\S+/password/reset/(\S+)", mail.text)
    assert found, mail.text
    return f"/password/reset/{found.group(1)}"


async def test_reset_link_sets_a_new_password_once(portal: Portal) -> None:
    session = await logged_in(portal)
    older = await reset_link(portal, "JAN@EXAMPLE.BE", "jan@example.be")
    link = await reset_link(portal, "jan", "jan@example.be")
    async with transaction(portal.db) as db:  # locked out by failed logins: the reset unlocks
        db.add_all(ThrottleEvent(key=login_user_key("jan"), at=utcnow()) for _ in range(10))
    visitor = english(portal.browser())
    assert (await visitor.get(link)).status == 200
    mismatch = await visitor.post(link, {"new_password": NEW_PASSWORD,
                                         "new_password_confirm": "other"})
    assert mismatch.status == 400
    response = await visitor.post(link, {"new_password": NEW_PASSWORD,
                                         "new_password_confirm": NEW_PASSWORD})
    assert (response.status, response.headers["Location"]) == (303, "/login")
    # Every session of the account ended; the old password no longer works.
    kicked = await session.get("/profile", allow_redirects=False)
    assert kicked.headers["Location"].startswith("/login")
    await visitor.login("jan", NEW_PASSWORD)
    # Used: this link, and the other outstanding one, now say to ask a new link.
    for used in (link, older):
        page = await english(portal.browser()).get(used)
        assert page.status == 410
        assert "Ask for a new link" in await page.text()
    retry = {"new_password": "yet another one!", "new_password_confirm": "yet another one!"}
    again = await english(portal.browser()).post(older, retry)
    assert again.status == 410


async def test_expired_or_unknown_reset_link_asks_for_a_new_one(portal: Portal) -> None:
    await portal.make_user("jan")
    link = await reset_link(portal, "jan", "jan@example.be")
    async with transaction(portal.db) as db:
        await db.execute(update(PasswordReset).values(
            expires_at=utcnow() - timedelta(seconds=1)))
    visitor = english(portal.browser())
    for path in (link, "/password/reset/made-up-token"):
        page = await visitor.get(path)
        assert page.status == 410
        assert "This link no longer works" in await page.text()
    async with transaction(portal.db) as db:
        tokens = (await db.scalars(select(PasswordReset.token_hash))).all()
    assert link.rsplit("/", 1)[1] not in tokens  # only hashes are kept


async def test_reset_links_are_throttled_per_account(sqlite_portal: Portal) -> None:
    await sqlite_portal.make_user("jan")
    for _round in range(4):
        await forgot(sqlite_portal, "jan")
    async with transaction(sqlite_portal.db) as db:
        resets = (await db.scalars(select(PasswordReset))).all()
    assert len(resets) == 3
    user = await user_named(sqlite_portal, "jan")
    assert isinstance(user, User)
