"""Professional registers imported by an administrator become recognitions of linked users."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from tests.bridge_harness import ServicePki
from tests.portal.eid_cards import card, present
from tests.portal_harness import SECRET, Browser, Portal, browser, create_schema
from webclient.portal.__main__ import main
from webclient.portal.catalogue import Recognition
from webclient.portal.db import make_engine, make_sessionmaker
from webclient.portal.i18n import using_language
from webclient.portal.models import RegisterEntry, RegisterImport, User, UserRecognition, UserRole
from webclient.portal.recognitions import RegisterFileError, parse_register
from webclient.portal.security import nrn_hmac

# Valid national register numbers (checksums of people born before and after 2000), a BIS.
AGENT = "85073003328"
OTHER = "93051822361"
YOUNG = "01020312345"
BIS = "85473003317"


async def upload(visitor: Browser, register: str, content: bytes, filename: str = "reg.csv"
                 ) -> tuple[int, str]:
    form = FormData()
    form.add_field("_csrf", await visitor.token())
    form.add_field("register", register)
    form.add_field("file", io.BytesIO(content), filename=filename, content_type="text/csv")
    response = await visitor.client.post("/admin/registers", data=form)
    return response.status, await response.text()


async def as_admin(portal: Portal) -> Browser:
    await portal.make_user("boss", role=UserRole.ADMIN)
    visitor = browser(portal)
    await visitor.login("boss")
    await visitor.post("/language", {"lang": "en"})
    await visitor.get("/admin/registers")
    return visitor


async def entries(portal: Portal, register: str) -> dict[str, str]:
    async with portal.db() as db:
        rows = (await db.execute(select(RegisterEntry.nrn_hmac, RegisterEntry.reference).where(
            RegisterEntry.register == register))).all()
    return {digest: reference for digest, reference in rows}


def test_parse_accepts_both_separators_bom_and_aliases() -> None:
    for content in (
        f"national_number,reference\n{AGENT},IPI-1\n{OTHER},IPI-2\n",
        f"\ufeffNRN;Reference\r\n{AGENT};IPI-1\r\n{OTHER};IPI-2\r\n",
        f"Rijksregisternummer;naam;reference\n85.07.30-033.28;Peeters;IPI-1\n"
        f"{OTHER};X;IPI-2\n\n",
        f"numero_national,reference\n{AGENT},IPI-1\n{OTHER},IPI-2\n",
    ):
        parsed = parse_register(content.encode("utf-8"))
        assert [(n, r) for _line, n, r in parsed.rows] == [(AGENT, "IPI-1"), (OTHER, "IPI-2")]
        assert parsed.rejected == []


@pytest.fixture
def english() -> Iterator[None]:
    with using_language("en"):
        yield


def test_parse_lists_bad_rows_by_line_masked(english: None) -> None:
    content = (
        "national_number;reference\n"
        f"{AGENT};IPI-1\n"
        "85073003329;IPI-2\n"          # bad checksum
        ";IPI-3\n"
        f"{OTHER};\n"
        f"{AGENT};IPI-4\n"              # the same person again
        f"{BIS};IPI-5\n"
        f"{YOUNG};{'x' * 65}\n"
    )
    parsed = parse_register(content.encode())
    assert [n for _line, n, _r in parsed.rows] == [AGENT, BIS]
    assert [(r.line, r.number) for r in parsed.rejected] == [
        (3, "*********29"), (4, ""), (5, "*********61"), (6, "*********28"), (8, "*********45"),
    ]
    assert "line 2" in parsed.rejected[3].reason
    for rejected in parsed.rejected:
        assert rejected.reason


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not"),
    (b"national_number;nom\n85073003328;x\n", "reference"),
    (b"reference\nIPI-1\n", "national_number"),
    (b"\xff\xfen\x00r\x00n\x00", "UTF-8"),
    (b"national_number,reference\n" + b"85073003328,IPI-1\n" * 350_000, "5 MB"),
])
def test_parse_refuses_unusable_files(content: bytes, words: str, english: None) -> None:
    with pytest.raises(RegisterFileError, match=words):
        parse_register(content)


def test_parse_refuses_too_many_rows(english: None) -> None:
    content = b"nrn,reference\n" + b"1,2\n" * 200_001
    with pytest.raises(RegisterFileError, match="200,000"):
        parse_register(content)


async def test_import_then_reimport_is_idempotent(portal: Portal) -> None:
    visitor = await as_admin(portal)
    content = f"national_number;reference\n{AGENT};IPI-1\n{OTHER};IPI-2\n12345;IPI-3\n"
    status, page = await upload(visitor, "ipi", content.encode(), "ipi.csv")
    assert status == 200, page
    assert "2 valid rows, 2 new" in page
    assert "***45" in page
    assert "12345" not in page
    assert AGENT not in page
    first = await entries(portal, "ipi")
    assert first == {nrn_hmac(SECRET, AGENT): "IPI-1", nrn_hmac(SECRET, OTHER): "IPI-2"}

    status, page = await upload(visitor, "ipi", content.encode(), "ipi.csv")
    assert "0 new, 0 updated, 2 unchanged" in page
    assert await entries(portal, "ipi") == first

    # A changed reference is updated; nothing else moves.
    changed = f"nrn,reference\n{AGENT},IPI-9\n"
    status, page = await upload(visitor, "ipi", changed.encode())
    assert "0 new, 1 updated" in page
    assert (await entries(portal, "ipi"))[nrn_hmac(SECRET, AGENT)] == "IPI-9"
    async with portal.db() as db:
        imports = (await db.scalars(select(RegisterImport).order_by(RegisterImport.id))).all()
    assert [(i.rows, i.added, i.updated, i.rejected) for i in imports] == [
        (2, 2, 0, 1), (2, 0, 0, 1), (1, 0, 1, 0)]
    assert all(i.imported_by is not None for i in imports)


async def test_unusable_file_changes_nothing(portal: Portal) -> None:
    visitor = await as_admin(portal)
    status, page = await upload(visitor, "ipi", b"reference\nIPI-1\n")
    assert status == 400
    assert "national_number" in page
    status, page = await upload(visitor, "nothing", b"nrn,reference\n")
    assert status == 400
    async with portal.db() as db:
        assert await db.scalar(select(func.count()).select_from(RegisterImport)) == 0
        assert await db.scalar(select(func.count()).select_from(RegisterEntry)) == 0


async def test_later_recognition_is_granted_to_an_already_linked_user(
    portal: Portal, service_pki: ServicePki
) -> None:
    linked = await portal.make_user("agent", national_number=AGENT,
                                    recognitions=(Recognition.IPI,))
    unlinked = await portal.make_user("nobody")
    visitor = await as_admin(portal)
    content = f"national_number,reference\n{AGENT},F323-1\n{OTHER},F323-2\n"
    status, page = await upload(visitor, "fonds323", content.encode())
    assert status == 200
    assert "1 recognitions given" in page
    async with portal.db() as db:
        held = (await db.execute(select(UserRecognition.user_id, UserRecognition.recognition,
                                        UserRecognition.reference)
                                 .order_by(UserRecognition.recognition))).all()
    assert held == [(linked.id, "fonds323", "F323-1"), (linked.id, "ipi", f"ipi-{linked.id}")]
    # Re-importing gives nothing twice.
    status, page = await upload(visitor, "fonds323", content.encode())
    assert "0 recognitions given" in page
    assert unlinked.id not in {row[0] for row in held}


async def test_linking_later_grants_what_was_imported(
    sqlite_portal: Portal, service_pki: ServicePki
) -> None:
    portal = sqlite_portal
    the_card = card(service_pki)
    visitor = await as_admin(portal)
    content = f"nrn;reference\n{the_card.national_number};CIB-5\n"
    assert (await upload(visitor, "cib", content.encode()))[0] == 200
    await portal.make_user("member")
    member = portal.browser()
    await member.login("member")
    status, body = await present(member, "/api/eid/link", the_card)
    assert status == 200
    assert [r["code"] for r in body["recognitions"]] == ["cib"]


async def test_admin_pages_refuse_helpdesk_and_users(portal: Portal) -> None:
    await portal.make_user("helper", role=UserRole.HELPDESK)
    await portal.make_user("plain")
    for username in ("helper", "plain"):
        visitor = portal.browser()
        await visitor.login(username)
        for path in ("/admin", "/admin/registers", "/admin/users"):
            response = await visitor.get(path, allow_redirects=False)
            assert response.status == 403, (username, path)
        status, _page = await upload(visitor, "ipi", f"nrn,reference\n{AGENT},X\n".encode())
        assert status == 403
        response = await visitor.post("/admin/users/1/role", {"role": "helpdesk"})
        assert response.status == 403
    anonymous = portal.browser()
    response = await anonymous.get("/admin", allow_redirects=False)
    assert response.status == 303
    async with portal.db() as db:
        assert await db.scalar(select(func.count()).select_from(RegisterEntry)) == 0
        roles = set((await db.scalars(select(User.role))).all())
    assert roles == {UserRole.HELPDESK, UserRole.USER}


async def test_overview_counts(portal: Portal) -> None:
    manager = await portal.make_user("manager", national_number=AGENT)
    await portal.make_user("waiting", activated=False)
    organisation = await portal.make_organisation(manager=manager)
    other = await portal.make_user("employee")
    from webclient.portal.models import MembershipStatus
    await portal.make_membership(other, organisation, status=MembershipStatus.PENDING)
    visitor = await as_admin(portal)
    page = await (await visitor.get("/admin")).text()
    for name, value in (("users", 4), ("activated", 3), ("linked", 1), ("organisations", 1),
                        ("pending", 1)):
        assert f'id="count-{name}">{value}<' in page, name


async def test_roles_are_set_by_admins_but_not_on_themselves(portal: Portal) -> None:
    target = await portal.make_user("helper-to-be", first_name="Sofie", last_name="Claes")
    visitor = await as_admin(portal)
    page = await (await visitor.get("/admin/users?q=claes")).text()
    assert "helper-to-be" in page
    assert "boss" not in page.split('id="users"')[1]
    response = await visitor.post(f"/admin/users/{target.id}/role",
                                  {"role": "helpdesk", "q": "claes"})
    assert response.status == 303
    assert response.headers["Location"] == "/admin/users?q=claes"
    async with portal.db() as db:
        stored = await db.get(User, target.id)
        assert stored is not None
        assert stored.role is UserRole.HELPDESK
        boss = await db.scalar(select(User).where(User.username == "boss"))
        assert boss is not None
    # Not an administrator through the form, not oneself.
    response = await visitor.post(f"/admin/users/{target.id}/role", {"role": "admin"})
    assert response.status == 400
    response = await visitor.post(f"/admin/users/{boss.id}/role", {"role": "user"})
    assert response.status == 303
    async with portal.db() as db:
        boss_now = await db.get(User, boss.id)
        assert boss_now is not None
        assert boss_now.role is UserRole.ADMIN
    response = await visitor.post("/admin/users/999999/role", {"role": "user"})
    assert response.status == 404


# -- command line ------------------------------------------------------------------------------


def test_cli_imports_a_register_and_creates_staff(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import base64

    asyncio.run(create_schema(sqlite_url))
    monkeypatch.setenv("PORTAL_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", base64.b64encode(SECRET).decode())
    register = tmp_path / "ipi.csv"
    register.write_text(f"\ufeffnational_number;reference\n{AGENT};IPI-1\n123;IPI-2\n",
                        encoding="utf-8")
    assert main(["import-register", "ipi", str(register)]) == 0
    captured = capsys.readouterr()
    assert "1 rows, 1 added" in captured.out
    assert "line 3: *23:" not in captured.err
    assert "line 3: " in captured.err
    assert "123" not in captured.err.replace("line 3", "")
    bad = tmp_path / "bad.csv"
    bad.write_text("reference\nIPI-1\n")
    assert main(["import-register", "ipi", str(bad)]) == 1
    assert "national_number" in capsys.readouterr().err
    assert main(["import-register", "ipi", str(tmp_path / "missing.csv")]) == 1

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["create-user", "--role", "admin", "Chief", "chief@example.be"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["create-user", "--role", "helpdesk", "help", "help@example.be"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["create-user", "--role", "helpdesk", "chief", "x@example.be"]) == 1

    async def stored() -> tuple[list[tuple[str, UserRole, bool]], int]:
        engine = make_engine(sqlite_url)
        async with make_sessionmaker(engine)() as db:
            users = [(u.username, u.role, u.activated)
                     for u in (await db.scalars(select(User))).all()]
            count = int(await db.scalar(select(func.count()).select_from(RegisterEntry)) or 0)
        await engine.dispose()
        return users, count

    users, count = asyncio.run(stored())
    assert users == [("chief", UserRole.ADMIN, True)]
    assert count == 1
