"""Transaction vouchers: a one-page PDF proving one wallet movement — not an invoice.

fpdf2's built-in fonts are Latin-1 only; DejaVu Sans (Debian ``fonts-dejavu-core``) is
embedded instead so accents, the euro sign and Belgian number spacing come out right and the
text stays extractable (searchable, copyable, readable by pdftotext).
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from webclient.portal.i18n import datetime_text, money, using_language
from webclient.portal.i18n import gettext as _
from webclient.portal.models import JournalEntry, Organisation
from webclient.portal.organisations import format_enterprise_number
from webclient.portal.wallet.history import kind_label, product_label

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu"


class FontMissing(RuntimeError):
    pass


def document(title: str) -> FPDF:
    """An A4 page with the Unicode font loaded (regular and bold)."""
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if not regular.is_file() or not bold.is_file():
        raise FontMissing(f"{FONT_DIR}: install the Debian package fonts-dejavu-core")
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("eID professional portal")
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(FONT, size=10)
    return pdf


def line(pdf: FPDF, text: str, *, size: float = 10, bold: bool = False, height: float = 6) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def field(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(FONT, "B", 10)
    pdf.cell(55, 7, label)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 7, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def voucher_pdf(entry: JournalEntry, organisation: Organisation, language: str) -> bytes:
    """The voucher of ``entry`` in ``language``."""
    with using_language(language):
        title = _("Transaction voucher")
        pdf = document(f"{title} {entry.reference}")
        line(pdf, title, size=18, bold=True, height=10)
        # Said up front and in bold: an accountant must not book this as an invoice.
        pdf.set_text_color(179, 38, 30)
        line(pdf, _("This is not an invoice."), size=12, bold=True, height=8)
        pdf.set_text_color(0, 0, 0)
        line(pdf, _("The monthly invoice lists the services paid from the wallet."), size=9)
        pdf.ln(4)
        field(pdf, _("Organisation"), organisation.name)
        field(pdf, _("Enterprise number"),
              format_enterprise_number(organisation.enterprise_number))
        field(pdf, _("Date"), datetime_text(entry.created_at, "long"))
        field(pdf, _("Transaction"), kind_label(entry.kind))
        if entry.product:
            field(pdf, _("Product"), product_label(entry.product))
        field(pdf, _("Description"), entry.description)
        field(pdf, _("Amount"), money(entry.amount))
        field(pdf, _("Reference"), entry.reference)
        pdf.ln(6)
        line(pdf, _("Amounts in euros. A positive amount was added to the organisation's "
                    "prepaid wallet; a negative amount was paid from it."), size=8)
        return bytes(pdf.output())
