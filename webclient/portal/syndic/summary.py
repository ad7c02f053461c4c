"""The PDF summary of a request: what the syndic reviews and signs.

National register / BIS numbers appear masked (the full numbers reach the counter sealed,
beside the document); the attached PDFs are bound to the signature by their SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fpdf import FPDF

from webclient.portal.i18n import date_text, money
from webclient.portal.i18n import gettext as _
from webclient.portal.models.syndic import (
    AppointedBy,
    RequestKind,
    SyndicKind,
    SyndicRequest,
)
from webclient.portal.syndic.rules import WITH_APPOINTMENT, WITH_INCOMING, WITH_OUTGOING
from webclient.portal.syndic.rules import format_enterprise as fmt

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Debian package fonts-dejavu-core: a Unicode font (é, è, ë, €)."""


def kind_text(kind: RequestKind) -> str:
    return {
        RequestKind.APPOINTMENT: _("Appointment of a syndic"),
        RequestKind.CHANGE: _("Change of the syndic's data"),
        RequestKind.END: _("End of the syndic's mandate"),
        RequestKind.END_AND_NEW: _("End of the outgoing syndic and appointment of the new one"),
    }[kind]


def appointed_text(value: AppointedBy | None) -> str:
    if value is AppointedBy.JUDGE:
        return _("A judge (provisional syndic)")
    if value is AppointedBy.GENERAL_ASSEMBLY:
        return _("The general assembly")
    return ""


@dataclass(frozen=True)
class SummaryContext:
    organisation_name: str
    organisation_number: str
    requester: str
    due: date | None
    late: bool
    price_total: int
    fee: int
    supplement: int


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


def render_summary(item: SyndicRequest, ctx: SummaryContext) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(kind_text(item.kind))
    pdf.set_creator("eID professional portal — BCE ACP")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, kind_text(item.kind), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(0, 5, _("Request no. %(id)s to the enterprise counter — registration of the "
                           "syndic of an association of co-owners in the Crossroads Bank for "
                           "Enterprises.", id=item.id), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def section(title: str) -> None:
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")

    def row(label: str, value: str | None) -> None:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(62, 5.5, label)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 5.5, value or "—", new_x="LMARGIN", new_y="NEXT")

    section(_("Association of co-owners"))
    row(_("Enterprise number"), fmt(item.association_number))
    row(_("Name"), item.association_name)
    row(_("Unknown to the BCE"), _yes(item.association_unknown))
    section(_("Dates"))
    row(_("Decision"), date_text(item.decision_date, "long"))
    row(_("Start or effective date"), date_text(item.start_date, "long"))
    row(_("Deadline to file"), date_text(ctx.due, "long") if ctx.due else "")
    if ctx.late:
        row(_("Late"), _("Filed after the deadline."))
    if item.kind in WITH_OUTGOING:
        section(_("Outgoing syndic"))
        row(_("Name"), item.outgoing_name)
        row(_("Enterprise number"), fmt(item.outgoing_number))
    if item.kind in WITH_INCOMING:
        section(_("Syndic") if item.kind is not RequestKind.END_AND_NEW else _("Incoming syndic"))
        if item.kind in WITH_APPOINTMENT:
            row(_("Appointed by"), appointed_text(item.appointed_by))
        if item.syndic_kind is SyndicKind.NATURAL:
            row(_("Natural person"), f"{item.syndic_name}, {item.syndic_first_names}")
            row(_("Profession"), item.syndic_profession)
            row(_("National register or BIS number"), item.syndic_person_masked)
            row(_("Domicile"), item.syndic_address)
        else:
            row(_("Company"), f"{item.syndic_name} ({item.syndic_legal_form})")
            row(_("Enterprise number"), fmt(item.syndic_enterprise_number))
            row(_("Registered office"), item.syndic_address)
            row(_("Own IPI approval"), _yes(item.syndic_own_ipi))
            row(_("Representative named in the act"), _yes(item.representative_named))
            row(_("Representative"), item.representative_name)
            row(_("Representative's number"), item.representative_masked)
            if item.representative_name:
                row(_("Authorised for real-estate activities"),
                    _yes(item.representative_authorised))
        row(_("Contact details"), item.contact_details)
    if item.kind is RequestKind.CHANGE:
        row(_("What changed"), item.change_note)
    section(_("Documents"))
    if item.act_pdf:
        row(_("Extract of the appointment act"),
            f"{item.act_filename} — SHA-256 {hashlib.sha256(item.act_pdf).hexdigest()}")
    if item.revocation_pdf:
        row(_("Proof of the revocation"),
            f"{item.revocation_filename} — SHA-256 "
            f"{hashlib.sha256(item.revocation_pdf).hexdigest()}")
    section(_("Filed by"))
    row(_("Organisation"), f"{ctx.organisation_name} ({fmt(ctx.organisation_number)})")
    row(_("Person"), ctx.requester)
    row(_("Fee"), money(ctx.fee))
    if ctx.supplement:
        row(_("Supplement, association unknown to the BCE (VAT incl.)"), money(ctx.supplement))
    row(_("Total debited from the wallet"), money(ctx.price_total))
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(0, 5, _("The full national register and BIS numbers are sent to the "
                           "counter separately, encrypted. By signing I confirm that this "
                           "request and its documents are correct."),
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
