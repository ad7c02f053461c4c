"""Keys kept in the OS keyring: Secret Service (GNOME Keyring, KWallet) on Linux, the
Keychain on macOS, the Credential Locker on Windows, through the ``keyring`` library.

A key is random bytes stored base64 under the service ``eid-bridge`` and a name (the
"username" in keyring's terms), created the first time it is asked for.

Without a usable keyring (keyring's ``fail`` or ``null`` backend, a keyrings.alt file
backend, a locked or broken backend) :func:`get_or_create_key` answers ``None`` and the
caller goes without whatever the key protects (the certificate cache runs disabled):
the product never falls back to keeping a key on disk next to the data it protects.
That is logged once per process, at INFO, naming the backend class and the error class,
never a key or an error message (a backend's message might quote what it was given).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import PasswordDeleteError

__all__ = ["DEFAULT_KEY_SIZE", "SERVICE", "delete_key", "get_or_create_key", "keyring_backend"]

log = logging.getLogger(__name__)

SERVICE = "eid-bridge"
DEFAULT_KEY_SIZE = 32
MIN_KEY_SIZE = 16

# keyrings.alt backends that are no keyring for a daemon: the plaintext file keeps the key
# in clear on disk; the encrypted file asks for a password on a terminal the daemon lacks.
_REFUSED_BACKENDS = frozenset(
    {
        "keyrings.alt.file.PlaintextKeyring",
        "keyrings.alt.file.EncryptedKeyring",
    }
)

_lock = threading.Lock()
_unavailable_logged = False


def _report_unavailable(reason: str) -> None:
    global _unavailable_logged
    with _lock:
        if _unavailable_logged:
            return
        _unavailable_logged = True
    log.info("no usable OS keyring (%s): running without the features that need a key", reason)


def _qualified_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def keyring_backend() -> KeyringBackend | None:
    """The keyring backend in use, or ``None`` when it cannot keep a key."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # any backend may fail to load; the product runs without it
        _report_unavailable(f"backend failed to load: {type(exc).__name__}")
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        _report_unavailable(f"backend {_qualified_name(backend)}")
        return None
    if _qualified_name(backend) in _REFUSED_BACKENDS:
        _report_unavailable(f"backend {_qualified_name(backend)} is not accepted")
        return None
    return backend


def _decode(stored: str, size: int) -> bytes | None:
    try:
        key = base64.b64decode(stored.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return key if len(key) == size else None


def get_or_create_key(name: str, *, size: int = DEFAULT_KEY_SIZE) -> bytes | None:
    """The ``size``-byte key called ``name``, created at random on first use; ``None``
    when no usable OS keyring exists or it fails. A stored value that is not a
    ``size``-byte base64 key is replaced (what it protected becomes unreadable)."""
    if not name:
        raise ValueError("a key needs a name")
    if size < MIN_KEY_SIZE:
        raise ValueError(f"a key has at least {MIN_KEY_SIZE} bytes")
    backend = keyring_backend()
    if backend is None:
        return None
    try:
        stored = backend.get_password(SERVICE, name)
        if stored is not None:
            key = _decode(stored, size)
            if key is not None:
                return key
            log.warning("the keyring entry '%s' holds no valid key: replacing it", name)
        backend.set_password(SERVICE, name, base64.b64encode(os.urandom(size)).decode("ascii"))
        # Read back: when two processes create the key at once, both use the one that stayed.
        stored = backend.get_password(SERVICE, name)
    except Exception as exc:  # locked, dismissed prompt, D-Bus gone, backend bug...
        _report_unavailable(f"{_qualified_name(backend)} failed: {type(exc).__name__}")
        return None
    return None if stored is None else _decode(stored, size)


def delete_key(name: str) -> bool:
    """Remove the key called ``name``; ``True`` if the keyring held it. Never raises for a
    missing key or an unusable keyring."""
    backend = keyring_backend()
    if backend is None:
        return False
    try:
        backend.delete_password(SERVICE, name)
    except PasswordDeleteError:
        return False
    except Exception as exc:  # same reasoning as in get_or_create_key
        log.warning("could not delete the keyring entry '%s' (%s)", name, type(exc).__name__)
        return False
    return True
