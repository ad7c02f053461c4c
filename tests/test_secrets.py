"""``bridge.secrets`` against a real OS keyring: GNOME Keyring's Secret Service on a private
D-Bus session bus, reached through keyring's own SecretService backend (secretstorage).

:func:`running_secret_service` starts the two daemons the way a desktop session does
(``dbus-daemon`` for the session bus, ``gnome-keyring-daemon --unlock`` fed a password on
stdin, which creates and unlocks the "login" collection), with every directory of theirs
under a temporary root, and points this process at them only for as long as it runs.
``tests/service/test_certcache.py`` uses it too.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import pytest
import secretstorage
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, fail, null
from keyring.compat import properties
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

from bridge import secrets

KEYRING_PASSWORD = b"eid-bridge-tests-login-password"

# A session bus without service activation: only the daemons the test started answer, so
# nothing is ever launched against the real $HOME.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceMissing(RuntimeError):
    pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _secret_service_owned() -> bool:
    """Whether a process owns org.freedesktop.secrets on the bus in DBUS_SESSION_BUS_ADDRESS
    (the bus has no activation, so "available" means "running")."""
    try:
        connection = secretstorage.dbus_init()
    except secretstorage.exceptions.SecretServiceNotAvailableException:
        return False
    try:
        return secretstorage.check_service_availability(connection)
    finally:
        connection.close()


def redetect_keyring() -> KeyringBackend:
    """Make keyring choose its backend again, as a fresh process would."""
    # keyring remembers which backends were viable (jaraco.functools.once): forget it.
    with contextlib.suppress(AttributeError):
        delattr(keyring.backend.get_all_keyring, "saved_result")
    keyring.core.init_backend()
    return keyring.get_keyring()


@contextlib.contextmanager
def running_secret_service(root: Path) -> Iterator[dict[str, str]]:
    """Start a session bus and GNOME Keyring under ``root``; while inside, this process's
    DBUS_SESSION_BUS_ADDRESS points at them and keyring's detected backend is the Secret
    Service. Yields the daemons' environment (for ``secret-tool``)."""
    dbus_daemon = shutil.which("dbus-daemon")
    keyring_daemon = shutil.which("gnome-keyring-daemon")
    if dbus_daemon is None:
        raise SecretServiceMissing("dbus-daemon is not installed (Debian package 'dbus-daemon')")
    if keyring_daemon is None:
        raise SecretServiceMissing(
            "gnome-keyring-daemon is not installed (Debian package 'gnome-keyring')"
        )
    home, runtime = root / "home", root / "run"
    for directory in (home, runtime):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    socket = runtime / "bus"
    config = root / "session-bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
    }
    log_file = (root / "daemons.log").open("wb")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bus = subprocess.Popen(
            [dbus_daemon, f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=env,
        )
        processes.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()  # printed once the bus listens
        if not address:
            raise SecretServiceMissing(f"dbus-daemon did not start (see {root}/daemons.log)")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.Popen(
            [keyring_daemon, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=log_file,
            env=env,
        )
        processes.append(daemon)
        assert daemon.stdin is not None
        daemon.stdin.write(KEYRING_PASSWORD)  # --unlock reads the login password to EOF
        daemon.stdin.close()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
            # Neither an environment variable nor the user's keyringrc may pick the backend.
            patch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
            patch.setenv("XDG_CONFIG_HOME", str(root / "test-process-config"))
            deadline = time.monotonic() + 10
            while not _secret_service_owned():
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise SecretServiceMissing(
                        f"gnome-keyring-daemon did not take the bus (see {root}/daemons.log)"
                    )
                time.sleep(0.05)
            previous = keyring.get_keyring()
            try:
                chosen = redetect_keyring()
                if not isinstance(chosen, SecretService.Keyring):
                    raise SecretServiceMissing(f"keyring chose {type(chosen).__name__}")
                yield dict(env)
            finally:
                keyring.set_keyring(previous)
                # The next detection must not remember this bus as viable.
                with contextlib.suppress(AttributeError):
                    delattr(keyring.backend.get_all_keyring, "saved_result")
    finally:
        for process in reversed(processes):
            _stop(process)
        if processes and processes[0].stdout is not None:
            processes[0].stdout.close()
        log_file.close()


@contextlib.contextmanager
def secret_service_or_skip(root: Path) -> Iterator[dict[str, str]]:
    """:func:`running_secret_service`, skipping (failing on CI) when it cannot start."""
    with contextlib.ExitStack() as stack:
        try:
            env = stack.enter_context(running_secret_service(root))
        except SecretServiceMissing as exc:
            if os.environ.get("CI"):
                pytest.fail(f"CI must run the keyring tests: {exc}")
            pytest.skip(str(exc))
        yield env


@contextlib.contextmanager
def keyring_backend_set(backend: KeyringBackend) -> Iterator[None]:
    """Use ``backend`` for the duration, then restore the backend in use before."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service_or_skip(tmp_path_factory.mktemp("secret-service")) as env:
        yield env


@pytest.fixture(autouse=True)
def log_unavailable_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the "no keyring" message as a fresh process would."""
    monkeypatch.setattr(secrets, "_unavailable_logged", False)


@pytest.fixture
def key_name(secret_service: dict[str, str]) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex}"
    yield name
    secrets.delete_key(name)


def secret_tool_lookup(env: dict[str, str], name: str) -> str | None:
    """What libsecret's own client (not Python) finds in the keyring for ``name``."""
    tool = shutil.which("secret-tool")
    if tool is None:
        pytest.skip("secret-tool is not installed (Debian package 'libsecret-tools')")
    result = subprocess.run(
        [tool, "lookup", "service", secrets.SERVICE, "username", name],
        env=env,
        capture_output=True,
        timeout=10,
        check=False,
    )
    return result.stdout.decode() if result.returncode == 0 else None


# --- fake backends for the failure paths -----------------------------------------------------
# Their priority raises, so keyring never considers them when it detects a backend.


class _TestBackend(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test backend, never detected")

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("test backend stores nothing")

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("test backend holds nothing")


class LockedBackend(_TestBackend):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection stays locked")


class ReadOnlyBackend(_TestBackend):
    pass


class ExplodingBackend(_TestBackend):
    def get_password(self, service: str, username: str) -> str | None:
        raise ConnectionResetError("D-Bus went away")

    def delete_password(self, service: str, username: str) -> None:
        raise ConnectionResetError("D-Bus went away")


class PlaintextKeyring(_TestBackend):
    """Stands for keyrings.alt's plaintext file backend, which must be refused."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


def instance(kind: type[KeyringBackend]) -> KeyringBackend:
    """Through ``type[...]``: a direct call trips mypy on keyring's unannotated __init__."""
    return kind()


# --- with the real Secret Service -------------------------------------------------------------


def test_keyring_chooses_the_secret_service(secret_service: dict[str, str]) -> None:
    backend = secrets.keyring_backend()
    assert isinstance(backend, SecretService.Keyring)
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == secret_service["DBUS_SESSION_BUS_ADDRESS"]


def test_key_is_created_once_and_reused(secret_service: dict[str, str], key_name: str) -> None:
    first = secrets.get_or_create_key(key_name)
    again = secrets.get_or_create_key(key_name)
    assert first is not None
    assert len(first) == secrets.DEFAULT_KEY_SIZE
    assert again == first
    # The key is in GNOME Keyring, as libsecret's own client sees it.
    assert secret_tool_lookup(secret_service, key_name) == base64.b64encode(first).decode()
    assert keyring.get_password(secrets.SERVICE, key_name) == base64.b64encode(first).decode()


def test_keys_are_random_and_sized(key_name: str) -> None:
    other = f"{key_name}-other"
    try:
        short = secrets.get_or_create_key(other, size=16)
        assert short is not None
        assert len(short) == 16
        assert secrets.get_or_create_key(key_name) != short
    finally:
        secrets.delete_key(other)


def test_a_value_that_is_no_key_is_replaced(
    key_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.set_password(secrets.SERVICE, key_name, "not base64 at all!")
    with caplog.at_level(logging.WARNING, logger="bridge.secrets"):
        key = secrets.get_or_create_key(key_name)
    assert key is not None
    assert len(key) == 32
    assert keyring.get_password(secrets.SERVICE, key_name) == base64.b64encode(key).decode()
    assert "holds no valid key" in caplog.text
    assert "not base64" not in caplog.text
    # A key of another size is no key of this size either.
    with caplog.at_level(logging.WARNING, logger="bridge.secrets"):
        longer = secrets.get_or_create_key(key_name, size=48)
    assert longer is not None
    assert len(longer) == 48


def test_delete_key(secret_service: dict[str, str], key_name: str) -> None:
    first = secrets.get_or_create_key(key_name)
    assert secrets.delete_key(key_name) is True
    assert secret_tool_lookup(secret_service, key_name) is None
    assert secrets.delete_key(key_name) is False
    second = secrets.get_or_create_key(key_name)
    assert second is not None
    assert second != first


def test_key_is_never_logged(key_name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        key = secrets.get_or_create_key(key_name)
        secrets.get_or_create_key(key_name)
    assert key is not None
    text = caplog.text
    assert base64.b64encode(key).decode() not in text
    assert key.hex() not in text


def test_arguments_are_checked(secret_service: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="name"):
        secrets.get_or_create_key("")
    with pytest.raises(ValueError, match="16 bytes"):
        secrets.get_or_create_key("short", size=8)


# --- without a usable keyring -----------------------------------------------------------------


@pytest.mark.parametrize("kind", [fail.Keyring, null.Keyring, PlaintextKeyring])
def test_no_usable_keyring_gives_no_key(
    kind: type[KeyringBackend], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        keyring_backend_set(instance(kind)),
        caplog.at_level(logging.INFO, logger="bridge.secrets"),
    ):
        assert secrets.keyring_backend() is None
        assert secrets.get_or_create_key("certificate-cache") is None
        assert secrets.get_or_create_key("certificate-cache") is None
        assert secrets.delete_key("certificate-cache") is False
    records = [r for r in caplog.records if r.name == "bridge.secrets"]
    assert len(records) == 1, "logged once per process"
    assert records[0].levelno == logging.INFO
    assert "no usable OS keyring" in records[0].getMessage()


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (LockedBackend, "KeyringLocked"),
        (ReadOnlyBackend, "PasswordSetError"),
        (ExplodingBackend, "ConnectionResetError"),
    ],
)
def test_a_failing_keyring_gives_no_key(
    kind: type[KeyringBackend], error: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        keyring_backend_set(instance(kind)),
        caplog.at_level(logging.INFO, logger="bridge.secrets"),
    ):
        assert secrets.get_or_create_key("certificate-cache") is None
        assert secrets.delete_key("certificate-cache") is False
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(messages) == 1
    assert error in messages[0]
    # The backend's own message is not repeated (it could quote what it was given).
    assert "D-Bus went away" not in caplog.text
    assert "stays locked" not in caplog.text
