"""Consent and PIN providers: native Tk dialogs, the terminal, a script for tests.

``choose_ui(kind, settings)`` picks one for ``eid-bridge run --ui {tk,console,auto}``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

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


def _is_provider(candidate: object) -> bool:
    return hasattr(candidate, "ask_pin")


class FallbackUI:
    """Tk while it can open a window, the terminal otherwise: decided at each request, so
    a display that appears or goes away (login, logout) is followed without a restart."""

    def __init__(
        self, primary: UserInterface | Callable[[], UserInterface], fallback: UserInterface
    ) -> None:
        """``primary`` may be a factory: Tk (about 5 MB) is then loaded at the first dialog,
        not at start-up, so an idle bridge stays small."""
        self._factory: Callable[[], UserInterface] | None = None
        self._loaded: UserInterface | None = None
        if _is_provider(primary):
            self._loaded = cast("UserInterface", primary)
        else:
            self._factory = cast("Callable[[], UserInterface]", primary)
        self.fallback = fallback

    @property
    def primary(self) -> UserInterface:
        if self._loaded is None:
            assert self._factory is not None
            try:
                self._loaded = self._factory()
            except ImportError as exc:  # a Python built without tkinter
                raise UiUnavailable(f"Tk is not available in this Python: {exc}") from exc
        return self._loaded

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
        for part in (self._loaded, self.fallback):
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
    if kind == "auto":

        def load_tk() -> UserInterface:
            from bridge.ui.tk import TkUI

            return TkUI(timeout=timeout)

        return FallbackUI(load_tk, ConsoleUI(timeout=timeout, raise_unavailable=True))
    try:
        from bridge.ui.tk import TkUI
    except ImportError as exc:  # a Python built without tkinter
        raise UiUnavailable(f"Tk is not available in this Python: {exc}") from exc
    tk = TkUI(timeout=timeout)
    tk.probe()
    return tk


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
