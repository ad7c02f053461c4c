"""The per-card certificate cache with real parts: certificates read from a virtual card
(applet 1.8) and keys kept in GNOME Keyring's Secret Service on a private session bus
(see ``tests/test_secrets.py``)."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from cryptography import x509
from keyring.backends import fail

from bridge import secrets
from bridge.card.session import CardCertificates
from bridge.config import Settings
from bridge.service import certcache
from bridge.service.certcache import KEY_NAME, CertificateCache
from tests.conftest import InProcessCard
from tests.test_secrets import instance, keyring_backend_set, secret_service_or_skip

# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service_or_skip(tmp_path_factory.mktemp("secret-service")) as env:
        yield env


@dataclasses.dataclass(frozen=True)
class ReadCard:
    serial: str
    certificates: CardCertificates
    national_number: str
    surname: str


@pytest.fixture
def card(local_card: Callable[[str], InProcessCard]) -> ReadCard:
    opened = local_card("citizen-1.8")
    session = opened.session
    identity = session.read_identity()
    return ReadCard(
        serial=session.card_data.serial_hex,
        certificates=session.read_certificates(),
        national_number=identity.national_number,
        surname=identity.surname,
    )


@pytest.fixture
def key_factory(secret_service: dict[str, str]) -> Iterator[Callable[[], bytes]]:
    """Keys created in the real keyring under fresh names, deleted afterwards."""
    names: list[str] = []

    def create() -> bytes:
        name = f"test-cache-{uuid.uuid4().hex}"
        names.append(name)
        key = secrets.get_or_create_key(name)
        assert key is not None
        return key

    yield create
    for name in names:
        secrets.delete_key(name)


@pytest.fixture
def key(key_factory: Callable[[], bytes]) -> bytes:
    return key_factory()


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "certificates"


@pytest.fixture
def cache(directory: Path, key: bytes) -> CertificateCache:
    return CertificateCache(directory, key)


def entry_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def other_serial(index: int) -> str:
    return f"{index:032X}"


# --- the key lives in the OS keyring ---------------------------------------------------------


def test_key_created_once_and_reused_across_instances(
    secret_service: dict[str, str], tmp_path: Path, card: ReadCard
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    assert keyring.get_password(secrets.SERVICE, KEY_NAME) is None
    try:
        first = CertificateCache.for_settings(settings)
        assert first.enabled
        assert first.directory == tmp_path / "cache" / "certificates"
        stored = keyring.get_password(secrets.SERVICE, KEY_NAME)
        assert stored is not None
        assert len(base64.b64decode(stored)) == 32
        first.put(card.serial, card.certificates)

        second = CertificateCache.for_settings(settings)
        assert keyring.get_password(secrets.SERVICE, KEY_NAME) == stored, "not created again"
        assert second.get(card.serial) == card.certificates
    finally:
        secrets.delete_key(KEY_NAME)
    # A new key (the keyring entry was lost): old files are unreadable, never wrongly read.
    try:
        third = CertificateCache.for_settings(settings)
        assert third.enabled
        assert third.get(card.serial) is None
    finally:
        secrets.delete_key(KEY_NAME)


@pytest.mark.parametrize("kind", [fail.Keyring, None], ids=["fail-backend", "no-key"])
def test_without_a_keyring_the_cache_is_disabled_and_writes_nothing(
    kind: type[keyring.backend.KeyringBackend] | None,
    tmp_path: Path,
    card: ReadCard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secrets, "_unavailable_logged", False)
    settings = Settings(cache_dir=tmp_path / "cache")
    if kind is None:
        cache = CertificateCache(settings.cache_dir / "certificates", None)
    else:
        with keyring_backend_set(instance(kind)):
            cache = CertificateCache.for_settings(settings)
    assert not cache.enabled
    cache.put(card.serial, card.certificates)
    assert cache.get(card.serial) is None
    cache.forget(card.serial)
    cache.clear()
    assert not settings.cache_dir.exists(), "a disabled cache writes nothing"
    assert "enabled=False" in repr(cache)


# --- round trip and confidentiality ----------------------------------------------------------


def test_round_trip_of_a_cards_certificates(cache: CertificateCache, card: ReadCard) -> None:
    assert cache.get(card.serial) is None
    cache.put(card.serial, card.certificates)
    got = cache.get(card.serial)
    assert got == card.certificates
    assert got is not None
    for der in (got.authentication, got.signature, got.ca, got.root, got.rrn):
        assert der is not None
        x509.load_der_x509_certificate(der)
    # Serials are hex: the case does not matter.
    assert cache.get(card.serial.lower()) == card.certificates


def test_round_trip_without_authentication_and_signature_certificates(
    cache: CertificateCache, card: ReadCard
) -> None:
    kids = dataclasses.replace(card.certificates, authentication=None, signature=None)
    cache.put(card.serial, kids)
    assert cache.get(card.serial) == kids
    # Replacing an entry keeps one file per card.
    cache.put(card.serial, card.certificates)
    assert cache.get(card.serial) == card.certificates
    assert len(entry_files(cache.directory)) == 1


def _forbidden(card: ReadCard) -> dict[str, bytes]:
    forbidden: dict[str, bytes] = {}
    texts = {
        "national number": card.national_number,
        "surname": card.surname,
        "serial": card.serial,
    }
    for label, text in texts.items():
        for variant in {text, text.upper(), text.lower()}:
            raw = variant.encode("utf-8")
            forbidden[f"{label} {variant!r}"] = raw
            forbidden[f"{label} {variant!r} base64"] = base64.b64encode(raw)
            forbidden[f"{label} {variant!r} hex"] = raw.hex().encode()
    forbidden["serial bytes"] = bytes.fromhex(card.serial)
    for name in ("authentication", "signature", "ca", "root", "rrn"):
        der = getattr(card.certificates, name)
        assert der is not None
        forbidden[f"{name} DER"] = der
        forbidden[f"{name} DER base64"] = base64.b64encode(der)
        # Any 32-byte window of the DER (e.g. its subject) would do as well.
        forbidden[f"{name} DER middle"] = der[len(der) // 2 : len(der) // 2 + 32]
    return forbidden


def test_no_personal_data_or_certificate_in_the_cache_files(
    cache: CertificateCache, card: ReadCard
) -> None:
    cache.put(card.serial, card.certificates)
    files = [p for p in cache.directory.parent.rglob("*") if p.is_file()]
    assert len(files) == 1
    blob = files[0].read_bytes()
    names = " ".join(str(p.relative_to(cache.directory.parent)) for p in files)
    for label, needle in _forbidden(card).items():
        assert needle not in blob, f"{label} is in the cache file"
        assert needle.decode("latin-1").lower() not in names.lower(), f"{label} in a file name"


def test_a_new_nonce_for_every_write(cache: CertificateCache, card: ReadCard) -> None:
    cache.put(card.serial, card.certificates)
    (path,) = entry_files(cache.directory)
    first = path.read_bytes()
    cache.put(card.serial, card.certificates)
    second = path.read_bytes()
    assert first != second
    header = len(certcache.HEADER)
    assert first[header : header + 12] != second[header : header + 12]


def test_file_and_directory_permissions(directory: Path, key: bytes, card: ReadCard) -> None:
    old_umask = os.umask(0o022)
    try:
        directory.mkdir(parents=True, mode=0o755)  # an existing, too open directory
        directory.chmod(0o755)
        cache = CertificateCache(directory, key)
        cache.put(card.serial, card.certificates)
        cache.put(other_serial(1), card.certificates)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = entry_files(directory)
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in directory.iterdir() if p.name.startswith(".")], "no temp file left"


def test_a_new_directory_is_private(directory: Path, key: bytes, card: ReadCard) -> None:
    old_umask = os.umask(0)
    try:
        CertificateCache(directory, key).put(card.serial, card.certificates)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (path,) = entry_files(directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- bad files are misses ---------------------------------------------------------------------


def _assert_miss_and_deleted(
    cache: CertificateCache, serial: str, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bridge.service.certcache"):
        assert cache.get(serial) is None
    assert not path.exists(), "a bad entry is deleted"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert serial not in caplog.text
    assert path.name not in caplog.text, "only a prefix of the file name is logged"


@pytest.mark.parametrize("where", ["magic", "version", "nonce", "ciphertext", "tag"])
def test_a_tampered_file_is_a_miss_and_is_deleted(
    cache: CertificateCache, card: ReadCard, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache.put(card.serial, card.certificates)
    (path,) = entry_files(cache.directory)
    blob = bytearray(path.read_bytes())
    offset = {
        "magic": 0,
        "version": 4,
        "nonce": 5 + 3,
        "ciphertext": len(blob) // 2,
        "tag": len(blob) - 1,
    }[where]
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    _assert_miss_and_deleted(cache, card.serial, path, caplog)
    # The cache goes on working.
    cache.put(card.serial, card.certificates)
    assert cache.get(card.serial) == card.certificates


@pytest.mark.parametrize("keep", [0, 3, 5, 5 + 12, 5 + 12 + 15, -1])
def test_a_truncated_file_is_a_miss_and_is_deleted(
    cache: CertificateCache, card: ReadCard, keep: int, caplog: pytest.LogCaptureFixture
) -> None:
    cache.put(card.serial, card.certificates)
    (path,) = entry_files(cache.directory)
    blob = path.read_bytes()
    path.write_bytes(blob[:keep])
    _assert_miss_and_deleted(cache, card.serial, path, caplog)


def test_garbage_and_oversized_files_are_misses(
    cache: CertificateCache, card: ReadCard, caplog: pytest.LogCaptureFixture
) -> None:
    cache.put(card.serial, card.certificates)
    (path,) = entry_files(cache.directory)
    path.write_bytes(b"\x00" * 1000)
    _assert_miss_and_deleted(cache, card.serial, path, caplog)
    cache.put(card.serial, card.certificates)
    path.write_bytes(path.read_bytes() + b"\x00" * certcache.MAX_FILE_SIZE)
    _assert_miss_and_deleted(cache, card.serial, path, caplog)


def test_a_file_from_another_key_is_a_miss(
    directory: Path,
    key_factory: Callable[[], bytes],
    card: ReadCard,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mine = CertificateCache(directory, key_factory())
    theirs = CertificateCache(directory, key_factory())
    theirs.put(card.serial, card.certificates)
    # Another key names the file differently: a plain miss, the other file is left alone.
    assert mine.get(card.serial) is None
    (their_path,) = entry_files(directory)
    # The same file under the name this key expects: it does not decrypt.
    mine.put(card.serial, card.certificates)
    my_path = next(p for p in entry_files(directory) if p != their_path)
    os.replace(their_path, my_path)
    _assert_miss_and_deleted(mine, card.serial, my_path, caplog)


def test_a_file_is_bound_to_its_card_serial(
    cache: CertificateCache, card: ReadCard, caplog: pytest.LogCaptureFixture
) -> None:
    cache.put(card.serial, card.certificates)
    (card_path,) = entry_files(cache.directory)
    cache.put(other_serial(7), card.certificates)
    other_path = next(p for p in entry_files(cache.directory) if p != card_path)
    os.replace(card_path, other_path)  # one card's entry under another card's name
    _assert_miss_and_deleted(cache, other_serial(7), other_path, caplog)


def test_an_unknown_format_version_is_a_miss(
    cache: CertificateCache, card: ReadCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certcache, "HEADER", certcache.MAGIC + bytes([2]))
    cache.put(card.serial, card.certificates)
    monkeypatch.undo()
    assert cache.get(card.serial) is None
    assert entry_files(cache.directory) == []


# --- forget, clear, eviction -----------------------------------------------------------------


def test_forget_and_clear(cache: CertificateCache, card: ReadCard) -> None:
    for index in range(3):
        cache.put(other_serial(index), card.certificates)
    (cache.directory / ".tmp-left-by-a-crash").write_bytes(b"x")
    (cache.directory / "unrelated.txt").write_bytes(b"x")
    cache.forget(other_serial(1))
    assert cache.get(other_serial(1)) is None
    assert cache.get(other_serial(0)) == card.certificates
    cache.forget(other_serial(1))  # forgetting twice is fine
    assert len(entry_files(cache.directory)) == 3  # two entries + unrelated.txt
    cache.clear()
    assert [p.name for p in cache.directory.iterdir()] == ["unrelated.txt"]
    assert cache.get(other_serial(0)) is None


def test_least_recently_used_card_is_evicted(directory: Path, key: bytes, card: ReadCard) -> None:
    cache = CertificateCache(directory, key, max_entries=3)
    for index in range(3):
        cache.put(other_serial(index), card.certificates)
    assert cache.get(other_serial(0)) == card.certificates  # 0 is now the most recent
    cache.put(other_serial(3), card.certificates)
    assert len(entry_files(directory)) == 3
    assert cache.get(other_serial(1)) is None, "the least recently used card went"
    for index in (0, 2, 3):
        assert cache.get(other_serial(index)) == card.certificates
    # Recency survives a new instance (a restarted daemon): it is kept in the files.
    restarted = CertificateCache(directory, key, max_entries=3)
    restarted.put(other_serial(4), card.certificates)
    assert restarted.get(other_serial(0)) is None
    assert {p.name for p in entry_files(directory)} == {
        restarted._path(other_serial(i)).name for i in (2, 3, 4)
    }


def test_default_bound_and_foreign_files_go_first(
    directory: Path, key_factory: Callable[[], bytes], card: ReadCard
) -> None:
    old = CertificateCache(directory, key_factory())
    old.put(other_serial(99), card.certificates)  # left by a previous key
    cache = CertificateCache(directory, key_factory())
    assert cache.max_entries == certcache.DEFAULT_MAX_ENTRIES == 8
    for index in range(8):
        cache.put(other_serial(index), card.certificates)
    assert len(entry_files(directory)) == 8
    assert old.get(other_serial(99)) is None
    assert all(cache.get(other_serial(i)) == card.certificates for i in range(8))


def test_a_write_failure_is_not_raised(
    tmp_path: Path, key: bytes, card: ReadCard, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    cache = CertificateCache(blocker / "certificates", key)
    with caplog.at_level(logging.WARNING, logger="bridge.service.certcache"):
        cache.put(card.serial, card.certificates)
    assert cache.get(card.serial) is None
    assert "could not write" in caplog.text


def test_repr_and_arguments(directory: Path, key: bytes) -> None:
    cache = CertificateCache(directory, key)
    text = repr(cache)
    assert "enabled=True" in text
    assert key.hex() not in text
    assert repr(key) not in text
    with pytest.raises(ValueError, match="16 bytes"):
        CertificateCache(directory, b"short")
    with pytest.raises(ValueError, match="at least one"):
        CertificateCache(directory, key, max_entries=0)
    with pytest.raises(ValueError, match="serial"):
        cache.get("  ")


# --- threads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_entries", [64, 3])
def test_concurrent_put_and_get(
    directory: Path, key: bytes, card: ReadCard, max_entries: int
) -> None:
    cache = CertificateCache(directory, key, max_entries=max_entries)
    # Each serial has its own content, so a mix-up between cards would show.
    variants = {
        other_serial(i): dataclasses.replace(
            card.certificates, rrn=card.certificates.rrn + bytes([i])
        )
        for i in range(12)
    }
    errors: list[BaseException] = []
    wrong: list[str] = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        try:
            start.wait()
            for round_ in range(25):
                serial = other_serial((offset + round_) % 12)
                cache.put(serial, variants[serial])
                got = cache.get(other_serial((offset * 5 + round_) % 12))
                expected = variants[other_serial((offset * 5 + round_) % 12)]
                if got is not None and got != expected:
                    wrong.append(serial)
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert not wrong
    files = entry_files(directory)
    assert len(files) == min(12, max_entries)
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]
    for serial, expected in variants.items():
        got = cache.get(serial)
        assert got is None or got == expected
    if max_entries >= 12:
        assert all(cache.get(serial) == expected for serial, expected in variants.items())
