"""The network: proxy settings, reachability of the OCSP responders and CRLs named in the
card's certificates, and TLS interception (an antivirus or firewall presenting its own
certificate for a known HTTPS host)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import email.utils
import hashlib
import os
import queue
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context, TlsProbe
from bridge.diagnostics.model import CheckStatus, Outcome, ok, skipped
from bridge.trust.revocation import crl_urls, ocsp_urls

PROXY_VARIABLES = ("https_proxy", "http_proxy", "no_proxy")


def _without_credentials(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def check_proxy(ctx: Context) -> Outcome:
    found = {}
    for name in PROXY_VARIABLES:
        value = os.environ.get(name) or os.environ.get(name.upper())
        if value:
            found[name] = _without_credentials(value) if name != "no_proxy" else value
    if not found:
        return ok("no proxy configured (environment)")
    return ok("proxy configured", **found)


@dataclass(frozen=True)
class Reached:
    url: str
    reachable: bool
    detail: str
    date: dt.datetime | None = None
    local: dt.datetime | None = None


def reach(url: str, timeout: float, clock: Any) -> Reached:
    """One GET (through the environment's proxy): any HTTP answer means reachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http(s) from certificates
            status, headers = answer.status, answer.headers
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, exc.headers
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Reached(url, False, f"{type(reason).__name__}: {reason}")
    local = clock()
    date = None
    if headers.get("Date"):
        try:
            date = email.utils.parsedate_to_datetime(headers["Date"])
        except (TypeError, ValueError):
            date = None
    return Reached(url, True, f"HTTP {status}", date, local)


def revocation_urls(ctx: Context) -> list[str]:
    assert ctx.certificates is not None
    certs = ctx.certificates
    urls: dict[str, None] = {}
    for der in (certs.authentication, certs.signature, certs.ca):
        if der is None:
            continue
        cert = x509.load_der_x509_certificate(der)
        for url in (*ocsp_urls(cert), *crl_urls(cert)):
            urls[url] = None
    return list(urls)


def check_revocation_services(ctx: Context) -> Outcome:
    urls = revocation_urls(ctx)
    if not urls:
        return skipped("the certificates name no OCSP or CRL URL")
    timeout, clock = ctx.options.network_timeout, ctx.options.clock
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = list(pool.map(lambda url: reach(url, timeout, clock), urls))
    for r in results:
        if r.date is not None and r.local is not None:
            ctx.server_dates.append((r.url, r.date, r.local))
    evidence = {
        "services": [{"url": r.url, "reachable": r.reachable, "detail": r.detail} for r in results]
    }
    down = [r for r in results if not r.reachable]
    if not down:
        return Outcome(CheckStatus.OK, f"{len(results)} service(s) reachable", evidence)
    hosts = sorted({urllib.parse.urlsplit(r.url).netloc for r in down})
    return Outcome(
        CheckStatus.FAILED if len(down) == len(results) else CheckStatus.WARNING,
        f"{len(down)} of {len(results)} service(s) unreachable",
        evidence,
        remedies.REVOCATION_UNREACHABLE,
        {"hosts": ", ".join(hosts)},
    )


@dataclass(frozen=True)
class Presented:
    host: str
    issuer: str
    pin: str
    """SHA-256 (hex) of the leaf's SubjectPublicKeyInfo."""


def present(probe: TlsProbe, timeout: float) -> Presented:
    """The leaf certificate ``probe.host`` presents (no verification: we want to see it
    whatever it is). Raises ``OSError`` when unreachable."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((probe.host, probe.port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=probe.host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise OSError(f"{probe.host} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    names = [
        str(a.value)
        for oid in (x509.NameOID.ORGANIZATION_NAME, x509.NameOID.COMMON_NAME)
        for a in cert.issuer.get_attributes_for_oid(oid)
    ]
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Presented(probe.host, " / ".join(names), hashlib.sha256(spki).hexdigest())


def _present_within(probe: TlsProbe, timeout: float) -> Presented | BaseException:
    """``present`` with a deadline that covers name resolution too (a daemon thread, so a
    resolver stuck without network cannot hold the process)."""
    box: queue.Queue[Presented | BaseException] = queue.Queue()

    def run() -> None:
        try:
            box.put(present(probe, timeout))
        except BaseException as exc:
            box.put(exc)

    threading.Thread(target=run, daemon=True, name=f"tls-probe-{probe.host}").start()
    try:
        return box.get(timeout=timeout + 0.5)
    except queue.Empty:
        return TimeoutError(f"{probe.host}: no answer within {timeout} s")


def matches(probe: TlsProbe, seen: Presented) -> bool:
    if probe.pins and seen.pin in probe.pins:
        return True
    return any(name.lower() in seen.issuer.lower() for name in probe.issuers)


def check_tls_interception(ctx: Context) -> Outcome:
    probes = list(ctx.options.tls_probes)
    if not probes:
        return skipped("no known HTTPS host configured")
    seen: list[dict[str, Any]] = []
    intercepted: list[Presented] = []
    unreachable = 0
    no_network = 0
    for probe in probes:
        result = _present_within(probe, ctx.options.network_timeout)
        if isinstance(result, BaseException):
            unreachable += 1
            no_network += isinstance(result, socket.gaierror)
            seen.append({"host": probe.host, "reached": False, "error": str(result)})
            continue
        fine = matches(probe, result)
        seen.append(
            {"host": probe.host, "reached": True, "issuer": result.issuer, "expected": fine}
        )
        if not fine:
            intercepted.append(result)
    if intercepted:
        return Outcome(
            CheckStatus.FAILED,
            f"{intercepted[0].host} presented a certificate from '{intercepted[0].issuer}'",
            {"hosts": seen},
            remedies.TLS_INTERCEPTED,
            {"issuer": intercepted[0].issuer},
        )
    if no_network == len(probes):
        return skipped("no network (names do not resolve)", hosts=seen)
    if unreachable:
        return Outcome(
            CheckStatus.WARNING, "could not reach the known HTTPS host(s)", {"hosts": seen}
        )
    return ok("certificates as expected: no interception", hosts=seen)
