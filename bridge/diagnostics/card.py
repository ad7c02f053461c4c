"""The card: present, answering, a Belgian eID (applet version), valid, its certificates
readable, PIN tries left (without spending one), and the optional signature test."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from cryptography import x509

from bridge.card.connect import choose_reader
from bridge.card.constants import HashAlgorithm, KeyRef
from bridge.card.errors import ApduError, CardMute, PinBlocked, PinCancelled, UnsupportedCard
from bridge.card.session import BelpicSession
from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, ok, skipped
from bridge.messages import message_for
from bridge.service.cards import card_kind
from bridge.tokens.format import verify_digest_signature

EXPIRY_WARNING = dt.timedelta(days=60)


def check_present(ctx: Context) -> Outcome:
    preferred = getattr(ctx.options.source, "preferred", None)
    # choose_reader raises NoCard / ReaderNotFound; the runner turns them into the remedy.
    ctx.reader = choose_reader(ctx.readers, preferred)
    return ok(f"card in '{ctx.reader.name}'", reader=ctx.reader.name)


def _session(ctx: Context) -> BelpicSession:
    if ctx.session is None:
        if ctx.options.session is not None:
            ctx.session = ctx.options.session()
        else:
            ctx.transport = ctx.options.source.connect()
            ctx.session = BelpicSession(ctx.transport)
    return ctx.session


def check_atr(ctx: Context) -> Outcome:
    assert ctx.reader is not None
    if ctx.reader.mute:
        raise CardMute(f"{ctx.reader.name}: PC/SC reports the card mute")
    session = _session(ctx)
    atr = session.transport.atr
    return ok(
        "the card answers",
        atr=atr.hex(" ").upper(),
        kind=card_kind(atr),
    )


def check_applet(ctx: Context) -> Outcome:
    session = _session(ctx)
    try:
        data = session.card_data
    except ApduError as exc:
        raise UnsupportedCard(f"GET CARD DATA failed: {exc}") from exc
    version = f"{data.applet_version >> 4}.{data.applet_version & 0x0F}"
    return ok(
        f"Belgian eID, applet {version}",
        applet=version,
        algorithm="ECDSA P-384" if data.is_ec else "RSA",
        chipSerial=data.serial_hex,
        lifeCycle=data.life_cycle,
    )


def check_validity(ctx: Context) -> Outcome:
    identity = _session(ctx).read_identity()
    today = ctx.options.clock().date()
    evidence: dict[str, Any] = {
        "validFrom": identity.validity_begin.isoformat(),
        "validUntil": identity.validity_end.isoformat(),
        "documentType": identity.document_type.name,
        "holder_name": f"{identity.first_names} {identity.surname}",
    }
    end = identity.validity_end.isoformat()
    if identity.validity_end < today:
        return Outcome(
            CheckStatus.FAILED, f"expired on {end}", evidence, remedies.CARD_EXPIRED, {"date": end}
        )
    if identity.validity_begin > today:
        begin = identity.validity_begin.isoformat()
        return Outcome(
            CheckStatus.FAILED,
            f"valid only from {begin}",
            evidence,
            remedies.CARD_NOT_YET_VALID,
            {"date": begin},
        )
    if identity.validity_end - today < EXPIRY_WARNING:
        return Outcome(
            CheckStatus.WARNING,
            f"expires on {end}",
            evidence,
            remedies.CARD_EXPIRES_SOON,
            {"date": end},
        )
    return Outcome(CheckStatus.OK, f"valid until {end}", evidence)


def _summary(der: bytes | None) -> dict[str, Any] | None:
    """Issuer, dates, key type and serial: never the subject (name and national number)."""
    if der is None:
        return None
    cert = x509.load_der_x509_certificate(der)
    issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return {
        "issuer": str(issuer[0].value) if issuer else "?",
        "validFrom": cert.not_valid_before_utc.date().isoformat(),
        "validUntil": cert.not_valid_after_utc.date().isoformat(),
        "key": type(cert.public_key()).__name__.removeprefix("_").replace("PublicKey", ""),
        "serial": format(cert.serial_number, "X"),
    }


def check_certificates(ctx: Context) -> Outcome:
    certs = _session(ctx).read_certificates()
    ctx.certificates = certs
    evidence = {
        "authentication": _summary(certs.authentication),
        "signature": _summary(certs.signature),
        "ca": _summary(certs.ca),
        "root": _summary(certs.root),
    }
    absent = [name for name in ("authentication", "signature") if evidence[name] is None]
    summary = "certificates read" + (f" (no {', '.join(absent)}: Kids ID?)" if absent else "")
    return Outcome(CheckStatus.OK, summary, evidence)


def check_pin(ctx: Context) -> Outcome:
    status = _session(ctx).pin_status()
    evidence = {"triesLeft": status.tries_left}
    if status.blocked:
        return Outcome(CheckStatus.FAILED, "PIN blocked", evidence, message_for(PinBlocked()))
    if status.tries_left == 1:
        return Outcome(
            CheckStatus.WARNING,
            "one PIN try left",
            evidence,
            remedies.ONE_TRY_LEFT,
            {"tries_left": 1},
        )
    if status.tries_left is None:
        return ok("PIN tries unknown without spending one (applet 1.1)", **evidence)
    return ok(f"{status.tries_left} PIN tries left", **evidence)


def check_sign(ctx: Context) -> Outcome:
    """Sign a random SHA-256 hash with the authentication key (asks for the PIN) and check
    it against the authentication certificate: proves the key matches its certificate."""
    if not ctx.options.sign_test:
        return skipped("not requested (it asks for the PIN)")
    assert ctx.certificates is not None
    certificate = ctx.certificates.authentication
    if certificate is None:
        return skipped("the card has no authentication certificate")
    if ctx.options.pin is None:
        return skipped("no way to ask for the PIN")
    try:
        pin = ctx.options.pin()
    except PinCancelled:
        pin = None
    if pin is None:
        return skipped("the PIN was not given")
    digest = secrets.token_bytes(32)
    signature = _session(ctx).sign(KeyRef.AUTHENTICATION, digest, HashAlgorithm.SHA256, pin=pin)
    if not verify_digest_signature(certificate, digest, HashAlgorithm.SHA256, signature):
        return Outcome(
            CheckStatus.FAILED,
            "the signature does not verify with the authentication certificate",
            {"key": "authentication"},
            remedies.SIGN_TEST_FAILED,
        )
    return ok("signature verified with the authentication certificate", key="authentication")
