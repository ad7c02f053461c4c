"""A virtual X screen (Xvfb) for the dialog tests, and xdotool to type into it.

The tests never set DISPLAY for themselves: the screen is handed to ``TkUI(screen=...)`` and
to the X tools' environment only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

FIRST_DISPLAY = 90


class XMissing(RuntimeError):
    pass


class Xvfb:
    def __init__(self, width: int = 1024, height: int = 768) -> None:
        self.size = f"{width}x{height}x24"
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> Xvfb:
        for tool in ("Xvfb", "xdotool"):
            if shutil.which(tool) is None:
                raise XMissing(f"{tool} is not installed (Debian packages xvfb and xdotool)")
        for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 40):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            process = subprocess.Popen(
                ["Xvfb", f":{number}", "-screen", "0", self.size, "-nolisten", "tcp", "-noreset"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            socket = Path(f"/tmp/.X11-unix/X{number}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process.poll() is None and not socket.exists():
                time.sleep(0.02)
            if process.poll() is None and socket.exists():
                self.process, self.display = process, f":{number}"
                return self
            process.kill()  # lost a race for this number with another X server
            process.wait()
        raise XMissing("no free X display number between :90 and :129")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DISPLAY=self.display)

    def run(self, *command: str, timeout: float = 15) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=True
        )
        return done.stdout

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def find_window(self, title: str) -> int:
        """The window whose title contains ``title``, waiting until it appears."""
        return int(self.xdotool("search", "--sync", "--name", title).split()[0])

    def type(self, keys: str) -> None:
        self.xdotool("type", "--delay", "15", keys)

    def key(self, *names: str) -> None:
        self.xdotool("key", *names)
