"""Certificate validation benchmark: cold (OCSP fetched) against warm (cached).

Run with ``.venv/bin/python benchmarks/trust.py``. It starts the test OCSP/CRL server on
127.0.0.1 (a free port) and validates each card certificate of both hierarchies:

cold        empty cache: OCSP for the card certificate and for the CA, over HTTP to loopback
            (a real responder adds its network round trips on top);
disk        a new process with the disk cache filled: no request, full path validation;
warm        same process, cache in memory: no request, the verdict of identical inputs reused.

Medians over ``--runs`` repetitions. Target: warm < 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bridge.emulator.ocsp_server import OcspCrlServer
from bridge.emulator.pki import HIERARCHY_KINDS, TestPki
from bridge.trust.anchors import TrustStore
from bridge.trust.revocation import RevocationCache, RevocationPolicy
from bridge.trust.validate import Purpose, Status, clear_memos, validate

TARGET_WARM_MS = 5.0


def _median_ms(action: Callable[[], None], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _bench_one(
    server: OcspCrlServer,
    store: TrustStore,
    der: bytes,
    ca_der: bytes,
    purpose: Purpose,
    directory: Path,
    runs: int,
) -> tuple[float, float, float, bool]:
    """(cold, disk, warm) medians in ms, and whether warm runs stayed off the network."""

    def run(policy: RevocationPolicy) -> None:
        verdict = validate(
            der, intermediates=[ca_der], purpose=purpose, store=store, revocation=policy
        )
        if verdict.status is not Status.VALID or not verdict.revocation_checked:
            raise SystemExit(f"unexpected verdict: {verdict}")

    counter = 0

    def cold() -> None:
        nonlocal counter
        counter += 1
        clear_memos()
        run(RevocationPolicy(cache=RevocationCache(directory / f"cold-{counter}")))

    def disk() -> None:
        run(RevocationPolicy(cache=RevocationCache(directory / "cold-1")))

    cold_ms = _median_ms(cold, runs)
    disk_ms = _median_ms(disk, runs)
    warm_policy = RevocationPolicy(cache=RevocationCache(directory / "cold-1"))
    run(warm_policy)
    server.requests.clear()
    warm_ms = _median_ms(lambda: run(warm_policy), runs)
    return cold_ms, disk_ms, warm_ms, not server.requests


def main() -> int:
    parser = argparse.ArgumentParser(description="certificate validation, cold vs warm")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    runs: int = args.runs

    server = OcspCrlServer(port=0)
    pki = TestPki.generate(ocsp_base_url=server.base_url, crl_base_url=server.base_url)
    server.pki = pki
    store = TrustStore.for_test_pki(pki)
    ok = True
    print(f"{'certificate':<28}{'cold ms':>10}{'disk ms':>10}{'warm ms':>10}{'cold/warm':>11}")
    with server.run_in_thread(), tempfile.TemporaryDirectory() as tmp:
        for kind in HIERARCHY_KINDS:
            card = pki.issue_card(
                kind, national_number="85073100145", first_names="Jan", surname="Peeters"
            )
            for purpose, der in (
                (Purpose.AUTHENTICATION, card.auth_cert_der),
                (Purpose.NON_REPUDIATION, card.signature_cert_der),
            ):
                directory = Path(tmp) / f"{kind}-{purpose.value}"
                cold_ms, disk_ms, warm_ms, offline = _bench_one(
                    server, store, der, card.ca_cert_der, purpose, directory, runs
                )
                if not offline:
                    print("  warm validations reached the network!")
                ok = ok and offline and warm_ms < TARGET_WARM_MS
                label = f"{kind} {purpose.value}"
                print(
                    f"{label:<28}{cold_ms:>10.2f}{disk_ms:>10.2f}{warm_ms:>10.2f}"
                    f"{cold_ms / warm_ms:>10.1f}x"
                )
    print(f"target warm < {TARGET_WARM_MS} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
