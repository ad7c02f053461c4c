"""BCE ACP in the portal: the gate, drafts, signing with the virtual card's signature key,
the wallet debit, the back office, mails, retention."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.card.constants import HashAlgorithm, KeyRef
from tests.bridge_harness import ServicePki
from tests.portal.eid_cards import PIN, Card, card, present
from tests.portal_harness import SECRET, Browser, Portal
from webclient.portal.catalogue import Recognition
from webclient.portal.db import transaction
from webclient.portal.i18n import using_language
from webclient.portal.keys import VALIDATOR
from webclient.portal.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    Membership,
    Organisation,
    OrganisationTool,
    ToolAccess,
    User,
    UserRole,
)
from webclient.portal.models.syndic import RequestKind, RequestStatus, SyndicRequest
from webclient.portal.syndic import fees, signing
from webclient.portal.syndic import requests as service
from webclient.portal.wallet import ledger

ASSOCIATION = "0850.123.440"
FEE_NOW = fees.fee_table().fee(service.today_in_belgium().year)
ACT = b"%PDF-1.4\n% appointment act extract\n%%EOF\n"


def far_dates() -> dict[str, str]:
    start = date.today() + timedelta(days=60)
    return {"decision_date": (start - timedelta(days=40)).isoformat(),
            "start_date": start.isoformat()}


def natural_form(**extra: Any) -> dict[str, Any]:
    return {"association_number": ASSOCIATION, "association_name": "ACP Les Tilleuls",
            **far_dates(), "appointed_by": "general_assembly", "syndic_kind": "natural",
            "syndic_name": "Dubois", "syndic_first_names": "Marie Claire",
            "syndic_profession": "syndic", "syndic_address": "Rue Neuve 1, 1000 Bruxelles",
            "syndic_person_number": "85.07.30-033.28", "contact_details": "02 123 45 67",
            "act": io.BytesIO(ACT), **extra}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class Syndic:
    def __init__(self, portal: Portal, the_card: Card, user: User, org: Organisation,
                 visitor: Browser) -> None:
        self.portal, self.card, self.user, self.org, self.visitor = (
            portal, the_card, user, org, visitor)

    @property
    def base(self) -> str:
        return f"/org/{self.org.id}/bceacp"

    async def credit(self, cents: int, key: str = "seed") -> None:
        async with transaction(self.portal.db) as db:
            await ledger.credit(db, organisation_id=self.org.id, amount=cents,
                                kind=EntryKind.ADJUSTMENT, source=(AccountKind.BANK, "bank"),
                                idempotency_key=f"test:{self.org.id}:{key}",
                                description="test credit")

    async def draft(self, kind: str = "appointment", **form: Any) -> int:
        response = await self.visitor.post(f"{self.base}/new", {"kind": kind})
        assert response.status == 303, await response.text()
        request_id = int(response.headers["Location"].rsplit("/", 1)[1])
        response = await self.visitor.post(f"{self.base}/{request_id}", form or natural_form())
        assert response.status == 303, await response.text()
        return request_id

    async def sign(self, request_id: int) -> tuple[int, Any]:
        certs = self.card.session.read_certificates()
        assert certs.signature is not None
        response = await self.visitor.post_json(
            f"{self.base}/{request_id}/sign/prepare",
            {"certificate": b64(certs.signature), "chain": [b64(certs.ca), b64(certs.root)]})
        body = await response.json()
        if response.status != 200:
            return response.status, body
        signature = self.card.session.sign(
            KeyRef.NON_REPUDIATION, base64.b64decode(body["hash"]),
            HashAlgorithm(body["hashFunction"]), pin=PIN)
        response = await self.visitor.post_json(f"{self.base}/{request_id}/sign/finish",
                                                {"signature": b64(signature)})
        return response.status, await response.json()

    async def item(self, request_id: int) -> SyndicRequest:
        async with self.portal.db() as db:
            found = await db.get(SyndicRequest, request_id)
        assert found is not None
        return found

    async def debits(self) -> list[JournalEntry]:
        async with self.portal.db() as db:
            return list(await db.scalars(select(JournalEntry).where(
                JournalEntry.organisation_id == self.org.id,
                JournalEntry.kind == EntryKind.DEBIT).order_by(JournalEntry.id)))


async def syndic(portal: Portal, service_pki: ServicePki, *, eid: bool = True,
                 name: str = "citizen-1.8", access: bool = True) -> Syndic:
    the_card = card(service_pki, name)
    user = await portal.make_user("syndic", national_number=the_card.national_number,
                                  recognitions=(Recognition.IPI,), language="en")
    org = await portal.make_organisation(manager=user)
    async with transaction(portal.db) as db:
        db.add(OrganisationTool(organisation_id=org.id, tool="bceacp"))
        if access:
            membership = await db.scalar(select(Membership).where(
                Membership.user_id == user.id))
            assert membership is not None
            db.add(ToolAccess(membership_id=membership.id, tool="bceacp"))
    visitor = portal.browser()
    if eid:
        status, body = await present(visitor, "/api/eid/login", the_card)
        assert status == 200, body
    else:
        await visitor.login("syndic")
    await visitor.get("/")
    await visitor.post("/language", {"lang": "en", "next": "/"})
    return Syndic(portal, the_card, user, org, visitor)


# -- the whole flow ---------------------------------------------------------------------------


async def test_appointment_is_signed_paid_filed_and_registered(
    portal: Portal, service_pki: ServicePki, tmp_path: Path
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    listing = await (await s.visitor.get(s.base)).text()
    assert "New request" in listing
    request_id = await s.draft()
    page = await (await s.visitor.get(f"{s.base}/{request_id}/review")).text()
    assert "Sign with my eID and file" in page
    summary = await s.visitor.get(f"{s.base}/{request_id}/summary.pdf")
    assert summary.status == 200
    assert (await summary.read()).startswith(b"%PDF-")

    status, body = await s.sign(request_id)
    assert status == 200, body
    assert body["redirect"] == f"{s.base}/{request_id}"
    item = await s.item(request_id)
    assert item.status is RequestStatus.SUBMITTED
    assert item.fee == FEE_NOW
    assert item.fee_year == service.today_in_belgium().year
    assert item.retain_until == service.add_years(service.today_in_belgium(), 5)
    assert item.counter_reference
    assert item.signed_pdf

    [entry] = await s.debits()
    assert entry.amount == -FEE_NOW
    assert entry.product == "bceacp"
    assert entry.idempotency_key == f"bceacp:{request_id}"
    assert "0850.123.440" in entry.description
    assert "Tilleuls" in entry.description
    async with portal.db() as db:
        assert await ledger.balance(db, s.org.id) == 50_000 - FEE_NOW
        assert await ledger.verify_ledger(db) == []

    # Signing again cannot file or debit twice.
    again, body = await s.sign(request_id)
    assert again == 409
    assert body["error"]["code"] == "NOT_DRAFT"
    assert len(await s.debits()) == 1

    # The signature: pyhanko's validator (test roots as anchors) and pdfsig.
    validator = portal.app[VALIDATOR]
    roots = [s.card.session.read_certificates().root]
    check = await signing.verify(item.signed_pdf, roots=roots,
                                 intermediates=list(validator.intermediates))
    assert check.ok, check.summary
    assert_pdfsig_accepts(item.signed_pdf, roots[0], tmp_path)

    mail = await portal.mail.wait_for(s.user.email, subject_contains=f"no. {request_id} filed")
    assert "ACP Les Tilleuls" in mail.text

    # The counter's staff register it; the requester hears about it.
    staff = await portal.make_user("counter", role=UserRole.HELPDESK)
    desk = portal.browser()
    await desk.login(staff.username)
    queue = await (await desk.get("/backoffice/bceacp")).text()
    assert f"/backoffice/bceacp/{request_id}" in queue
    detail = await (await desk.get(f"/backoffice/bceacp/{request_id}")).text()
    assert "85073003328" in detail  # staff see the full number to register it
    signed = await desk.get(f"/backoffice/bceacp/{request_id}/documents/signed.pdf")
    assert await signed.read() == item.signed_pdf
    response = await desk.post(f"/backoffice/bceacp/{request_id}/register")
    assert response.status == 303
    assert (await s.item(request_id)).status is RequestStatus.REGISTERED
    await portal.mail.wait_for(s.user.email, subject_contains=f"no. {request_id} registered")
    again_decided = await desk.post(f"/backoffice/bceacp/{request_id}/reject", {"reason": "x"})
    assert again_decided.status == 303
    assert (await s.item(request_id)).status is RequestStatus.REGISTERED
    history = await (await s.visitor.get(f"{s.base}/{request_id}")).text()
    assert "Registered in the BCE" in history
    assert "registered" in history


def assert_pdfsig_accepts(pdf: bytes, root: bytes, folder: Path) -> None:
    if not shutil.which("pdfsig"):
        pytest.skip("pdfsig is missing (Debian package poppler-utils)")
    path = folder / "signed.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert "Signature Validation: Signature is Valid." in result.stdout, result.stdout
    assert "Total document signed" in result.stdout
    if shutil.which("certutil"):
        # With the test root as the only anchor of an NSS database, the path is accepted.
        nss = folder / "nss"
        nss.mkdir()
        (folder / "root.der").write_bytes(root)
        subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "test-root", "-t",
                        "C,C,C", "-i", str(folder / "root.der")], check=True)
        trusted = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
                                 capture_output=True, text=True, check=False)
        assert "Signature is Valid." in trusted.stdout
        assert "Certificate issuer isn't Trusted" not in trusted.stdout, trusted.stdout


# -- fees ---------------------------------------------------------------------------------------


async def test_insufficient_balance_debits_nothing_and_keeps_the_draft(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(5_000)
    request_id = await s.draft()
    review = await (await s.visitor.get(f"{s.base}/{request_id}/review")).text()
    assert f"/org/{s.org.id}/wallet/topup" in review
    status, body = await s.sign(request_id)
    assert status == 402
    assert body["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert body["error"]["topup"] == f"/org/{s.org.id}/wallet/topup"
    assert "draft is kept" in body["error"]["message"]
    assert await s.debits() == []
    assert (await s.item(request_id)).status is RequestStatus.DRAFT
    # Topped up, the same draft goes through.
    await s.credit(20_000, "more")
    status, body = await s.sign(request_id)
    assert status == 200, body
    assert len(await s.debits()) == 1


async def test_unknown_association_pays_the_supplement_with_vat(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    request_id = await s.draft(**natural_form(association_unknown="1"))
    status, body = await s.sign(request_id)
    assert status == 200, body
    fee, supplement = await s.debits()
    assert fee.amount == -FEE_NOW
    assert fee.details["vat"] == 0
    assert supplement.amount == -(3700 + 777)
    assert (supplement.details["net"], supplement.details["vat"]) == (3700, 777)
    assert supplement.idempotency_key == f"bceacp:{request_id}:supplement"
    assert "0850.123.440" in supplement.description


async def test_end_and_new_together_is_one_fee_separately_two(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(100_000)
    revocation = b"%PDF-1.4\n% minutes revoking the syndic\n%%EOF\n"
    combined = await s.draft("end_and_new", **natural_form(
        outgoing_name="Ancien Syndic SRL", revocation=io.BytesIO(revocation)))
    assert (await s.sign(combined))[0] == 200
    assert len(await s.debits()) == 1
    end = await s.draft("end", **{k: v for k, v in natural_form().items() if k in (
        "association_number", "association_name", "decision_date", "start_date")},
        outgoing_name="Ancien Syndic SRL", revocation=io.BytesIO(revocation))
    new = await s.draft()
    assert (await s.sign(end))[0] == 200
    assert (await s.sign(new))[0] == 200
    entries = await s.debits()
    assert [e.amount for e in entries] == [-FEE_NOW] * 3


async def test_the_fee_is_the_one_of_the_filing_year(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    request_id = await s.draft()
    table = fees.fee_table()
    item = await s.item(request_id)
    assert service.price_of(item, table, date(2022, 12, 31)).fee == 9250
    assert service.price_of(item, table, date(2023, 1, 2)).fee == 10100
    # Filed on 2 January 2023 (a draft from the year before): the 2023 fee.
    certs = s.card.session.read_certificates()
    assert certs.signature is not None
    trust = service.Trust(portal.app[VALIDATOR].store, portal.app[VALIDATOR].intermediates,
                          portal.app[VALIDATOR].revocation)
    async with transaction(portal.db) as db:
        loaded = await db.get(SyndicRequest, request_id)
        user = await db.get(User, s.user.id)
        assert loaded is not None
        assert user is not None
        with using_language("en"):
            to_sign = await service.start_signing(db, SECRET, trust, loaded, user, certs.signature,
                                                  [certs.ca, certs.root], table, date(2023, 1, 2))
    signature = s.card.session.sign(KeyRef.NON_REPUDIATION, base64.b64decode(to_sign.hash),
                                    HashAlgorithm(to_sign.hash_function), pin=PIN)
    async with transaction(portal.db) as db:
        loaded = await db.get(SyndicRequest, request_id)
        user = await db.get(User, s.user.id)
        assert loaded is not None
        assert user is not None
        await service.finish_signing(db, trust, loaded, user, signature, table, date(2023, 1, 2))
    [entry] = await s.debits()
    assert entry.amount == -10100
    assert entry.details["fee_year"] == 2023
    assert (await s.item(request_id)).fee_year == 2023


# -- the gate and the form -------------------------------------------------------------------


async def test_the_tool_needs_access_and_an_eid_session(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki, eid=False)
    response = await s.visitor.get(s.base, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login/eid?next=")
    api = await s.visitor.get(f"{s.base}/deadline?decision=2025-03-03&start=2025-03-13",
                              headers={"Accept": "application/json"})
    assert api.status == 401
    assert (await api.json())["error"]["code"] == "EID_REQUIRED"

    other = await syndic_without_access(portal, service_pki, s)
    response = await other.get(s.base)
    assert response.status == 403
    assert "no access" in await response.text()

    stranger_org = await portal.make_organisation("0203201340", "Autre SRL")
    response = await s.visitor.get(f"/org/{stranger_org.id}/bceacp")
    assert response.status == 404


async def syndic_without_access(portal: Portal, service_pki: ServicePki, s: Syndic) -> Browser:
    colleague_card = card(service_pki, "citizen-1.7")
    colleague = await portal.make_user("colleague", national_number=colleague_card.national_number)
    await portal.make_membership(colleague, s.org)
    visitor = portal.browser()
    status, body = await present(visitor, "/api/eid/login", colleague_card)
    assert status == 200, body
    await visitor.get("/")
    await visitor.post("/language", {"lang": "en", "next": "/"})
    return visitor


async def test_the_deadline_is_computed_while_filling_in(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    response = await s.visitor.get(f"{s.base}/deadline?decision=2025-03-03&start=2025-03-13",
                                   headers={"Accept": "application/json"})
    body = await response.json()
    assert body["due"] == "2025-03-13"
    assert body["shortNotice"] is True
    assert body["late"] is True
    assert "marked late" in body["text"]
    start = date.today() + timedelta(days=90)
    response = await s.visitor.get(
        f"{s.base}/deadline?decision={date.today().isoformat()}&start={start.isoformat()}")
    body = await response.json()
    assert body["late"] is False
    assert body["shortNotice"] is False
    bad = await s.visitor.get(f"{s.base}/deadline?decision=2025-03-14&start=2025-03-13")
    assert bad.status == 400
    bad = await s.visitor.get(f"{s.base}/deadline?decision=nonsense&start=2025-03-13")
    assert bad.status == 400


async def test_a_late_request_is_flagged_not_refused(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    past = date.today() - timedelta(days=30)
    request_id = await s.draft(**natural_form(decision_date=(past - timedelta(days=40))
                                              .isoformat(), start_date=past.isoformat()))
    assert (await s.sign(request_id))[0] == 200
    item = await s.item(request_id)
    assert item.late
    assert item.status is RequestStatus.SUBMITTED
    mail = await portal.mail.wait_for(s.user.email, subject_contains=f"no. {request_id} filed")
    assert "marked late" in mail.text


async def test_renewal_files_nothing_unless_data_changed(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    response = await s.visitor.post(f"{s.base}/new", {"kind": "renewal"})
    assert response.status == 200
    assert "not a change" in await response.text()
    response = await s.visitor.post(f"{s.base}/new", {"kind": "renewal", "data_changed": "no"})
    assert "Nothing was filed" in await response.text()
    async with portal.db() as db:
        assert await db.scalar(select(func.count()).select_from(SyndicRequest)) == 0
    response = await s.visitor.post(f"{s.base}/new", {"kind": "renewal",
                                                      "data_changed": "yes"})
    assert response.status == 303
    item = await s.item(int(response.headers["Location"].rsplit("/", 1)[1]))
    assert item.kind is RequestKind.CHANGE


async def test_form_errors_and_sealed_numbers(portal: Portal, service_pki: ServicePki) -> None:
    s = await syndic(portal, service_pki)
    response = await s.visitor.post(f"{s.base}/new", {"kind": "appointment"})
    request_id = int(response.headers["Location"].rsplit("/", 1)[1])
    bad = natural_form(act=io.BytesIO(b"GIF89a not a pdf"), syndic_person_number="123",
                       association_number="0850123441")
    response = await s.visitor.post(f"{s.base}/{request_id}", bad)
    assert response.status == 400
    text = await response.text()
    assert "not a PDF" in text
    assert "11 digits" in text
    assert "check digits" in text
    response = await s.visitor.post(f"{s.base}/{request_id}", natural_form())
    assert response.status == 303
    item = await s.item(request_id)
    assert item.syndic_person_masked == "XX.XX.XX-XXX.28"
    assert item.syndic_person_sealed
    assert b"85073003328" not in item.syndic_person_sealed
    assert service.unseal_number(SECRET, item, "syndic_person") == "85073003328"
    page = await (await s.visitor.get(f"{s.base}/{request_id}")).text()
    assert "85073003328" not in page
    assert "85.07.30-033.28" not in page
    # Company without its own approval and no representative: refused, explained.
    company = natural_form(syndic_kind="legal", syndic_legal_form="SRL",
                           syndic_enterprise_number="0403.170.701")
    response = await s.visitor.post(f"{s.base}/{request_id}", company)
    assert response.status == 400
    assert "authorised to practise real-estate activities" in await response.text()


async def test_someone_elses_card_cannot_sign(portal: Portal, service_pki: ServicePki) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    request_id = await s.draft()
    s.card = card(service_pki, "citizen-1.7")
    status, body = await s.sign(request_id)
    assert status == 409
    assert body["error"]["code"] == "NOT_YOUR_CARD"
    assert await s.debits() == []


async def test_rejection_needs_a_reason_and_mails_it(
    portal: Portal, service_pki: ServicePki
) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    request_id = await s.draft()
    assert (await s.sign(request_id))[0] == 200
    staff = await portal.make_user("counter", role=UserRole.HELPDESK)
    desk = portal.browser()
    await desk.login(staff.username)
    await desk.post(f"/backoffice/bceacp/{request_id}/reject", {"reason": ""})
    assert (await s.item(request_id)).status is RequestStatus.SUBMITTED
    await desk.post(f"/backoffice/bceacp/{request_id}/reject",
                    {"reason": "The extract is not signed."})
    item = await s.item(request_id)
    assert item.status is RequestStatus.REJECTED
    mail = await portal.mail.wait_for(s.user.email, subject_contains="rejected")
    assert "The extract is not signed." in mail.text
    # Ordinary users never reach the back office.
    response = await s.visitor.get("/backoffice/bceacp")
    assert response.status == 403


async def test_files_are_kept_five_years(portal: Portal, service_pki: ServicePki) -> None:
    s = await syndic(portal, service_pki)
    await s.credit(50_000)
    request_id = await s.draft()
    assert (await s.sign(request_id))[0] == 200
    item = await s.item(request_id)
    assert item.retain_until is not None
    async with transaction(portal.db) as db:
        loaded = await db.get(SyndicRequest, request_id)
        assert loaded is not None
        with using_language("en"), pytest.raises(service.RetentionError, match="5 years"):
            await service.purge(db, loaded, item.retain_until)
        assert await service.purge_expired(db, item.retain_until) == 0
    async with transaction(portal.db) as db:
        assert await service.purge_expired(db, item.retain_until + timedelta(days=1)) == 1
    async with portal.db() as db:
        assert await db.get(SyndicRequest, request_id) is None
