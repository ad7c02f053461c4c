"""Validation of Belgian eID certificates, with a verdict a citizen can act on.

One function, :func:`validate` (and :func:`avalidate` for async callers), used by the bridge
before it signs and by the portal when it re-validates a token, so both apply the same rules:

1. usage for the purpose (keyUsage digitalSignature for authentication, nonRepudiation for
   signatures) and a Belgian eID certificate policy for that purpose
   (``2.16.56.<arc>.1.1.{2,7}.{2,1}``): checked first, offline, because a wrong certificate
   for the job is the caller's mistake and needs no network;
2. revocation data for every certificate of the path, fetched only when the path visibly
   chains (signatures checked) to a root of the store, and only from URLs written in those
   certificates (:mod:`bridge.trust.revocation`, OCSP first, CRL fallback, disk cache);
3. RFC 5280 path validation by pyhanko-certvalidator with those responses and fetching
   disabled, so pyhanko never contacts anything on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from bridge.messages import UserMessage
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import Fetcher, RevocationMode, RevocationPolicy

if TYPE_CHECKING:
    from bridge.card.session import CardCertificates


class Purpose(enum.Enum):
    AUTHENTICATION = "authentication"
    NON_REPUDIATION = "non_repudiation"


class Status(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNKNOWN_ISSUER = "unknown_issuer"
    REVOCATION_UNKNOWN = "revocation_unknown"
    WRONG_USAGE = "wrong_usage"
    INVALID = "invalid"
    """Unreadable or tampered certificate (bad signature, malformed, bad constraints)."""


# eID policies: 2.16.56.<generation arc>.1.1.<population>.<use>, population 2 = citizen,
# 7 = foreigner; use 2 = authentication, 1 = non-repudiation (Belgian eID CPS).
_POLICY = re.compile(r"^2\.16\.56\.\d+\.1\.1\.[27]\.([12])$")
_SHA256 = hashes.SHA256()
_POLICY_USE = {Purpose.AUTHENTICATION: "2", Purpose.NON_REPUDIATION: "1"}

MESSAGES: dict[Status, UserMessage] = {
    Status.VALID: UserMessage(
        "CERT_VALID",
        en="The certificate is valid. You can continue.",
        fr="Le certificat est valide. Vous pouvez continuer.",
        nl="Het certificaat is geldig. U kunt verdergaan.",
    ),
    Status.EXPIRED: UserMessage(
        "CERT_EXPIRED",
        en="The certificate on your card has expired. Ask your municipality for a new eID "
        "card; until then this card cannot be used to log in or sign.",
        fr="Le certificat de votre carte a expiré. Demandez une nouvelle carte eID à votre "
        "commune ; d'ici là, cette carte ne permet ni de vous connecter ni de signer.",
        nl="Het certificaat op uw kaart is verlopen. Vraag een nieuwe eID-kaart aan bij uw "
        "gemeente; tot dan kunt u met deze kaart niet aanmelden of ondertekenen.",
    ),
    Status.NOT_YET_VALID: UserMessage(
        "CERT_NOT_YET_VALID",
        en="The certificate on your card is not valid yet. Check that your computer's date "
        "and time are correct; if the card is brand new, try again tomorrow.",
        fr="Le certificat de votre carte n'est pas encore valide. Vérifiez la date et l'heure "
        "de votre ordinateur ; si la carte est toute neuve, réessayez demain.",
        nl="Het certificaat op uw kaart is nog niet geldig. Controleer de datum en het uur van "
        "uw computer; is de kaart gloednieuw, probeer dan morgen opnieuw.",
    ),
    Status.REVOKED: UserMessage(
        "CERT_REVOKED",
        en="The certificate on your card was revoked on {date} ({reason}). It can no longer "
        "be used. Contact your municipality to reactivate the certificates or get a new card.",
        fr="Le certificat de votre carte a été révoqué le {date} ({reason}). Il n'est plus "
        "utilisable. Contactez votre commune pour réactiver les certificats ou obtenir une "
        "nouvelle carte.",
        nl="Het certificaat op uw kaart werd ingetrokken op {date} ({reason}). Het kan niet "
        "meer gebruikt worden. Neem contact op met uw gemeente om de certificaten opnieuw te "
        "activeren of een nieuwe kaart te krijgen.",
    ),
    Status.UNKNOWN_ISSUER: UserMessage(
        "CERT_UNKNOWN_ISSUER",
        en="This card's certificate was not issued by the Belgian eID authorities. Use a "
        "genuine Belgian eID card; if it is one, update this program.",
        fr="Le certificat de cette carte n'a pas été émis par les autorités de l'eID belge. "
        "Utilisez une véritable carte eID belge ; si c'en est une, mettez ce programme à jour.",
        nl="Het certificaat van deze kaart werd niet uitgegeven door de Belgische "
        "eID-overheid. Gebruik een echte Belgische eID-kaart; is het er een, werk dit "
        "programma dan bij.",
    ),
    Status.REVOCATION_UNKNOWN: UserMessage(
        "CERT_STATUS_UNKNOWN",
        en="We could not check whether your certificate is still valid: the eID status "
        "service cannot be reached. Check your internet connection (and proxy), then try "
        "again.",
        fr="Impossible de vérifier si votre certificat est toujours valide : le service de "
        "statut eID est injoignable. Vérifiez votre connexion internet (et proxy), puis "
        "réessayez.",
        nl="We konden niet nagaan of uw certificaat nog geldig is: de eID-statusdienst is "
        "onbereikbaar. Controleer uw internetverbinding (en proxy) en probeer opnieuw.",
    ),
    Status.WRONG_USAGE: UserMessage(
        "CERT_WRONG_USAGE",
        en="This certificate cannot be used for this operation (the {purpose} certificate "
        "is needed). This is a problem of the application, not of your card: report it.",
        fr="Ce certificat ne peut pas servir à cette opération (il faut le certificat de "
        "{purpose}). C'est un problème de l'application, pas de votre carte : signalez-le.",
        nl="Dit certificaat kan niet voor deze handeling dienen (het {purpose}certificaat "
        "is nodig). Dit is een probleem van de toepassing, niet van uw kaart: meld het.",
    ),
    Status.INVALID: UserMessage(
        "CERT_INVALID",
        en="The certificate on your card is damaged or not genuine. Ask your municipality "
        "to check the card.",
        fr="Le certificat de votre carte est endommagé ou n'est pas authentique. Demandez à "
        "votre commune de vérifier la carte.",
        nl="Het certificaat op uw kaart is beschadigd of niet echt. Vraag uw gemeente de "
        "kaart na te kijken.",
    ),
}

_PURPOSE_WORDS = {
    Purpose.AUTHENTICATION: {
        "en": "authentication",
        "fr": "authentification",
        "nl": "authenticatie",
    },
    Purpose.NON_REPUDIATION: {"en": "signature", "fr": "signature", "nl": "handtekening"},
}
_REASON_WORDS = {
    "key_compromise": {
        "en": "key compromised",
        "fr": "clé compromise",
        "nl": "sleutel gecompromitteerd",
    },
    "certificate_hold": {"en": "suspended", "fr": "suspendu", "nl": "geschorst"},
    "cessation_of_operation": {
        "en": "card withdrawn",
        "fr": "carte retirée",
        "nl": "kaart ingetrokken",
    },
    "superseded": {"en": "replaced", "fr": "remplacé", "nl": "vervangen"},
    "affiliation_changed": {
        "en": "data changed",
        "fr": "données modifiées",
        "nl": "gegevens gewijzigd",
    },
}
_SOFT_FAIL_WARNING = {
    "en": "The revocation status could not be checked (status service unreachable); "
    "accepted anyway; it will be checked again next time.",
    "fr": "Le statut de révocation n'a pas pu être vérifié (service injoignable) ; accepté "
    "quand même, il sera revérifié la prochaine fois.",
    "nl": "De intrekkingsstatus kon niet gecontroleerd worden (dienst onbereikbaar); toch "
    "aanvaard, hij wordt de volgende keer opnieuw gecontroleerd.",
}


@dataclass(frozen=True)
class Verdict:
    status: Status
    purpose: Purpose | None = None
    subject: str = ""
    detail: str = ""
    """Technical explanation for logs and support (English, not for end users)."""
    warnings: tuple[str, ...] = ()
    """Technical warnings, e.g. revocation unreachable under soft-fail, test PKI."""
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    revocation_checked: bool = False
    """True when OCSP or CRL data vouched for every certificate of the path."""
    test_pki: bool = False
    """The path ends at a test root (demo mode only)."""
    network_requests: int = 0
    path: tuple[str, ...] = field(default=())
    """Subjects from the certificate up to the root, when a path was found."""

    @property
    def ok(self) -> bool:
        return self.status is Status.VALID

    @property
    def code(self) -> str:
        return MESSAGES[self.status].code

    def message(self, lang: str = "en") -> str:
        """What happened and what to do next, in French, Dutch or English."""
        language = lang if lang in ("en", "fr", "nl") else "en"
        purpose = self.purpose or Purpose.AUTHENTICATION
        wanted = (
            (Purpose.NON_REPUDIATION if purpose is Purpose.AUTHENTICATION else purpose)
            if self.status is Status.WRONG_USAGE
            else purpose
        )
        reason = self.revocation_reason or "unspecified"
        text = MESSAGES[self.status].text(
            language,
            date=self.revoked_at.strftime("%Y-%m-%d") if self.revoked_at else "?",
            reason=_REASON_WORDS.get(reason, {}).get(language, reason.replace("_", " ")),
            purpose=_PURPOSE_WORDS[wanted][language],
        )
        if self.status is Status.VALID and self.warnings and not self.revocation_checked:
            text += " " + _SOFT_FAIL_WARNING[language]
        return text


def _default_mode(purpose: Purpose) -> RevocationMode:
    return "hard-fail" if purpose is Purpose.NON_REPUDIATION else "soft-fail"


def _load(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def check_usage(cert: x509.Certificate, purpose: Purpose) -> str | None:
    """Why ``cert`` may not be used for ``purpose``, or None."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "no keyUsage extension"
    if purpose is Purpose.AUTHENTICATION and not usage.digital_signature:
        return "keyUsage lacks digitalSignature (not an authentication certificate)"
    if purpose is Purpose.NON_REPUDIATION and not usage.content_commitment:
        return "keyUsage lacks nonRepudiation (not a signature certificate)"
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return "no certificate policies"
    uses = {
        m.group(1)
        for p in policies
        if (m := _POLICY.match(p.policy_identifier.dotted_string)) is not None
    }
    if _POLICY_USE[purpose] not in uses:
        return f"no Belgian eID {purpose.value} certificate policy"
    return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


_CHAIN_MEMO: dict[bytes, list[tuple[x509.Certificate, x509.Certificate]] | None] = {}
_CHAIN_MEMO_MAX = 256


def trusted_chain(
    cert: x509.Certificate, intermediates: Sequence[x509.Certificate], store: TrustStore
) -> list[tuple[x509.Certificate, x509.Certificate]] | None:
    """(certificate, issuer) pairs up to a root of ``store``, signatures checked; None when
    there is no such chain. Decides whether we may contact the URLs in these certificates.

    Memoised by the DER of everything involved: signatures do not change, and the two
    signature checks (P-384) would otherwise dominate a warm validation."""
    digest = hashlib.sha256(_der(cert))
    for c in (*intermediates, *store.all_roots):
        digest.update(c.fingerprint(_SHA256))
    key = digest.digest()
    if key in _CHAIN_MEMO:
        return _CHAIN_MEMO[key]
    if len(_CHAIN_MEMO) >= _CHAIN_MEMO_MAX:
        _CHAIN_MEMO.clear()
    chain = _build_chain(cert, intermediates, store)
    _CHAIN_MEMO[key] = chain
    return chain


def clear_memos() -> None:
    """Forget the process-wide chain memo (tests and the cold benchmark)."""
    _CHAIN_MEMO.clear()


def _build_chain(
    cert: x509.Certificate, intermediates: Sequence[x509.Certificate], store: TrustStore
) -> list[tuple[x509.Certificate, x509.Certificate]] | None:
    pairs: list[tuple[x509.Certificate, x509.Certificate]] = []
    current = cert
    for _ in range(4):  # eID paths are 2 long; a bound stops loops in hostile input
        for root in store.find_issuers(current):
            if _issued_by(current, root):
                pairs.append((current, root))
                return pairs
        parent = next(
            (c for c in intermediates if c.subject == current.issuer and _issued_by(current, c)),
            None,
        )
        if parent is None or parent == current:
            return None
        pairs.append((current, parent))
        current = parent
    return None


async def avalidate(
    cert_der: bytes,
    *,
    intermediates: Sequence[bytes] = (),
    purpose: Purpose | None,
    at: dt.datetime | None = None,
    store: TrustStore,
    revocation: RevocationPolicy | None = None,
) -> Verdict:
    """Async :func:`validate`. ``purpose`` None validates a CA certificate's path only."""
    policy = revocation or RevocationPolicy()
    mode: RevocationMode = policy.mode or (
        _default_mode(purpose) if purpose is not None else "none"
    )
    try:
        cert = _load(cert_der)
        others = [_load(d) for d in intermediates]
    except ValueError as exc:
        return Verdict(Status.INVALID, purpose, detail=f"unreadable certificate: {exc}")
    subject = cert.subject.rfc4514_string()

    def verdict(status: Status, detail: str = "", **extra: object) -> Verdict:
        return Verdict(status, purpose, subject, detail, **extra)  # type: ignore[arg-type]

    if purpose is not None:
        problem = check_usage(cert, purpose)
        if problem:
            return verdict(Status.WRONG_USAGE, problem)

    now = dt.datetime.now(dt.UTC)
    moment = at.astimezone(dt.UTC) if at is not None else None
    when = moment or now
    chain = trusted_chain(cert, others, store)
    gathered_problems: list[str] = []
    ocsps: list[bytes] = []
    crls: list[bytes] = []
    fresh_until: dt.datetime | None = None
    requests = 0
    in_validity = all(
        c.not_valid_before_utc <= when <= c.not_valid_after_utc for c, _ in chain or ()
    )
    # Only a certificate that chains to our roots and is within its validity is worth a
    # revocation request; anything else fails without touching the network.
    if mode != "none" and chain is not None and in_validity:
        async with Fetcher(policy, now, fresh_ocsp=mode == "hard-fail") as fetcher:
            for child, issuer in chain:
                await fetcher.status_of(child, issuer)
        ocsps, crls = fetcher.result.ocsps, fetcher.result.crls
        gathered_problems = fetcher.result.problems
        requests = fetcher.result.network_requests
        fresh_until = fetcher.result.fresh_until

    elif mode != "none":
        # Nothing was fetched because the path is untrusted or out of its validity: let
        # pyhanko report that (expired, unknown issuer...) rather than "no revocation data"
        # for whichever certificate it happens to reach first.
        mode = "none"

    memo_key = _memo_key(cert_der, intermediates, purpose, mode, store, moment, ocsps, crls)
    memo = policy.cache.verdicts.get(memo_key)
    if memo is not None and now < memo[1] and isinstance(memo[0], Verdict):
        return dataclasses.replace(memo[0], network_requests=requests)
    verdict_ = await _path_verdict(
        cert_der,
        intermediates,
        purpose,
        mode,
        store,
        moment,
        ocsps,
        crls,
        chain is not None,
        gathered_problems,
        requests,
        subject,
    )
    # Only complete answers are remembered: a soft-fail VALID must retry the network next
    # time, and failures are cheap to recompute.
    if not gathered_problems and verdict_.status in (Status.VALID, Status.REVOKED):
        expiry = min(
            [c.not_valid_after_utc for c, _ in chain or ()]
            + ([fresh_until] if fresh_until is not None else [])
            + [cert.not_valid_after_utc]
        )
        policy.cache.verdicts[memo_key] = (verdict_, expiry)
    return verdict_


def _memo_key(
    cert_der: bytes,
    intermediates: Sequence[bytes],
    purpose: Purpose | None,
    mode: str,
    store: TrustStore,
    moment: dt.datetime | None,
    ocsps: Sequence[bytes],
    crls: Sequence[bytes],
) -> bytes:
    digest = hashlib.sha256()
    for part in (
        cert_der,
        *intermediates,
        b"|",
        *(r.fingerprint(_SHA256) for r in store.all_roots),
        b"|",
        *(b"t" if store.is_test_root(_der(r)) else b"p" for r in store.all_roots),
        purpose.value.encode() if purpose else b"-",
        mode.encode(),
        moment.isoformat().encode() if moment else b"now",
        b"|",
        *ocsps,
        b"|",
        *crls,
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.digest()


async def _path_verdict(
    cert_der: bytes,
    intermediates: Sequence[bytes],
    purpose: Purpose | None,
    mode: RevocationMode,
    store: TrustStore,
    moment: dt.datetime | None,
    ocsps: list[bytes],
    crls: list[bytes],
    chained: bool,
    gathered_problems: list[str],
    requests: int,
    subject: str,
) -> Verdict:
    def verdict(status: Status, detail: str = "", **extra: object) -> Verdict:
        return Verdict(status, purpose, subject, detail, **extra)  # type: ignore[arg-type]

    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(_der(r)) for r in store.all_roots],
        other_certs=[asn1_x509.Certificate.load(d) for d in intermediates],
        moment=moment,
        allow_fetching=False,
        ocsps=ocsps,
        crls=crls,
        revocation_mode=mode,
        # Validating at a past moment (an old signature) with today's status answers: a
        # "good" today means not revoked then either (eID suspensions aside).
        retroactive_revinfo=moment is not None,
    )
    validator = CertificateValidator(
        asn1_x509.Certificate.load(cert_der), validation_context=context
    )
    warnings = list(gathered_problems)
    try:
        path = await validator.async_validate_path()
    except RevokedError as exc:
        return verdict(
            Status.REVOKED,
            str(exc),
            revoked_at=exc.revocation_dt,
            revocation_reason=str(exc.reason.native),
            revocation_checked=True,
            warnings=tuple(warnings),
            network_requests=requests,
        )
    except ExpiredError as exc:
        return verdict(Status.EXPIRED, str(exc), network_requests=requests)
    except NotYetValidError as exc:
        return verdict(Status.NOT_YET_VALID, str(exc), network_requests=requests)
    except InsufficientRevinfoError as exc:
        return verdict(
            Status.REVOCATION_UNKNOWN, str(exc), warnings=tuple(warnings), network_requests=requests
        )
    except PathBuildingError as exc:
        return verdict(Status.UNKNOWN_ISSUER, str(exc), network_requests=requests)
    except (PathValidationError, ValidationError) as exc:
        status = Status.INVALID if chained else Status.UNKNOWN_ISSUER
        return verdict(status, str(exc), network_requests=requests)

    root_der = path.first.dump()
    test_pki = store.is_test_root(root_der)
    if test_pki:
        warnings.append("certificate from the eID Bridge test PKI (demo mode)")
    warnings.extend(str(e) for e in context.soft_fail_exceptions)
    checked = mode != "none" and not gathered_problems and not context.soft_fail_exceptions
    return verdict(
        Status.VALID,
        warnings=tuple(warnings),
        revocation_checked=checked,
        test_pki=test_pki,
        path=tuple(c.subject.human_friendly for c in reversed(list(path))),
        network_requests=requests,
    )


def validate(
    cert_der: bytes,
    *,
    intermediates: Sequence[bytes] = (),
    purpose: Purpose | None,
    at: dt.datetime | None = None,
    store: TrustStore,
    revocation: RevocationPolicy | None = None,
) -> Verdict:
    """Validate an eID certificate for ``purpose`` at ``at`` (default now).

    Synchronous wrapper of :func:`avalidate`; do not call it from inside an event loop (use
    :func:`avalidate` there).
    """
    return asyncio.run(
        avalidate(
            cert_der,
            intermediates=intermediates,
            purpose=purpose,
            at=at,
            store=store,
            revocation=revocation,
        )
    )


async def avalidate_card(
    certificates: CardCertificates,
    *,
    store: TrustStore,
    at: dt.datetime | None = None,
    revocation: RevocationPolicy | None = None,
) -> dict[str, Verdict]:
    """Verdicts for the card's ``authentication`` and ``signature`` certificates (absent
    on Kids ID cards, then left out) and its ``ca`` certificate (path only)."""
    policy = revocation or RevocationPolicy()
    chain = [certificates.ca, certificates.root]
    results: dict[str, Verdict] = {}
    for name, der, purpose in (
        ("authentication", certificates.authentication, Purpose.AUTHENTICATION),
        ("signature", certificates.signature, Purpose.NON_REPUDIATION),
    ):
        if der is not None:
            results[name] = await avalidate(
                der, intermediates=chain, purpose=purpose, at=at, store=store, revocation=policy
            )
    # The card's own root is only a hint for path building: trust comes from ``store``.
    results["ca"] = await avalidate(
        certificates.ca,
        intermediates=[certificates.root],
        purpose=None,
        at=at,
        store=store,
        revocation=RevocationPolicy(mode="none", cache=policy.cache, timeout=policy.timeout),
    )
    return results


def validate_card(
    certificates: CardCertificates,
    *,
    store: TrustStore,
    at: dt.datetime | None = None,
    revocation: RevocationPolicy | None = None,
) -> dict[str, Verdict]:
    """Synchronous :func:`avalidate_card`, for ``eid-bridge card validate``."""
    return asyncio.run(avalidate_card(certificates, store=store, at=at, revocation=revocation))
