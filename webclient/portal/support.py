"""The helpdesk's side of the bridge diagnostics: check and redact the report a page sends,
count what failed, order checks for display, and normalise the support code people read out.

The report comes from the browser, so nothing in it is trusted: its size, shape and statuses
are checked, unknown members dropped, and anything that looks like a national register number
(11 digits that pass the official check) is replaced before it is stored, whatever the bridge
already did. The holder's name is kept only when the user ticked "include my name".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stdnum.be import nn

from webclient.portal.catalogue import TOOLS
from webclient.portal.i18n import gettext as _
from webclient.portal.i18n import using_language

MAX_REPORT_BYTES = 256 * 1024
MAX_QUESTION = 5000
MAX_SCREENSHOT = 2 * 1024 * 1024
MAX_CHECKS = 100
MAX_DEPTH = 12
STATUSES = ("failed", "warning", "ok", "skipped")
"""Check statuses, worst first: the order the helpdesk reads them in."""
EXTRA_TOOLS = ("eid_login", "other")
TOOL_CODES = frozenset({t.code for t in TOOLS} | set(EXTRA_TOOLS))
REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset({"holder_name"})
REPORT_KEYS = frozenset({
    "supportCode", "createdAt", "result", "bridgeVersion", "nameIncluded", "checks",
    "bridge", "system", "pcsc", "page",
})
CHECK_KEYS = frozenset({"id", "status", "summary", "evidence", "remedy", "durationMs"})
PAGE_STRINGS = {"library": 40, "userAgent": 400, "browser": 120, "origin": 200, "baseUrl": 200}
CODE_ALPHABET = re.compile(r"[A-Z2-7]{8}")
_CHECK_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# An 11-digit run, bare or written YY.MM.DD-SSS.CC (any separator mix); the checksum decides.
_NRN_CANDIDATE = re.compile(r"(?<!\d)\d{2}[.\s/]?\d{2}[.\s/]?\d{2}[-\s.]?\d{3}[.\s-]?\d{2}(?!\d)")
# What people read a base32 code as: digits 0, 1 and 8 are not in the alphabet.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


class ReportError(ValueError):
    """The report cannot be accepted; ``str(error)`` is the translated reason."""


def normalise_code(text: str) -> str:
    """A support code as typed (``abcd-efgh``, ``ABCD EFGH``, ``abcdefgh``) in its stored form."""
    squeezed = re.sub(r"[\s\-_.:]+", "", text).upper()
    return squeezed.translate(_LOOKALIKES)


def valid_code(code: str) -> bool:
    return CODE_ALPHABET.fullmatch(code) is not None


def _is_nrn(digits: str) -> bool:
    return len(digits) == 11 and bool(nn.is_valid(digits))


def redact_nrn_text(text: str) -> str:
    """``text`` with every national register number replaced."""

    def replace(found: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", found.group(0))
        return REDACTED if _is_nrn(digits) else found.group(0)

    return _NRN_CANDIDATE.sub(replace, text)


def redact(value: Any) -> Any:
    """``value`` (plain JSON) with national register numbers gone from strings, keys and
    numbers alike."""
    if isinstance(value, str):
        return redact_nrn_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # As a JSON number an NRN of someone born in 2000-2009 loses its leading zero.
        return REDACTED if 10**9 <= value < 10**11 and _is_nrn(f"{value:011d}") else value
    if isinstance(value, dict):
        return {redact_nrn_text(str(k)): redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _without_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_personal(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [_without_personal(v) for v in value]
    return value


def _wrong_shape() -> ReportError:
    return ReportError(_("The diagnostics report is not in the expected form. Run the "
                         "diagnostics again, or send your question without it."))


def _check(item: Any) -> dict[str, Any]:
    wrong = _wrong_shape()
    if not isinstance(item, dict):
        raise wrong
    check_id, status = item.get("id"), item.get("status")
    if not isinstance(check_id, str) or not _CHECK_ID.fullmatch(check_id):
        raise wrong
    if status not in STATUSES:
        raise wrong
    evidence = item.get("evidence", {})
    remedy = item.get("remedy")
    summary = item.get("summary", "")
    if not isinstance(evidence, dict) or not isinstance(summary, str):
        raise wrong
    if remedy is not None and (
        not isinstance(remedy, dict) or not all(isinstance(v, str) for v in remedy.values())
    ):
        raise wrong
    duration = item.get("durationMs")
    if duration is not None and (isinstance(duration, bool)
                                 or not isinstance(duration, int | float)):
        raise wrong
    return {k: v for k, v in item.items() if k in CHECK_KEYS}


def _page(raw: Any) -> dict[str, Any]:
    """What the page itself found out (whether it reached the bridge, the browser): only
    known members of known types are kept."""
    if not isinstance(raw, dict):
        raise _wrong_shape()
    page: dict[str, Any] = {}
    for key, limit in PAGE_STRINGS.items():
        if isinstance(raw.get(key), str):
            page[key] = raw[key][:limit]
    for key in ("secureContext", "localNetworkAccessDenied", "bridgeReached"):
        if isinstance(raw.get(key), bool):
            page[key] = raw[key]
    error = raw.get("error")
    if isinstance(error, dict):
        page["error"] = {k: str(error[k])[:300] for k in ("name", "code", "message") if k in error}
    return page


def _remedy(message: Callable[[], str]) -> dict[str, str]:
    """A page-side remedy in the three languages, shaped like the bridge's (``message`` is
    called once per language, so its text stays visible to the catalogue extraction)."""
    texts = {}
    for language in ("en", "fr", "nl"):
        with using_language(language):
            texts[language] = message()
    return texts


def page_checks(page: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's findings as checks, so the helpdesk reads them in the same table."""
    reached = page.get("bridgeReached")
    if reached is None:
        return []
    error = page.get("error", {})
    denied = bool(page.get("localNetworkAccessDenied"))
    checks: list[dict[str, Any]] = []
    if reached:
        checks.append({"id": "browser.bridge", "status": "ok",
                       "summary": "the page reached the bridge",
                       "evidence": {"baseUrl": page.get("baseUrl")}, "remedy": None})
    else:
        remedy = _remedy(lambda: _(
            "The browser could not reach the eID bridge. Check that the bridge is installed "
            "and running (its icon is next to the clock), then run the diagnostics again."
        ))
        checks.append({"id": "browser.bridge", "status": "failed",
                       "summary": "the page could not reach the bridge",
                       "evidence": {"error": error.get("code"), "message": error.get("message")},
                       "remedy": {"code": "BRIDGE_UNAVAILABLE", **remedy}})
    if denied:
        remedy = _remedy(lambda: _(
            "The browser blocks this site from reaching the eID bridge on this computer. "
            "Click the padlock next to the address, open the site settings and allow "
            "\"Local network access\", then reload the page."
        ))
        checks.append({"id": "browser.local_network_access", "status": "failed",
                       "summary": "the browser's Local Network Access permission is Block",
                       "evidence": {"localNetworkAccessDenied": True},
                       "remedy": {"code": "LOCAL_NETWORK_ACCESS_DENIED", **remedy}})
    for check in checks:
        check["source"] = "page"
    return checks


@dataclass(frozen=True)
class ParsedReport:
    data: dict[str, Any]
    """The report as stored: checked, trimmed to known members, redacted."""
    support_code: str | None
    failing: int
    warnings: int
    browser: str | None

    def to_json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)


def parse_report(raw: str, *, include_name: bool = False) -> ParsedReport:
    """Check the report a page posted and make it safe to store; :class:`ReportError` says
    what is wrong in the user's language."""
    if len(raw.encode("utf-8")) > MAX_REPORT_BYTES:
        raise ReportError(_("The diagnostics report is too large (at most 256 KB). Run the "
                            "diagnostics again, or send your question without it."))
    wrong = _wrong_shape()
    try:
        loaded = json.loads(raw)
    except (ValueError, RecursionError):
        raise wrong from None
    if not isinstance(loaded, dict) or _depth(loaded) > MAX_DEPTH:
        raise wrong
    report = {k: v for k, v in loaded.items() if k in REPORT_KEYS}
    checks = report.get("checks")
    if checks is None and "page" not in report:
        raise wrong
    if checks is not None:
        if not isinstance(checks, list) or len(checks) > MAX_CHECKS:
            raise wrong
        report["checks"] = [_check(item) for item in checks]
    if "page" in report:
        report["page"] = _page(report["page"])
        report["pageChecks"] = page_checks(report["page"])
    code = report.get("supportCode")
    if code is not None:
        if not isinstance(code, str) or not valid_code(normalise_code(code)):
            raise wrong
        report["supportCode"] = normalise_code(code)
    if not include_name:
        report = _without_personal(report)
        if "nameIncluded" in report:
            report["nameIncluded"] = False
    report = redact(report)
    every = all_checks(report)
    page = report.get("page", {})
    browser = page.get("browser") or page.get("userAgent") or None
    return ParsedReport(
        data=report,
        support_code=report.get("supportCode"),
        failing=sum(1 for c in every if c["status"] == "failed"),
        warnings=sum(1 for c in every if c["status"] == "warning"),
        browser=browser[:300] if isinstance(browser, str) else None,
    )


def all_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's findings first (they explain a report with no bridge checks), then the
    bridge's."""
    return [*report.get("pageChecks", []), *report.get("checks", [])]


@dataclass(frozen=True)
class CheckRow:
    """One line of the helpdesk's report table."""

    id: str
    status: str
    summary: str
    evidence: list[tuple[str, str]]
    remedy: str | None


def report_rows(report: dict[str, Any], language: str) -> list[CheckRow]:
    """Checks sorted failed → warning → ok → skipped (stable within a status), each with its
    evidence as text and its remedy in ``language``."""
    rows = []
    for check in all_checks(report):
        remedy = check.get("remedy")
        text = None
        if isinstance(remedy, dict):
            text = remedy.get(language) or remedy.get("en")
        evidence = check.get("evidence") or {}
        rows.append(CheckRow(
            id=str(check.get("id")),
            status=str(check.get("status")),
            summary=str(check.get("summary", "")),
            evidence=[(str(k), json.dumps(v, ensure_ascii=False)) for k, v in evidence.items()],
            remedy=text,
        ))
    rank = {status: index for index, status in enumerate(STATUSES)}
    return sorted(rows, key=lambda row: rank.get(row.status, len(STATUSES)))


def screenshot_type(data: bytes) -> str | None:
    """The image type from its first bytes (what the browser claims is not trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def valid_email(address: str) -> bool:
    return len(address) <= 254 and _EMAIL.fullmatch(address) is not None
