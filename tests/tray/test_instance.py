"""One tray per session: the lock, the hand-over to the running instance."""

from __future__ import annotations

import threading
from pathlib import Path

from bridge.tray.instance import SingleInstance, hand_over


def test_second_instance_hands_over(tmp_path: Path) -> None:
    first = SingleInstance(tmp_path / "run")
    assert first.acquire()
    received: list[str] = []
    got = threading.Event()

    def on_command(command: str) -> None:
        received.append(command)
        got.set()

    first.serve(on_command)
    second = SingleInstance(tmp_path / "run")
    assert not second.acquire()
    assert hand_over(tmp_path / "run", "show")
    assert got.wait(5)
    assert received == ["show"]
    assert not hand_over(tmp_path / "run", "format-disk")  # only known commands
    assert received == ["show"]
    first.release()
    assert not (tmp_path / "run" / "tray.sock").exists()
    assert not hand_over(tmp_path / "run", "show")  # nobody listens any more
    assert second.acquire()  # the lock went with the first
    second.release()


def test_a_failing_handler_keeps_the_listener(tmp_path: Path) -> None:
    instance = SingleInstance(tmp_path)
    assert instance.acquire()
    calls: list[str] = []

    def handler(command: str) -> None:
        calls.append(command)
        raise RuntimeError("boom")

    instance.serve(handler)
    try:
        assert hand_over(tmp_path, "show")
        assert hand_over(tmp_path, "quiet")
    finally:
        instance.release()
    assert calls == ["show", "quiet"]


def test_stale_socket_of_a_crashed_instance(tmp_path: Path) -> None:
    (tmp_path / "tray.sock").write_text("left by a crash")
    instance = SingleInstance(tmp_path)
    assert instance.acquire()
    instance.serve(lambda command: None)
    try:
        assert hand_over(tmp_path, "show")
    finally:
        instance.release()
