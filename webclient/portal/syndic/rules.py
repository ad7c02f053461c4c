"""What a request must contain, by kind; the representative rules; identifier checks.

Every refusal is a sentence for the user saying what to do next (translated at the call).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from stdnum.be import bis, nn
from stdnum.exceptions import ValidationError

from webclient.portal.i18n import gettext as _
from webclient.portal.models.syndic import AppointedBy, RequestKind, SyndicKind
from webclient.portal.organisations import format_enterprise_number
from webclient.portal.organisations import parse_enterprise_number as parse_enterprise

MAX_PDF = 10 * 1024 * 1024
PDF_MAGIC = b"%PDF-"

WITH_INCOMING = frozenset({RequestKind.APPOINTMENT, RequestKind.CHANGE, RequestKind.END_AND_NEW})
"""Kinds that carry the (new) syndic's data."""
WITH_OUTGOING = frozenset({RequestKind.END, RequestKind.END_AND_NEW})
WITH_APPOINTMENT = frozenset({RequestKind.APPOINTMENT, RequestKind.END_AND_NEW})
"""Kinds that need the appointment act extract and who appointed."""


# -- identifiers -----------------------------------------------------------------------------


def parse_person_number(raw: str) -> tuple[str | None, str | None]:
    """A national register number or a BIS number (BCSS/KSZ), compact, or the error."""
    if not raw.strip():
        return None, _("Enter the national register number or the BIS number.")
    for module in (nn, bis):
        try:
            return str(module.validate(raw)), None
        except ValidationError:
            continue
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) != 11:
        return None, _("A national register or BIS number has 11 digits, e.g. 85.07.30-033.28. "
                       "It is on the back of the eID card.")
    return None, _("This national register or BIS number is not valid (wrong check digits or "
                   "date). Check for a typing mistake.")


def mask_person_number(compact: str) -> str:
    """For lists and the summary: only the two check digits show."""
    return f"XX.XX.XX-XXX.{compact[-2:]}"


def format_enterprise(compact: str | None) -> str:
    return format_enterprise_number(compact) if compact else ""


def check_pdf(content: bytes) -> str | None:
    """Why an uploaded file cannot be the act or the proof, or None."""
    if not content:
        return _("The file is empty. Choose the PDF again.")
    if len(content) > MAX_PDF:
        return _("The file is larger than 10 MB. Save or scan it at a lower resolution and "
                 "upload it again.")
    if not content.startswith(PDF_MAGIC):
        return _("This file is not a PDF. Save the document as PDF and upload it again.")
    return None


def parse_date(raw: str) -> tuple[date | None, str | None]:
    if not raw:
        return None, _("Enter the date.")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None, _("Enter a date as YYYY-MM-DD, e.g. 2025-03-31.")
    if not 2000 <= value.year <= 2100:
        return None, _("Check the year of this date.")
    return value, None


# -- representative --------------------------------------------------------------------------


class RepresentativeRule(enum.StrEnum):
    NOT_APPLICABLE = "not_applicable"
    """A natural-person syndic acts themselves."""
    NAMED = "named"
    """The appointment names a representative: that representative must be registered."""
    OWN_APPROVAL = "own_approval"
    """None named, the company holds its own IPI/BIV approval: no representative needed."""
    MUST_GIVE_AUTHORISED = "must_give_authorised"
    """None named, no own approval: a representative authorised for real-estate activities
    must be registered."""


def representative_rule(syndic_kind: SyndicKind | None, named: bool, own_ipi: bool
                        ) -> RepresentativeRule:
    if syndic_kind is not SyndicKind.LEGAL:
        return RepresentativeRule.NOT_APPLICABLE
    if named:
        return RepresentativeRule.NAMED
    if own_ipi:
        return RepresentativeRule.OWN_APPROVAL
    return RepresentativeRule.MUST_GIVE_AUTHORISED


def explain_rule(rule: RepresentativeRule) -> str:
    if rule is RepresentativeRule.NAMED:
        return _("The appointment names a representative of the syndic company: that "
                 "representative must be registered. Give their name and national register "
                 "or BIS number.")
    if rule is RepresentativeRule.OWN_APPROVAL:
        return _("The appointment names no representative and the syndic company holds its "
                 "own IPI approval: no representative is needed.")
    if rule is RepresentativeRule.MUST_GIVE_AUTHORISED:
        return _("The appointment names no representative and the syndic company has no IPI "
                 "approval of its own: register a representative of your choice who is "
                 "authorised to practise real-estate activities (e.g. an IPI approved agent).")
    return _("A syndic who is a natural person acts in person: no representative.")


def representative_errors(rule: RepresentativeRule, *, name: str, number_given: bool,
                          authorised: bool, earlier_lacking: bool = False) -> dict[str, str]:
    """What is missing for ``rule``. ``earlier_lacking``: the association's current
    registration lacks a representative the rules now require — it is asked now, at this
    change, instead of refiling the old registration on its own."""
    errors: dict[str, str] = {}
    if rule not in (RepresentativeRule.NAMED, RepresentativeRule.MUST_GIVE_AUTHORISED):
        return errors
    lead = (_("The current registration of this association has no representative; it is "
              "completed with this change. ") if earlier_lacking else "")
    if not name:
        errors["representative_name"] = lead + _("Enter the representative's name.")
    if not number_given:
        errors["representative_number"] = lead + _(
            "Enter the representative's national register or BIS number.")
    if rule is RepresentativeRule.MUST_GIVE_AUTHORISED and not authorised:
        errors["representative_authorised"] = _(
            "Without its own IPI approval, the syndic company must register a representative "
            "authorised to practise real-estate activities. Confirm that the representative "
            "is authorised, or choose one who is.")
    return errors


def lacks_representative(syndic_kind: SyndicKind | None, named: bool, own_ipi: bool,
                         has_representative: bool) -> bool:
    """A registration that, under today's rules, misses its representative."""
    rule = representative_rule(syndic_kind, named, own_ipi)
    return rule in (RepresentativeRule.NAMED, RepresentativeRule.MUST_GIVE_AUTHORISED) and (
        not has_representative)


# -- the request's data ---------------------------------------------------------------------


@dataclass
class Checked:
    """The form's values that passed (to store), and the errors by field."""

    values: dict[str, object]
    errors: dict[str, str]
    person_number: str | None = None
    representative_number: str | None = None


def _flag(form: Mapping[str, str], name: str) -> bool:
    return form.get(name, "") in ("1", "on", "yes", "true")


def _text(form: Mapping[str, str], name: str, limit: int, errors: dict[str, str],
          required: bool, values: dict[str, object]) -> None:
    value = form.get(name, "")
    if not value:
        if required:
            errors[name] = _("This field is required.")
        values[name] = None
    elif len(value) > limit:
        errors[name] = _("Keep this under %(limit)s characters.", limit=limit)
    else:
        values[name] = value


def check_form(kind: RequestKind, form: Mapping[str, str], *, person_stored: bool,
               representative_stored: bool, earlier_lacking: bool = False) -> Checked:
    """Check a posted form of a request of ``kind``. Numbers already stored (sealed) need
    not be typed again: ``*_stored`` say whether there is one."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    checked = Checked(values, errors)

    number, error = parse_enterprise(form.get("association_number", ""))
    if error:
        errors["association_number"] = error
    else:
        values["association_number"] = number
    _text(form, "association_name", 200, errors, True, values)
    values["association_unknown"] = _flag(form, "association_unknown")

    decision, error = parse_date(form.get("decision_date", ""))
    if error:
        errors["decision_date"] = error
    else:
        values["decision_date"] = decision
    start, error = parse_date(form.get("start_date", ""))
    if error:
        errors["start_date"] = error
    else:
        values["start_date"] = start
    if decision and start and decision > start:
        errors["decision_date"] = _("The decision cannot come after the start or effective "
                                    "date. Check both dates.")

    if kind in WITH_APPOINTMENT:
        appointed = form.get("appointed_by", "")
        if appointed not in {a.value for a in AppointedBy}:
            errors["appointed_by"] = _("Say who appointed the syndic: the general assembly or "
                                       "a judge.")
        else:
            values["appointed_by"] = AppointedBy(appointed)

    if kind in WITH_OUTGOING:
        _text(form, "outgoing_name", 200, errors, True, values)
        raw = form.get("outgoing_number", "")
        if raw:
            outgoing, error = parse_enterprise(raw)
            if error:
                errors["outgoing_number"] = error
            else:
                values["outgoing_number"] = outgoing
        else:
            values["outgoing_number"] = None

    if kind is RequestKind.CHANGE:
        _text(form, "change_note", 1000, errors, True, values)

    if kind in WITH_INCOMING:
        _check_syndic(form, checked, person_stored, representative_stored, earlier_lacking)
    return checked


def _check_syndic(form: Mapping[str, str], checked: Checked, person_stored: bool,
                  representative_stored: bool, earlier_lacking: bool) -> None:
    values, errors = checked.values, checked.errors
    raw_kind = form.get("syndic_kind", "")
    if raw_kind not in {k.value for k in SyndicKind}:
        errors["syndic_kind"] = _("Say whether the syndic is a natural person or a company.")
        return
    syndic_kind = SyndicKind(raw_kind)
    values["syndic_kind"] = syndic_kind
    _text(form, "syndic_name", 200, errors, True, values)
    _text(form, "syndic_address", 300, errors, True, values)
    _text(form, "contact_details", 1000, errors, True, values)
    if syndic_kind is SyndicKind.NATURAL:
        _text(form, "syndic_first_names", 200, errors, True, values)
        _text(form, "syndic_profession", 100, errors, True, values)
        raw = form.get("syndic_person_number", "")
        if raw or not person_stored:
            number, error = parse_person_number(raw)
            if error:
                errors["syndic_person_number"] = error
            else:
                checked.person_number = number
        for name in ("syndic_legal_form", "syndic_enterprise_number", "representative_name"):
            values[name] = None
        values["syndic_own_ipi"] = values["representative_named"] = False
        values["representative_authorised"] = False
        return
    _text(form, "syndic_legal_form", 40, errors, True, values)
    company, error = parse_enterprise(form.get("syndic_enterprise_number", ""))
    if error:
        errors["syndic_enterprise_number"] = error
    else:
        values["syndic_enterprise_number"] = company
    values["syndic_first_names"] = values["syndic_profession"] = None
    named = _flag(form, "representative_named")
    own_ipi = _flag(form, "syndic_own_ipi")
    authorised = _flag(form, "representative_authorised")
    values.update(representative_named=named, syndic_own_ipi=own_ipi,
                  representative_authorised=authorised)
    rule = representative_rule(syndic_kind, named, own_ipi)
    name = form.get("representative_name", "")
    if len(name) > 200:
        errors["representative_name"] = _("Keep this under %(limit)s characters.", limit=200)
    values["representative_name"] = name or None
    raw = form.get("representative_number", "")
    number_given = representative_stored and not raw
    if raw:
        number, error = parse_person_number(raw)
        if error:
            errors["representative_number"] = error
        else:
            checked.representative_number = number
            number_given = True
    for field, message in representative_errors(
        rule, name=name, number_given=number_given or "representative_number" in errors,
        authorised=authorised, earlier_lacking=earlier_lacking,
    ).items():
        errors.setdefault(field, message)
