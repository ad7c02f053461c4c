"""``eid-bridge`` command line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from bridge import __version__
from bridge.card.connect import open_card
from bridge.card.errors import CardError, PcscUnavailable
from bridge.card.local import LocalReader
from bridge.card.readers import list_readers
from bridge.card.session import BelpicSession, CardContents, CardData
from bridge.config import Settings
from bridge.messages import DEMO_PORT_TAKEN, explain, message_for

log = logging.getLogger("eid-bridge")

# Exit codes (documented in the README): 0 ok, 1 card/reader problem, 2 usage, 3 setup.
EXIT_OK, EXIT_CARD, EXIT_USAGE, EXIT_SETUP = 0, 1, 2, 3


# --- card access -------------------------------------------------------------------------


@contextlib.contextmanager
def open_session(settings: Settings, virtual: str | None = None) -> Iterator[BelpicSession]:
    """A session on the user's card, or on a virtual card in-process (``--virtual``)."""
    if virtual:
        from bridge.emulator.applet import BelpicApplet
        from bridge.emulator.profiles import build_card

        card = build_card(virtual, load_test_pki(settings))
        reader = LocalReader(f"Virtual in-process reader ({card.profile.name})")
        reader.insert(BelpicApplet(card.profile))
        yield BelpicSession(reader.connect())
        return
    transport = open_card(settings.reader, connect_delay=settings.connect_delay)
    try:
        yield BelpicSession(transport)
    finally:
        transport.close()


@functools.cache
def _test_pki(directory: Path) -> Any:
    from bridge.emulator.pki import DEFAULT_BASE_URL, TestPki

    return TestPki.load_or_create(
        directory, ocsp_base_url=DEFAULT_BASE_URL, crl_base_url=DEFAULT_BASE_URL
    )


def load_test_pki(settings: Settings) -> Any:
    """One test PKI object per process: the virtual card's revocations and the OCSP server
    that reports them must share its state."""
    return _test_pki(settings.data_dir / "test-pki")


# --- rendering ---------------------------------------------------------------------------


def _certificate_summary(der: bytes | None) -> dict[str, str] | None:
    if der is None:
        return None
    cert = x509.load_der_x509_certificate(der)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return {
        "subject": str(cn[0].value) if cn else cert.subject.rfc4514_string(),
        "issuer": str(issuer[0].value) if issuer else cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "valid_from": cert.not_valid_before_utc.date().isoformat(),
        "valid_until": cert.not_valid_after_utc.date().isoformat(),
        "key": type(cert.public_key()).__name__.removeprefix("_").replace("PublicKey", ""),
    }


def applet_label(card_data: CardData) -> str:
    return f"{card_data.applet_version >> 4}.{card_data.applet_version & 0x0F}"


def contents_as_dict(contents: CardContents, *, show_nn: bool) -> dict[str, Any]:
    identity, address = contents.identity, contents.address
    certs = contents.certificates
    return {
        "card": {
            "number": identity.card_number,
            "chip_serial": identity.chip_number.hex().upper(),
            "valid_from": identity.validity_begin.isoformat(),
            "valid_until": identity.validity_end.isoformat(),
            "issued_in": identity.delivery_municipality,
            "document_type": identity.document_type.name,
            "applet": None if contents.card_data is None else applet_label(contents.card_data),
        },
        "holder": {
            "surname": identity.surname,
            "first_names": identity.first_names,
            "third_name_initial": identity.third_name_initial,
            "national_number": identity.national_number
            if show_nn
            else identity.masked_national_number,
            "birth_date": identity.birth_date.text,
            "birth_location": identity.birth_location,
            "sex": identity.sex.value,
            "nationality": identity.nationality,
        },
        "address": {
            "street": address.street_and_number,
            "zip": address.zip_code,
            "municipality": address.municipality,
        },
        "photo_bytes": len(contents.photo),
        "integrity": "verified" if contents.identity_signature is not None else "not checked",
        "certificates": {
            "authentication": _certificate_summary(certs.authentication),
            "signature": _certificate_summary(certs.signature),
            "ca": _certificate_summary(certs.ca),
            "root": _certificate_summary(certs.root),
            "rrn": _certificate_summary(certs.rrn),
        },
    }


def _print_tree(data: dict[str, Any], indent: int = 0) -> None:
    for key, value in data.items():
        label = key.replace("_", " ")
        if isinstance(value, dict):
            print(" " * indent + f"{label}:")
            _print_tree(value, indent + 2)
        else:
            print(" " * indent + f"{label}: {'-' if value is None else value}")


# --- commands ----------------------------------------------------------------------------


def cmd_card_read(args: argparse.Namespace, settings: Settings) -> int:
    with open_session(settings, args.virtual) as session:
        session.card_data  # noqa: B018 - read first, so the applet version is reported
        contents = session.read_all(verify=not args.no_verify)
    data = contents_as_dict(contents, show_nn=args.show_nn)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_tree(data)
    return EXIT_OK


@contextlib.contextmanager
def test_revocation_server(settings: Settings) -> Iterator[None]:
    """In demo mode, serve the test PKI's OCSP and CRLs on 127.0.0.1:35980 (the URLs its
    certificates carry), unless something already listens there."""
    from bridge.emulator.ocsp_server import OcspCrlServer
    from bridge.emulator.pki import DEFAULT_PORT

    try:
        server = OcspCrlServer(load_test_pki(settings), port=DEFAULT_PORT)
    except OSError:  # already served (e.g. by a running "emulator run")
        yield
        return
    with server.run_in_thread():
        yield


def cmd_card_validate(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.trust.anchors import TrustStore
    from bridge.trust.revocation import RevocationPolicy
    from bridge.trust.validate import Status, validate_card

    if args.virtual:
        settings.demo = True
    test_pki = load_test_pki(settings) if settings.demo else None
    store = TrustStore.for_settings(settings, test_pki)
    with contextlib.ExitStack() as stack:
        if settings.demo:
            stack.enter_context(test_revocation_server(settings))
        with open_session(settings, args.virtual) as session:
            certificates = session.read_certificates()
        verdicts = validate_card(
            certificates, store=store, revocation=RevocationPolicy.for_settings(settings)
        )
    worst = EXIT_OK
    results = {}
    for name, verdict in verdicts.items():
        results[name] = {
            "status": verdict.status.value,
            "code": verdict.code,
            "message": verdict.message(settings.language),
            "warnings": list(verdict.warnings),
        }
        if verdict.status is not Status.VALID:
            worst = EXIT_CARD
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        for name, result in results.items():
            print(f"{name}: {result['status']} - {result['message']}")
            for warning in result["warnings"]:
                print(f"  warning: {warning}")
    return worst


def cmd_card_pin_status(args: argparse.Namespace, settings: Settings) -> int:
    with open_session(settings, args.virtual) as session:
        status = session.pin_status()
    if status.tries_left is None:
        text = "PIN verified in this card session" if status.verified else "unknown (applet 1.1)"
    elif status.blocked:
        text = "blocked"
    else:
        text = f"{status.tries_left} attempt(s) left"
    if args.json:
        print(json.dumps({"tries_left": status.tries_left, "blocked": status.blocked}))
    else:
        print(f"PIN: {text}")
    return EXIT_CARD if status.blocked else EXIT_OK


def cmd_card_readers(args: argparse.Namespace, settings: Settings) -> int:
    readers = list_readers()
    if not readers:
        print("no reader connected")
    for reader in readers:
        state = "card present" if reader.card_present else "empty"
        atr = f"  ATR {reader.atr.hex(' ').upper()}" if reader.atr else ""
        print(f"{reader.name}: {state}{atr}")
    return EXIT_OK


def cmd_emulator_profiles(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.emulator.profiles import PROFILE_NAMES

    print("\n".join(PROFILE_NAMES))
    return EXIT_OK


@dataclass
class RunningEmulator:
    card: Any
    pcscd: subprocess.Popen[bytes] | None
    reader: str

    def stop(self) -> None:
        self.card.remove()
        if self.pcscd is not None:
            self.pcscd.terminate()
            self.pcscd.wait(10)


def ensure_pcscd() -> subprocess.Popen[bytes] | None:
    """Use the running PC/SC service, or start ``pcscd -f`` as root; ``PcscUnavailable``
    when neither is possible."""
    try:
        list_readers()
        return None
    except PcscUnavailable:
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if os.geteuid() != 0 or not os.path.exists(binary):
            raise
    process = subprocess.Popen([binary, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if list_readers():
                return process
        except PcscUnavailable:
            pass
        time.sleep(0.1)
    process.terminate()
    raise PcscUnavailable("pcscd started but shows no reader (is vsmartcard-vpcd installed?)")


def start_emulator(
    settings: Settings, profile: str, reader_index: int, latency: str
) -> RunningEmulator:
    from bridge.emulator.applet import BelpicApplet
    from bridge.emulator.latency import LatencyModel
    from bridge.emulator.profiles import build_card
    from bridge.emulator.vpcd import VPCD_PORT, VpcdCard

    pcscd = ensure_pcscd()
    built = build_card(profile, load_test_pki(settings))
    model = LatencyModel.zero() if latency == "zero" else LatencyModel.for_atr(built.profile.atr)
    card = VpcdCard(BelpicApplet(built.profile), port=VPCD_PORT + reader_index, latency=model.cost)
    card.insert()
    reader = f"Virtual PCD 00 {reader_index:02d}"
    deadline = time.monotonic() + 10
    while not any(r.name == reader and r.card_present for r in list_readers()):
        if time.monotonic() > deadline:
            card.remove()
            raise PcscUnavailable(f"pcscd did not see the virtual card in '{reader}'")
        time.sleep(0.05)
    return RunningEmulator(card, pcscd, reader)


def cmd_emulator_run(args: argparse.Namespace, settings: Settings) -> int:
    settings.demo = True
    with test_revocation_server(settings):
        emulator = start_emulator(settings, args.profile, args.reader_index, args.latency)
        print(
            f"virtual card '{args.profile}' inserted in '{emulator.reader}' (PIN 1234); "
            "Ctrl+C removes it"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            emulator.stop()
    print("virtual card removed")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Read the user's card; without a reader holding one, insert the virtual card first."""
    settings.demo = True
    emulator: RunningEmulator | None = None
    virtual: str | None = None
    pcscd: subprocess.Popen[bytes] | None = None
    try:
        pcscd = ensure_pcscd()  # as root on a fresh machine: start the PC/SC service
        if not any(r.card_present for r in list_readers()):
            emulator = start_emulator(settings, args.profile, 0, "default")
            settings.reader = emulator.reader
            print(f"no card found: inserted the virtual card '{args.profile}' (PIN 1234)")
    except PcscUnavailable:
        virtual = args.profile
        print(f"no PC/SC service: reading the virtual card '{args.profile}' in-process")
    try:
        with open_session(settings, virtual) as session:
            started = time.perf_counter()
            contents = session.read_all()
            elapsed = time.perf_counter() - started
            status = session.pin_status()
        _print_tree(contents_as_dict(contents, show_nn=False))
        print(f"PIN: {status.tries_left} attempt(s) left")
        stats = session.protocol.stats
        print(f"read and verified in {elapsed:.2f} s ({stats.apdus} APDUs)")
        if not args.once:
            with test_revocation_server(settings):
                try:
                    _serve(settings, args.ui, virtual, portal=True)
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    address = str(exc).split("(", 1)[-1].split(")", 1)[0]
                    print(DEMO_PORT_TAKEN.text(settings.language, address=address),
                          file=sys.stderr)
                    return EXIT_SETUP
    finally:
        if emulator is not None:
            emulator.stop()
        if pcscd is not None:
            pcscd.terminate()
            pcscd.wait(10)
    return EXIT_OK


# Exit codes of ``diagnose`` (docs/diagnostics.md): 0 every check ok or skipped, 1 some check
# failed, 4 only warnings.
EXIT_DIAGNOSE_WARNING = 4


def _read_pin() -> str | None:
    """The PIN for the signature test: typed at the terminal, or one line of stdin."""
    import getpass

    if sys.stdin.isatty():
        pin = getpass.getpass("PIN (for the signature test, Enter to skip): ")
    else:
        pin = sys.stdin.readline().strip()
    return pin or None


def cmd_diagnose(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.diagnostics import CheckStatus, Options, diagnose
    from bridge.service.cards import CardSource, LocalSource, PcscSource
    from bridge.trust.anchors import TrustStore
    from bridge.trust.revocation import RevocationPolicy

    if args.virtual:
        settings.demo = True
    test_pki = load_test_pki(settings) if settings.demo else None
    store = TrustStore.for_settings(settings, test_pki)
    source: CardSource
    with contextlib.ExitStack() as stack:
        if args.virtual:
            from bridge.emulator.applet import BelpicApplet
            from bridge.emulator.latency import LatencyModel
            from bridge.emulator.profiles import build_card

            stack.enter_context(test_revocation_server(settings))
            built = build_card(args.virtual, load_test_pki(settings))
            model = LatencyModel.for_atr(built.profile.atr)
            reader = LocalReader(f"Virtual in-process reader ({args.virtual})", latency=model.cost)
            reader.insert(BelpicApplet(built.profile))
            source = LocalSource(reader)
        else:
            source = PcscSource(settings.reader, connect_delay=settings.connect_delay)
        report = diagnose(
            Options(
                source=source,
                store=store,
                revocation=RevocationPolicy.for_settings(settings),
                include_name=args.include_name,
                sign_test=args.sign_test,
                pin=_read_pin if args.sign_test else None,
            )
        )
    redact = not args.include_name
    if args.json:
        print(report.to_json(redact=redact))
    else:
        print(report.to_text(settings.language, redact=redact), end="")
    if args.save:
        saved = report.save(Path(args.save), language=settings.language, redact=redact)
        print(f"saved to {saved} (support code {report.support_code})", file=sys.stderr)
    return {
        CheckStatus.FAILED: EXIT_CARD,
        CheckStatus.WARNING: EXIT_DIAGNOSE_WARNING,
    }.get(report.worst, EXIT_OK)


# --- the daemon --------------------------------------------------------------------------


def _serve(
    settings: Settings, ui_kind: str, virtual: str | None, *, portal: bool = False
) -> None:
    import asyncio

    from bridge.service.run import build_daemon, in_process_source, serve_until_stopped
    from bridge.ui import choose_ui

    test_pki = load_test_pki(settings) if settings.demo else None
    source = in_process_source(virtual, test_pki) if virtual else None
    daemon = build_daemon(
        settings, ui=choose_ui(ui_kind, settings), source=source, test_pki=test_pki
    )
    asyncio.run(serve_until_stopped(daemon, test_pki=test_pki, portal=portal))


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if args.port is not None:
        settings.port = args.port
    if args.allow:
        settings.allowed_origins = (*settings.allowed_origins, *args.allow)
    if args.virtual:
        settings.demo = True
        with test_revocation_server(settings):
            _serve(settings, args.ui or settings.ui, args.virtual)
    else:
        _serve(settings, args.ui or settings.ui, None)
    return EXIT_OK


def cmd_tray(args: argparse.Namespace, settings: Settings) -> int:
    """The tray icon with the daemon; the daemon alone without a display (or --headless)."""
    import bridge.tray
    from bridge.service.run import build_daemon, in_process_source
    from bridge.ui import choose_ui

    if args.virtual:
        settings.demo = True

    def build() -> Any:
        test_pki = load_test_pki(settings) if settings.demo else None
        source = in_process_source(args.virtual, test_pki) if args.virtual else None
        return build_daemon(
            settings, ui=choose_ui(settings.ui, settings), source=source, test_pki=test_pki
        )

    with contextlib.ExitStack() as stack:
        if args.virtual:
            stack.enter_context(test_revocation_server(settings))
        return bridge.tray.main(
            settings,
            build,
            headless=args.headless,
            at_login=args.autostart,
            port=args.port,
            verbose=args.verbose,
        )


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Ask the running daemon (no Origin header: a local program) for its status."""
    import urllib.error
    import urllib.request

    from bridge.service.daemon import PORT_FALLBACKS, runtime_file

    ports = [settings.port + i for i in range(PORT_FALLBACKS + 1)]
    with contextlib.suppress(OSError, ValueError):
        ports.insert(0, int(json.loads(runtime_file(settings).read_text("utf-8"))["port"]))
    for port in dict.fromkeys(ports):
        url = f"http://127.0.0.1:{port}/v1"
        try:
            with urllib.request.urlopen(f"{url}/hello", timeout=2) as answer:  # noqa: S310
                hello = json.load(answer)
            with urllib.request.urlopen(f"{url}/status", timeout=5) as answer:  # noqa: S310
                status = json.load(answer)
        except (OSError, ValueError, urllib.error.URLError):
            continue
        if hello.get("name") != "eid-bridge":
            continue
        if args.json:
            print(json.dumps({"port": port, "hello": hello, "status": status}, indent=2))
            return EXIT_OK
        print(f"eID bridge {hello['version']} running on port {port}")
        print(f"smart-card service: {status['service']}")
        for reader in status["readers"]:
            card = reader["card"] or "no card"
            print(f"  {reader['name']}: {card}")
        return EXIT_OK
    print(_NOT_RUNNING.get(settings.language, _NOT_RUNNING["en"]), file=sys.stderr)
    return EXIT_SETUP


_NOT_RUNNING = {
    "en": "The eID bridge is not running. Start it from your applications menu, or run "
    "'eid-bridge run'.",
    "fr": "Le pont eID ne fonctionne pas. Lancez-le depuis le menu des applications, ou "
    "exécutez « eid-bridge run ».",
    "nl": "De eID-brug draait niet. Start ze vanuit het programmamenu, of voer 'eid-bridge "
    "run' uit.",
}


_NOT_ALLOWED = {
    "en": "'{origin}' is not among the sites you allowed; 'eid-bridge origins list' shows them.",
    "fr": "« {origin} » ne fait pas partie des sites que vous avez autorisés ; « eid-bridge "
    "origins list » les affiche.",
    "nl": "'{origin}' staat niet bij de sites die u toeliet; 'eid-bridge origins list' toont "
    "ze.",
}


def cmd_origins(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.service.origins import OriginPolicy, normalise_origin

    policy = OriginPolicy(settings.allowed_origins, settings.config_dir / "origins.json")
    if args.origins_command == "list":
        for approval in policy.approvals():
            since = f" since {approval.approved_at}" if approval.approved_at else ""
            print(f"{approval.origin} ({approval.source}{since})")
        return EXIT_OK
    origin = normalise_origin(args.origin)
    if origin is None or not policy.revoke(origin):
        text = _NOT_ALLOWED.get(settings.language, _NOT_ALLOWED["en"])
        print(f"error: {text.format(origin=args.origin)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"revoked: {origin}")
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eid-bridge", description="Belgian eID bridge")
    parser.add_argument("--version", action="version", version=f"eid-bridge {__version__}")
    parser.add_argument("--lang", choices=("en", "fr", "nl"), help="language of messages")
    parser.add_argument("--reader", help="use this reader (default: the first with a card)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    card = sub.add_parser("card", help="read and use the card").add_subparsers(
        dest="card_command", required=True
    )
    read = card.add_parser("read", help="identity, address and certificates")
    read.add_argument("--show-nn", action="store_true", help="show the national number in full")
    read.add_argument("--json", action="store_true")
    read.add_argument("--no-verify", action="store_true", help="skip the integrity check")
    read.add_argument("--virtual", metavar="PROFILE", help="read a virtual card in-process")
    read.set_defaults(func=cmd_card_read)
    pin = card.add_parser("pin-status", help="PIN attempts left (spends none)")
    pin.add_argument("--json", action="store_true")
    pin.add_argument("--virtual", metavar="PROFILE")
    pin.set_defaults(func=cmd_card_pin_status)
    card.add_parser("readers", help="list readers").set_defaults(func=cmd_card_readers)
    check = card.add_parser("validate", help="chain, validity and revocation of each certificate")
    check.add_argument("--json", action="store_true")
    check.add_argument("--virtual", metavar="PROFILE")
    check.set_defaults(func=cmd_card_validate)

    emu = sub.add_parser("emulator", help="the virtual card").add_subparsers(
        dest="emulator_command", required=True
    )
    run = emu.add_parser("run", help="insert the virtual card into pcscd's vpcd reader")
    run.add_argument("--profile", default="citizen-1.8")
    run.add_argument("--reader-index", type=int, default=0, choices=(0, 1))
    run.add_argument("--latency", choices=("default", "zero"), default="default")
    run.set_defaults(func=cmd_emulator_run)
    emu.add_parser("profiles", help="list card profiles").set_defaults(func=cmd_emulator_profiles)

    demo = sub.add_parser(
        "demo", help="read the card (or the virtual card without a reader) and run the bridge"
    )
    demo.add_argument("--profile", default="citizen-1.8")
    demo.add_argument("--once", action="store_true", help="read the card and stop")
    demo.add_argument("--ui", choices=("auto", "tk", "console"), default="auto")
    demo.set_defaults(func=cmd_demo)

    daemon = sub.add_parser("run", help="run the bridge daemon (without the tray icon)")
    daemon.add_argument("--ui", choices=("auto", "tk", "console"), default=None)
    daemon.add_argument("--port", type=int, help="listen on this port (default 24801)")
    daemon.add_argument(
        "--allow", action="append", metavar="ORIGIN", help="allow this site without asking"
    )
    daemon.add_argument("--virtual", metavar="PROFILE", help="serve a virtual card (demo)")
    daemon.set_defaults(func=cmd_run)
    diag = sub.add_parser("diagnose", help="check the set-up for the helpdesk")
    diag.add_argument("--json", action="store_true")
    diag.add_argument("--save", metavar="FILE", help="also write the report (.json: JSON)")
    diag.add_argument(
        "--include-name", action="store_true", help="include your name (never the NN)"
    )
    diag.add_argument("--sign-test", action="store_true", help="sign once (asks for the PIN)")
    diag.add_argument("--virtual", metavar="PROFILE", help="diagnose a virtual card in-process")
    diag.set_defaults(func=cmd_diagnose)
    tray = sub.add_parser("tray", help="the tray icon with the bridge (started at login)")
    tray.add_argument("--headless", action="store_true", help="no icon: the daemon alone")
    tray.add_argument(
        "--autostart", action="store_true", help="started at login (quiet if already running)"
    )
    tray.add_argument("--port", type=int, help="listen on this port (default 24801)")
    tray.add_argument("--virtual", metavar="PROFILE", help="serve a virtual card (demo)")
    tray.set_defaults(func=cmd_tray)
    status = sub.add_parser("status", help="is the bridge running, and what does it see")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    origins = sub.add_parser("origins", help="sites allowed to use the bridge").add_subparsers(
        dest="origins_command", required=True
    )
    origins.add_parser("list", help="list allowed sites").set_defaults(func=cmd_origins)
    revoke = origins.add_parser("revoke", help="withdraw a site's permission")
    revoke.add_argument("origin")
    revoke.set_defaults(func=cmd_origins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.load()
    if args.lang:
        settings.language = args.lang
    if args.reader:
        settings.reader = args.reader
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(args.func(args, settings))
    except CardError as exc:
        print(
            f"error [{message_for(exc).code}]: {explain(exc, settings.language)}", file=sys.stderr
        )
        log.debug("card error", exc_info=True)
        return EXIT_SETUP if isinstance(exc, PcscUnavailable) else EXIT_CARD
    except ValueError as exc:  # a bad profile name or setting
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
