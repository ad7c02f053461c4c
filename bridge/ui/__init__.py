"""Consent and PIN providers: native Tk dialogs, the terminal, a script for tests.

``choose_ui(kind, settings)`` picks one for ``eid-bridge run --ui {tk,console,auto}``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bridge.ui.base import (
    ConsentRequest,
    KeyChoice,
    Operation,
    OriginApproval,
    PinRequest,
    UserInterface,
)
from bridge.ui.console import ConsoleUI
from bridge.ui.errors import UiUnavailable
from bridge.ui.scripted import ScriptedUI

if TYPE_CHECKING:
    from bridge.config import Settings

log = logging.getLogger(__name__)

KINDS = ("auto", "tk", "console")
DIALOG_TIMEOUT = 120.0


class FallbackUI:
    """Tk while it can open a window, the terminal otherwise: decided at each request, so
    a display that appears or goes away (login, logout) is followed without a restart."""

    def __init__(self, primary: UserInterface, fallback: UserInterface) -> None:
        self.primary = primary
        self.fallback = fallback

    def approve_origin(self, request: OriginApproval, cancel: threading.Event) -> bool:
        try:
            return self.primary.approve_origin(request, cancel)
        except UiUnavailable as exc:
            log.info("no dialog window (%s); asking in the terminal", exc)
            return self.fallback.approve_origin(request, cancel)

    def consent(self, request: ConsentRequest, cancel: threading.Event) -> bool:
        try:
            return self.primary.consent(request, cancel)
        except UiUnavailable as exc:
            log.info("no dialog window (%s); asking in the terminal", exc)
            return self.fallback.consent(request, cancel)

    def ask_pin(self, request: PinRequest, cancel: threading.Event) -> str | None:
        try:
            return self.primary.ask_pin(request, cancel)
        except UiUnavailable as exc:
            log.info("no dialog window (%s); asking in the terminal", exc)
            return self.fallback.ask_pin(request, cancel)

    def close(self) -> None:
        for part in (self.primary, self.fallback):
            close = getattr(part, "close", None)
            if callable(close):
                close()

    @contextlib.contextmanager
    def pinpad_prompt(self, request: PinRequest, cancel: threading.Event) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.primary.pinpad_prompt(request, cancel))
            except UiUnavailable as exc:
                log.info("no dialog window (%s); notice in the terminal", exc)
                stack.enter_context(self.fallback.pinpad_prompt(request, cancel))
            yield


def choose_ui(kind: str, settings: Settings) -> UserInterface:
    """The provider for ``kind``: ``tk`` (fails with :class:`UiUnavailable` when no window
    can be opened), ``console``, or ``auto`` (Tk when a display is available, else the
    terminal; checked again at each request)."""
    timeout = min(DIALOG_TIMEOUT, settings.request_timeout)
    if kind == "console":
        return ConsoleUI(timeout=timeout, raise_unavailable=True)
    if kind not in KINDS:
        raise ValueError(f"unknown UI '{kind}' (choose one of {', '.join(KINDS)})")
    try:
        from bridge.ui.tk import TkUI
    except ImportError as exc:  # a Python built without tkinter
        if kind == "tk":
            raise UiUnavailable(f"Tk is not available in this Python: {exc}") from exc
        return ConsoleUI(timeout=timeout, raise_unavailable=True)
    tk = TkUI(timeout=timeout)
    if kind == "tk":
        tk.probe()
        return tk
    return FallbackUI(tk, ConsoleUI(timeout=timeout, raise_unavailable=True))


__all__ = [
    "KINDS",
    "ConsentRequest",
    "ConsoleUI",
    "FallbackUI",
    "KeyChoice",
    "Operation",
    "OriginApproval",
    "PinRequest",
    "ScriptedUI",
    "UiUnavailable",
    "UserInterface",
    "choose_ui",
]
