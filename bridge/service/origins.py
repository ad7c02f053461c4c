"""Which web origins may use the bridge.

Three sources, checked in order: the settings' ``allowed_origins`` (set by an administrator
or the installer for the organisation's portal), the user's own approvals (asked once per
origin in a native dialog, remembered in ``<config>/origins.json``, revocable with
``eid-bridge origins revoke``), and refusals the user gave during this run (so a page cannot
pop the question up again and again). Origins are compared in their serialised form
(``scheme://host[:port]``, lower-case, default port dropped), as browsers send them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"https": 443, "http": 80}
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
DENIAL_MEMORY = 600.0
"""Seconds a refused origin stays refused without asking again."""


def normalise_origin(value: str) -> str | None:
    """The serialised origin, or None when ``value`` is not an origin a page may have:
    https anywhere, http only on loopback (local development); no path, query, user info."""
    if not value or value == "null" or len(value) > 255:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if ":" in host:
        host = f"[{host}]"
    if scheme == "http" and host not in _LOOPBACK_HOSTS:
        return None
    if not all(c.isalnum() or c in "-.[]:" for c in host):
        return None
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


@dataclass(frozen=True)
class Approval:
    origin: str
    approved_at: str
    source: str
    """``settings`` or ``user``."""


class OriginPolicy:
    def __init__(self, configured: tuple[str, ...], store: Path | None) -> None:
        self._configured = {o for o in (normalise_origin(c) for c in configured) if o}
        self._store = store
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._approved: dict[str, str] = self._load()
        self._denied: dict[str, float] = {}

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._store.stat() if self._store is not None else None
        except OSError:
            return None
        return None if stat is None else (stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        """Pick up ``eid-bridge origins revoke`` run while the daemon runs (one stat call)."""
        if self._file_stamp() != self._stamp:
            self._approved = self._load()

    def _load(self) -> dict[str, str]:
        self._stamp = self._file_stamp()
        if self._store is None or not self._store.exists():
            return {}
        try:
            data = json.loads(self._store.read_text("utf-8"))
            return {
                origin: str(when)
                for origin, when in data.get("approved", {}).items()
                if normalise_origin(origin) == origin
            }
        except (OSError, ValueError, AttributeError):
            log.warning("the approved-sites file %s is unreadable; starting empty", self._store)
            return {}

    def _save(self) -> None:
        if self._store is None:
            return
        self._store.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._store.with_suffix(".tmp")
        temporary.write_text(json.dumps({"approved": self._approved}, indent=2), "utf-8")
        os.replace(temporary, self._store)
        self._stamp = self._file_stamp()

    def allow(self, origin: str) -> None:
        """Allow ``origin`` for this run only, like a configured one (the demo's own site)."""
        normalised = normalise_origin(origin)
        if normalised is None:
            raise ValueError(f"not an origin: {origin!r}")
        with self._lock:
            self._configured.add(normalised)

    def is_allowed(self, origin: str) -> bool:
        with self._lock:
            if origin in self._configured:
                return True
            self._refresh()
            return origin in self._approved

    def recently_denied(self, origin: str) -> bool:
        with self._lock:
            until = self._denied.get(origin)
            if until is None:
                return False
            if time.monotonic() > until:
                del self._denied[origin]
                return False
            return True

    def approve(self, origin: str) -> None:
        with self._lock:
            self._refresh()
            self._denied.pop(origin, None)
            self._approved[origin] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self._save()

    def deny(self, origin: str) -> None:
        with self._lock:
            self._denied[origin] = time.monotonic() + DENIAL_MEMORY

    def revoke(self, origin: str) -> bool:
        """Forget the user's approval; True when there was one."""
        with self._lock:
            self._refresh()
            found = self._approved.pop(origin, None) is not None
            if found:
                self._save()
            return found

    def approvals(self) -> list[Approval]:
        with self._lock:
            listed = [Approval(o, "", "settings") for o in sorted(self._configured)]
            listed += [Approval(o, t, "user") for o, t in sorted(self._approved.items())]
            return listed
