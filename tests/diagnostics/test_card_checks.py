"""Each card and trust check failing and passing, on the virtual card in an in-process
reader, validated against the test PKI's running OCSP/CRL server."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bridge.card.constants import KeyRef
from bridge.card.errors import PinCancelled
from bridge.diagnostics import CHECK_IDS, Options, diagnose
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import build_card
from bridge.service.cards import LocalSource
from bridge.trust.anchors import TrustStore
from tests.bridge_harness import ServicePki
from tests.diagnostics.conftest import Run, code, source_with, statuses

CARD_CHECKS = ("card.atr", "card.applet", "card.validity", "card.certificates", "card.pin")


def test_healthy_card_passes_every_check(run: Run) -> None:
    report = run("citizen-1.8")
    seen = statuses(report)
    assert tuple(seen) == CHECK_IDS
    for check_id in (
        "pcsc.service",
        "readers.list",
        "readers.driver",
        "card.present",
        *CARD_CHECKS,
        "trust.chain",
        "network.revocation",
        "clock.skew",
    ):
        assert seen[check_id] == "ok", (check_id, report.check(check_id).summary)
    assert report.check("card.applet").evidence["applet"] == "1.8"
    assert report.check("card.pin").evidence["triesLeft"] == 3
    assert seen["card.sign_test"] == "skipped"  # only on request: it asks for the PIN
    assert report.worst.value in ("ok", "warning")  # middleware may be absent here


def test_rsa_card_reports_applet_17(run: Run) -> None:
    report = run("citizen-1.7")
    assert report.check("card.applet").evidence == report.check("card.applet").evidence | {
        "applet": "1.7",
        "algorithm": "RSA",
    }
    assert report.check("trust.chain").status.value == "ok"


def test_no_card_skips_the_card_checks(run: Run) -> None:
    report = run(None)
    assert report.check("readers.list").status.value == "ok"
    assert report.check("card.present").status.value == "failed"
    assert code(report, "card.present") == "NO_CARD"
    for check_id in (*CARD_CHECKS, "trust.chain", "network.revocation", "card.sign_test"):
        check = report.check(check_id)
        assert check.status.value == "skipped", check_id
        assert "requires" in check.evidence


def test_mute_card_is_reported_as_maybe_damaged(run: Run) -> None:
    report = run("citizen-1.8", mute=True)
    assert report.check("card.present").status.value == "ok"
    atr = report.check("card.atr")
    assert atr.status.value == "failed"
    assert code(report, "card.atr") == "CARD_MUTE"
    assert "damaged" in (atr.remedy_text("en") or "")
    assert "endommagée" in (atr.remedy_text("fr") or "")
    assert report.check("card.applet").status.value == "skipped"


def test_expired_card(run: Run) -> None:
    report = run("expired-1.8")
    assert report.check("card.validity").status.value == "failed"
    assert code(report, "card.validity") == "DIAG_CARD_EXPIRED"
    assert report.check("trust.chain").status.value == "failed"
    assert code(report, "trust.chain") == "CERT_EXPIRED"


def test_card_expiring_soon_is_a_warning(run: Run) -> None:
    # The card's validity ends ~10 years after it began; a clock 30 days before that end.
    probe = run("citizen-1.8", only=("card.validity",))
    end = dt.date.fromisoformat(probe.check("card.validity").evidence["validUntil"])
    later = dt.datetime.combine(end - dt.timedelta(days=30), dt.time(12), dt.UTC)
    report = run("citizen-1.8", clock=lambda: later)
    assert report.check("card.validity").status.value == "warning"
    assert code(report, "card.validity") == "DIAG_CARD_EXPIRES_SOON"


def test_revoked_certificate(run: Run) -> None:
    report = run("revoked-1.8")
    chain = report.check("trust.chain")
    assert chain.status.value == "failed"
    assert code(report, "trust.chain") == "CERT_REVOKED"
    assert chain.evidence["authentication"]["status"] == "revoked"
    assert "révoqué" in (chain.remedy_text("fr") or "")


def test_unknown_issuer(run: Run, down_pki: TestPki, service_pki: ServicePki) -> None:
    # A card of one PKI checked against the roots of another.
    report = run("citizen-1.8", store=TrustStore.for_test_pki(down_pki))
    assert report.check("trust.chain").status.value == "failed"
    assert code(report, "trust.chain") == "CERT_UNKNOWN_ISSUER"


@pytest.mark.parametrize(
    ("profile", "status", "remedy", "tries"),
    [
        ("citizen-1.8", "ok", None, 3),
        ("one-try-left-1.8", "warning", "DIAG_PIN_LAST_TRY", 1),
        ("blocked-pin-1.8", "failed", "PIN_BLOCKED", 0),
        ("one-try-left-1.7", "warning", "DIAG_PIN_LAST_TRY", 1),
        ("blocked-pin-1.7", "failed", "PIN_BLOCKED", 0),
    ],
)
def test_pin_tries_without_spending_one(
    service_pki: ServicePki, profile: str, status: str, remedy: str | None, tries: int
) -> None:
    source = source_with(profile, service_pki.pki)
    options = Options(source=source, tls_probes=())
    for _ in range(2):  # the second diagnosis sees the same count: the first spent none
        report = diagnose(options, only=("card.pin",))
        check = report.check("card.pin")
        assert (check.status.value, code(report, "card.pin"), check.evidence["triesLeft"]) == (
            status,
            remedy,
            tries,
        )


def test_ocsp_and_crl_down(run: Run, down_pki: TestPki) -> None:
    report = run("citizen-1.8", pki=down_pki, network_timeout=1.0)
    network = report.check("network.revocation")
    assert network.status.value == "failed"
    assert code(report, "network.revocation") == "DIAG_REVOCATION_UNREACHABLE"
    assert all(not s["reachable"] for s in network.evidence["services"])
    assert "127.0.0.1" in (network.remedy_text("nl") or "")
    assert report.check("trust.chain").status.value == "warning"
    assert code(report, "trust.chain") == "CERT_STATUS_UNKNOWN"
    assert report.check("clock.skew").status.value == "skipped"  # nobody told us the time


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (dt.timedelta(0), "ok"),
        (dt.timedelta(minutes=2), "warning"),
        (dt.timedelta(minutes=-10), "failed"),
    ],
)
def test_clock_skew_against_the_ocsp_server(run: Run, offset: dt.timedelta, status: str) -> None:
    report = run("citizen-1.8", clock=lambda: dt.datetime.now(dt.UTC) + offset)
    check = report.check("clock.skew")
    assert check.status.value == status, check.summary
    assert abs(check.evidence["skewSeconds"] - offset.total_seconds()) <= 2
    if status != "ok":
        assert code(report, "clock.skew") == "DIAG_CLOCK_SKEW"


def test_sign_test(run: Run) -> None:
    report = run("citizen-1.8", sign_test=True, pin=lambda: "1234")
    assert report.check("card.sign_test").status.value == "ok"
    wrong = run("citizen-1.7", sign_test=True, pin=lambda: "9999")
    assert wrong.check("card.sign_test").status.value == "failed"
    assert code(wrong, "card.sign_test") == "PIN_INCORRECT"
    assert "2" in (wrong.check("card.sign_test").remedy_text("en") or "")

    def cancel() -> str:
        raise PinCancelled("no")

    assert (
        run("citizen-1.8", sign_test=True, pin=cancel).check("card.sign_test").status.value
        == "skipped"
    )
    blocked = run("blocked-pin-1.8", sign_test=True, pin=lambda: "1234")
    assert blocked.check("card.sign_test").status.value == "skipped"


def test_sign_test_detects_a_key_that_does_not_match(service_pki: ServicePki) -> None:
    built = build_card("citizen-1.8", service_pki.pki)
    keys = dict(built.profile.keys)
    keys[KeyRef.AUTHENTICATION] = ec.generate_private_key(ec.SECP384R1())
    source = LocalSource()
    source.reader.insert(BelpicApplet(dataclasses.replace(built.profile, keys=keys)))
    report = diagnose(
        Options(
            source=source,
            tls_probes=(),
            sign_test=True,
            pin=lambda: "1234",
            store=TrustStore.for_test_pki(service_pki.pki),
        )
    )
    assert report.check("card.sign_test").status.value == "failed"
    assert code(report, "card.sign_test") == "DIAG_SIGN_MISMATCH"
