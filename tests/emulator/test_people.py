"""The virtual cards' holders carry national numbers a real relying party accepts."""

from __future__ import annotations

import pytest
from stdnum.be import nn

from bridge.emulator.profiles import CITIZEN, CITIZEN_FR, FOREIGNER, Person


@pytest.mark.parametrize("person", [CITIZEN, CITIZEN_FR, FOREIGNER], ids=lambda p: p.surname)
def test_national_number_is_valid_and_matches_birth_date(person: Person) -> None:
    assert nn.is_valid(person.national_number)
    born = nn.get_birth_date(person.national_number)
    assert born is not None
    assert born.strftime("%y%m%d") == person.national_number[:6]
