"""The recognitions the professional registers give, and the tools they open.

Which recognition opens which tool is the portal's business rule, kept in one table here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Recognition(enum.StrEnum):
    IPI = "ipi"
    """Approved real-estate agent (IPI/BIV register)."""
    FONDS323 = "fonds323"
    """Verified employee of the joint committee 323 (Fonds 323); can take months to appear."""
    CIB = "cib"
    """Member of CIB Vlaanderen."""


RECOGNITION_NAMES: dict[Recognition, dict[str, str]] = {
    Recognition.IPI: {
        "fr": "Agent immobilier agréé IPI",
        "nl": "Erkend vastgoedmakelaar BIV",
        "en": "IPI approved real-estate agent",
    },
    Recognition.FONDS323: {
        "fr": "Employé Fonds 323 vérifié",
        "nl": "Geverifieerde werknemer Fonds 323",
        "en": "Verified Fonds 323 employee",
    },
    Recognition.CIB: {
        "fr": "Membre CIB Vlaanderen",
        "nl": "Lid CIB Vlaanderen",
        "en": "CIB Vlaanderen member",
    },
}


@dataclass(frozen=True)
class Tool:
    code: str
    name: str
    recognitions: frozenset[Recognition]
    """The organisation can register the tool when one of its managers holds any of these."""
    requires_eid: bool
    """Entered only after an eID login in this session (not with a password alone)."""
    description: dict[str, str]


TOOLS: tuple[Tool, ...] = (
    Tool(
        "cadastrefinder",
        "CadastreFinder",
        frozenset({Recognition.IPI, Recognition.FONDS323}),
        True,
        {
            "fr": "Recherche des données cadastrales d'un bien.",
            "nl": "Opzoeken van kadastrale gegevens van een pand.",
            "en": "Look up a property's cadastral data.",
        },
    ),
    Tool(
        "myrentpro",
        "MyRent Pro",
        frozenset({Recognition.IPI, Recognition.CIB}),
        True,
        {
            "fr": "Gestion locative professionnelle.",
            "nl": "Professioneel huurbeheer.",
            "en": "Professional rental management.",
        },
    ),
    Tool(
        "antiblanchiment",
        "Anti-Blanchiment",
        frozenset({Recognition.IPI}),
        True,
        {
            "fr": "Obligations de vigilance anti-blanchiment.",
            "nl": "Antiwitwasverplichtingen.",
            "en": "Anti-money-laundering due diligence.",
        },
    ),
    Tool(
        "cibweb",
        "CIBweb",
        frozenset({Recognition.CIB}),
        False,
        {
            "fr": "Services en ligne de CIB Vlaanderen.",
            "nl": "Onlinediensten van CIB Vlaanderen.",
            "en": "CIB Vlaanderen's online services.",
        },
    ),
    Tool(
        "bceacp",
        "BCE ACP",
        frozenset({Recognition.IPI}),
        True,
        {
            "fr": "Inscription des syndics à la Banque-Carrefour des Entreprises.",
            "nl": "Registratie van syndici in de Kruispuntbank van Ondernemingen.",
            "en": "Syndic registration in the Crossroads Bank for Enterprises.",
        },
    ),
)

TOOLS_BY_CODE: dict[str, Tool] = {tool.code: tool for tool in TOOLS}


def tool(code: str) -> Tool | None:
    return TOOLS_BY_CODE.get(code)
