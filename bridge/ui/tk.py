"""Native consent and PIN dialogs with Tk (tkinter, part of the machine's Python).

Threads. The daemon calls from its card-worker thread; Tk wants every call to its
interpreter from the thread that created it. So one dedicated UI thread runs the dialogs:
callers put a job on a queue and wait for its answer. While no dialog is open, the UI
thread sleeps in ``queue.get()`` (no timer, no X connection: the daemon stays silent).
While a dialog is open, an ``after`` timer checks every ``poll`` seconds whether ``cancel``
was set, the PIN-pad context closed, or the timeout passed.

Each dialog has its own Tk interpreter and X connection, created when it opens and
destroyed when it closes: a display that went away between two requests (logout, X
restart) makes the next dialog fail with :class:`UiUnavailable` instead of Xlib ending
the whole daemon on a broken connection. Every Tk object is created, destroyed and
garbage-collected in the UI thread (Tcl aborts the process when an interpreter is deleted
by another thread).

Security. The origin is shown large with its host in bold; the page's label is plain text
(cleaned, cut to a few lines; Tk labels never interpret markup); the digest is in small
monospace. Keys typed during the first ``input_delay`` seconds are ignored, so that
typing meant for another window (a PIN followed by Enter, or Enter alone) cannot answer a
dialog that just popped up.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import queue
import sys
import threading
import time
import tkinter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from tkinter import font as tkfont
from tkinter import ttk
from types import TracebackType
from typing import Literal, TypeAlias

from bridge.ui.base import ConsentRequest, Operation, OriginApproval, PinRequest
from bridge.ui.errors import UiUnavailable
from bridge.ui.present import clean_label, group_digest, split_origin
from bridge.ui.texts import operation_text, text

log = logging.getLogger(__name__)

Kind: TypeAlias = Literal["probe", "approve", "consent", "pin", "pinpad"]
Answer: TypeAlias = str | bool | None

PIN_MIN, PIN_MAX = 4, 12
DIGITS = frozenset("0123456789")
WRAP = 460  # pixels
ORIGIN_WIDTH = 560

BACKGROUND = "#ffffff"
BOX = "#f1f3f5"
INK = "#1a1a1a"
MUTED = "#5f6368"
ORIGIN_INK = "#0b3d91"
DANGER = "#b00020"
STRIPE = ("#000000", "#fdda24", "#ef3340")  # the Belgian flag, so the window is recognisable


@dataclass(frozen=True)
class Shown:
    """One text of an open dialog as it is displayed (read back from the widget)."""

    text: str
    bold: bool
    color: str


@dataclass(frozen=True)
class DialogView:
    """What an open dialog shows, as plain data (for tests and diagnostics)."""

    kind: Kind
    title: str
    window: int
    """X id of the toplevel's frame window (the one carrying the title)."""
    parts: Mapping[str, Shown]
    ready: bool = False
    """False during the input delay (keys are ignored)."""
    ok_enabled: bool = False
    pin_length: int = 0

    def text(self, name: str) -> str:
        return self.parts[name].text if name in self.parts else ""


@dataclass
class _Job:
    kind: Kind
    request: OriginApproval | ConsentRequest | PinRequest | None
    cancel: threading.Event
    close: threading.Event = field(default_factory=threading.Event)
    shown: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: Answer = None
    error: UiUnavailable | None = None

    @property
    def refusal(self) -> Answer:
        return None if self.kind in ("pin", "pinpad") else False

    def finish(self, result: Answer = None, error: UiUnavailable | None = None) -> None:
        self.result, self.error = result, error
        self.shown.set()
        self.done.set()


class _Root(tkinter.Tk):
    def readprofile(self, baseName: str, className: str) -> None:
        """Tk would run ``~/.<name>.py`` files here; a security dialog runs no such thing."""


class _Worker:
    """The UI thread, its queue of jobs, and the event that stops it."""

    def __init__(self, ui: TkUI) -> None:
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=ui._serve, args=(self,), name="eid-bridge-ui", daemon=True
        )


class TkUI:
    """Tk dialogs, callable from any thread (requests are served one at a time).

    ``screen``: the X display (``":0"``) instead of ``$DISPLAY``. ``timeout``: a dialog left
    unanswered that long closes as cancelled. ``input_delay``: seconds during which a new
    dialog ignores keys and clicks. ``poll``: how often an open dialog checks ``cancel``.
    """

    def __init__(
        self,
        *,
        screen: str | None = None,
        timeout: float = 120.0,
        input_delay: float = 0.5,
        poll: float = 0.1,
        topmost: bool = True,
    ) -> None:
        self.screen = screen
        self.timeout = timeout
        self.input_delay = input_delay
        self.poll = poll
        self.topmost = topmost
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self._view_changed = threading.Condition()
        self._view: DialogView | None = None
        self.dialogs_shown = 0

    # --- the UI thread ---------------------------------------------------------------------

    def _check_platform(self) -> None:
        if sys.platform == "darwin":
            raise UiUnavailable("on macOS Tk runs only in the main thread; use the console UI")
        if sys.platform != "win32" and not (self.screen or os.environ.get("DISPLAY")):
            raise UiUnavailable("no display: DISPLAY is not set")

    def _ensure_worker(self) -> _Worker:
        with self._lock:
            if self._worker is None or not self._worker.thread.is_alive():
                self._worker = _Worker(self)
                self._worker.thread.start()
            return self._worker

    def _serve(self, worker: _Worker) -> None:
        while True:
            job = worker.jobs.get()
            if job is None:
                return
            if job.cancel.is_set() or worker.stop.is_set():
                job.finish(job.refusal)
                continue
            try:
                result = self._open(job, worker.stop)
            except UiUnavailable as exc:
                job.finish(error=exc)
            except Exception as exc:
                log.exception("the %s dialog failed", job.kind)
                job.finish(error=UiUnavailable(f"the dialog failed: {exc}"))
            else:
                job.finish(result)
            finally:
                self._set_view(None)
                gc.collect()  # any Tk object left in a cycle dies here, in its own thread

    def _open(self, job: _Job, stop: threading.Event) -> Answer:
        try:
            root = _Root(screenName=self.screen, className="EidBridge")
        except tkinter.TclError as exc:
            raise UiUnavailable(f"cannot open a window: {exc}") from exc
        try:
            if job.kind == "probe":
                return True
            dialog = _Dialog(self, root, job, stop)
            root.mainloop()
            result = dialog.result
            dialog.dispose()
            del dialog
            return result
        finally:
            with contextlib.suppress(tkinter.TclError):
                root.destroy()
            del root

    def _submit(self, job: _Job) -> threading.Thread:
        worker = self._ensure_worker()
        worker.jobs.put(job)
        return worker.thread

    def _run(self, job: _Job) -> Answer:
        self._check_platform()
        if job.cancel.is_set():
            return job.refusal
        thread = self._submit(job)
        self._wait(job.done, thread)
        if job.error is not None:
            raise job.error
        return job.result

    @staticmethod
    def _wait(event: threading.Event, thread: threading.Thread) -> None:
        while not event.wait(1.0):
            if not thread.is_alive() and not event.is_set():
                raise UiUnavailable("the dialog thread stopped")

    def close(self) -> None:
        """Close the open dialog (its caller gets "cancelled") and stop the UI thread.
        The next request starts a new one."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop.set()
            worker.jobs.put(None)
            worker.thread.join(5.0)

    def probe(self) -> None:
        """Open and close a Tk interpreter on the display; :class:`UiUnavailable` when
        that fails (no display, no Tk, display refused)."""
        self._run(_Job("probe", None, threading.Event()))

    # --- what is on screen (test hook) -----------------------------------------------------

    def _set_view(self, view: DialogView | None) -> None:
        with self._view_changed:
            if view is not None and self._view is None:
                self.dialogs_shown += 1
            self._view = view
            self._view_changed.notify_all()

    @property
    def view(self) -> DialogView | None:
        """The open dialog, or None."""
        with self._view_changed:
            return self._view

    def wait_for_view(self, timeout: float = 10.0, *, ready: bool = False) -> DialogView:
        """The open dialog once it is on screen (and, with ``ready``, accepts input)."""
        with self._view_changed:
            found = self._view_changed.wait_for(
                lambda: self._view is not None and (self._view.ready or not ready), timeout
            )
            if not found or self._view is None:
                raise TimeoutError("no dialog appeared")
            return self._view

    def wait_closed(self, timeout: float = 10.0) -> bool:
        with self._view_changed:
            return self._view_changed.wait_for(lambda: self._view is None, timeout)

    # --- the provider ----------------------------------------------------------------------

    def approve_origin(self, request: OriginApproval, cancel: threading.Event) -> bool:
        return self._run(_Job("approve", request, cancel)) is True

    def consent(self, request: ConsentRequest, cancel: threading.Event) -> bool:
        return self._run(_Job("consent", request, cancel)) is True

    def ask_pin(self, request: PinRequest, cancel: threading.Event) -> str | None:
        result = self._run(_Job("pin", request, cancel))
        return result if isinstance(result, str) else None

    @contextlib.contextmanager
    def pinpad_prompt(self, request: PinRequest, cancel: threading.Event) -> Iterator[None]:
        self._check_platform()
        if cancel.is_set():
            yield
            return
        job = _Job("pinpad", request, cancel)
        thread = self._submit(job)
        self._wait(job.shown, thread)
        if job.error is not None:
            raise job.error
        try:
            yield
        finally:
            job.close.set()
            self._wait(job.done, thread)


class _Dialog:
    """One dialog window; lives in the UI thread only."""

    def __init__(self, ui: TkUI, root: tkinter.Tk, job: _Job, stop: threading.Event) -> None:
        self.ui, self.root, self.job, self.stop = ui, root, job, stop
        self.result: Answer = job.refusal
        self.finished = False
        self.ready = False
        self.ok_enabled = False
        self.pin_length = 0
        self.parts: dict[str, Shown] = {}
        self.labels: list[ttk.Label] = []
        self.entry: ttk.Entry | None = None
        self.ok: ttk.Button | None = None
        self.buttons: list[ttk.Button] = []
        self.timer: str | None = None
        self.window = 0
        self.deadline = time.monotonic() + (ui.timeout if ui.timeout > 0 else math.inf)
        request = job.request
        assert request is not None
        self.language = request.language
        self._fonts()
        self._window(request)
        self._build(request)
        self._place()

    # --- set-up ----------------------------------------------------------------------------

    def _fonts(self) -> None:
        family = tkfont.nametofont("TkDefaultFont", root=self.root).actual("family")
        mono = tkfont.nametofont("TkFixedFont", root=self.root).actual("family")
        self.styles: dict[str, tuple[tuple[str, int, str], str]] = {
            "heading": ((family, 12, "bold"), INK),
            "small": ((family, 9, "normal"), MUTED),
            "scheme": ((family, 13, "normal"), MUTED),
            "host": ((family, 20, "bold"), ORIGIN_INK),
            "port": ((family, 20, "normal"), ORIGIN_INK),
            "body": ((family, 10, "normal"), INK),
            "mono": ((mono, 9, "normal"), "#333333"),
            "error": ((family, 10, "normal"), DANGER),
            "warning": ((family, 10, "bold"), DANGER),
            "pinpad": ((family, 13, "bold"), INK),
        }
        self.entry_font = (family, 16, "normal")
        style = ttk.Style(self.root)
        with contextlib.suppress(tkinter.TclError):
            style.theme_use("clam")
        style.configure("TFrame", background=BACKGROUND)
        style.configure("TLabel", background=BACKGROUND)
        style.configure("Box.TFrame", background=BOX)
        style.configure("Box.TLabel", background=BOX)
        style.configure("TButton", padding=(14, 4))
        style.configure("TEntry", padding=(6, 4))

    def _window(self, request: OriginApproval | ConsentRequest | PinRequest) -> None:
        root = self.root
        root.withdraw()
        if isinstance(request, OriginApproval):
            title = text("title.approve", self.language)
        else:
            title = operation_text("title", request.operation, self.language)
        self.heading = title
        self.title = f"{title} – {text('app', self.language)}"
        root.title(self.title)
        root.resizable(False, False)
        root.configure(background=BACKGROUND)
        with contextlib.suppress(tkinter.TclError):
            root.attributes("-type", "dialog")  # X11: a dialog for the window manager
        if self.ui.topmost:
            with contextlib.suppress(tkinter.TclError):
                root.attributes("-topmost", True)
        root.protocol("WM_DELETE_WINDOW", self._refuse)
        root.report_callback_exception = self._callback_failed
        root.bind("<Return>", self._on_return)
        root.bind("<KP_Enter>", self._on_return)
        root.bind("<Escape>", self._on_escape)
        root.bind("<Map>", self._on_map)

    def _label(
        self,
        parent: tkinter.Misc,
        name: str,
        value: str,
        role: str,
        *,
        boxed: bool = False,
        wrap: int | None = None,
        **pack: object,
    ) -> ttk.Label:
        """A label showing ``value`` as plain text; ``wrap=None``: a paragraph, wrapped at
        the dialog's width."""
        font, color = self.styles[role]
        style = "Box.TLabel" if boxed else "TLabel"
        label = ttk.Label(
            parent,
            text=value,
            font=font,
            foreground=color,
            style=style,
            wraplength=WRAP if wrap is None else wrap,
            justify="left",
        )
        label.pack(**{"anchor": "w", **pack})  # type: ignore[arg-type]
        if wrap is None:
            self.labels.append(label)
        shown = str(label.cget("text"))
        self.parts[name] = Shown(shown, font[2] == "bold", color)
        return label

    def _build(self, request: OriginApproval | ConsentRequest | PinRequest) -> None:
        language = self.language
        stripe = ttk.Frame(self.root)
        stripe.pack(fill="x")
        for color in STRIPE:
            tkinter.Frame(stripe, background=color, height=5).pack(
                side="left", fill="x", expand=True
            )
        body = ttk.Frame(self.root, padding=(22, 16, 22, 16))
        body.pack(fill="both", expand=True)
        self.body = body

        top = ttk.Frame(body)
        top.pack(fill="x")
        self._label(top, "heading", self.heading, "heading", side="left")
        self._label(top, "app", text("app", language), "small", wrap=0, side="right", anchor="n")
        self._label(body, "site", text("site", language), "small", pady=(10, 0))
        origin = split_origin(request.origin)
        self._fit_origin(origin.host + origin.port)
        row = ttk.Frame(body)
        row.pack(anchor="w", pady=(0, 4))
        if origin.scheme:
            self._label(
                row, "scheme", origin.scheme, "scheme", wrap=0, side="left", anchor="s", pady=(0, 3)
            )
        self._label(row, "host", origin.host, "host", wrap=ORIGIN_WIDTH, side="left", anchor="s")
        if origin.port:
            self._label(row, "port", origin.port, "port", wrap=0, side="left", anchor="s")
        self.parts["origin"] = Shown(origin.full, True, ORIGIN_INK)

        if isinstance(request, OriginApproval):
            question = text("approve.question", language, origin=origin.full)
            self._label(body, "ask", question, "body", pady=(4, 2))
            self._label(body, "revoke", text("approve.revoke", language), "small")
        else:
            self._label(body, "ask", operation_text("ask", request.operation, language), "body")
            self._describe(body, request)
        if isinstance(request, PinRequest):
            self._pin_part(body, request)
        self._buttons(body)

    def _fit_origin(self, host: str) -> None:
        """The largest origin size (20 to 12 points) at which the host fits on one line; a
        host that does not fit even then wraps."""
        (family, _, _), color = self.styles["host"]
        for size in (20, 18, 16, 14, 12):
            width = int(self.root.tk.call("font", "measure", (family, size, "bold"), host))
            if width <= ORIGIN_WIDTH:
                break
        self.styles["host"] = ((family, size, "bold"), color)
        self.styles["port"] = ((family, size, "normal"), color)

    def _describe(self, body: ttk.Frame, request: ConsentRequest | PinRequest) -> None:
        language = self.language
        if request.operation is Operation.SIGN:
            self._label(body, "legal", text("sign.legal", language), "small", pady=(2, 0))
        label = clean_label(request.label)
        digest = group_digest(request.digest_hex)
        if label or digest:
            box = ttk.Frame(body, style="Box.TFrame", padding=(10, 8))
            box.pack(fill="x", pady=(10, 0))
            if label:
                caption = text("label", language)
                self._label(box, "label_caption", caption, "small", boxed=True, pady=(0, 2))
                self._label(box, "label", label, "body", boxed=True)
            if digest:
                caption = text("digest", language)
                top = 8 if label else 0
                self._label(box, "digest_caption", caption, "small", boxed=True, pady=(top, 2))
                self._label(box, "digest", digest, "mono", boxed=True)
        if isinstance(request, ConsentRequest) and request.holder:
            holder = clean_label(request.holder, 80, 1)
            self._label(
                body, "holder", text("holder", language, holder=holder), "body", pady=(8, 0)
            )

    def _pin_part(self, body: ttk.Frame, request: PinRequest) -> None:
        language = self.language
        part = ttk.Frame(body)
        part.pack(fill="x", pady=(14, 0))
        if request.previous_error:
            self._label(part, "previous_error", clean_label(request.previous_error), "error")
        if request.pinpad:
            self._label(part, "pinpad", text("pin.pinpad", language), "pinpad", pady=(6, 6))
        else:
            row = ttk.Frame(part)
            row.pack(anchor="w", pady=(6, 2))
            self._label(
                row, "pin_prompt", text("pin.prompt", language), "body", side="left", padx=(0, 10)
            )
            check = (self.root.register(self._pin_edit), "%P")
            entry = ttk.Entry(
                row,
                show="•",
                width=14,
                font=self.entry_font,
                validate="key",
                validatecommand=check,
            )
            entry.pack(side="left")
            entry.state(["disabled"])
            self.entry = entry
            self._label(part, "hint", text("pin.hint", language), "small")
        if request.tries_left is not None:
            tries = text("pin.tries_left", language, n=request.tries_left)
            self._label(part, "tries_left", tries, "body", pady=(6, 0))
        if request.last_try:
            self._label(part, "last_try", text("pin.last_try", language), "warning", pady=(2, 0))

    def _buttons(self, body: ttk.Frame) -> None:
        if self.job.kind == "pinpad":
            return
        language = self.language
        row = ttk.Frame(body)
        row.pack(fill="x", pady=(18, 0))
        if self.job.kind == "pin":
            no, yes = text("button.cancel", language), text("button.ok", language)
        else:
            no, yes = text("button.deny", language), text("button.allow", language)
        self.ok = ttk.Button(row, text=yes, command=self._accept, default="active")
        self.ok.pack(side="right")
        cancel = ttk.Button(row, text=no, command=self._refuse)
        cancel.pack(side="right", padx=(0, 8))
        self.buttons = [self.ok, cancel]
        self.parts["button_ok"] = Shown(yes, False, INK)
        self.parts["button_cancel"] = Shown(no, False, INK)
        for button in self.buttons:
            button.state(["disabled"])

    def _place(self) -> None:
        root = self.root
        root.update_idletasks()
        # Paragraphs wrap at the width the widest line (often the origin) gives the window.
        widest = max((child.winfo_reqwidth() for child in self.body.winfo_children()), default=0)
        wrap = max(WRAP, widest)
        for label in self.labels:
            label.configure(wraplength=wrap)
        root.update_idletasks()
        width, height = root.winfo_reqwidth(), root.winfo_reqheight()
        x = max(0, (root.winfo_screenwidth() - width) // 2)
        y = max(0, (root.winfo_screenheight() - height) // 3)
        root.geometry(f"+{x}+{y}")
        root.deiconify()
        root.lift()
        self.timer = root.after(self._poll_ms, self._tick)
        # A PIN-pad caller may start the reader now (not only once the window manager has
        # mapped the window, which a misbehaving one might never do).
        self.job.shown.set()

    # --- life ------------------------------------------------------------------------------

    @property
    def _poll_ms(self) -> int:
        return max(10, int(self.ui.poll * 1000))

    def _on_map(self, event: tkinter.Event[tkinter.Misc]) -> None:
        if event.widget is not self.root or self.window:
            return
        self.window = int(self.root.wm_frame(), 16)
        self.root.focus_force()
        if self.entry is not None:
            self.entry.focus_set()
        elif self.ok is not None:
            self.ok.focus_set()
        self.root.after(max(0, int(self.ui.input_delay * 1000)), self._make_ready)
        self._publish()

    def _make_ready(self) -> None:
        if self.finished:
            return
        self.ready = True
        if self.entry is not None:
            self.entry.state(["!disabled"])
            self.entry.focus_set()
        for button in self.buttons:
            button.state(["!disabled"])
        self._update_ok()

    def _update_ok(self) -> None:
        enabled = self.ready and (self.entry is None or self.pin_length >= PIN_MIN)
        self.ok_enabled = enabled and self.ok is not None
        if self.ok is not None:
            self.ok.state(["!disabled"] if enabled else ["disabled"])
        self._publish()

    def _publish(self) -> None:
        if self.window and not self.finished:
            self.ui._set_view(
                DialogView(
                    self.job.kind,
                    self.title,
                    self.window,
                    dict(self.parts),
                    self.ready,
                    self.ok_enabled,
                    self.pin_length,
                )
            )

    def _tick(self) -> None:
        self.timer = None
        if self.finished:
            return
        job = self.job
        if (
            job.cancel.is_set()
            or job.close.is_set()
            or self.stop.is_set()
            or time.monotonic() >= self.deadline
        ):
            self._finish(job.refusal)
            return
        self.timer = self.root.after(self._poll_ms, self._tick)

    def _finish(self, result: Answer) -> None:
        if self.finished:
            return
        self.finished = True
        self.result = result
        if self.timer is not None:
            self.root.after_cancel(self.timer)
            self.timer = None
        self.root.withdraw()
        self.root.quit()

    def dispose(self) -> None:
        """Break the references between this object and Tk's (the caller destroys the root
        next), so that both are freed at once, in the UI thread."""
        self.root.__dict__.pop("report_callback_exception", None)
        self.entry = self.ok = None
        self.buttons = []
        self.labels = []

    # --- input -----------------------------------------------------------------------------

    def _pin_edit(self, proposed: str) -> bool:
        """Tk's key validation: digits only, at most 12; anything else is ignored."""
        if len(proposed) > PIN_MAX or not set(proposed) <= DIGITS:
            return False
        self.pin_length = len(proposed)
        self._update_ok()
        return True

    def _accept(self) -> None:
        if not self.ready or self.finished:
            return
        if self.entry is None:
            if self.job.kind in ("approve", "consent"):
                self._finish(True)
            return
        pin = self.entry.get()
        if not (PIN_MIN <= len(pin) <= PIN_MAX and set(pin) <= DIGITS):
            self.root.bell()
            return
        self.entry.delete(0, "end")  # the PIN leaves the widget as soon as it is read
        self._finish(pin)

    def _refuse(self) -> None:
        if self.job.kind != "pinpad":
            self._finish(self.job.refusal)

    def _on_return(self, event: tkinter.Event[tkinter.Misc]) -> str:
        focused = self.root.focus_get()
        if self.ready and focused in self.buttons and focused is not self.ok:
            self._refuse()  # Enter on a focused Cancel/Deny means that button
        else:
            self._accept()
        return "break"

    def _on_escape(self, event: tkinter.Event[tkinter.Misc]) -> str:
        self._refuse()
        return "break"

    def _callback_failed(
        self, kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        log.error("error in the %s dialog", self.job.kind, exc_info=(kind, error, trace))
        self._finish(self.job.refusal)


def tk_available(screen: str | None = None) -> bool:
    """True when Tk can open a window on ``screen`` (or ``$DISPLAY``)."""
    ui = TkUI(screen=screen)
    try:
        ui.probe()
    except UiUnavailable:
        return False
    finally:
        ui.close()
    return True
