"""The card's certificates through ``bridge.trust``: chain to a Belgian eID root, validity,
revocation (OCSP, CRL fallback)."""

from __future__ import annotations

import asyncio

from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, skipped
from bridge.trust.revocation import RevocationPolicy
from bridge.trust.validate import MESSAGES, Status, avalidate_card

_WORST = (
    Status.REVOKED,
    Status.EXPIRED,
    Status.NOT_YET_VALID,
    Status.UNKNOWN_ISSUER,
    Status.INVALID,
    Status.WRONG_USAGE,
    Status.REVOCATION_UNKNOWN,
)


def check_chain(ctx: Context) -> Outcome:
    if ctx.options.store is None:
        return skipped("no trust store given")
    assert ctx.certificates is not None
    # Hard-fail for every certificate: a diagnosis must say "status unknown", not accept.
    base = ctx.options.revocation or RevocationPolicy()
    policy = RevocationPolicy(
        mode="hard-fail", timeout=min(base.timeout, ctx.options.network_timeout), cache=base.cache
    )
    verdicts = asyncio.run(
        avalidate_card(
            ctx.certificates,
            store=ctx.options.store,
            at=ctx.options.clock(),
            revocation=policy,
        )
    )
    ctx.verdicts = verdicts
    evidence = {
        name: {
            "status": v.status.value,
            "revocationChecked": v.revocation_checked,
            "testPki": v.test_pki,
            # not v.detail: path-validation messages may quote the holder's name
        }
        for name, v in verdicts.items()
    }
    for status in _WORST:
        bad = [(name, v) for name, v in verdicts.items() if v.status is status]
        if not bad:
            continue
        name, verdict = bad[0]
        level = CheckStatus.WARNING if status is Status.REVOCATION_UNKNOWN else CheckStatus.FAILED
        reason = verdict.revocation_reason or "unspecified"
        return Outcome(
            level,
            f"{name} certificate: {status.value}",
            evidence,
            MESSAGES[status],
            {
                "date": verdict.revoked_at.strftime("%Y-%m-%d") if verdict.revoked_at else "?",
                "reason": reason.replace("_", " "),
                "purpose": name,
            },
        )
    return Outcome(CheckStatus.OK, "chain and revocation status valid", evidence)
