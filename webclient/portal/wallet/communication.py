"""Belgian structured communications (OGM/VCS, ``+++ddd/dddd/ddddd+++``) of the wallets.

A wallet's communication is derived from its organisation's id, so it is known before the
account row exists and two processes creating the same wallet compute the same value.
"""

from __future__ import annotations

from stdnum.be import ogm_vcs

WALLET_PREFIX = "8"
"""First digit of every wallet communication: tells them apart from other references."""
MAX_ORGANISATION_ID = 999_999_999


def wallet_communication(organisation_id: int) -> str:
    """The 12 digits a bank transfer quotes to top up this organisation's wallet."""
    if not 0 < organisation_id <= MAX_ORGANISATION_ID:
        raise ValueError("organisation id out of the structured communication range")
    base = f"{WALLET_PREFIX}{organisation_id:09d}"
    return base + ogm_vcs.calc_check_digits(base)


def organisation_of(communication: str) -> int | None:
    """The organisation a valid wallet communication names, else None."""
    digits = ogm_vcs.compact(communication) if communication else ""
    if not ogm_vcs.is_valid(digits) or not digits.startswith(WALLET_PREFIX):
        return None
    organisation_id = int(digits[1:10])
    return organisation_id if organisation_id > 0 else None


def display(communication: str) -> str:
    """``+++ddd/dddd/ddddd+++`` as printed on Belgian transfer forms."""
    return f"+++{ogm_vcs.format(communication)}+++"
