"""Personal accounts: creation with a suggested username, activation by mailed code, login
and its throttling, logout."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import timedelta

import pytest
from aiohttp import ClientResponse
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from tests.portal_harness import PASSWORD, Browser, Portal, browser
from webclient.portal import accounts as svc
from webclient.portal.db import transaction, utcnow
from webclient.portal.mailcatcher import CaughtMail
from webclient.portal.models import EmailCode, ThrottleEvent, User

NEW_PASSWORD = "a long new passphrase"


def english(visitor: Browser) -> Browser:
    visitor.client.session.cookie_jar.update_cookies({"lang": "en"})
    return visitor


def code_in(mail: CaughtMail) -> str:
    found = re.search(r"^\s+(\d{6})\s*$", mail.text, re.MULTILINE)
    assert found, mail.text
    return found.group(1)


def registration(**overrides: str) -> dict[str, str]:
    form = {
        "first_name": "Élise", "last_name": "De Coster", "email": "elise@example.be",
        "username": "elise.de-coster", "password": PASSWORD, "password_confirm": PASSWORD,
        "action": "create",
    }
    form.update(overrides)
    return form


async def register(portal: Portal, **overrides: str) -> tuple[Browser, ClientResponse, str]:
    """Post the registration form; on success also the page it leads to (whose text is
    returned) so that the visitor holds the new session's CSRF token."""
    visitor = english(browser(portal))
    await visitor.get("/register")
    response = await visitor.post("/register", registration(**overrides))
    followed = ""
    if response.status == 303:
        followed = await (await visitor.get(response.headers["Location"])).text()
    return visitor, response, followed


async def user_named(portal: Portal, username: str) -> User | None:
    async with transaction(portal.db) as db:
        return await db.scalar(select(User).where(User.username == username))


async def user_count(portal: Portal) -> int:
    async with transaction(portal.db) as db:
        return int(await db.scalar(select(func.count()).select_from(User)) or 0)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- suggested usernames ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Élise", "De Coster", "elise.de-coster"),
        ("Jean-François", "Lefèvre", "jean-francois.lefevre"),
        ("Ørjan", "Straße", "orjan.strasse"),
        ("Anne Marie", "Van den Bossche", "anne-marie.van-den-bossche"),
        ("Maximiliaan-Alexander", "Vandenbroucke-Verstraeten", "maximiliaan-alexander.vandenbrou"),
        ("Иван", "Петров", "user"),
        ("Li", "", "li.user"),
    ],
)
def test_username_is_suggested_in_plain_ascii(first: str, last: str, expected: str) -> None:
    suggestion = svc.base_username(first, last)
    assert suggestion == expected
    assert svc.username_problem(suggestion) is None


async def test_suggestion_is_numbered_when_taken(portal: Portal) -> None:
    await portal.make_user("jan.peeters")
    await portal.make_user("jan.peeters2")
    response = await browser(portal).get("/register/suggest?first=Jan&last=Peeters")
    assert (await response.json()) == {"username": "jan.peeters3"}


async def test_empty_username_shows_the_suggestion_before_creating(sqlite_portal: Portal) -> None:
    _visitor, response, _followed = await register(sqlite_portal, username="")
    page = await response.text()
    assert response.status == 200
    assert 'value="elise.de-coster"' in page
    assert "We suggest the username elise.de-coster" in page
    assert 'value="elise@example.be"' in page
    assert await user_count(sqlite_portal) == 0


# -- registration ----------------------------------------------------------------------------


async def test_registration_mails_a_code_and_activates(portal: Portal) -> None:
    visitor, response, followed = await register(portal)
    assert response.status == 303
    assert response.headers["Location"] == "/activate"
    mail = await portal.mail.wait_for("elise@example.be", subject_contains="activation code")
    code = code_in(mail)
    assert "elise.de-coster" in mail.text

    user = await user_named(portal, "elise.de-coster")
    assert user is not None
    assert not user.activated
    assert (user.first_name, user.last_name, user.language) == ("Élise", "De Coster", "en")
    async with transaction(portal.db) as db:
        stored = (await db.scalars(select(EmailCode.code_hash))).all()
    assert stored
    assert all(code not in value for value in stored)

    assert "We sent an activation code to elise@example.be" in followed
    # Logged in but not activated: every page leads to the activation form.
    profile = await visitor.get("/profile", allow_redirects=False)
    assert profile.headers["Location"].startswith("/activate")
    page = await visitor.get("/activate")
    assert "elise@example.be" in await page.text()
    done = await visitor.post("/activate", {"code": code})
    assert done.status == 303
    user = await user_named(portal, "elise.de-coster")
    assert user is not None
    assert user.activated
    profile = await visitor.get("/profile")
    assert profile.status == 200
    assert "elise.de-coster" in await profile.text()


async def test_user_may_change_the_suggested_username(sqlite_portal: Portal) -> None:
    _, response, _followed = await register(sqlite_portal, username="  Elise-Immo ")
    assert response.status == 303
    assert await user_named(sqlite_portal, "elise-immo") is not None


async def test_taken_username_whatever_its_case_is_refused_kindly(portal: Portal) -> None:
    await portal.make_user("elise.de-coster")
    _, response, _followed = await register(portal, username="Elise.De-Coster")
    page = await response.text()
    assert response.status == 400
    assert "already taken" in page
    assert 'value="elise.de-coster2"' in page  # the next free one, offered
    assert 'value="elise@example.be"' in page
    assert PASSWORD not in page
    assert await user_count(portal) == 1


async def test_two_registrations_racing_for_one_username_make_one_account(
    portal: Portal,
) -> None:
    first, second = english(portal.browser()), english(portal.browser())
    await first.get("/register")
    await second.get("/register")
    responses = await asyncio.gather(
        first.post("/register", registration(email="one@example.be")),
        second.post("/register", registration(email="two@example.be")),
    )
    assert sorted(r.status for r in responses) == [303, 400]
    loser = next(r for r in responses if r.status == 400)
    assert "already taken" in await loser.text()
    assert await user_count(portal) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "as it is written on your identity card"),
        ({"last_name": "Coster 2"}, "last_name", "Use only letters"),
        ({"first_name": "x" * 101}, "first_name", "too long"),
        ({"email": ""}, "email", "Enter your personal e-mail address"),
        ({"email": "elise.example.be"}, "email", "Enter a valid e-mail address"),
        ({"email": "elise@example"}, "email", "Enter a valid e-mail address"),
        ({"email": "elise@@example.be"}, "email", "Enter a valid e-mail address"),
        ({"email": "eli se@example.be"}, "email", "Enter a valid e-mail address"),
        ({"email": "elise@-example.be"}, "email", "Enter a valid e-mail address"),
        ({"email": "Elise <elise@example.be>"}, "email", "Enter a valid e-mail address"),
        ({"username": "él"}, "username", "Choose a username of 3 to 32"),
        ({"username": "elise de coster"}, "username", "Choose a username of 3 to 32"),
        ({"username": "e" * 33}, "username", "Choose a username of 3 to 32"),
        ({"password": "short", "password_confirm": "short"}, "password", "at least 10"),
        ({"password": "p" * 257, "password_confirm": "p" * 257}, "password", "at most 256"),
        ({"password": "Elise.De-Coster", "password_confirm": "Elise.De-Coster",
          "username": "elise.de-coster"}, "password", "not be your username"),
        ({"password": "elise@example.be", "password_confirm": "elise@example.be"},
         "password", "not be your username or your e-mail"),
        ({"password_confirm": "something else"}, "password_confirm", "two passwords are"),
    ],
)
async def test_every_registration_error_says_what_to_fix_and_keeps_the_input(
    sqlite_portal: Portal, overrides: dict[str, str], field: str, message: str
) -> None:
    _, response, _followed = await register(sqlite_portal, **overrides)
    page = await response.text()
    assert response.status == 400
    assert message in page
    assert f'aria-describedby="e-{field}"' in page
    for kept in ("first_name", "last_name", "email"):
        value = registration(**overrides)[kept]
        if value and len(value) <= 100 and "<" not in value:
            assert f'value="{value}"' in page
    assert PASSWORD not in page
    assert await user_count(sqlite_portal) == 0


async def test_logged_in_visitor_is_sent_home_from_register(sqlite_portal: Portal) -> None:
    await sqlite_portal.make_user("jan")
    visitor = browser(sqlite_portal)
    await visitor.login("jan")
    response = await visitor.get("/register", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/")


async def test_account_is_created_when_the_mail_server_is_down(portal: Portal) -> None:
    port = portal.settings.smtp_port
    portal.settings.smtp_port = closed_port()
    visitor, response, followed = await register(portal)
    assert response.status == 303
    page = followed
    assert "could not be sent" in page
    assert "Send a new code" in page
    assert await user_named(portal, "elise.de-coster") is not None

    portal.settings.smtp_port = port
    resent = await visitor.post("/activate/resend")
    assert resent.headers["Location"] == "/activate"
    code = code_in(await portal.mail.wait_for("elise@example.be"))
    assert (await visitor.post("/activate", {"code": code})).status == 303
    user = await user_named(portal, "elise.de-coster")
    assert user is not None
    assert user.activated


# -- activation codes ------------------------------------------------------------------------


async def test_wrong_activation_codes_are_counted_then_the_code_dies(portal: Portal) -> None:
    visitor, _, _ = await register(portal)
    code = code_in(await portal.mail.wait_for("elise@example.be"))
    wrong = "000000" if code != "000000" else "111111"
    attempts = portal.settings.activation_max_attempts
    for left in range(attempts - 1, 0, -1):
        response = await visitor.post("/activate", {"code": wrong})
        assert response.status == 400
        assert f"({left} attempts left)" in await response.text()
    response = await visitor.post("/activate", {"code": wrong})
    assert "no longer works. Ask for a new code" in await response.text()
    # Now even the right code is refused: a new one must be asked for.
    response = await visitor.post("/activate", {"code": code})
    assert response.status == 400
    assert "Ask for a new code" in await response.text()
    user = await user_named(portal, "elise.de-coster")
    assert user is not None
    assert not user.activated


async def test_expired_activation_code_is_refused(portal: Portal) -> None:
    visitor, _, _ = await register(portal)
    code = code_in(await portal.mail.wait_for("elise@example.be"))
    async with transaction(portal.db) as db:
        await db.execute(update(EmailCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await visitor.post("/activate", {"code": code})
    assert response.status == 400
    assert "This code has expired. Ask for a new code." in await response.text()


async def test_a_new_code_replaces_the_old_one_and_requests_are_throttled(
    portal: Portal,
) -> None:
    visitor, _, _ = await register(portal)
    first = code_in(await portal.mail.wait_for("elise@example.be"))
    last_id = portal.mail.last_id
    codes = []
    for _round in range(3):
        response = await visitor.post("/activate/resend")
        assert response.headers["Location"] == "/activate"
        mail = await portal.mail.wait_for("elise@example.be", after_id=last_id)
        last_id = mail.id
        codes.append(code_in(mail))
    await visitor.post("/activate/resend")
    page = await (await visitor.get("/activate")).text()
    assert "You asked for too many codes. Wait 15 min" in page
    await asyncio.sleep(0.2)
    assert portal.mail.last_id == last_id  # no fourth mail

    if first != codes[-1]:
        response = await visitor.post("/activate", {"code": first})
        assert response.status == 400
    assert (await visitor.post("/activate", {"code": codes[-1]})).status == 303


async def test_activation_page_needs_a_login(sqlite_portal: Portal) -> None:
    response = await browser(sqlite_portal).get("/activate", allow_redirects=False)
    assert response.headers["Location"].startswith("/login?next=")


# -- login -----------------------------------------------------------------------------------


async def test_login_goes_to_next_and_offers_the_eid(portal: Portal) -> None:
    await portal.make_user("jan")
    visitor = english(browser(portal))
    page = await visitor.get("/login?next=/profile%3Ftab%3D1")
    text = await page.text()
    assert 'href="/login/eid?next=/profile%3Ftab%3D1"' in text
    assert "Log in with your eID" in text
    response = await visitor.post("/login", {"username": "JAN", "password": PASSWORD,
                                             "next": "/profile?tab=1"})
    assert (response.status, response.headers["Location"]) == (303, "/profile?tab=1")
    assert (await visitor.get("/profile")).status == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
async def test_login_refuses_to_send_to_another_site(sqlite_portal: Portal, target: str) -> None:
    await sqlite_portal.make_user("jan")
    visitor = browser(sqlite_portal)
    await visitor.get("/login")
    response = await visitor.post("/login", {"username": "jan", "password": PASSWORD,
                                             "next": target})
    assert response.headers["Location"] == "/"


async def test_login_failure_says_the_same_for_unknown_user_and_wrong_password(
    portal: Portal,
) -> None:
    await portal.make_user("jan")
    visitor = english(browser(portal))
    await visitor.get("/login")
    wrong = await visitor.post("/login", {"username": "jan", "password": "nope nope nope"})
    unknown = await visitor.post("/login", {"username": "nobody", "password": PASSWORD})
    assert wrong.status == unknown.status == 401
    wrong_text, unknown_text = await wrong.text(), await unknown.text()
    assert "Wrong username or password" in wrong_text
    strip = re.compile(r'value="(jan|nobody)"|content="[^"]+"|name="_csrf" value="[^"]+"')
    assert strip.sub("", wrong_text) == strip.sub("", unknown_text)


async def test_login_locks_a_username_after_too_many_failures(portal: Portal) -> None:
    await portal.make_user("jan")
    visitor = english(browser(portal))
    await visitor.get("/login")
    for _attempt in range(portal.settings.login_max_failures - 1):
        response = await visitor.post("/login", {"username": "jan", "password": "wrong one!"})
        assert response.status == 401
    response = await visitor.post("/login", {"username": "jan", "password": "wrong one!"})
    assert response.status == 429
    text = await response.text()
    assert "locked for 15 min" in text
    assert 'href="/password/forgot"' in text
    # Locked: even the right password is not tried.
    response = await visitor.post("/login", {"username": "jan", "password": PASSWORD})
    assert response.status == 429
    # Another username from the same browser is not affected.
    await portal.make_user("piet")
    assert (await visitor.post("/login", {"username": "piet", "password": PASSWORD})
            ).status == 303


async def test_successful_login_clears_the_failures(portal: Portal) -> None:
    await portal.make_user("jan")
    visitor = browser(portal)
    await visitor.get("/login")
    for _attempt in range(portal.settings.login_max_failures - 1):
        await visitor.post("/login", {"username": "jan", "password": "wrong one!"})
    assert (await visitor.post("/login", {"username": "jan", "password": PASSWORD})
            ).status == 303
    async with transaction(portal.db) as db:
        assert await db.scalar(select(func.count()).select_from(ThrottleEvent).where(
            ThrottleEvent.key == svc.login_user_key("jan"))) == 0


async def test_login_is_limited_per_client_address(sqlite_portal: Portal) -> None:
    await sqlite_portal.make_user("jan")
    limit = 4 * sqlite_portal.settings.login_max_failures
    async with transaction(sqlite_portal.db) as db:
        db.add_all(ThrottleEvent(key=svc.login_ip_key("127.0.0.1"), at=utcnow())
                   for _ in range(limit))
    visitor = english(browser(sqlite_portal))
    await visitor.get("/login")
    response = await visitor.post("/login", {"username": "jan", "password": PASSWORD})
    assert response.status == 429
    assert "from your network" in await response.text()


async def test_login_rehashes_an_outdated_password_hash(sqlite_portal: Portal) -> None:
    await sqlite_portal.make_user("jan")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with transaction(sqlite_portal.db) as db:
        await db.execute(update(User).values(password_hash=weak))
    await browser(sqlite_portal).login("jan")
    user = await user_named(sqlite_portal, "jan")
    assert user is not None
    assert user.password_hash != weak


async def test_logout_ends_the_session(portal: Portal) -> None:
    await portal.make_user("jan")
    visitor = browser(portal)
    await visitor.login("jan")
    response = await visitor.post("/logout")
    assert (response.status, response.headers["Location"]) == (303, "/")
    profile = await visitor.get("/profile", allow_redirects=False)
    assert profile.headers["Location"].startswith("/login")
