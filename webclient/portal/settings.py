"""The portal's one settings object: defaults, then environment variables ``PORTAL_<FIELD>``.

Every process behind the load balancer reads the same values (database, secret key), which
is what lets them share sessions: no state lives in a process.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("fr", "nl", "en")
"""The portal's languages, the default first (most of its users are in Brussels/Wallonia)."""


@dataclass
class PortalSettings:
    database_url: str = "sqlite+aiosqlite:///portal.sqlite3"
    origin: str = "http://127.0.0.1:8080"
    """This site's public origin: checked in eID tokens and in the Origin of every form."""
    secret_key: bytes = field(default=b"", repr=False)
    """32+ bytes shared by all portal processes: keyed hashes of national numbers, the
    sealing key of personal data. Base64 in ``PORTAL_SECRET_KEY``, or read from
    ``secret_key_file``."""
    secret_key_file: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "Portail eID <no-reply@portal.example>"
    demo: bool = False
    """Demo/test mode: trusts the test PKI, shows the mail catcher. Production never sets it."""
    session_max_age: int = 8 * 3600
    """Seconds a session lives without activity."""
    secure_cookies: bool = False
    """Set on HTTPS deployments (``__Host-`` prefix and Secure flag)."""
    activation_ttl: int = 30 * 60
    activation_max_attempts: int = 5
    reset_ttl: int = 60 * 60
    login_max_failures: int = 5
    """Failed logins per username (and per client address x4) in ``throttle_window``."""
    throttle_window: int = 15 * 60
    trust_test_roots: tuple[Path, ...] = ()
    """Demo/test only: PEM files of test roots (``demo`` must be on)."""
    extra_intermediates: tuple[Path, ...] = ()
    """More CA certificates (PEM/DER) beside the shipped Belgian eID CAs."""
    bridge_help_url: str = "https://eid.belgium.be/"
    # -- wallet (top-ups and bank transfers) --------------------------------------------------
    payment_provider: str = "simulated"
    """``simulated`` (an in-process test PSP, only ever active with ``demo``) or ``mollie``."""
    mollie_api_key: str = field(default="", repr=False)
    mollie_api_url: str = "https://api.mollie.com"
    bank_iban: str = "BE71096123456769"
    """The account bank transfers top wallets up on (CODA files must be of this account)."""
    bank_bic: str = "GKCCBEBB"
    bank_beneficiary: str = "Portail eID SRL"
    min_topup: int = 5000
    """Cents: the smallest online top-up (€50.00)."""
    max_topup: int = 1_000_000
    """Cents: the largest online top-up (€10,000.00); more goes by bank transfer."""
    vat_rate: int = 21
    syndic_fees_file: Path | None = None
    """BCE ACP: a TOML fee table replacing the shipped ``syndic/fees.toml``."""
    seller_name: str = "Portail eID SRL"
    """The seller on the monthly invoices (the portal's operator)."""
    seller_vat: str = "BE 0403.170.701"
    seller_address: str = "Rue de la Loi 16, 1000 Bruxelles"

    def __post_init__(self) -> None:
        if not self.secret_key and self.secret_key_file is not None:
            self.secret_key = base64.b64decode(self.secret_key_file.read_text().strip())
        if self.secret_key and len(self.secret_key) < 32:
            raise ValueError("setting 'secret_key' must be at least 32 bytes")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> PortalSettings:
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(f"PORTAL_{item.name.upper()}")
            if raw is None:
                continue
            try:
                values[item.name] = _convert(item.name, item.type, raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"setting '{item.name}' has a bad value {raw!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)

    def require_secret(self) -> bytes:
        if not self.secret_key:
            raise ValueError(
                "setting 'secret_key' is missing: set PORTAL_SECRET_KEY (base64 of 32 random "
                "bytes, from `python -m webclient.portal new-secret`) or PORTAL_SECRET_KEY_FILE"
            )
        return self.secret_key


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    if name == "secret_key":
        return base64.b64decode(raw, validate=True)
    if "bool" in kind:
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError("use true or false")
        return raw.lower() in ("1", "true", "yes")
    if kind == "int":
        return int(raw)
    if "tuple" in kind:
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    if "Path" in kind:
        return Path(raw)
    return raw


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")
