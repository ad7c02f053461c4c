"""Enterprise numbers and the organisation/employee form rules (no portal needed)."""

from __future__ import annotations

import pytest

from webclient.portal.i18n import using_language
from webclient.portal.organisations import (
    changes,
    check_employee_form,
    check_organisation_form,
    format_enterprise_number,
    parse_enterprise_number,
)


@pytest.mark.parametrize("raw", [
    "0403170701", "0403.170.701", "0403 170 701", "BE0403170701", "be 0403.170.701",
    "BE 0403 170 701", "403170701", " 0403-170-701 ",
])
def test_every_usual_way_of_writing_the_number_is_accepted(raw: str) -> None:
    assert parse_enterprise_number(raw) == ("0403170701", None)


def test_number_is_shown_as_the_bce_writes_it() -> None:
    assert format_enterprise_number("0403170701") == "0403.170.701"


@pytest.mark.parametrize(("raw", "fragment"), [
    ("0403170702", "check digits"),
    ("0403.170.792", "check digits"),
    ("04031707011", "10 digits"),
    ("04031707", "10 digits"),
    ("BE04031707", "10 digits"),
    ("04O3170701", "digits only"),
    ("FR0403170701", "digits only"),
    ("", "Enter the enterprise number"),
    ("   ", "Enter the enterprise number"),
])
def test_bad_numbers_are_refused_with_what_to_fix(raw: str, fragment: str) -> None:
    with using_language("en"):
        number, error = parse_enterprise_number(raw)
    assert number is None
    assert error is not None
    assert fragment in error


GOOD_ORG = {"name": "Immo Dupont", "legal_form": "SRL", "street": "Rue Haute 1",
            "postcode": "1000", "city": "Bruxelles", "email": "Info@Dupont.be", "phone": ""}


def test_organisation_form_normalises_and_accepts_a_missing_phone() -> None:
    data, errors = check_organisation_form(GOOD_ORG)
    assert errors == {}
    assert data is not None
    assert data["email"] == "info@dupont.be"
    assert data["phone"] is None


def test_number_errors_are_translated() -> None:
    with using_language("nl"):
        assert "10 cijfers" in str(parse_enterprise_number("12345")[1])
    with using_language("fr"):
        assert "chiffres de contrôle" in str(parse_enterprise_number("0403170702")[1])


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""), ("legal_form", "GmbH"), ("street", ""), ("postcode", "100"),
    ("postcode", "10000"), ("postcode", "0999"), ("postcode", "abcd"), ("city", ""),
    ("email", "not-an-address"), ("phone", "call me"), ("name", "x" * 201),
])
def test_organisation_form_refuses_each_bad_field(field: str, value: str) -> None:
    data, errors = check_organisation_form({**GOOD_ORG, field: value})
    assert data is None
    assert set(errors) == {field}


def test_employee_form_rules() -> None:
    info, errors = check_employee_form({"contact_email": "Ann@Agency.be"})
    assert errors == {}
    assert info is not None
    assert (info.contact_email, info.job_title, info.phone) == ("ann@agency.be", None, None)
    info, errors = check_employee_form({"contact_email": "ann", "phone": "abc",
                                        "job_title": "x" * 101})
    assert info is None
    assert set(errors) == {"contact_email", "phone", "job_title"}


def test_changes_lists_old_and_new_values_of_changed_fields_only() -> None:
    assert changes({"a": 1, "b": "x"}, {"a": 1, "b": "y"}) == {"b": ["x", "y"]}
