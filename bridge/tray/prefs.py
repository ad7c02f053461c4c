"""Saving the choices made in the tray (language, start at login) to ``settings.toml``.

Only the changed keys are rewritten; the administrator's other keys are kept. The file is
flat (``Settings`` has no tables), so a small writer does (no TOML-writing dependency).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from bridge.config import Settings

Value = str | bool | int | float | list[str] | tuple[str, ...]


def settings_path(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """The file ``Settings.load`` reads."""
    env = os.environ if env is None else env
    return Path(env.get("EID_BRIDGE_CONFIG", settings.config_dir / "settings.toml"))


def _toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(json.dumps(str(item), ensure_ascii=False) for item in value) + "]"


def save(path: Path, **changes: Value) -> None:
    """Set ``changes`` in the TOML file at ``path`` (created if missing), atomically."""
    current: dict[str, object] = {}
    if path.exists():
        with path.open("rb") as handle:
            current = tomllib.load(handle)
    current.update(changes)
    lines = []
    for key, value in current.items():
        if not isinstance(value, str | bool | int | float | list | tuple):
            raise ValueError(f"setting '{key}' is not a plain value; edit {path} by hand")
        lines.append(f"{key} = {_toml_value(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n", "utf-8")
    os.replace(temporary, path)
