"""One tray per user session.

The first instance holds an exclusive lock on ``tray.lock`` in the runtime directory (the
OS releases it when the process dies, so a crash leaves nothing stale) and listens on a
local socket: ``tray.sock`` (AF_UNIX) on Linux and macOS, a loopback TCP port written into
``tray.port`` on Windows. A second launch fails to take the lock, sends ``show`` to the
first (which tells the user its status) and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import platformdirs

log = logging.getLogger(__name__)

COMMANDS = frozenset({"show", "quiet"})
"""``show``: tell the user the status; ``quiet``: started at login again, nothing to show."""


def runtime_dir() -> Path:
    override = os.environ.get("EID_BRIDGE_RUNTIME_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_runtime_dir("eid-bridge", ensure_exists=False))


def _lock(handle: IO[bytes]) -> bool:
    try:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class SingleInstance:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or runtime_dir()
        self._handle: IO[bytes] | None = None
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def lock_path(self) -> Path:
        return self.directory / "tray.lock"

    @property
    def socket_path(self) -> Path:
        return self.directory / "tray.sock"

    @property
    def port_path(self) -> Path:
        return self.directory / "tray.port"

    def acquire(self) -> bool:
        """True when this process is the one instance."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = self.lock_path.open("a+b")
        if not _lock(handle):
            handle.close()
            return False
        self._handle = handle
        return True

    def serve(self, on_command: Callable[[str], None]) -> None:
        """Answer later launches on a background thread."""
        assert self._handle is not None, "acquire() first"
        if hasattr(socket, "AF_UNIX"):
            # A socket left by a crashed instance: we hold the lock, so it is dead.
            self.socket_path.unlink(missing_ok=True)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(self.socket_path))
            os.chmod(self.socket_path, 0o600)
        else:  # pragma: no cover - Windows
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("127.0.0.1", 0))
            self.port_path.write_text(str(server.getsockname()[1]), "ascii")
        server.listen(4)
        self._server = server
        self._thread = threading.Thread(
            target=self._accept, args=(server, on_command), name="tray-instance", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _accept(server: socket.socket, on_command: Callable[[str], None]) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed by release()
                return
            with connection:
                connection.settimeout(2)
                try:
                    command = connection.recv(64).decode("ascii", "replace").strip()
                except OSError:
                    continue
                if command not in COMMANDS:
                    with contextlib.suppress(OSError):
                        connection.sendall(b"unknown\n")
                    continue
                with contextlib.suppress(OSError):
                    connection.sendall(b"ok\n")
                try:
                    on_command(command)
                except Exception:  # a failing handler must not end the listener
                    log.exception("handling '%s' from a second launch failed", command)

    def release(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        if self._handle is not None:
            self._handle.close()  # closing releases the lock
            self._handle = None


def hand_over(directory: Path | None = None, command: str = "show", timeout: float = 3) -> bool:
    """Send ``command`` to the running instance; True when it acknowledged."""
    directory = directory or runtime_dir()
    try:
        if hasattr(socket, "AF_UNIX"):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = str(directory / "tray.sock")
        else:  # pragma: no cover - Windows
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = ("127.0.0.1", int((directory / "tray.port").read_text("ascii")))
        with client:
            client.settimeout(timeout)
            client.connect(address)
            client.sendall(command.encode("ascii") + b"\n")
            return client.recv(16).strip() == b"ok"
    except (OSError, ValueError):
        return False
