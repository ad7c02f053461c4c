"""What a diagnosis is made of: checks with a status, evidence and a remedy, and the report.

Evidence holds plain JSON values only (str, int, float, bool, None, lists and dicts of them).
Personal data never enters evidence except under the keys in :data:`PERSONAL_KEYS`, which
the report drops unless the user agreed to share their name; the national register number
never enters at all (and :func:`scrub` removes anything shaped like one, as a safety net).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge import __version__
from bridge.messages import UserMessage

PERSONAL_KEYS = frozenset({"holder_name"})
"""Evidence keys shown only with the user's consent (``include_name``)."""
IDENTIFYING_KEYS = frozenset({"chipSerial", "serial"})
"""Card and certificate serial numbers: fine in a report the user hands to the helpdesk,
left out of what web pages get (``identifiers=False``)."""

# 11 digits, optionally written YY.MM.DD-SSS.CC: the national register number's shapes.
_NATIONAL_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}(?![0-9A-Za-z])"
)
REDACTED = "[redacted]"


class CheckStatus(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the runner adds the id and the duration."""

    status: CheckStatus
    summary: str
    """One technical line in English, for the helpdesk."""
    evidence: dict[str, Any] = field(default_factory=dict)
    remedy: UserMessage | None = None
    values: dict[str, Any] = field(default_factory=dict)
    """Placeholders of the remedy text (e.g. ``tries_left``)."""


def ok(summary: str, **evidence: Any) -> Outcome:
    return Outcome(CheckStatus.OK, summary, evidence)


def skipped(summary: str, **evidence: Any) -> Outcome:
    return Outcome(CheckStatus.SKIPPED, summary, evidence)


@dataclass(frozen=True)
class Check:
    id: str
    status: CheckStatus
    summary: str
    evidence: dict[str, Any]
    remedy: UserMessage | None
    duration: float
    values: dict[str, Any] = field(default_factory=dict)

    def remedy_text(self, language: str = "en") -> str | None:
        return None if self.remedy is None else self.remedy.text(language, **self.values)

    def to_dict(self, *, include_name: bool = False, identifiers: bool = True) -> dict[str, Any]:
        evidence = {
            k: v for k, v in self.evidence.items() if include_name or k not in PERSONAL_KEYS
        }
        if not identifiers:
            evidence = _without(evidence, IDENTIFYING_KEYS)
        remedy = None
        if self.remedy is not None:
            remedy = {"code": self.remedy.code} | {
                lang: self.remedy.text(lang, **self.values) for lang in ("en", "fr", "nl")
            }
        return {
            "id": self.id,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": scrub(evidence),
            "remedy": remedy,
            "durationMs": round(self.duration * 1000, 1),
        }


def _without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list | tuple):
        return [_without(v, keys) for v in value]
    return value


def scrub(value: Any) -> Any:
    """``value`` with every string that looks like a national register number redacted."""
    if isinstance(value, str):
        return _NATIONAL_NUMBER.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def support_code(payload: bytes) -> str:
    """8 characters (base32, 40 bits) of SHA-256 over the redacted report (which includes
    its creation time): short enough to read over the phone, unique enough to find the
    saved report again."""
    return base64.b32encode(hashlib.sha256(payload).digest()[:5]).decode("ascii")


@dataclass
class Report:
    checks: list[Check]
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    include_name: bool = False
    """The user agreed to share their name (never the national register number)."""
    version: str = __version__

    @property
    def worst(self) -> CheckStatus:
        statuses = {c.status for c in self.checks}
        for status in (CheckStatus.FAILED, CheckStatus.WARNING):
            if status in statuses:
                return status
        return CheckStatus.OK

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def _body(self, include_name: bool, identifiers: bool = True) -> dict[str, Any]:
        return {
            "bridgeVersion": self.version,
            "createdAt": self.created_at.isoformat(timespec="seconds"),
            "result": self.worst.value,
            "nameIncluded": include_name,
            "checks": [
                c.to_dict(include_name=include_name, identifiers=identifiers) for c in self.checks
            ],
        }

    @property
    def support_code(self) -> str:
        body = json.dumps(self._body(False), sort_keys=True, ensure_ascii=False)
        return support_code(body.encode("utf-8"))

    def to_dict(self, *, redact: bool = True, identifiers: bool = True) -> dict[str, Any]:
        """``redact`` (the default) drops personal evidence even if the user consented;
        ``identifiers=False`` also drops card and certificate serial numbers (web pages)."""
        body = self._body(self.include_name and not redact, identifiers)
        return {"supportCode": self.support_code, **body}

    def to_json(self, *, redact: bool = True) -> str:
        return json.dumps(self.to_dict(redact=redact), indent=2, ensure_ascii=False)

    def to_text(self, language: str = "en", *, redact: bool = True) -> str:
        data = self.to_dict(redact=redact)
        lines = [
            f"eID bridge {self.version} diagnostics, {data['createdAt']}",
            f"support code: {data['supportCode']}  result: {data['result']}",
            "",
        ]
        for check, shown in zip(self.checks, data["checks"], strict=True):
            lines.append(f"[{check.status.value.upper():7}] {check.id}: {check.summary}")
            for key, value in shown["evidence"].items():
                lines.append(f"          {key}: {json.dumps(value, ensure_ascii=False)}")
            if check.status in (CheckStatus.FAILED, CheckStatus.WARNING) and check.remedy:
                lines.append(f"          -> {check.remedy_text(language)}")
        return "\n".join(lines) + "\n"

    def save(self, path: Path, *, language: str = "en", redact: bool = True) -> Path:
        """JSON when ``path`` ends in ``.json``, text otherwise; written with mode 0600."""
        text = (
            self.to_json(redact=redact)
            if path.suffix == ".json"
            else self.to_text(language, redact=redact)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
