"""Writes bridge/service/openapi.json, the committed OpenAPI 3.1 document of the bridge's API.

Run ``python scripts/openapi.py`` after changing the API; a test fails while the committed
file differs from what this script produces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge import __version__
from bridge.card.identity import DocumentType, Sex
from bridge.messages import MESSAGES, UNEXPECTED
from bridge.service.daemon import API_VERSION
from bridge.service.guards import MAX_BODY
from bridge.service.operations import HASHES
from bridge.service.routes import CAPABILITIES, MAX_CERTIFICATE, MAX_LABEL
from bridge.tokens.format import NONCE_MAX_LENGTH, NONCE_MIN_BYTES, TokenAlgorithm

TARGET = Path(__file__).resolve().parent.parent / "bridge" / "service" / "openapi.json"

_B64_CHAR = "[A-Za-z0-9+/]"
B64_PATTERN = f"^(?:{_B64_CHAR}{{4}})*(?:{_B64_CHAR}{{2}}==|{_B64_CHAR}{{3}}=)?$"
"""Standard, padded base64: exactly what ``base64.b64decode(validate=True)`` accepts."""
B64 = {"type": "string", "contentEncoding": "base64", "minLength": 1, "pattern": B64_PATTERN}
HASH_FUNCTIONS = list(HASHES)
_LABEL_VISIBLE = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2066-\\u2069]"
"""One character that stays in a label once control, bidi and blank characters are gone
(``routes.clean_label``)."""


def b64_of_length(size: int) -> str:
    """A pattern for base64 of exactly ``size`` bytes."""
    full, rest = divmod(size, 3)
    chars, padding = {0: (0, ""), 1: (2, "=="), 2: (3, "=")}[rest]
    return f"^{_B64_CHAR}{{{4 * full + chars}}}{padding}$"


def b64_at_least(size: int) -> str:
    """A pattern for base64 of at least ``size`` bytes."""
    groups = -(-size // 3)  # 4-character groups needed for ``size`` bytes
    more = f"(?:{_B64_CHAR}{{4}})*(?:{_B64_CHAR}{{2}}==|{_B64_CHAR}{{3}}=)?"
    # Or exactly ``groups`` groups, the last one padded ("xxx=" holds 2 bytes, "xx==" 1).
    padded = [b64_of_length(n)[1:-1] for n in (3 * groups - 1, 3 * groups - 2) if n >= size]
    return "^(?:" + "|".join([f"{_B64_CHAR}{{{4 * groups}}}{more}", *padded]) + ")$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = json_body(ref("Error"), "An error with a stable code and a message in FR/NL/EN")
ORIGIN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Origin",
    "description": "The calling page's origin, as the browser sends it. Card operations "
    "need an allowed origin (403 ORIGIN_NOT_ALLOWED otherwise; POST /v1/origins asks the "
    "user to allow one); no Origin, 'null' or a malformed one is 403 ORIGIN_REQUIRED. "
    "Tokens and signatures are bound to this origin.",
}
OPEN: list[dict[str, list[str]]] = [{}, {"pageOrigin": []}]
"""GET routes without personal data: local programs may call them without an Origin."""


def operation(
    operation_id: str,
    summary: str,
    description: str,
    answer: dict[str, Any],
    *,
    request: dict[str, Any] | None = None,
    tag: str = "card",
    open_to_local_programs: bool = False,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    success = json_body(answer, "Success")
    if links:
        success["links"] = links
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "responses": {"200": success, "default": ERROR},
    }
    if open_to_local_programs:
        op["security"] = OPEN
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": request}},
        }
    return op


def sign_with(certificate: str, description: str) -> dict[str, Any]:
    """A link from an answer that carries a certificate to /v1/sign."""
    return {
        "operationId": "sign",
        "requestBody": {"certificate": f"{{$response.body#{certificate}}}"},
        "description": description,
    }


def error_schema() -> dict[str, Any]:
    codes = sorted({m.code for m in MESSAGES.values()} | {UNEXPECTED.code})
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message", "messages"],
                "properties": {
                    "code": {"enum": codes},
                    "message": {"type": "string", "description": "In the page's language"},
                    "messages": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["en", "fr", "nl"],
                        "properties": {lang: {"type": "string"} for lang in ("en", "fr", "nl")},
                    },
                    "details": {
                        "type": "object",
                        "additionalProperties": False,
                        "description": "Counts and codes only, never personal data",
                        "properties": {
                            "triesLeft": {"type": "integer", "minimum": 0},
                            "retryAfter": {"type": "integer", "minimum": 1},
                            "limit": {"type": "integer", "minimum": 0},
                            "origin": {"type": "string"},
                            "certificateStatus": {"type": "string"},
                        },
                    },
                },
            }
        },
    }


def strict(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object with exactly these properties, all of them present."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
        **extra,
    }


def identity_schema() -> dict[str, Any]:
    """What ``operations.identity_json`` answers (IDA5 fields, as the card holds them)."""
    text = {"type": "string"}
    optional = {"type": "string", "description": "Empty when the card has none"}
    document_types = [t.name.lower() for t in DocumentType] + ["unknown"]
    return strict(
        ["card", "holder", "address", "photo", "photoType", "integrity"],
        {
            "card": strict(
                ["number", "validFrom", "validUntil", "issuedIn", "documentType"],
                {
                    "number": text,
                    "validFrom": {"type": "string", "format": "date"},
                    "validUntil": {"type": "string", "format": "date"},
                    "issuedIn": {**text, "description": "Municipality that delivered the card"},
                    "documentType": {
                        "enum": document_types,
                        "description": "'unknown' for a code newer than IDA5 v5.0",
                    },
                },
            ),
            "holder": strict(
                [
                    "surname",
                    "firstNames",
                    "thirdNameInitial",
                    "nationalNumber",
                    "birthDate",
                    "birthLocation",
                    "sex",
                    "nationality",
                    "nobleCondition",
                ],
                {
                    "surname": text,
                    "firstNames": optional,
                    "thirdNameInitial": optional,
                    "nationalNumber": {"type": "string", "pattern": "^[0-9]{11}$"},
                    "birthDate": {
                        **text,
                        "description": "As printed on the card, in the card's language: "
                        "'30 JUL 1985', '30.MÄR.1983', 'JAN 1950', '1950'",
                    },
                    "birthLocation": text,
                    "sex": {
                        "type": "string",
                        "minLength": 1,
                        "examples": [s.value for s in Sex],
                        "description": "M; F, V or W (a woman, by card language); "
                        "another letter is passed on as the card holds it",
                    },
                    "nationality": text,
                    "nobleCondition": optional,
                },
            ),
            "address": strict(
                ["street", "zip", "municipality"],
                {"street": text, "zip": text, "municipality": text},
            ),
            "photo": {**B64, "contentMediaType": "image/jpeg"},
            "photoType": {"const": "image/jpeg"},
            "integrity": {
                "const": "verified",
                "description": "Checked against the National Register's signatures",
            },
        },
    )


def sign_request_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["certificate", "hash", "hashFunction", "label"],
        "properties": {
            "certificate": {
                **B64,
                "maxLength": (MAX_CERTIFICATE + 2) // 3 * 4,
                "description": "DER, from /v1/certificate (or the token)",
            },
            "hash": {**B64, "description": "The hash of the document, not the document"},
            "hashFunction": {"enum": HASH_FUNCTIONS},
            "label": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_LABEL,
                "pattern": _LABEL_VISIBLE,
                "description": "What is signed, shown to the user on one line (control and "
                "bidi-override characters become spaces, runs of spaces one space)",
            },
        },
        # The hash has the size of its function's digest.
        "anyOf": [
            {
                "properties": {
                    "hashFunction": {"const": name},
                    "hash": {"pattern": b64_of_length(size)},
                }
            }
            for name, size in ((n, h.digest_size) for n, h in HASHES.items())
        ],
    }


def document() -> dict[str, Any]:
    algorithm = strict(
        ["cryptoAlgorithm", "hashFunction", "paddingScheme"],
        {
            "cryptoAlgorithm": {"enum": ["ECC", "RSA"]},
            "hashFunction": {"enum": HASH_FUNCTIONS},
            "paddingScheme": {"enum": ["NONE", "PKCS1.5"]},
        },
    )
    reader = strict(
        ["name", "cardPresent", "card", "pinpad"],
        {
            "name": {"type": "string"},
            "cardPresent": {"type": "boolean"},
            "card": {
                "enum": ["belpic-1.8", "belpic-1.x", "other", None],
                "description": "From the ATR, without touching the card; null: no card",
            },
            "pinpad": {
                "type": ["boolean", "null"],
                "description": "null until the bridge used the reader",
            },
        },
    )
    readers = {
        "service": {"enum": ["up", "down"]},
        "readers": {"type": "array", "items": reader},
    }
    schemas: dict[str, Any] = {
        "Error": error_schema(),
        "Hello": strict(
            ["name", "version", "apiVersion", "tokenFormat", "capabilities", "originAllowed"],
            {
                "name": {"const": "eid-bridge"},
                "version": {"type": "string"},
                "apiVersion": {"const": API_VERSION},
                "tokenFormat": {"const": "web-eid:1.0"},
                "capabilities": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"enum": CAPABILITIES},
                },
                "originAllowed": {"type": "boolean"},
            },
        ),
        "Readers": strict(["service", "readers"], readers),
        "Status": strict(
            ["service", "readers", "busy", "waiting"],
            {
                **readers,
                "busy": {"type": "boolean"},
                "waiting": {"type": "integer", "minimum": 0},
            },
        ),
        "AuthToken": strict(
            ["unverifiedCertificate", "algorithm", "signature", "format", "appVersion"],
            {
                "unverifiedCertificate": B64,
                "algorithm": {"enum": [a.value for a in TokenAlgorithm]},
                "signature": B64,
                "format": {"const": "web-eid:1.0"},
                "appVersion": {"type": "string", "format": "uri"},
            },
            description="Web eID authentication token (docs/token.md)",
        ),
        "SigningCertificate": strict(
            ["certificate", "chain", "supportedSignatureAlgorithms"],
            {
                "certificate": B64,
                "chain": {
                    "type": "array",
                    "items": B64,
                    "description": "The issuing CA, then the root",
                },
                "supportedSignatureAlgorithms": {"type": "array", "items": algorithm},
            },
        ),
        "SignRequest": sign_request_schema(),
        "Signature": strict(
            ["signature", "signatureAlgorithm"],
            {"signature": B64, "signatureAlgorithm": algorithm},
        ),
        "Identity": identity_schema(),
        "Diagnostics": {
            "type": "object",
            "description": "The helpdesk checks (docs/diagnostics.md), redacted: no name, no "
            "national register number, no serial numbers, no PIN operation.",
            "required": [
                "bridge",
                "system",
                "pcsc",
                "supportCode",
                "createdAt",
                "result",
                "checks",
            ],
            "properties": {
                "bridge": strict(
                    ["version", "apiVersion", "port"],
                    {
                        "version": {"type": "string"},
                        "apiVersion": {"const": API_VERSION},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    },
                ),
                "system": {
                    "type": "object",
                    "required": ["os", "release", "python"],
                    "properties": {
                        "os": {"type": "string"},
                        "release": {"type": "string"},
                        "python": {"type": "string"},
                    },
                },
                "pcsc": ref("Readers"),
                "supportCode": {"type": "string", "pattern": "^[A-Z2-7]{8}$"},
                "createdAt": {"type": "string", "format": "date-time"},
                "result": {"enum": ["ok", "warning", "failed"]},
                "checks": {"type": "array", "items": ref("DiagnosticCheck")},
            },
        },
        "DiagnosticCheck": strict(
            ["id", "status", "summary", "evidence", "remedy", "durationMs"],
            {
                "id": {"type": "string", "examples": ["card.pin"]},
                "status": {"enum": ["ok", "warning", "failed", "skipped"]},
                "summary": {"type": "string"},
                "evidence": {"type": "object"},
                "remedy": {
                    "oneOf": [
                        {"type": "null"},
                        strict(
                            ["code", "en", "fr", "nl"],
                            {
                                "code": {"type": "string"},
                                "en": {"type": "string"},
                                "fr": {"type": "string"},
                                "nl": {"type": "string"},
                            },
                        ),
                    ]
                },
                "durationMs": {"type": "number", "minimum": 0},
            },
        ),
        "Empty": {
            "type": "object",
            "description": "Any JSON object; its members are ignored",
        },
    }
    paths = {
        "/v1/hello": {
            "get": operation(
                "hello",
                "Version and capabilities",
                "Open to pages of any allowed origin and to local programs (no Origin).",
                ref("Hello"),
                tag="bridge",
                open_to_local_programs=True,
            )
        },
        "/v1/status": {
            "get": operation(
                "status",
                "Readers and cards, without personal data",
                "No card is touched.",
                ref("Status"),
                tag="bridge",
                open_to_local_programs=True,
            )
        },
        "/v1/diagnostics": {
            "get": operation(
                "diagnostics",
                "Facts for the helpdesk",
                "No personal data.",
                ref("Diagnostics"),
                tag="bridge",
                open_to_local_programs=True,
            )
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["bridge"],
                "security": OPEN,
                "responses": {
                    "200": json_body(
                        {
                            "type": "object",
                            "required": ["openapi", "info", "paths"],
                            "properties": {"openapi": {"const": "3.1.0"}},
                        },
                        "OpenAPI 3.1",
                    ),
                    "default": ERROR,
                },
            }
        },
        "/v1/events": {
            "get": {
                "operationId": "events",
                "summary": "Reader and card changes (WebSocket)",
                "description": "Upgrade to a WebSocket; messages are JSON objects with 'type' "
                "(hello, reader-added, reader-removed, card-inserted, "
                "card-removed, service-down, service-up) and 'reader'. A plain GET "
                "(no upgrade) is a 400.",
                "tags": ["bridge"],
                "security": OPEN,
                "responses": {"101": {"description": "Switching to WebSocket"}, "default": ERROR},
            }
        },
        "/v1/origins": {
            "post": operation(
                "requestAccess",
                "Ask the user to allow this site",
                "The only call a site that is not yet allowed may make. Shows the bridge's "
                "native dialog once; a refusal is remembered for 10 minutes.",
                strict(
                    ["origin", "allowed"],
                    {"origin": {"type": "string"}, "allowed": {"const": True}},
                ),
                request=ref("Empty"),
                tag="bridge",
            )
        },
        "/v1/authenticate": {
            "post": operation(
                "authenticate",
                "Log in: a Web eID token bound to the calling page's origin",
                "The user types the PIN in the bridge's dialog (or on the PIN pad). The token "
                "signs hash(origin) + hash(nonce); the origin is the request's Origin header.",
                strict(["token"], {"token": ref("AuthToken")}),
                links={
                    "signWithTheAuthenticationKey": sign_with(
                        "/token/unverifiedCertificate",
                        "The token's certificate can sign too (the authentication key)",
                    )
                },
                request={
                    "type": "object",
                    "required": ["nonce"],
                    "properties": {
                        "nonce": {
                            "type": "string",
                            "minLength": (NONCE_MIN_BYTES + 2) // 3 * 4,
                            "maxLength": NONCE_MAX_LENGTH,
                            "pattern": b64_at_least(NONCE_MIN_BYTES),
                            "description": "The relying party's challenge: standard, padded "
                            f"base64 of at least {NONCE_MIN_BYTES} random bytes",
                        }
                    },
                },
            )
        },
        "/v1/certificate": {
            "post": operation(
                "getSigningCertificate",
                "The signature certificate, after the user agrees",
                "POST because the user is asked; the certificate names the holder.",
                ref("SigningCertificate"),
                request=ref("Empty"),
                links={
                    "signWithIt": sign_with(
                        "/certificate", "What the page passes to /v1/sign (the signature key)"
                    )
                },
            )
        },
        "/v1/sign": {
            "post": operation(
                "sign",
                "Sign a hash, showing the label to the user",
                "The non-repudiation key asks for the PIN every time.",
                ref("Signature"),
                request=ref("SignRequest"),
            )
        },
        "/v1/identity": {
            "post": operation(
                "identity",
                "Identity, address and photo after the user's consent",
                "The data is checked against the National Register's signatures on the card.",
                ref("Identity"),
                request=ref("Empty"),
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eID bridge localhost API",
            "version": __version__,
            "description": "Served on 127.0.0.1 and ::1, port 24801 (else 24802, 24803). "
            "See docs/api.md for the guards every request passes: Host, Origin (card "
            "operations need an allowed page origin), rate, and JSON bodies of at most "
            f"{MAX_BODY // 1024} KiB.",
        },
        "servers": [{"url": "http://127.0.0.1:24801"}],
        "security": [{"pageOrigin": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"pageOrigin": ORIGIN_SCHEME}},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), "utf-8")
    print(f"wrote {TARGET}")
