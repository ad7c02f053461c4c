"""Consent and PIN in the terminal the bridge runs in (``eid-bridge run --ui console``).

Everything is written to and read from the controlling terminal (``/dev/tty``), never
stdout/stdin, which may be a log or a pipe. The PIN is read with echo off, as
:func:`getpass.getpass` does (same terminal settings, same flush of keys typed before the
prompt), but through ``select`` so that ``cancel`` and the timeout close the prompt while
the user has not answered: ``getpass`` itself blocks in ``read`` and cannot be interrupted.
That wait wakes up every ``poll`` seconds, only while a prompt is open.

Without a terminal (a service, a pipe, a background job of the shell) every request is
refused: ``None``/``False``, or :class:`UiUnavailable` with ``raise_unavailable=True``.
On Windows the prompts use ``getpass``/``input``; there, ``cancel`` is honoured only when it
is set before the prompt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Final

from bridge.ui.base import ConsentRequest, Operation, OriginApproval, PinRequest
from bridge.ui.errors import UiUnavailable
from bridge.ui.present import clean_label, group_digest, split_origin
from bridge.ui.texts import operation_text, text, yes_words

log = logging.getLogger(__name__)

PIN_MIN, PIN_MAX = 4, 12
_BOLD: Final = "\x1b[1m"
_RED: Final = "\x1b[1;31m"
_RESET: Final = "\x1b[0m"


def pin_well_formed(pin: str) -> bool:
    return PIN_MIN <= len(pin) <= PIN_MAX and all(c in "0123456789" for c in pin)


class _Closed(Exception):
    """The prompt ended without an answer: cancel, timeout or end of input."""


class _Terminal:
    """The controlling terminal, opened for one dialog."""

    def __init__(self, fd: int, cancel: threading.Event, deadline: float, poll: float) -> None:
        self.fd = fd
        self.cancel = cancel
        self.deadline = deadline
        self.poll = poll

    def write(self, value: str) -> None:
        data = value.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.fd, data) :]

    def read_line(self, prompt: str, *, echo: bool) -> str:
        """One line typed after ``prompt`` (keys typed before it are discarded)."""
        import select
        import termios

        old = termios.tcgetattr(self.fd)
        new = termios.tcgetattr(self.fd)
        if not echo:
            new[3] &= ~termios.ECHO
        # TCSAFLUSH drops what was typed before the prompt: a stray "1234⏎" or "y⏎" meant
        # for another window must not answer us.
        termios.tcsetattr(self.fd, termios.TCSAFLUSH, new)
        buffer = bytearray()
        try:
            self.write(prompt)
            while b"\n" not in buffer:
                if self.cancel.is_set():
                    raise _Closed
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise _Closed
                ready, _, _ = select.select([self.fd], [], [], min(self.poll, remaining))
                if ready:
                    chunk = os.read(self.fd, 256)
                    if not chunk:  # Ctrl-D on an empty line
                        raise _Closed
                    buffer += chunk
            return buffer.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        finally:
            buffer[:] = bytes(len(buffer))  # the PIN's bytes do not outlive the prompt
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, old)
            if not echo:
                self.write("\n")


class ConsoleUI:
    """Dialogs as text in the bridge's terminal."""

    def __init__(
        self,
        *,
        tty: str = "/dev/tty",
        timeout: float = 120.0,
        poll: float = 0.2,
        color: bool | None = None,
        raise_unavailable: bool = False,
    ) -> None:
        self.tty = tty
        self.timeout = timeout
        self.poll = poll
        self.color = color
        self.raise_unavailable = raise_unavailable
        self._lock = threading.Lock()  # one prompt at a time on the terminal

    # --- the terminal ----------------------------------------------------------------------

    def _use_color(self) -> bool:
        if self.color is not None:
            return self.color
        return os.environ.get("TERM", "dumb") != "dumb" and "NO_COLOR" not in os.environ

    def _style(self, value: str, style: str) -> str:
        return f"{style}{value}{_RESET}" if self._use_color() else value

    def _unavailable(self, why: str) -> None:
        log.warning("console dialog refused: %s", why)
        if self.raise_unavailable:
            raise UiUnavailable(why)

    def _open(self) -> int | None:
        """The terminal's descriptor, or None (after saying why) when there is none."""
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            self._unavailable(f"no terminal ({self.tty}: {exc.strerror})")
            return None
        why = None
        if not os.isatty(fd):
            why = f"{self.tty} is not a terminal"
        elif os.tcgetpgrp(fd) != os.getpgrp():
            # A background job touching the terminal's settings is stopped (SIGTTOU).
            why = "the bridge runs in the background of its terminal"
        if why is not None:
            os.close(fd)
            self._unavailable(why)
            return None
        return fd

    @contextlib.contextmanager
    def _terminal(self, cancel: threading.Event) -> Iterator[_Terminal | None]:
        with self._lock:
            fd = self._open()
            if fd is None:
                yield None
                return
            try:
                yield _Terminal(fd, cancel, time.monotonic() + self.timeout, self.poll)
            finally:
                os.close(fd)

    # --- what is shown ---------------------------------------------------------------------

    def _header(self, title: str, origin: str, language: str) -> list[str]:
        parts = split_origin(origin)
        return [
            "",
            self._style(f"== {text('app', language)} · {title} ==", _BOLD),
            text("site", language),
            "    " + parts.scheme + self._style(parts.host, _BOLD) + parts.port,
        ]

    def _request_lines(self, request: ConsentRequest | PinRequest) -> list[str]:
        language = request.language
        lines = self._header(
            operation_text("title", request.operation, language), request.origin, language
        )
        lines.append(operation_text("ask", request.operation, language))
        if request.operation is Operation.SIGN:
            lines.append(text("sign.legal", language))
        label = clean_label(request.label)
        if label:
            lines.append(text("label", language))
            lines.extend("    " + line for line in label.splitlines())
        digest = group_digest(request.digest_hex)
        if digest:
            lines.append(text("digest", language))
            lines.extend("    " + line for line in digest.splitlines())
        if isinstance(request, ConsentRequest) and request.holder:
            lines.append(text("holder", language, holder=clean_label(request.holder, 80, 1)))
        if isinstance(request, PinRequest):
            if request.previous_error:
                lines.append(self._style(clean_label(request.previous_error), _RED))
            if request.tries_left is not None:
                lines.append(text("pin.tries_left", language, n=request.tries_left))
            if request.last_try:
                lines.append(self._style("!! " + text("pin.last_try", language) + " !!", _RED))
        return lines

    def _ask_yes(self, terminal: _Terminal, lines: list[str], question: str, language: str) -> bool:
        terminal.write("\n".join(lines) + "\n")
        words = yes_words(language)
        no_words = {"n", "no", "non", "nee", ""}
        prompt = f"{question} {text('console.yes_no', language)} "
        try:
            while True:
                answer = terminal.read_line(prompt, echo=True).strip().lower()
                if answer in words:
                    return True
                if answer in no_words:
                    return False
        except _Closed:
            terminal.write("\n" + text("console.cancelled", language) + "\n")
            return False

    # --- the provider ----------------------------------------------------------------------

    def approve_origin(self, request: OriginApproval, cancel: threading.Event) -> bool:
        language = request.language
        lines = self._header(text("title.approve", language), request.origin, language)
        lines.append(text("approve.revoke", language))
        origin = split_origin(request.origin).full
        question = text("approve.question", language, origin=origin)
        return self._yes_or_no(lines, question, language, cancel)

    def consent(self, request: ConsentRequest, cancel: threading.Event) -> bool:
        lines = self._request_lines(request)
        question = text("button.allow", request.language) + "?"
        return self._yes_or_no(lines, question, request.language, cancel)

    def _yes_or_no(
        self, lines: list[str], question: str, language: str, cancel: threading.Event
    ) -> bool:
        if cancel.is_set():
            return False
        if sys.platform == "win32":
            return self._windows_yes(lines, question, language)
        with self._terminal(cancel) as terminal:
            return terminal is not None and self._ask_yes(terminal, lines, question, language)

    def ask_pin(self, request: PinRequest, cancel: threading.Event) -> str | None:
        if cancel.is_set():
            return None
        if sys.platform == "win32":
            return self._windows_pin(request)
        with self._terminal(cancel) as terminal:
            if terminal is None:
                return None
            language = request.language
            lines = self._request_lines(request)
            lines.append(text("pin.hint", language) + " " + text("console.empty_cancels", language))
            terminal.write("\n".join(lines) + "\n")
            try:
                while True:
                    pin = terminal.read_line(text("pin.prompt", language) + " ", echo=False)
                    if not pin:
                        return None
                    if pin_well_formed(pin):
                        return pin
                    del pin
                    terminal.write(text("pin.hint", language) + "\n")
            except _Closed:
                terminal.write(text("console.cancelled", language) + "\n")
                return None

    @contextlib.contextmanager
    def pinpad_prompt(self, request: PinRequest, cancel: threading.Event) -> Iterator[None]:
        if not cancel.is_set() and sys.platform != "win32":
            with self._terminal(cancel) as terminal:
                if terminal is not None:
                    lines = self._request_lines(request)
                    lines.append(self._style(text("pin.pinpad", request.language), _BOLD))
                    terminal.write("\n".join(lines) + "\n")
        yield

    # --- Windows: getpass and input, no cancel while waiting -------------------------------

    def _windows_yes(
        self, lines: list[str], question: str, language: str
    ) -> bool:  # pragma: no cover
        if not sys.stdin.isatty():
            self._unavailable("no console")
            return False
        print("\n".join(lines), file=sys.stderr)
        answer = input(f"{question} {text('console.yes_no', language)} ")
        return answer.strip().lower() in yes_words(language)

    def _windows_pin(self, request: PinRequest) -> str | None:  # pragma: no cover
        import getpass

        if not sys.stdin.isatty():
            self._unavailable("no console")
            return None
        print("\n".join(self._request_lines(request)), file=sys.stderr)
        pin = getpass.getpass(text("pin.prompt", request.language) + " ")
        return pin or None
