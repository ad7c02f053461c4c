"""Helpdesk diagnostics: checks from the PC/SC service to the card's certificates and the
network, a redacted report (text or JSON) with a short support code.

``diagnose(Options(source=...))`` returns a :class:`Report`; ``eid-bridge diagnose`` and
``GET /v1/diagnostics`` are its two front ends. See docs/diagnostics.md.
"""

from bridge.diagnostics.context import Options, TlsProbe
from bridge.diagnostics.model import Check, CheckStatus, Report
from bridge.diagnostics.runner import CHECK_IDS, diagnose

__all__ = ["CHECK_IDS", "Check", "CheckStatus", "Options", "Report", "TlsProbe", "diagnose"]
