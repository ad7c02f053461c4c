"""The portal's frame: pages in three languages, sessions in the database, CSRF, errors."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.portal_harness import Portal, browser
from webclient.portal.models import WebSession


async def test_home_page_speaks_the_browsers_language(portal: Portal) -> None:
    visitor = browser(portal)
    for header, expected in (("nl-BE,nl;q=0.9", "lang=\"nl\""), ("en", "lang=\"en\""),
                             ("de", "lang=\"fr\"")):
        response = await visitor.get("/", headers={"Accept-Language": header})
        assert response.status == 200
        assert expected in await response.text()


async def test_language_choice_is_remembered(portal: Portal) -> None:
    visitor = browser(portal)
    await visitor.get("/")
    response = await visitor.post("/language", {"lang": "nl", "next": "/?x=1"})
    assert response.status == 303
    assert response.headers["Location"] == "/?x=1"
    page = await visitor.get("/", headers={"Accept-Language": "en"})
    assert 'lang="nl"' in await page.text()


async def test_language_switch_refuses_another_site_as_next(portal: Portal) -> None:
    visitor = browser(portal)
    response = await visitor.post("/language", {"lang": "en", "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


async def test_post_without_csrf_token_is_refused_and_changes_nothing(portal: Portal) -> None:
    visitor = browser(portal)
    await visitor.get("/")
    response = await visitor.client.post("/language", data={"lang": "nl"},
                                         allow_redirects=False)
    assert response.status == 403
    page = await visitor.get("/", headers={"Accept-Language": "en"})
    assert 'lang="en"' in await page.text()


async def test_post_from_another_origin_is_refused(portal: Portal) -> None:
    visitor = browser(portal)
    token = await visitor.token()
    response = await visitor.client.post(
        "/language", data={"_csrf": token, "lang": "nl"},
        headers={"Origin": "https://evil.example"}, allow_redirects=False,
    )
    assert response.status == 403


async def test_sessions_live_in_the_database_under_a_hash(portal: Portal) -> None:
    visitor = browser(portal)
    await visitor.get("/")
    cookies = {c.key: c.value for c in visitor.client.session.cookie_jar}
    assert "portal_session" in cookies
    async with portal.db() as db:
        keys = (await db.scalars(select(WebSession.key))).all()
        assert len(keys) == 1
        assert cookies["portal_session"] not in keys[0]
        assert len(keys[0]) == 64


async def test_unknown_page_is_a_translated_404(portal: Portal) -> None:
    response = await browser(portal).get("/nowhere", headers={"Accept-Language": "en"})
    assert response.status == 404
    assert "Page not found" in await response.text()


async def test_health_check_reaches_the_database(portal: Portal) -> None:
    response = await browser(portal).get("/healthz")
    assert response.status == 200
    assert (await response.json()) == {"status": "ok"}
    async with portal.db() as db:
        assert await db.scalar(select(func.count()).select_from(WebSession)) == 0


async def test_security_headers_on_pages_errors_and_static_files(sqlite_portal: Portal) -> None:
    visitor = browser(sqlite_portal)
    for path in ("/", "/nowhere", "/static/portal.css"):
        response = await visitor.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "http://127.0.0.1:*" in csp  # the bridge on the user's machine
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    page = await (await visitor.get("/register")).text()
    assert "<script>" not in page  # no inline code: the policy would block it


async def test_ids_in_paths_that_name_no_row_are_404_on_both_databases(portal: Portal) -> None:
    """Not a number, or beyond the database's integers (which PostgreSQL refuses): a 404
    page, never a 500."""
    from webclient.portal.access import parse_id
    from webclient.portal.models import UserRole

    assert parse_id("42") == 42
    for raw in ("", "0", "abc", "-1", "2147483648", "99999999999", "１２"):
        assert parse_id(raw) is None
    await portal.make_user("help", role=UserRole.HELPDESK)
    visitor = browser(portal)
    await visitor.login("help")
    for path in ("/helpdesk/99999999999", "/org/99999999999", "/org/2147483648/employees",
                 "/backoffice/bceacp/99999999999"):
        response = await visitor.get(path, allow_redirects=False)
        assert response.status == 404, path
