"""The OpenAPI document: the committed file is what ``scripts/openapi.py`` renders, it is
valid OpenAPI 3.1, the daemon serves it as committed, and a running bridge keeps its word.

The last part is schemathesis against a real daemon serving that document (in-process
virtual card, a scripted user who consents and types the right PIN every time): for every
operation, valid and invalid requests (examples, boundary "coverage" cases, undeclared
methods, random fuzzing) from a page of an allowed origin, and the same from a local
program that sends no Origin. No answer may be a 5xx, and every answer must match the
document: a declared status, the declared content type, a body that validates; invalid
input must be refused with a 4xx, valid input must not be refused as invalid, and an
operation that needs the page's Origin must refuse a request without it or with another.

The daemon runs in a thread with its own event loop, because schemathesis calls it with
blocking ``requests``. ``BRIDGE_FUZZ_SEED`` replays or varies the generated cases,
``BRIDGE_FUZZ_EXAMPLES`` sets how many random cases each operation gets.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.schemas import BaseSchema

from bridge.emulator.applet import BelpicApplet
from bridge.service.cards import LocalSource
from bridge.service.daemon import Daemon, serving
from bridge.service.errors import BadRequest
from bridge.service.operations import HASHES
from bridge.service.routes import clean_label, openapi_document
from bridge.tokens.errors import TokenError
from bridge.tokens.format import check_nonce
from bridge.ui.scripted import ScriptedUI
from tests.bridge_harness import PORTAL, BridgeFactory, InProcess, ServicePki, build_test_daemon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "openapi.py"
COMMITTED = ROOT / "bridge" / "service" / "openapi.json"
PIN = "1234"
SEED = int(os.environ.get("BRIDGE_FUZZ_SEED", "20240613"))
EXAMPLES = int(os.environ.get("BRIDGE_FUZZ_EXAMPLES", "50"))
"""Random cases per operation and pass; examples and coverage cases come on top."""
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,  # card operations take their time
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
REACHES_200 = {
    "GET /v1/hello",
    "GET /v1/status",
    "GET /v1/diagnostics",
    "GET /v1/openapi.json",
    "POST /v1/origins",
    "POST /v1/authenticate",
    "POST /v1/certificate",
    "POST /v1/identity",
}
"""Operations whose success the fuzzer must reach. Not /v1/sign (a random certificate is
never the card's: see the card tests below) nor /v1/events (a WebSocket)."""
ANSWERS: Counter[tuple[str, str, int]] = Counter()
"""(pass, operation, status) of every fuzzed request, for the summary test."""


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- the document -----------------------------------------------------------------------------


def test_committed_document_is_what_the_script_renders() -> None:
    rendered: str = _script().render()
    assert COMMITTED.read_text("utf-8") == rendered, (
        "bridge/service/openapi.json is stale: run `python scripts/openapi.py`"
    )


def test_document_is_valid_openapi_3_1() -> None:
    document = json.loads(COMMITTED.read_text("utf-8"))
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def _request_schema(path: str) -> dict[str, Any]:
    document = json.loads(COMMITTED.read_text("utf-8"))
    schema: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@hypothesis.given(
    raw=hypothesis.strategies.binary(max_size=80),
    text=hypothesis.strategies.text(max_size=60),
)
def test_request_patterns_say_what_the_routes_accept(raw: bytes, text: str) -> None:
    """The fuzzer trusts the document both ways: what it calls valid must pass the routes'
    checks, and what it calls invalid must fail them."""
    nonce = _request_schema("/v1/authenticate")["properties"]["nonce"]
    sign = _request_schema("/v1/sign")
    label = sign["properties"]["label"]["pattern"]
    hashes = {v["properties"]["hashFunction"]["const"]: v for v in sign["anyOf"]}
    for value in (_b64(raw), _b64(raw).rstrip("="), text):
        try:
            check_nonce(value)
            accepted = True
        except TokenError:
            accepted = False
        assert accepted == bool(re.fullmatch(nonce["pattern"], value)), value
        if accepted:
            assert nonce["minLength"] <= len(value) <= nonce["maxLength"]
        for name, algorithm in HASHES.items():
            pattern = hashes[name]["properties"]["hash"]["pattern"]
            fits = len(raw) == algorithm.digest_size and value == _b64(raw)
            assert bool(re.fullmatch(pattern, value)) == fits, (name, value)
    try:
        clean_label(text)
        shown = True
    except BadRequest:
        shown = False
    assert shown == bool(re.search(label, text)), repr(text)


async def test_served_document_is_the_committed_file(
    start_bridge: BridgeFactory, in_process: InProcess
) -> None:
    source, _, _ = in_process("citizen-1.8")
    async with start_bridge(source) as bridge:
        for headers in ({}, {"Origin": PORTAL}):
            async with bridge.http.get(bridge.base + "/v1/openapi.json", headers=headers) as got:
                assert got.status == 200
                assert got.content_type == "application/json"
                assert await got.read() == COMMITTED.read_bytes()
    assert openapi_document() == COMMITTED.read_bytes()


# --- a daemon for blocking clients ------------------------------------------------------------


@dataclass
class Running:
    daemon: Daemon
    ui: ScriptedUI
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_daemon(
    service_pki: ServicePki, tmp: Path, profile: str, *, rate_limited: bool = False
) -> tuple[Daemon, ScriptedUI]:
    """A daemon with one in-process reader holding a fresh card of ``profile``; without the
    rate limit of a real daemon unless ``rate_limited``."""
    source = LocalSource()
    source.insert(BelpicApplet(service_pki.card(profile).profile))
    # The right PIN every time (a success resets the tries), consent and approval always.
    ui = ScriptedUI(pins=[PIN] * 100_000, consent=True, approve=True)
    daemon = build_test_daemon(service_pki, tmp, source, ui=ui, request_timeout=30.0)
    if not rate_limited:  # the fuzzer is one fast caller; the limiter has its own tests
        daemon.rate = daemon.burst = 1_000_000.0
    return daemon, ui


@contextlib.contextmanager
def running_daemon(daemon: Daemon, ui: ScriptedUI) -> Iterator[Running]:
    """``serving(daemon, port=0)`` on a thread's own event loop."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    port: list[int] = []
    failure: list[BaseException] = []

    async def main() -> None:
        async with serving(daemon, port=0) as listening:
            port.append(listening.port)
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="bridge-under-test", daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the daemon did not start"
        if failure:
            raise failure[0]
        yield Running(daemon, ui, port[0])
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        assert not thread.is_alive(), "the daemon did not stop"
    if failure:
        raise failure[0]


@pytest.fixture(scope="module")
def running(service_pki: ServicePki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One daemon for all fuzzed requests, serving the committed document."""
    daemon, ui = make_daemon(service_pki, tmp_path_factory.mktemp("fuzzed"), "citizen-1.8")
    with running_daemon(daemon, ui) as bridge:
        served = requests.get(bridge.base + "/v1/openapi.json", timeout=10)
        assert served.content == COMMITTED.read_bytes()
        yield bridge


# --- schemathesis -----------------------------------------------------------------------------


def _schema(*, origin: str | None) -> BaseSchema:
    """The committed document, loaded at collection for one test per operation (the lazy
    ``schemathesis.pytest.from_fixture`` breaks on pytest 9.2); the daemon under test serves
    this very file (checked by the ``running`` fixture and above), at a port known later."""
    generation: dict[str, Any] = {"mode": "all", "max-examples": EXAMPLES, "database": "none"}
    settings: dict[str, Any] = {
        "seed": SEED,
        "request-timeout": 30,
        "generation": generation,
        # A plain GET of the WebSocket route is a 400 by nature: a valid request for it is
        # an upgrade, which `requests` cannot make (tests/service has WebSocket tests).
        "operations": [
            {
                "include-path": "/v1/events",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            }
        ],
    }
    if origin is None:
        generation["with-security-parameters"] = False  # send no Origin at all
    else:  # the document's security scheme: the page's Origin header
        settings["auth"] = {"openapi": {"pageOrigin": {"api_key": origin}}}
    config = schemathesis.Config.from_dict(settings)
    return schemathesis.openapi.from_path(COMMITTED, config=config)


page = _schema(origin=PORTAL)
"""Requests from a page of an allowed origin."""
local = _schema(origin=None)
"""Requests from a local program: no Origin, so every card operation is a 403."""


@page.parametrize()
@FUZZ_SETTINGS
def test_page_of_an_allowed_origin(case: schemathesis.Case[Any], running: Running) -> None:
    response = case.call_and_validate(base_url=running.base)
    ANSWERS["page", case.operation.label, response.status_code] += 1


@local.parametrize()
@FUZZ_SETTINGS
def test_local_program_without_origin(case: schemathesis.Case[Any], running: Running) -> None:
    response = case.call_and_validate(base_url=running.base)
    ANSWERS["local", case.operation.label, response.status_code] += 1


def test_stateful_certificate_then_sign(running: Running) -> None:
    """The document's links (a certificate from /v1/certificate or from a login's token goes
    to /v1/sign) drive sequences of calls, so the fuzzer signs with the card's own keys."""
    base = running.base
    seen: Counter[tuple[str, int]] = Counter()

    class Workflow(page.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": base}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
            seen[case.operation.label, response.status_code] += 1
            ANSWERS["stateful", case.operation.label, response.status_code] += 1

    Workflow.run(
        settings=hypothesis.settings(
            FUZZ_SETTINGS, max_examples=15, stateful_step_count=4, derandomize=True
        )
    )
    assert seen["POST /v1/sign", 200], sorted(seen.items())


def test_fuzzing_reached_every_kind_of_answer() -> None:
    """The fuzzed passes above did not only collect refusals."""
    if not ANSWERS:
        pytest.skip("the fuzzed passes did not run")
    ok = {label for (kind, label, status) in ANSWERS if kind == "page" and status == 200}
    assert ok >= REACHES_200, f"never a 200: {sorted(REACHES_200 - ok)}"
    statuses = {status for (_, _, status) in ANSWERS}
    assert {200, 400, 403, 405, 415} <= statuses, sorted(statuses)
    assert all(status < 500 for status in statuses)


# --- every answer of a real card --------------------------------------------------------------


def _call(
    bridge: Running, method: str, path: str, body: dict[str, Any] | None = None
) -> schemathesis.Response:
    """One request from the allowed page, validated by schemathesis against the document."""
    operation = page[path][method]
    case = operation.Case() if body is None else operation.Case(body=body)
    return case.call_and_validate(base_url=bridge.base, headers={"Origin": PORTAL})


@pytest.mark.parametrize(
    ("profile", "refusal"),
    [
        ("citizen-1.7", None),
        ("citizen-1.8", None),
        ("foreigner-1.8", None),
        ("expired-1.8", 422),  # CERTIFICATE_REJECTED
        ("revoked-1.7", 422),
        ("blocked-pin-1.8", 409),  # PIN_BLOCKED
    ],
)
def test_card_answers_match_the_schema(
    profile: str, refusal: int | None, service_pki: ServicePki, tmp_path: Path
) -> None:
    """Every operation with valid input, for good and bad cards: successes and refusals
    (expired, revoked, blocked PIN) all match the document. A good card says yes to all;
    a bad one refuses logins and signatures, and still shares its certificate and identity."""
    daemon, ui = make_daemon(service_pki, tmp_path, profile)
    with running_daemon(daemon, ui) as bridge:
        statuses: dict[str, int] = {}
        for path in ("/v1/hello", "/v1/status", "/v1/diagnostics", "/v1/openapi.json"):
            statuses[path] = _call(bridge, "GET", path).status_code
        statuses["origins"] = _call(bridge, "POST", "/v1/origins", {}).status_code
        nonce = _b64(os.urandom(32))
        login = _call(bridge, "POST", "/v1/authenticate", {"nonce": nonce})
        statuses["authenticate"] = login.status_code
        chosen = _call(bridge, "POST", "/v1/certificate", {})
        statuses["certificate"] = chosen.status_code
        certificates = []
        if chosen.status_code == 200:
            certificates.append(("signature", chosen.json()["certificate"]))
        if login.status_code == 200:
            certificates.append(("authentication", login.json()["token"]["unverifiedCertificate"]))
        for key, certificate in certificates:
            for name, digest in (
                ("SHA-256", hashlib.sha256(b"deed").digest()),
                ("SHA-384", hashlib.sha384(b"deed").digest()),
                ("SHA-512", hashlib.sha512(b"deed").digest()),
            ):
                body = {
                    "certificate": certificate,
                    "hash": _b64(digest),
                    "hashFunction": name,
                    "label": "Deed of sale (2 pages)",
                }
                statuses[f"sign {key} {name}"] = _call(bridge, "POST", "/v1/sign", body).status_code
        statuses["identity"] = _call(bridge, "POST", "/v1/identity", {}).status_code
    if refusal is None:
        assert set(statuses.values()) == {200}, statuses
        assert len(statuses) == 4 + 3 + 2 * 3 + 1  # GETs, origins to certificate, signs, identity
    else:
        refused = {k for k, status in statuses.items() if status != 200}
        assert refused == {"authenticate"} | {k for k in statuses if k.startswith("sign ")}
        assert {statuses[k] for k in refused} == {refusal}, statuses
        assert len(statuses) == 4 + 3 + 3 + 1  # no login: no authentication certificate


def test_guard_refusals_match_the_schema(service_pki: ServicePki, tmp_path: Path) -> None:
    """What the guards answer before any route (Host, Origin, body, rate) is in the
    document too, with the daemon's real rate limit."""
    daemon, ui = make_daemon(service_pki, tmp_path, "citizen-1.8", rate_limited=True)
    login = page["/v1/authenticate"]["POST"]
    nonce: dict[str, Any] = {"nonce": _b64(os.urandom(32))}
    with running_daemon(daemon, ui) as bridge:
        refusals: list[tuple[dict[str, str], dict[str, Any], int, str]] = [
            ({"Origin": PORTAL, "Host": "evil.example"}, nonce, 421, "HOST_REJECTED"),
            ({"Origin": "null"}, nonce, 403, "ORIGIN_REQUIRED"),
            ({"Origin": "https://evil.example"}, nonce, 403, "ORIGIN_NOT_ALLOWED"),
            ({"Origin": PORTAL}, {"nonce": "A" * 70_000}, 413, "BODY_TOO_LARGE"),
            ({"Origin": PORTAL, "Accept-Language": "nl"}, {"nonce": "x"}, 400, "BAD_REQUEST"),
        ]
        for headers, body, status, code in refusals:
            answer = login.Case(body=body).call_and_validate(base_url=bridge.base, headers=headers)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
        answer = login.Case(body=nonce, media_type="text/plain").call_and_validate(
            base_url=bridge.base, headers={"Origin": PORTAL}
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        hello = page["/v1/hello"]["GET"]
        answers = [
            hello.Case().call_and_validate(base_url=bridge.base, headers={"Origin": PORTAL})
            for _ in range(60)
        ]
        limited = [answer for answer in answers if answer.status_code == 429]
        assert limited, "the burst is 40"
        details = limited[0].json()["error"]["details"]
        assert details["retryAfter"] >= 1
        assert limited[0].headers["retry-after"] == [str(details["retryAfter"])]
