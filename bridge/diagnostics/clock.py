"""The system clock against the HTTP Date of a server we reached (a revocation service of
the card, or ``Options.clock_reference``)."""

from __future__ import annotations

from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, skipped
from bridge.diagnostics.network import reach
from bridge.trust.revocation import CLOCK_SKEW

WARN_SKEW_SECONDS = 60
FAIL_SKEW_SECONDS = CLOCK_SKEW.total_seconds()
"""Beyond what revocation checking tolerates (5 minutes), certificates get refused."""


def check_clock(ctx: Context) -> Outcome:
    reference = ctx.options.clock_reference
    dates = list(ctx.server_dates)
    if reference is not None:
        reached = reach(reference, ctx.options.network_timeout, ctx.options.clock)
        if reached.date is not None and reached.local is not None:
            dates.insert(0, (reached.url, reached.date, reached.local))
    if not dates:
        return skipped("no server answered with a date to compare")
    url, server, local = dates[0]
    skew = (local - server).total_seconds()
    evidence = {
        "reference": url,
        "server": server.isoformat(),
        "local": local.isoformat(timespec="seconds"),
        "skewSeconds": round(skew),
    }
    values = {"seconds": abs(round(skew))}
    if abs(skew) > FAIL_SKEW_SECONDS:
        return Outcome(
            CheckStatus.FAILED, f"clock off by {skew:+.0f} s", evidence, remedies.CLOCK_SKEW, values
        )
    if abs(skew) > WARN_SKEW_SECONDS:
        return Outcome(
            CheckStatus.WARNING,
            f"clock off by {skew:+.0f} s",
            evidence,
            remedies.CLOCK_SKEW,
            values,
        )
    return Outcome(CheckStatus.OK, f"clock within {WARN_SKEW_SECONDS} s", evidence)
