"""The OCSP responder and CRL server, checked with ``openssl ocsp`` as an independent client,
plus plain HTTP, the async API and pyhanko-certvalidator following the certificates' URLs."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import http.client
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from bridge.emulator.ocsp_server import MALFORMED_BODY, OcspCrlServer
from bridge.emulator.pki import HIERARCHY_KINDS, CardCredentials, HierarchyKind, TestPki
from tests.services import revocation_service

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")

NONCE = b"fedcba9876543210"


@dataclass
class Served:
    server: OcspCrlServer
    pki: TestPki
    cards: dict[HierarchyKind, CardCredentials]
    files: dict[HierarchyKind, dict[str, Path]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with revocation_service() as (server, pki, cards):
        yield Served(server, pki, cards, _pem_files(tmp_path_factory.mktemp("ocsp"), cards))


def _pem_files(
    directory: Path, cards: dict[HierarchyKind, CardCredentials]
) -> dict[HierarchyKind, dict[str, Path]]:
    files: dict[HierarchyKind, dict[str, Path]] = {}
    for kind, card in cards.items():
        paths = {
            name: directory / f"{kind}-{name}.pem" for name in ("root", "ca", "auth", "sign", "rrn")
        }
        certs = (card.root_cert, card.ca_cert, card.auth_cert, card.signature_cert, card.rrn_cert)
        for path, cert in zip(paths.values(), certs, strict=True):
            path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[kind] = paths
    return files


@pytest.fixture
def srv(served: Served) -> Iterator[Served]:
    served.server.reset()
    served.server.slow_seconds = 3.0
    yield served
    served.server.reset()
    served.pki.clear_revocations()


def openssl_ocsp(
    s: Served,
    kind: HierarchyKind,
    leaf: str = "auth",
    *,
    issuer: str = "ca",
    url: str | None = None,
    timeout: int = 10,
) -> tuple[int, str]:
    paths = s.files[kind]
    result = subprocess.run(
        [
            "openssl", "ocsp",
            "-issuer", str(paths[issuer]),
            "-cert", str(paths[leaf]),
            "-url", url or s.server.ocsp_url(kind),
            "-CAfile", str(paths["root"]),
            "-resp_text",
            "-timeout", str(timeout),
        ],
        capture_output=True,
        text=True,
        timeout=timeout + 20,
        check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def http_request(
    s: Served, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", s.server.port, timeout=15)
    try:
        headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type", "")
    finally:
        conn.close()


def ocsp_request_der(card: CardCredentials, which: str = "auth", nonce: bytes = NONCE) -> bytes:
    cert = card.auth_cert if which == "auth" else card.signature_cert
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, card.ca_cert, hashes.SHA1())  # noqa: S303 - openssl's default
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def openssl_time(when: dt.datetime) -> str:
    return f"{when:%b} {when.day:2d} {when:%H:%M:%S %Y} GMT"


# -- truthful answers -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_good_through_the_url_in_the_certificate(srv: Served, kind: HierarchyKind) -> None:
    card = srv.cards[kind]
    aia = card.auth_cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    [url] = [
        str(d.access_location.value)
        for d in aia.value
        if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP
    ]
    assert url == f"{srv.server.base_url}/ocsp/{kind}"
    rc, out = openssl_ocsp(srv, kind, url=url)
    assert rc == 0, out
    assert f"{srv.files[kind]['auth']}: good" in out
    assert "Response verify OK" in out
    assert "WARNING" not in out  # nonce present and matching, times valid
    assert "OCSP Response Status: successful (0x0)" in out
    assert [r.endpoint for r in srv.server.requests] == ["ocsp"]


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_root_issued_certificates_are_answered_too(srv: Served, kind: HierarchyKind) -> None:
    rc, out = openssl_ocsp(srv, kind, "rrn", issuer="root")
    assert rc == 0, out
    assert f"{srv.files[kind]['rrn']}: good" in out
    assert "Response verify OK" in out


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
def test_revoked_with_reason_and_time(srv: Served, kind: HierarchyKind) -> None:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=5)
    srv.pki.revoke(srv.cards[kind].signature_cert, x509.ReasonFlags.key_compromise, when)
    rc, out = openssl_ocsp(srv, kind, "sign")
    assert rc == 0, out
    assert f"{srv.files[kind]['sign']}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert f"Revocation Time: {openssl_time(when)}" in out
    assert "Response verify OK" in out
    # The card's other certificate is unaffected.
    rc, out = openssl_ocsp(srv, kind, "auth")
    assert f"{srv.files[kind]['auth']}: good" in out


def test_suspension_and_its_end(srv: Served) -> None:
    card = srv.cards["ec"]
    srv.pki.revoke(card.auth_cert, x509.ReasonFlags.certificate_hold)
    _, out = openssl_ocsp(srv, "ec")
    assert "Reason: certificateHold" in out
    srv.pki.unrevoke(card.auth_cert)
    _, out = openssl_ocsp(srv, "ec")
    assert f"{srv.files['ec']['auth']}: good" in out


def test_wrong_hierarchy_url_is_unauthorized(srv: Served) -> None:
    rc, out = openssl_ocsp(srv, "ec", url=srv.server.ocsp_url("rsa"))
    assert rc != 0
    assert "Responder Error: unauthorized (6)" in out


# -- forced answers ---------------------------------------------------------------------------


def test_revoked_mode_claims_every_certificate_revoked(srv: Served) -> None:
    srv.server.mode = "revoked"
    rc, out = openssl_ocsp(srv, "rsa")
    assert rc == 0, out
    assert f"{srv.files['rsa']['auth']}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert "Response verify OK" in out

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    srv.server.revoked_reason = x509.ReasonFlags.cessation_of_operation
    srv.server.revoked_time = when
    _, out = openssl_ocsp(srv, "ec", "rrn", issuer="root")
    assert "Reason: cessationOfOperation" in out
    assert f"Revocation Time: {openssl_time(when)}" in out


def test_unknown_mode(srv: Served) -> None:
    srv.server.mode = "unknown"
    rc, out = openssl_ocsp(srv, "ec")
    assert rc == 0, out
    assert f"{srv.files['ec']['auth']}: unknown" in out
    assert "Response verify OK" in out


def test_nonce_is_echoed(srv: Served) -> None:
    for kind in HIERARCHY_KINDS:
        status, body, content_type = http_request(
            srv, "POST", f"/ocsp/{kind}", ocsp_request_der(srv.cards[kind])
        )
        assert status == 200
        assert content_type == "application/ocsp-response"
        response = ocsp.load_der_ocsp_response(body)
        assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == NONCE

    # openssl sends a nonce by default and checks the echo.
    srv.server.mode = "no_nonce"
    rc, out = openssl_ocsp(srv, "ec")
    assert rc == 0, out
    assert "WARNING: no nonce in response" in out
    srv.server.mode = "wrong_nonce"
    rc, out = openssl_ocsp(srv, "ec")
    assert rc != 0
    assert "Nonce Verify error" in out


def test_get_form(srv: Served) -> None:
    der = ocsp_request_der(srv.cards["rsa"])
    encoded = urllib.parse.quote(base64.b64encode(der).decode("ascii"), safe="")
    status, body, _ = http_request(srv, "GET", f"/ocsp/rsa/{encoded}")
    assert status == 200
    response = ocsp.load_der_ocsp_response(body)
    assert response.serial_number == srv.cards["rsa"].auth_cert.serial_number
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    # Unencoded base64 (with '/' and '+') and base64url are accepted as well.
    for variant in (
        base64.b64encode(der).decode("ascii"),
        base64.urlsafe_b64encode(der).decode("ascii").rstrip("="),
    ):
        status, body, _ = http_request(srv, "GET", f"/ocsp/rsa/{variant}")
        assert status == 200
        assert ocsp.load_der_ocsp_response(body).response_status == (
            ocsp.OCSPResponseStatus.SUCCESSFUL
        )
    assert http_request(srv, "GET", "/ocsp/rsa/%25%25%25")[0] == 400


def test_slow_mode_respects_the_delay(srv: Served) -> None:
    srv.server.slow_seconds = 1.0
    srv.server.mode = "slow"
    started = time.monotonic()
    rc, out = openssl_ocsp(srv, "ec")
    elapsed = time.monotonic() - started
    assert rc == 0, out
    assert f"{srv.files['ec']['auth']}: good" in out
    assert elapsed >= 1.0
    # A client with a shorter timeout gives up.
    srv.server.slow_seconds = 5.0
    rc, out = openssl_ocsp(srv, "ec", timeout=1)
    assert rc != 0
    assert "timeout" in out.lower()


def test_down_mode_answers_503(srv: Served) -> None:
    srv.server.mode = "down"
    status, _, _ = http_request(srv, "POST", "/ocsp/ec", ocsp_request_der(srv.cards["ec"]))
    assert status == 503
    rc, out = openssl_ocsp(srv, "ec")
    assert rc != 0
    assert "code=503" in out
    # CRLs follow their own mode: "OCSP down, CRL up" is the fallback scenario.
    assert http_request(srv, "GET", "/crl/citizen-ec.crl")[0] == 200


def test_refused_mode_refuses_connections_then_recovers(srv: Served) -> None:
    srv.server.mode = "refused"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.server.port), timeout=5).close()
    srv.server.mode = "good"
    rc, out = openssl_ocsp(srv, "rsa")
    assert rc == 0, out
    assert f"{srv.files['rsa']['auth']}: good" in out


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("malformed", "Error querying OCSP responder"),
        ("stale", "Status times invalid"),
        ("bad_signature", "Response Verify Failure"),
        ("try_later", "Responder Error: trylater (3)"),
        ("unauthorized", "Responder Error: unauthorized (6)"),
    ],
)
def test_broken_answers_are_caught_by_openssl(srv: Served, mode: str, expected: str) -> None:
    srv.server.mode = mode  # type: ignore[assignment]
    _, out = openssl_ocsp(srv, "ec")
    assert expected in out
    assert "Response verify OK" not in out or mode == "stale"


def test_unknown_modes_and_paths_are_rejected(srv: Served) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        srv.server.mode = "sideways"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="unknown mode"):
        srv.server.crl_mode = "refused"  # type: ignore[assignment]
    assert http_request(srv, "POST", "/ocsp/dsa", b"x")[0] == 404
    assert http_request(srv, "GET", "/crl/nobody.crl")[0] == 404
    assert http_request(srv, "GET", "/ca/nobody.crt")[0] == 404
    status, body, _ = http_request(srv, "POST", "/ocsp/ec", b"not a request")
    assert status == 200
    assert ocsp.load_der_ocsp_response(body).response_status == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


# -- CRLs and CA certificates -----------------------------------------------------------------


def test_crl_and_ca_certificate_endpoints(srv: Served) -> None:
    card = srv.cards["ec"]
    crl_dp = card.auth_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    full_name = crl_dp.value[0].full_name
    assert full_name is not None
    crl_url = str(full_name[0].value)
    assert crl_url == srv.server.crl_url("citizen-ec")
    path = urllib.parse.urlsplit(crl_url).path

    status, body, content_type = http_request(srv, "GET", path)
    assert (status, content_type) == (200, "application/pkix-crl")
    crl = x509.load_der_x509_crl(body)
    ca_key = card.ca_cert.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    assert crl.is_signature_valid(ca_key)
    assert len(crl) == 0

    srv.pki.revoke(card.auth_cert, x509.ReasonFlags.key_compromise)
    crl = x509.load_der_x509_crl(http_request(srv, "GET", path)[1])
    assert crl.get_revoked_certificate_by_serial_number(card.auth_cert.serial_number) is not None

    status, body, content_type = http_request(srv, "GET", "/ca/citizen-ec.crt")
    assert (status, content_type) == (200, "application/pkix-cert")
    assert x509.load_der_x509_certificate(body) == card.ca_cert
    assert x509.load_der_x509_certificate(http_request(srv, "GET", "/ca/root-rsa.crt")[1]) == (
        srv.pki.rsa.root.cert
    )
    assert [r.endpoint for r in srv.server.requests] == ["crl", "crl", "ca", "ca"]


def test_crl_modes(srv: Served) -> None:
    srv.server.crl_mode = "down"
    assert http_request(srv, "GET", "/crl/root-ec.crl")[0] == 503
    assert http_request(srv, "GET", "/ca/root-ec.crt")[0] == 503
    assert http_request(srv, "POST", "/ocsp/ec", ocsp_request_der(srv.cards["ec"]))[0] == 200

    srv.server.crl_mode = "malformed"
    assert http_request(srv, "GET", "/crl/root-ec.crl")[1] == MALFORMED_BODY

    srv.server.crl_mode = "stale"
    crl = x509.load_der_x509_crl(http_request(srv, "GET", "/crl/root-ec.crl")[1])
    assert crl.next_update_utc is not None
    assert crl.next_update_utc < dt.datetime.now(dt.UTC)

    srv.server.crl_mode = "slow"
    srv.server.slow_seconds = 0.5
    started = time.monotonic()
    assert http_request(srv, "GET", "/crl/root-ec.crl")[0] == 200
    assert time.monotonic() - started >= 0.5


def test_listens_on_loopback_only(srv: Served) -> None:
    assert srv.server.base_url == f"http://127.0.0.1:{srv.server.port}"
    # A connection to the same port on another local address must not reach the server.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for UDP connect
        own_address = probe.getsockname()[0]
    except OSError:
        pytest.skip("no non-loopback IPv4 address")
    finally:
        probe.close()
    if own_address.startswith("127."):
        pytest.skip("no non-loopback IPv4 address")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((own_address, srv.server.port), timeout=2).close()


# -- a real validator following the certificates' URLs ----------------------------------------


async def validate(s: Served, kind: HierarchyKind) -> None:
    card = s.cards[kind]
    backend = AIOHttpFetcherBackend(per_request_timeout=5)
    async with backend as fetchers:
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(card.root_cert_der)],
            allow_fetching=True,
            revocation_mode="hard-fail",
            fetchers=fetchers,
        )
        validator = CertificateValidator(
            asn1_x509.Certificate.load(card.auth_cert_der),
            intermediate_certs=[asn1_x509.Certificate.load(card.ca_cert_der)],
            validation_context=context,
        )
        await validator.async_validate_usage({"digital_signature"})  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("kind", HIERARCHY_KINDS)
async def test_pyhanko_certvalidator_checks_revocation(srv: Served, kind: HierarchyKind) -> None:
    await validate(srv, kind)
    assert srv.server.requests_to("ocsp")

    srv.pki.revoke(srv.cards[kind].auth_cert, x509.ReasonFlags.key_compromise)
    with pytest.raises(RevokedError, match="OCSP"):
        await validate(srv, kind)

    # OCSP down: the validator falls back to the CRL in the certificate and still sees it.
    srv.server.mode = "down"
    srv.server.requests.clear()
    with pytest.raises(RevokedError, match="CRL"):
        await validate(srv, kind)
    assert srv.server.requests_to("crl")


# -- the async API ----------------------------------------------------------------------------


async def test_async_context_manager_and_slow_stop(served: Served) -> None:
    request = ocsp_request_der(served.cards["ec"])
    async with OcspCrlServer(served.pki, port=0, slow_seconds=0.5) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            url = server.ocsp_url("ec")
            headers = {"Content-Type": "application/ocsp-request"}
            async with session.post(url, data=request, headers=headers) as response:
                assert response.status == 200
                body = await response.read()
            assert ocsp.load_der_ocsp_response(body).certificate_status == (
                ocsp.OCSPCertStatus.GOOD
            )

            server.mode = "slow"
            started = time.monotonic()
            async with session.post(url, data=request, headers=headers) as response:
                assert response.status == 200
            assert time.monotonic() - started >= 0.5

            server.mode = "refused"
            with pytest.raises(aiohttp.ClientConnectionError):
                async with session.post(url, data=request, headers=headers) as response:
                    pass
            server.mode = "good"
            await asyncio.sleep(0)  # let the re-opened listener start accepting
            async with session.post(url, data=request, headers=headers) as response:
                assert response.status == 200

            # Stopping does not wait out a slow request.
            server.slow_seconds = 30
            server.mode = "slow"
            pending = asyncio.ensure_future(session.post(url, data=request, headers=headers))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            await server.stop()
            assert time.monotonic() - started < 5
            try:
                response = await asyncio.wait_for(pending, 5)
                response.release()
            except aiohttp.ClientError:
                pass


async def test_pki_can_be_attached_after_binding() -> None:
    server = OcspCrlServer(port=0)
    url = f"{server.base_url}/ca/root-ec.crt"
    try:
        async with server, aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                assert response.status == 503  # no PKI yet
            pki = TestPki.generate(
                ocsp_base_url=server.base_url, crl_base_url=server.base_url, rsa_root_bits=2048
            )
            server.pki = pki
            async with session.get(url) as response:
                assert response.status == 200
                assert await response.read() == pki.ec.root.der
    finally:
        server.close()
