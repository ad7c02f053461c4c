from __future__ import annotations

from collections.abc import Callable

from bridge.card.pcsc import PcscTransport
from bridge.card.session import BelpicSession
from tests.conftest import PcscCard


def test_reads_the_virtual_card_through_pcscd(vpcd_card: Callable[[str], PcscCard]) -> None:
    card = vpcd_card("citizen-1.8")
    with PcscTransport(card.reader) as transport:
        contents = BelpicSession(transport).read_all()
    assert contents.identity.national_number == card.built.person.national_number
    assert contents.certificates.authentication == card.built.credentials.auth_cert_der
