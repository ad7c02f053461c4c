"""Diagnostics benchmark: a full ``diagnose`` on the virtual card must finish in under 3 s.

Run with ``.venv/bin/python benchmarks/diagnose.py [--profile citizen-1.8]``. The virtual card
has the latency of a real card in a contact reader (``LatencyModel.for_atr``). When pcscd runs
with vsmartcard's vpcd readers, the card goes into the vpcd reader chosen by
``EID_TEST_READER_INDEX`` (default 0) and the diagnosis goes through PC/SC; otherwise it sits
in an in-process ``LocalReader``. The test PKI's OCSP/CRL server runs on 127.0.0.1, so the
revocation and clock checks talk to a real HTTP server. Every check runs with the options the
CLI uses (the TLS-interception probe included: without internet it ends at name resolution),
except the signature test, which needs the user's PIN.

Prints the total, each check's duration and the ratio to the 3 s target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.card.errors import PcscUnavailable
from bridge.card.local import LocalReader
from bridge.card.readers import list_readers
from bridge.diagnostics import Options, Report, diagnose
from bridge.emulator.applet import BelpicApplet
from bridge.emulator.latency import LatencyModel
from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import TestPki
from bridge.emulator.profiles import build_card
from bridge.emulator.vpcd import VPCD_PORT, VpcdCard
from bridge.service.cards import CardSource, LocalSource, PcscSource
from bridge.trust.anchors import TrustStore

TARGET_SECONDS = 3.0


def _pcscd_up() -> bool:
    try:
        list_readers()
    except PcscUnavailable:
        return False
    return True


def _wait_for(reader: str, present: bool) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(r.name == reader and r.card_present == present for r in list_readers()):
            return
        time.sleep(0.05)
    raise SystemExit(f"pcscd never saw the card {'inserted' if present else 'removed'}")


def run(profile: str, force_local: bool) -> tuple[Report, float, str]:
    server = OcspCrlServer(port=0)
    pki = TestPki.generate(
        ocsp_base_url=server.base_url, crl_base_url=server.base_url, rsa_root_bits=2048
    )
    server.pki = pki
    built = build_card(profile, pki)
    model = LatencyModel.for_atr(built.profile.atr)
    vpcd: VpcdCard | None = None
    source: CardSource
    if not force_local and _pcscd_up():
        index = int(os.environ.get("EID_TEST_READER_INDEX", "0"))
        reader = f"Virtual PCD 00 {index:02d}"
        vpcd = VpcdCard(BelpicApplet(built.profile), port=VPCD_PORT + index, latency=model.cost)
        vpcd.insert()
        _wait_for(reader, True)
        source, via = PcscSource(reader), f"pcscd + vpcd ({reader})"
    else:
        local = LocalReader(latency=model.cost)
        local.insert(BelpicApplet(built.profile))
        source, via = LocalSource(local), "in-process reader"
    try:
        with server.run_in_thread():
            options = Options(source=source, store=TrustStore.for_test_pki(pki))
            started = time.perf_counter()
            report = diagnose(options)
            elapsed = time.perf_counter() - started
    finally:
        if vpcd is not None:
            vpcd.remove()
            _wait_for(reader, False)
    return report, elapsed, via


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="citizen-1.8")
    parser.add_argument("--in-process", action="store_true", help="never use pcscd")
    args = parser.parse_args()
    report, elapsed, via = run(args.profile, args.in_process)
    print(f"diagnose, virtual card '{args.profile}' via {via}, default latency model")
    for check in report.checks:
        print(f"  {check.id:26} {check.status.value:8} {check.duration * 1000:8.1f} ms")
    ratio = elapsed / TARGET_SECONDS
    print(f"total {elapsed:.2f} s; target {TARGET_SECONDS:.0f} s; ratio {ratio:.2f}")
    print(f"result {report.worst.value}, support code {report.support_code}")
    return 0 if elapsed < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
