"""Turning a request's untrusted strings into what a dialog may show.

A page chooses the sign label, and (within what a browser allows) its own origin. Neither is
ever interpreted: control characters (terminal escapes), Unicode format characters
(right-to-left overrides that reorder what the user reads, zero-width characters) and
surrogates are dropped, runs of blanks collapse, and the label is cut to a few lines.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

LABEL_MAX_CHARS = 300
LABEL_MAX_LINES = 6
ELLIPSIS = "…"


def _visible(char: str) -> bool:
    # Cc: control (ESC, BEL, NUL...), Cf: format (RLO, ZWJ...), Cs/Co/Cn: surrogates,
    # private use, unassigned. Newlines and tabs are turned into blanks before this.
    return unicodedata.category(char)[0] != "C"


def clean_line(value: str) -> str:
    """One line of plain, printable text."""
    kept = "".join(char for char in value.replace("\t", " ") if _visible(char))
    return " ".join(kept.split())


def clean_label(
    value: str | None, max_chars: int = LABEL_MAX_CHARS, max_lines: int = LABEL_MAX_LINES
) -> str:
    """A page's label as plain text: printable characters, at most ``max_lines`` non-empty
    lines and ``max_chars`` characters, with an ellipsis where it was cut."""
    if not value:
        return ""
    lines = [clean_line(line) for line in value.splitlines()]
    lines = [line for line in lines if line]
    cut = len(lines) > max_lines
    shown = "\n".join(lines[:max_lines])
    if len(shown) > max_chars:
        shown, cut = shown[: max_chars - 1].rstrip(), True
    return shown + ELLIPSIS if cut and shown else shown


def group_digest(digest_hex: str | None, group: int = 4, per_line: int = 8) -> str:
    """``3a4b5c6d...`` as ``3a4b 5c6d ...`` in lines of ``per_line`` groups (hex digits
    only: anything else was not a digest and is dropped)."""
    if not digest_hex:
        return ""
    digits = "".join(c for c in digest_hex.lower() if c in "0123456789abcdef")
    groups = [digits[i : i + group] for i in range(0, len(digits), group)]
    return "\n".join(" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line))


@dataclass(frozen=True)
class OriginParts:
    """An origin cut for display: the host is what the user must read."""

    scheme: str
    """``https://`` (with its separator), or empty when the origin has none."""
    host: str
    port: str
    """``:8443`` (with its colon), or empty."""

    @property
    def full(self) -> str:
        return f"{self.scheme}{self.host}{self.port}"


def split_origin(origin: str) -> OriginParts:
    """``https://portal.example:8443`` as its scheme, host and port. Hosts are shown as sent
    (an internationalised name stays in its ``xn--`` form, which resists look-alikes)."""
    cleaned = clean_line(origin)
    try:
        parts = urlsplit(cleaned)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return OriginParts("", cleaned, "")
    if not parts.scheme or not host:
        return OriginParts("", cleaned, "")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return OriginParts(f"{parts.scheme}://", host, f":{port}" if port is not None else "")
