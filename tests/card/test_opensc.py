"""OpenSC (Debian 12: 0.23.0) against the virtual card in pcscd: an independent client that
must recognise the card, read the same certificates and make signatures our PKI verifies.

OpenSC command lines that work with the virtual card (``R`` = the reader's name, e.g.
``"Virtual PCD 00 01"``; ``OPENSC_CONF`` points at a file with ``ignored_readers = "<the
other vpcd reader>"`` so that OpenSC's PKCS#11 module never talks to the card in the other
reader)::

    opensc-tool --reader R -n                            # "Belpic cards" (1.7 and 1.8 ATRs)
    opensc-tool --info                                   # "OpenSC 0.23.0 [gcc 12.2.0]"
    pkcs15-tool --reader R --list-certificates           # no PIN needed, even for 1.7
    pkcs15-tool --reader R --list-keys
    pkcs15-tool --reader R --read-certificate 02 -o auth.pem   # PEM; 02 03 04 06
    pkcs11-tool -L                                       # token "BELPIC (Basic PIN)"
    pkcs11-tool --slot-description R -M                  # RSA mechanisms only, even on 1.8
    pkcs11-tool --slot-description R --list-objects --type cert     # 1.8: 4 certificates;
                                                         # 1.7: none (CDF flags them private)
    pkcs11-tool --slot-description R --login --pin 1234 --list-objects --type cert   # 1.7
    pkcs11-tool --slot-description R --login --pin 1234 --read-object --type cert \\
        --id 02 -o auth.der                              # DER
    pkcs11-tool --slot-description R --login --pin 1234 --sign --mechanism SHA256-RSA-PKCS \\
        --id 02 -i data -o sig                           # applet 1.7, authentication key
    openssl x509 -inform der -in auth.der -pubkey -noout > auth.pub
    openssl dgst -sha256 -verify auth.pub -signature sig data     # "Verified OK"

What does not work (asserted below, so that a newer OpenSC is noticed):

* ``--slot-index 0`` counts empty slots too: with vpcd's two readers it picks reader 0.
  ``--slot-description`` (or an ``OPENSC_CONF`` that ignores the other reader) is reliable.
* ``--sign --id 03`` (non-repudiation key, "Signature"): OpenSC's belpic driver sends
  MSE:SET for key 83 and then refuses ("No GUI for NonRep key present, signature
  cancelled", ``card-belpic.c`` ``belpic_set_security_env``): ``CKR_FUNCTION_NOT_SUPPORTED``
  and no PSO:CDS reaches the card.
* Applet 1.8 (EC P-384): OpenSC 0.23 lists the EC keys and certificates but offers only RSA
  mechanisms; ``--sign --mechanism ECDSA[-SHA384] --id 02`` fails in C_SignInit with
  ``CKR_MECHANISM_INVALID`` after the login's VERIFY, before any MSE:SET (1.8 signing
  support reached OpenSC upstream in 2025). The 1.8 independence proof is therefore a
  listing/reading one only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import PcscCard
from tests.services import READER_0, READER_1, TEST_READER

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

InsertCard = Callable[[str], PcscCard]

TOOLS = ("opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl")
MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
PIN = "1234"
# pkcs15 IDs / labels of the four certificates in the CDF (belpic.md 2.3).
CERTIFICATE_IDS = {"02": "Authentication", "03": "Signature", "04": "CA", "06": "Root"}
TIMEOUT = 60


@dataclass(frozen=True)
class OpenSC:
    module: Path
    env: dict[str, str]
    """The environment for every OpenSC command: OPENSC_CONF ignores the other reader."""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=TIMEOUT
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def pkcs11(self, reader: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "pkcs11-tool", "--module", str(self.module), "--slot-description", reader, *args
        )


def opensc_config(directory: Path) -> Path:
    """An opensc.conf for this run: OpenSC ignores the vpcd reader the other tester uses."""
    other = READER_0 if TEST_READER == READER_1 else READER_1
    path = directory / "opensc.conf"
    path.write_text(f'app default {{\n\tignored_readers = "{other}";\n}}\n')
    return path


@pytest.fixture(scope="module")
def opensc(tmp_path_factory: pytest.TempPathFactory) -> OpenSC:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    module = next((Path(p) for p in MODULE_CANDIDATES if Path(p).exists()), None)
    if module is None:
        missing.append("opensc-pkcs11.so")
    if missing:
        reason = f"OpenSC tools missing: {', '.join(missing)} (Debian packages opensc, openssl)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the OpenSC tests: {reason}")
        pytest.skip(reason)
    assert module is not None
    env = dict(os.environ, OPENSC_CONF=str(opensc_config(tmp_path_factory.mktemp("opensc"))))
    return OpenSC(module, env)


def certificates_of(card: PcscCard) -> dict[str, bytes]:
    """The PKI's certificates by pkcs15 ID."""
    credentials = card.built.credentials
    return {
        "02": credentials.auth_cert_der,
        "03": credentials.signature_cert_der,
        "04": credentials.ca_cert_der,
        "06": credentials.root_cert_der,
    }


def unexpected_status_words(card: PcscCard, allowed: tuple[int, ...] = ()) -> list[tuple[str, str]]:
    """Exchanges the applet refused: anything but 9000, 61xx and 6Cxx (OpenSC reads with
    Le=00 first) and the status words in ``allowed``."""
    refused = []
    for command, response in card.applet.log:
        sw = int.from_bytes(response[-2:], "big")
        if sw == 0x9000 or sw >> 8 in (0x61, 0x6C) or sw in allowed:
            continue
        refused.append((command.hex(), response[-2:].hex()))
    return refused


def commands(card: PcscCard, prefix: str) -> list[bytes]:
    return [command for command, _ in card.applet.log if command.hex().startswith(prefix)]


# --- recognition and certificates ---------------------------------------------------------


@pytest.mark.parametrize("profile", ["citizen-1.7", "citizen-1.8"])
def test_opensc_tool_names_the_card(opensc: OpenSC, vpcd_card: InsertCard, profile: str) -> None:
    card = vpcd_card(profile)
    assert opensc.ok("opensc-tool", "--reader", card.reader, "-n").strip() == "Belpic cards"
    assert unexpected_status_words(card) == []


@pytest.mark.parametrize("profile", ["citizen-1.7", "citizen-1.8"])
def test_pkcs15_tool_lists_and_reads_the_certificates(
    opensc: OpenSC, vpcd_card: InsertCard, profile: str, tmp_path: Path
) -> None:
    """pkcs15-tool reads the certificates without a PIN (it ignores the CDF's private flag)
    and what it reads is byte for byte the PKI's certificate."""
    card = vpcd_card(profile)
    listing = opensc.ok("pkcs15-tool", "--reader", card.reader, "--list-certificates")
    found = dict(
        zip(
            re.findall(r"X\.509 Certificate \[(\w+)\]", listing),
            re.findall(r"ID\s+: (\w+)", listing),
            strict=True,
        )
    )
    assert found == {label: cert_id for cert_id, label in CERTIFICATE_IDS.items()}
    # The 1.7 content manual's CDF flags the certificates private (06 C0), 1.8's does not.
    assert ("private" in listing) == profile.endswith("1.7")

    for cert_id, expected in certificates_of(card).items():
        pem = tmp_path / f"{cert_id}.pem"
        opensc.ok(
            "pkcs15-tool", "--reader", card.reader, "--read-certificate", cert_id, "-o", str(pem)
        )
        read = x509.load_pem_x509_certificate(pem.read_bytes())
        assert read.public_bytes(serialization.Encoding.DER) == expected, cert_id
    assert unexpected_status_words(card) == []


@pytest.mark.parametrize("profile", ["citizen-1.7", "citizen-1.8"])
def test_pkcs11_tool_lists_the_certificates(
    opensc: OpenSC, vpcd_card: InsertCard, profile: str, tmp_path: Path
) -> None:
    """OpenSC's PKCS#11 module shows the 1.7 certificates only after login (private in the
    CDF), the 1.8 ones without; after login the DER is the PKI's."""
    card = vpcd_card(profile)
    slots = opensc.ok("pkcs11-tool", "--module", str(opensc.module), "-L")
    assert "BELPIC (Basic PIN)" in slots

    public = opensc.pkcs11(card.reader, "--list-objects", "--type", "cert")
    assert public.returncode == 0, public.stderr
    public_labels = set(re.findall(r"label:\s+(\w+)", public.stdout))
    if profile.endswith("1.7"):
        assert public_labels == set()
    else:
        assert public_labels == set(CERTIFICATE_IDS.values())

    listing = opensc.pkcs11(
        card.reader, "--login", "--pin", PIN, "--list-objects", "--type", "cert"
    )
    assert listing.returncode == 0, listing.stderr
    assert set(re.findall(r"label:\s+(\w+)", listing.stdout)) == set(CERTIFICATE_IDS.values())

    for cert_id, expected in certificates_of(card).items():
        der = tmp_path / f"{cert_id}.der"
        result = opensc.pkcs11(
            card.reader, "--login", "--pin", PIN, "--read-object", "--type", "cert",
            "--id", cert_id, "-o", str(der),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert der.read_bytes() == expected, cert_id
    assert card.built.profile.pin_tries_left == 3
    assert unexpected_status_words(card) == []


# --- signatures (applet 1.7) -----------------------------------------------------------------


def test_pkcs11_tool_signs_with_the_authentication_key(
    opensc: OpenSC, vpcd_card: InsertCard, tmp_path: Path
) -> None:
    card = vpcd_card("citizen-1.7")
    data = tmp_path / "data"
    data.write_bytes(b"challenge from a TLS server " * 7)
    signature = tmp_path / "sig"
    card.applet.clear_log()
    result = opensc.pkcs11(
        card.reader, "--login", "--pin", PIN, "--sign", "--mechanism", "SHA256-RSA-PKCS",
        "--id", "02", "-i", str(data), "-o", str(signature),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    cert = x509.load_der_x509_certificate(card.built.credentials.auth_cert_der)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature.read_bytes(), data.read_bytes(), padding.PKCS1v15(), hashes.SHA256())

    public_key = tmp_path / "auth.pub"
    public_key.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    verified = opensc.run(
        "openssl", "dgst", "-sha256", "-verify", str(public_key),
        "-signature", str(signature), str(data),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert "Verified OK" in verified.stdout

    # OpenSC: MSE:SET algorithm 01 (host-built DigestInfo) for key 82, then PSO:CDS.
    assert commands(card, "002241b6") == [bytes.fromhex("002241b6050480018482")]
    assert len(commands(card, "002a9e9a")) == 1
    assert unexpected_status_words(card) == []


def test_pkcs11_tool_wrong_pin_costs_a_try(
    opensc: OpenSC, vpcd_card: InsertCard, tmp_path: Path
) -> None:
    card = vpcd_card("citizen-1.7")
    data = tmp_path / "data"
    data.write_bytes(b"data")
    profile = card.built.profile
    assert profile.pin_tries_left == 3
    wrong = opensc.pkcs11(
        card.reader, "--login", "--pin", "9999", "--sign", "--mechanism", "SHA256-RSA-PKCS",
        "--id", "02", "-i", str(data), "-o", str(tmp_path / "sig"),
    )  # fmt: skip
    assert wrong.returncode != 0
    assert "CKR_PIN_INCORRECT" in wrong.stdout + wrong.stderr
    assert profile.pin_tries_left == 2
    assert commands(card, "0020") != []
    assert commands(card, "002a") == []  # nothing signed

    # The right PIN restores the counter (manuals 6.5).
    opensc.pkcs11(card.reader, "--login", "--pin", PIN, "--list-objects", "--type", "cert")
    assert profile.pin_tries_left == 3
    assert unexpected_status_words(card, allowed=(0x63C2,)) == []


def test_opensc_refuses_the_non_repudiation_key(
    opensc: OpenSC, vpcd_card: InsertCard, tmp_path: Path
) -> None:
    """OpenSC 0.23's belpic driver cannot sign with the "Signature" key: it sets the SE for
    key 83, then returns SC_ERROR_NOT_SUPPORTED ("No GUI for NonRep key present"), which
    PKCS#11 reports as CKR_FUNCTION_NOT_SUPPORTED. Asserted so a change is noticed."""
    card = vpcd_card("citizen-1.7")
    data = tmp_path / "data"
    data.write_bytes(b"contract")
    listing = opensc.pkcs11(card.reader, "--login", "--pin", PIN, "--list-objects")
    # OpenSC marks the key CKA_ALWAYS_AUTHENTICATE (userConsent in the PrKDF).
    objects = re.split(r"\n(?=\S)", listing.stdout)
    (signature_key,) = [
        o for o in objects if o.startswith("Private Key Object") and "label:      Signature" in o
    ]
    assert "always authenticate" in signature_key

    card.applet.clear_log()
    result = opensc.pkcs11(
        card.reader, "--login", "--pin", PIN, "--sign", "--mechanism", "SHA256-RSA-PKCS",
        "--id", "03", "-i", str(data), "-o", str(tmp_path / "sig"),
    )  # fmt: skip
    if result.returncode == 0:
        pytest.fail("this OpenSC signs with the non-repudiation key: verify it here instead")
    assert "CKR_FUNCTION_NOT_SUPPORTED" in result.stdout + result.stderr
    assert bytes.fromhex("002241b6050480018483") in commands(card, "002241b6")
    assert commands(card, "002a") == []
    assert card.built.profile.pin_tries_left == 3
    assert unexpected_status_words(card) == []


# --- applet 1.8: listing only ------------------------------------------------------------------


def test_opensc_0_23_cannot_sign_with_the_applet_1_8_ec_keys(
    opensc: OpenSC, vpcd_card: InsertCard, tmp_path: Path
) -> None:
    """OpenSC 0.23 recognises the 1.8 card and lists its EC keys and certificates (tests
    above), but its belpic driver registers only RSA algorithms: no ECDSA mechanism, and
    C_SignInit with the EC key fails with CKR_MECHANISM_INVALID before any MSE:SET. So the
    independent-client proof for 1.8 is listing and reading only. When Debian ships an
    OpenSC that signs with 1.8 cards this test fails: then verify the signature here."""
    card = vpcd_card("citizen-1.8")
    mechanisms = opensc.pkcs11(card.reader, "-M")
    assert mechanisms.returncode == 0, mechanisms.stderr
    assert "RSA-PKCS" in mechanisms.stdout
    assert "ECDSA" not in mechanisms.stdout

    keys = opensc.ok("pkcs15-tool", "--reader", card.reader, "--list-keys")
    assert keys.count("Private EC Key") == 2
    assert "FieldLength    : 384" in keys

    data = tmp_path / "data"
    data.write_bytes(b"challenge")
    for mechanism in ("ECDSA-SHA384", "ECDSA"):
        card.applet.clear_log()
        result = opensc.pkcs11(
            card.reader, "--login", "--pin", PIN, "--sign", "--mechanism", mechanism,
            "--id", "02", "-i", str(data), "-o", str(tmp_path / "sig"),
        )  # fmt: skip
        if result.returncode == 0:
            pytest.fail(f"this OpenSC signs with applet 1.8 ({mechanism}): verify it here")
        assert "CKR_MECHANISM_INVALID" in result.stdout + result.stderr
        assert commands(card, "0020") != []  # the login reached the card
        assert commands(card, "0022") == []
        assert commands(card, "002a") == []
    assert card.built.profile.pin_tries_left == 3
    assert unexpected_status_words(card) == []
