"""The PC/SC service (pcscd, WinSCard, CryptoTokenKit): installed and answering."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bridge.card.errors import PcscUnavailable
from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, ok
from bridge.messages import message_for


def _pcscd_binary() -> str | None:
    found = shutil.which("pcscd")
    if found:
        return found
    return next((str(p) for p in (Path("/usr/sbin/pcscd"),) if p.exists()), None)


def check_service(ctx: Context) -> Outcome:
    source = ctx.options.source
    try:
        ctx.readers = source.readers()
    except PcscUnavailable as exc:
        evidence: dict[str, object] = {"source": source.name, "error": str(exc)}
        if sys.platform.startswith("linux") and source.name == "pcsc":
            binary = _pcscd_binary()
            evidence["pcscd"] = binary
            if binary is None:
                return Outcome(
                    CheckStatus.FAILED,
                    "pcscd is not installed",
                    evidence,
                    remedies.PCSC_NOT_INSTALLED,
                )
        return Outcome(
            CheckStatus.FAILED, "the PC/SC service does not answer", evidence, message_for(exc)
        )
    return ok("the smart-card service answers", source=source.name)
