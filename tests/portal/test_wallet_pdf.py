"""Transaction vouchers: a PDF per entry of the organisation, text extractable with accents,
marked as not an invoice in the reader's language; nobody else's entries."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from tests.portal.test_wallet_history import logged_in, spend, top_up, wallet_owner
from tests.portal_harness import Portal

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext missing (Debian package poppler-utils)")


def pdf_text(body: bytes) -> str:
    """The PDF's text as a reader would copy it, spaces normalised."""
    assert body.startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=body, capture_output=True,
                          check=True).stdout.decode("utf-8")
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


async def test_voucher_of_a_top_up_in_three_languages(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal, name="Agence Général & Fils")
    entry = await top_up(portal, org.id, 123456, "t1", datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    visitor = await logged_in(portal)
    expected = {
        "en": ["Transaction voucher", "This is not an invoice.", "Online top-up",
               "€1,234.56", "2 March 2026", "10:30"],
        "fr": ["Justificatif de transaction", "Ce document n'est pas une facture.",
               "Rechargement en ligne", "1 234,56 €", "2 mars 2026", "10:30"],
        "nl": ["Transactiebewijs", "Dit document is geen factuur.", "Online opwaardering",
               "€ 1.234,56", "2 maart 2026", "10:30"],
    }
    for language, phrases in expected.items():
        visitor.client.session.cookie_jar.update_cookies({"lang": language})
        response = await visitor.get(f"/org/{org.id}/wallet/vouchers/{entry.id}.pdf")
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="voucher-{entry.reference}.pdf"')
        text = pdf_text(await response.read())
        for phrase in [*phrases, entry.reference, "Agence Général & Fils", "0403.170.701"]:
            assert phrase in text, (language, phrase, text)


async def test_voucher_of_a_debit_names_the_product(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    await top_up(portal, org.id, 10000, "t1")
    entry = await spend(portal, org.id, 1250, "cadastrefinder", "d1",
                        description="Parcelle à Liège — n° 12")
    visitor = await logged_in(portal)
    text = pdf_text(await (await visitor.get(
        f"/org/{org.id}/wallet/vouchers/{entry.id}.pdf")).read())
    for phrase in ("Payment for a service", "CadastreFinder", "Parcelle à Liège — n° 12",
                   "-€12.50", entry.reference, "This is not an invoice."):
        assert phrase in text, phrase


async def test_vouchers_of_others_or_unknown_entries_are_not_found(portal: Portal) -> None:
    _manager, org = await wallet_owner(portal)
    _boss, other = await wallet_owner(portal, "boss", number="0202239951", name="Autre")
    theirs = await top_up(portal, other.id, 5000, "t-other")
    visitor = await logged_in(portal)
    for path in (f"/org/{org.id}/wallet/vouchers/{theirs.id}.pdf",
                 f"/org/{org.id}/wallet/vouchers/999999.pdf",
                 f"/org/{org.id}/wallet/vouchers/99999999999999999999.pdf",
                 f"/org/{org.id}/wallet/vouchers/abc.pdf",
                 f"/org/{other.id}/wallet/vouchers/{theirs.id}.pdf"):
        response = await visitor.get(path)
        assert response.status == 404, path
        assert "application/pdf" not in response.headers.get("Content-Type", "")
