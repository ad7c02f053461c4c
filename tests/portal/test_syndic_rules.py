"""BCE ACP rules without a portal: working days and deadlines, the fee table, the
representative rules, identifiers and uploads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from webclient.portal.i18n import using_language
from webclient.portal.models.syndic import RequestKind, SyndicKind
from webclient.portal.syndic import deadlines, fees, rules
from webclient.portal.syndic.rules import RepresentativeRule

D = date.fromisoformat


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with using_language("en"):
        yield

FAR = D("2024-09-02")
"""A decision long before the start: the normal rule applies."""

# (decision, start, due, short notice, what the case is about)
DEADLINES: list[tuple[str, str, str, bool, str]] = [
    ("2025-01-15", "2025-03-10", "2025-03-07", False, "Monday start: Friday before"),
    ("2025-01-15", "2025-03-11", "2025-03-10", False, "plain weekday"),
    ("2025-01-15", "2025-04-22", "2025-04-18", False, "Easter Monday 2025"),
    ("2025-01-15", "2025-05-02", "2025-04-30", False, "1 May"),
    ("2025-01-15", "2025-05-30", "2025-05-28", False, "Ascension 2025"),
    ("2025-01-15", "2025-06-10", "2025-06-06", False, "Whit Monday 2025 after a weekend"),
    ("2025-01-15", "2025-07-22", "2025-07-18", False, "21 July on a Monday"),
    ("2025-01-15", "2025-08-16", "2025-08-14", False, "15 August on a Friday, Saturday start"),
    ("2025-01-15", "2025-08-18", "2025-08-14", False, "weekend then 15 August"),
    ("2025-01-15", "2025-11-03", "2025-10-31", False, "1 November on a Saturday"),
    ("2025-01-15", "2025-11-12", "2025-11-10", False, "11 November"),
    ("2025-01-15", "2025-12-26", "2025-12-24", False, "Christmas"),
    ("2025-09-01", "2026-01-02", "2025-12-31", False, "New Year"),
    ("2025-09-01", "2026-01-05", "2026-01-02", False, "2 January is a working day"),
    ("2025-09-01", "2026-04-07", "2026-04-03", False, "Easter Monday 2026, Good Friday works"),
    ("2025-09-01", "2026-05-15", "2026-05-13", False, "Ascension 2026"),
    ("2025-09-01", "2026-05-26", "2026-05-22", False, "Whit Monday 2026"),
    ("2025-09-01", "2026-07-22", "2026-07-20", False, "21 July on a Tuesday"),
    ("2025-09-01", "2026-08-17", "2026-08-14", False, "15 August on a Saturday"),
    ("2025-09-01", "2026-11-12", "2026-11-10", False, "11 November on a Wednesday"),
    ("2025-09-01", "2026-12-28", "2026-12-24", False, "Christmas on a Friday"),
    ("2024-09-02", "2025-01-01", "2024-12-31", False, "start on New Year's Day"),
    ("2023-09-01", "2024-04-02", "2024-03-29", False, "Easter Monday 2024"),
    ("2023-09-01", "2024-05-10", "2024-05-08", False, "Ascension 2024"),
    ("2023-09-01", "2024-07-22", "2024-07-19", False, "21 July on a Sunday"),
    ("2023-09-01", "2024-11-12", "2024-11-08", False, "11 November on a Monday"),
    # The 8-working-day exception, both sides of its boundary.
    ("2025-03-03", "2025-03-17", "2025-03-14", False, "9 working days between: normal"),
    ("2025-03-03", "2025-03-14", "2025-03-13", False, "exactly 8 between: normal, same day"),
    ("2025-03-03", "2025-03-13", "2025-03-13", True, "7 between: 8 days after the decision"),
    ("2025-03-03", "2025-03-03", "2025-03-13", True, "decision on the start day"),
    ("2025-08-04", "2025-08-18", "2025-08-14", False, "8 between around 15 August: normal"),
    ("2025-08-05", "2025-08-18", "2025-08-18", True, "7 between around 15 August"),
    ("2025-12-17", "2026-01-02", "2025-12-31", False, "9 between over Christmas: normal"),
    ("2025-12-18", "2026-01-02", "2025-12-31", False, "8 between over Christmas: normal"),
    ("2025-12-19", "2026-01-02", "2026-01-02", True, "7 between: counts skip 25 Dec, 1 Jan"),
    ("2025-04-11", "2025-04-22", "2025-04-24", True, "exception across Easter Monday"),
    ("2025-05-26", "2025-06-02", "2025-06-06", True, "exception across Ascension"),
    ("2025-07-10", "2025-07-22", "2025-07-23", True, "exception across 21 July"),
    ("2025-11-05", "2025-11-17", "2025-11-18", True, "exception across 11 November"),
]


@pytest.mark.parametrize(("decision", "start", "due", "short", "about"), DEADLINES,
                         ids=[case[4] for case in DEADLINES])
def test_deadline(decision: str, start: str, due: str, short: bool, about: str) -> None:
    found = deadlines.deadline(D(decision), D(start))
    assert (found.due, found.short_notice) == (D(due), short), about
    assert deadlines.is_working_day(found.due)


def test_there_are_at_least_thirty_deadline_cases() -> None:
    assert len(DEADLINES) >= 30


def test_only_the_ten_legal_holidays_fall_on_weekdays() -> None:
    off = [D(f"2025-{m:02d}-{d:02d}") for m, d in
           ((1, 1), (4, 21), (5, 1), (5, 29), (6, 9), (7, 21), (8, 15), (11, 11), (12, 25))]
    assert not any(deadlines.is_working_day(day) for day in off)
    # Good Friday, Easter Tuesday, 2 January, 24 and 26 December, 8 May: working days.
    for day in ("2025-04-18", "2025-04-22", "2025-01-02", "2025-12-24", "2025-12-26",
                "2025-05-08"):
        assert deadlines.is_working_day(D(day)), day
    assert not deadlines.is_working_day(D("2025-04-20"))  # Easter Sunday: a Sunday anyway


def test_late_is_after_the_due_day_only() -> None:
    assert not deadlines.is_late(D("2025-03-13"), D("2025-03-13"))
    assert deadlines.is_late(D("2025-03-13"), D("2025-03-14"))


# -- fees ------------------------------------------------------------------------------------


def test_fee_table_by_year() -> None:
    table = fees.fee_table()
    assert [table.fee(y) for y in (2017, 2018, 2019, 2021, 2022, 2023)] == [
        8550, 8700, 8850, 9050, 9250, 10100]
    assert table.fee(2020) == 8850  # no published figure: 2019's carried
    assert table.fee(2024) == 10550
    assert table.fee(2031) == 10550  # later years carry the last known fee
    assert table.fee(2015) == 8550


def test_single_request_price_and_unknown_association_supplement() -> None:
    table = fees.fee_table()
    single = fees.price(table, 2021, unknown_association=False)
    assert (single.fee, single.supplement, single.total) == (9050, 0, 9050)
    unknown = fees.price(table, 2021, unknown_association=True)
    assert (unknown.supplement, unknown.supplement_vat) == (3700, 777)
    assert unknown.total == 9050 + 3700 + 777


def test_fee_table_from_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "fees.toml"
    path.write_text("[fees]\n2025 = 11000\n[supplement]\nunknown_association = 4000\n"
                    "vat_rate = 21\n")
    table = fees.fee_table(path)
    assert table.fee(2026) == 11000
    assert table.supplement == 4000
    with pytest.raises(ValueError, match="positive"):
        fees.parse({"fees": {"2025": 0}, "supplement": {"unknown_association": 1,
                                                        "vat_rate": 21}})
    with pytest.raises(ValueError, match="supplement"):
        fees.parse({"fees": {"2025": 100}})


# -- representative rules -----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "named", "own", "rule"), [
    (SyndicKind.NATURAL, False, False, RepresentativeRule.NOT_APPLICABLE),
    (SyndicKind.NATURAL, True, True, RepresentativeRule.NOT_APPLICABLE),
    (SyndicKind.LEGAL, True, False, RepresentativeRule.NAMED),
    (SyndicKind.LEGAL, True, True, RepresentativeRule.NAMED),
    (SyndicKind.LEGAL, False, True, RepresentativeRule.OWN_APPROVAL),
    (SyndicKind.LEGAL, False, False, RepresentativeRule.MUST_GIVE_AUTHORISED),
])
def test_representative_rule_branches(kind: SyndicKind, named: bool, own: bool,
                                      rule: RepresentativeRule) -> None:
    assert rules.representative_rule(kind, named, own) is rule
    assert rules.explain_rule(rule)


def test_named_representative_must_be_registered() -> None:
    errors = rules.representative_errors(RepresentativeRule.NAMED, name="", number_given=False,
                                         authorised=False)
    assert set(errors) == {"representative_name", "representative_number"}
    assert not rules.representative_errors(RepresentativeRule.NAMED, name="Anne",
                                           number_given=True, authorised=False)


def test_company_with_own_approval_needs_no_representative() -> None:
    assert not rules.representative_errors(RepresentativeRule.OWN_APPROVAL, name="",
                                           number_given=False, authorised=False)


def test_company_without_approval_needs_an_authorised_representative() -> None:
    errors = rules.representative_errors(RepresentativeRule.MUST_GIVE_AUTHORISED, name="Anne",
                                         number_given=True, authorised=False)
    assert set(errors) == {"representative_authorised"}
    assert not rules.representative_errors(RepresentativeRule.MUST_GIVE_AUTHORISED,
                                           name="Anne", number_given=True, authorised=True)


def test_old_registration_without_representative_is_completed_at_its_change() -> None:
    assert rules.lacks_representative(SyndicKind.LEGAL, False, False, False)
    assert not rules.lacks_representative(SyndicKind.LEGAL, False, True, False)
    assert not rules.lacks_representative(SyndicKind.NATURAL, False, False, False)
    errors = rules.representative_errors(RepresentativeRule.MUST_GIVE_AUTHORISED, name="",
                                         number_given=False, authorised=False,
                                         earlier_lacking=True)
    assert "completed with this change" in errors["representative_name"]


# -- the form -------------------------------------------------------------------------------


BASE_FORM = {
    "association_number": "0850.123.440", "association_name": "ACP Résidence Les Tilleuls",
    "decision_date": "2025-03-03", "start_date": "2025-04-01", "appointed_by":
    "general_assembly", "syndic_kind": "legal", "syndic_name": "Gestion Immo SRL",
    "syndic_address": "Rue Neuve 1, 1000 Bruxelles", "contact_details": "02 123 45 67",
    "syndic_legal_form": "SRL", "syndic_enterprise_number": "0403.170.701",
}


def test_form_checks_identifiers_and_dates() -> None:
    bad = {**BASE_FORM, "association_number": "0850.123.441", "decision_date": "2025-04-02",
           "syndic_kind": "natural", "syndic_person_number": "85.07.30-033.29"}
    checked = rules.check_form(RequestKind.APPOINTMENT, bad, person_stored=False,
                               representative_stored=False)
    assert "check digits" in checked.errors["association_number"]
    assert "after the start" in checked.errors["decision_date"]
    assert "not valid" in checked.errors["syndic_person_number"]
    assert {"syndic_first_names", "syndic_profession"} <= set(checked.errors)


def test_form_accepts_national_register_and_bis_numbers() -> None:
    for number in ("85.07.30-033.28", "85273003371"):
        form = {**BASE_FORM, "syndic_kind": "natural", "syndic_first_names": "Jan",
                "syndic_profession": "syndic", "syndic_person_number": number}
        checked = rules.check_form(RequestKind.APPOINTMENT, form, person_stored=False,
                                   representative_stored=False)
        assert not checked.errors, (number, checked.errors)
        assert checked.person_number == number.replace(".", "").replace("-", "")
    assert rules.mask_person_number("85073003328") == "XX.XX.XX-XXX.28"


def test_form_enforces_the_representative_rule() -> None:
    checked = rules.check_form(RequestKind.APPOINTMENT, BASE_FORM, person_stored=False,
                               representative_stored=False)
    assert {"representative_name", "representative_number",
            "representative_authorised"} <= set(checked.errors)
    approved = rules.check_form(RequestKind.APPOINTMENT, {**BASE_FORM, "syndic_own_ipi": "1"},
                                person_stored=False, representative_stored=False)
    assert not approved.errors
    given = rules.check_form(RequestKind.APPOINTMENT, {
        **BASE_FORM, "representative_name": "Anne Martin",
        "representative_number": "85.07.30-033.28", "representative_authorised": "1"},
        person_stored=False, representative_stored=False)
    assert not given.errors
    assert given.representative_number == "85073003328"


def test_end_needs_the_outgoing_syndic_not_the_incoming() -> None:
    checked = rules.check_form(RequestKind.END, {
        "association_number": "0850123440", "association_name": "ACP",
        "decision_date": "2025-03-03", "start_date": "2025-04-01"},
        person_stored=False, representative_stored=False)
    assert set(checked.errors) == {"outgoing_name"}


def test_pdf_uploads_are_checked() -> None:
    assert rules.check_pdf(b"%PDF-1.7\n...") is None
    assert "not a PDF" in (rules.check_pdf(b"GIF89a") or "")
    assert "empty" in (rules.check_pdf(b"") or "")
    assert "10 MB" in (rules.check_pdf(b"%PDF-" + b"0" * rules.MAX_PDF) or "")
