"""The one settings object: defaults, then the user's TOML file, then environment variables.

File: ``<user config dir>/eid-bridge/settings.toml`` (platformdirs). Environment variables
``EID_BRIDGE_<FIELD>`` override single fields (used by tests and the demo).
"""

from __future__ import annotations

import locale
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "eid-bridge"


def _default_language() -> str:
    lang = (locale.getlocale()[0] or os.environ.get("LANG", "en"))[:2].lower()
    return lang if lang in ("en", "fr", "nl") else "en"


@dataclass
class Settings:
    language: str = field(default_factory=_default_language)
    reader: str | None = None
    """Preferred reader name; ``None`` takes the first reader holding a card."""
    connect_delay: float = 0.0
    """Pause after connecting to a card; some reader/card pairs need 0.2 s (eid-mw)."""
    demo: bool = False
    """Demo/test mode: the virtual card and its test PKI. Production never sets it."""
    port: int = 24801
    """Port of the localhost API; when taken, the next two (24802, 24803) are tried."""
    allowed_origins: tuple[str, ...] = ()
    """Sites allowed without asking (``https://portal.example``); others are asked once."""
    ui: str = "auto"
    """Consent and PIN dialogs: ``tk``, ``console`` or ``auto`` (Tk when a display exists)."""
    request_timeout: float = 180.0
    """Longest a page waits for one operation, dialogs included."""
    portal_url: str = ""
    """The professional portal the tray's "Open the portal" item opens (empty: greyed out;
    set by the installer or an administrator)."""
    autostart: bool = True
    """Start the tray at login (the tray writes or removes the OS's autostart entry)."""
    config_dir: Path = field(default_factory=lambda: Path(platformdirs.user_config_dir(APP_NAME)))
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    cache_dir: Path = field(default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)))
    log_dir: Path = field(default_factory=lambda: Path(platformdirs.user_log_dir(APP_NAME)))

    @classmethod
    def load(cls, path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
        settings = cls()
        env = dict(os.environ) if env is None else env
        path = path or Path(env.get("EID_BRIDGE_CONFIG", settings.config_dir / "settings.toml"))
        values: dict[str, Any] = {}
        if path.exists():
            with path.open("rb") as handle:
                values.update(tomllib.load(handle))
        for item in fields(cls):
            key = f"EID_BRIDGE_{item.name.upper()}"
            if key in env:
                values[item.name] = env[key]
        for name, raw in values.items():
            try:
                settings._set(name, raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"setting '{name}' has a bad value {raw!r}: {exc}") from None
        if settings.ui not in ("auto", "tk", "console"):
            raise ValueError(f"setting 'ui' must be auto, tk or console, not {settings.ui!r}")
        return settings

    def _set(self, name: str, raw: Any) -> None:
        current = getattr(self, name, None)
        if name not in {f.name for f in fields(self)}:
            raise ValueError(f"unknown setting '{name}'")
        if isinstance(current, bool) or name == "demo":
            value: Any = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        elif isinstance(current, int):
            value = int(raw)
        elif name == "allowed_origins":
            items = raw if isinstance(raw, list | tuple) else str(raw).replace(",", " ").split()
            value = tuple(str(item).rstrip("/") for item in items if str(item).strip())
        elif isinstance(current, float):
            value = float(raw)
        elif isinstance(current, Path):
            value = Path(raw)
        elif name == "reader":
            value = str(raw) or None
        else:
            value = str(raw)
        setattr(self, name, value)
