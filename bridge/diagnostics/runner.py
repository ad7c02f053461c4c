"""The order of the checks and what each needs: a check whose prerequisite failed or was
skipped is skipped too, with the reason as evidence."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.card.errors import CardError
from bridge.diagnostics import card, clock, network, readers, service, system, trust
from bridge.diagnostics.context import Context, Options
from bridge.diagnostics.model import Check, CheckStatus, Outcome, Report
from bridge.messages import message_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    id: str
    run: Callable[[Context], Outcome]
    requires: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    Step("system.os", system.check_os),
    Step("system.middleware", system.check_middleware),
    Step("pcsc.service", service.check_service),
    Step("readers.list", readers.check_readers, ("pcsc.service",)),
    Step("readers.driver", readers.check_drivers, ("readers.list",)),
    Step("readers.usb_hub", readers.check_usb_hub, ("readers.list",)),
    Step("card.present", card.check_present, ("readers.list",)),
    Step("card.atr", card.check_atr, ("card.present",)),
    Step("card.applet", card.check_applet, ("card.atr",)),
    Step("card.validity", card.check_validity, ("card.applet",)),
    Step("card.certificates", card.check_certificates, ("card.applet",)),
    Step("card.pin", card.check_pin, ("card.applet",)),
    Step("trust.chain", trust.check_chain, ("card.certificates",)),
    Step("network.proxy", network.check_proxy),
    Step("network.revocation", network.check_revocation_services, ("card.certificates",)),
    Step("network.tls_interception", network.check_tls_interception),
    Step("clock.skew", clock.check_clock),
    Step("card.sign_test", card.check_sign, ("card.pin", "card.certificates")),
)
CHECK_IDS = tuple(step.id for step in STEPS)
_USABLE = (CheckStatus.OK, CheckStatus.WARNING)


def _run_step(step: Step, ctx: Context) -> Outcome:
    try:
        return step.run(ctx)
    except CardError as exc:
        return Outcome(
            CheckStatus.FAILED,
            str(exc) or type(exc).__name__,
            {"error": type(exc).__name__},
            message_for(exc),
            {k: v for k, v in vars(exc).items() if isinstance(v, str | int)},
        )
    except Exception as exc:  # a diagnosis reports, it does not crash
        log.debug("check %s failed", step.id, exc_info=True)
        return Outcome(
            CheckStatus.FAILED,
            f"{type(exc).__name__}: {exc}",
            {"error": type(exc).__name__},
            message_for(exc),
        )


def _with_prerequisites(ids: tuple[str, ...]) -> set[str]:
    by_id = {step.id: step for step in STEPS}
    wanted: set[str] = set()
    pending = list(ids)
    while pending:
        check_id = pending.pop()
        if check_id not in wanted:
            wanted.add(check_id)
            pending.extend(by_id[check_id].requires)
    return wanted


def diagnose(options: Options, *, only: tuple[str, ...] | None = None) -> Report:
    """Run every check in order and return the report; ``only``: just those checks and
    the ones they need."""
    wanted = None if only is None else _with_prerequisites(only)
    ctx = Context(options)
    done: dict[str, Check] = {}
    try:
        for step in STEPS:
            if wanted is not None and step.id not in wanted:
                continue
            started = time.perf_counter()
            blocked = [r for r in step.requires if r in done and done[r].status not in _USABLE]
            missing = [r for r in step.requires if r not in done]
            if blocked or missing:
                why = blocked[0] if blocked else missing[0]
                status = done[why].status.value if why in done else "not run"
                outcome = Outcome(CheckStatus.SKIPPED, f"needs {why} ({status})", {"requires": why})
            else:
                outcome = _run_step(step, ctx)
            done[step.id] = Check(
                step.id,
                outcome.status,
                outcome.summary,
                outcome.evidence,
                outcome.remedy,
                time.perf_counter() - started,
                outcome.values,
            )
    finally:
        ctx.close()
    return Report(list(done.values()), include_name=options.include_name)
