"""Everything one virtual card holds: its applet version, files, keys and PIN state.

A ``CardProfile`` is plain data. ``profiles.py`` builds the named scenarios (citizen 1.7,
citizen 1.8, foreigner, expired, blocked PIN, ...) from the test PKI and the identity
encoder; ``applet.BelpicApplet`` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bridge.card.constants import ATR_APPLET_1_1, ATR_APPLET_1_8, AppletVersion, KeyRef

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class CardProfile:
    name: str
    applet: AppletVersion
    serial: bytes
    """16-byte chip serial: GET CARD DATA bytes 0-15, TokenInfo, identity tag 02."""
    files: dict[bytes, bytes]
    """Elementary files by absolute path including the MF (``3F00DF014031``...), with the
    zero padding real cards carry."""
    keys: dict[KeyRef, PrivateKey]
    pin: str = "1234"
    pin_tries_left: int = 3
    pin_max_tries: int = 3
    life_cycle: int = 0x0F
    """GET CARD DATA byte 27: ``0F`` personalised, ``07`` selectable (manuals 1.7/1.8)."""
    component_code: int = 0x01
    os_number: int = 0x02
    os_version: int = 0x01
    softmask_number: int = 0x01
    softmask_version: int = 0x01
    internal_authenticate_limit: int = 5000
    notes: dict[str, str] = field(default_factory=dict)
    """Free-form facts about the scenario for tests (e.g. which certificate is revoked)."""

    @property
    def atr(self) -> bytes:
        return ATR_APPLET_1_8 if self.applet >= AppletVersion.V1_8 else ATR_APPLET_1_1

    @property
    def is_ec(self) -> bool:
        return self.applet >= AppletVersion.V1_8
