"""Readers: listed, the driver each needs, and whether it sits behind a USB hub."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.card.errors import NoReader
from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, ok, skipped
from bridge.messages import message_for


@dataclass(frozen=True)
class Driver:
    name: str
    package: str
    """The Debian/Ubuntu package that ships it."""
    bundle: str | None
    """Its file under /usr/lib/pcsc/drivers (None: nothing to look for)."""


CCID = Driver("libccid (generic CCID)", "libccid", "ifd-ccid.bundle")
ACSCCID = Driver("acsccid (ACS CCID)", "libacsccid1", "ifd-acsccid.bundle")
VPCD = Driver("vsmartcard vpcd (virtual reader)", "vsmartcard-vpcd", "serial/libifdvpcd.so")
IN_PROCESS = Driver("none (in-process virtual reader)", "-", None)

# Reader name (as PC/SC shows it) -> driver. First match wins; keep it small: most eID
# readers are class-compliant CCID devices, ACS's older ones need ACS's own driver.
DRIVERS: tuple[tuple[re.Pattern[str], Driver], ...] = (
    (re.compile(r"^ACS ACR3[89]|^ACS ACR1252|^ACS ACR122"), ACSCCID),
    (re.compile(r"^Virtual PCD"), VPCD),
    (re.compile(r"^Virtual in-process"), IN_PROCESS),
    (re.compile(r"."), CCID),
)


def driver_for(reader: str) -> Driver:
    return next(driver for pattern, driver in DRIVERS if pattern.search(reader))


def check_readers(ctx: Context) -> Outcome:
    if not ctx.readers:
        error = NoReader("no reader")
        return Outcome(CheckStatus.FAILED, "no reader connected", {}, message_for(error))
    names = [r.name for r in ctx.readers]
    return ok(f"{len(names)} reader(s)", readers=names)


def check_drivers(ctx: Context) -> Outcome:
    found = []
    missing: list[tuple[str, Driver]] = []
    for reader in ctx.readers:
        driver = driver_for(reader.name)
        present: bool | None = None
        if driver.bundle is not None and sys.platform.startswith("linux"):
            present = (ctx.options.driver_dir / driver.bundle).exists()
            if not present:
                missing.append((reader.name, driver))
        found.append({"reader": reader.name, "driver": driver.name, "installed": present})
    if missing:
        name, driver = missing[0]
        return Outcome(
            CheckStatus.WARNING,
            f"'{name}' needs {driver.name}, not found in {ctx.options.driver_dir}",
            {"readers": found},
            remedies.DRIVER_MISSING,
            {"reader": name, "driver": driver.name, "package": driver.package},
        )
    return ok("drivers present", readers=found)


def usb_path_of(product: str, devices: Path) -> str | None:
    """The sysfs name (``1-1.4``: bus 1, port 1, then port 4 of a hub) of the USB device
    whose product string starts the PC/SC reader name, or None."""
    try:
        entries = sorted(devices.iterdir())
    except OSError:
        return None
    for entry in entries:
        if ":" in entry.name or entry.name.startswith("usb"):
            continue  # interfaces and root hubs
        try:
            name = (entry / "product").read_text("utf-8").strip()
            maker = (entry / "manufacturer").read_text("utf-8").strip()
        except OSError:
            continue
        if name and (product.startswith(name) or product.startswith(f"{maker} {name}")):
            return entry.name
    return None


def check_usb_hub(ctx: Context) -> Outcome:
    if not sys.platform.startswith("linux") or not ctx.options.usb_devices.is_dir():
        return skipped("USB topology not exposed on this system")
    topology: list[dict[str, Any]] = []
    behind_hub = []
    for reader in ctx.readers:
        path = usb_path_of(reader.name, ctx.options.usb_devices)
        if path is None:
            topology.append({"reader": reader.name, "usb": None})
            continue
        hub = "." in path.split("-", 1)[-1]
        topology.append({"reader": reader.name, "usb": path, "behindHub": hub})
        if hub:
            behind_hub.append(reader.name)
    if not any(t["usb"] for t in topology):
        return skipped("no reader is a USB device (virtual readers)", readers=topology)
    if behind_hub:
        return Outcome(
            CheckStatus.WARNING,
            f"behind a USB hub: {', '.join(behind_hub)}",
            {"readers": topology},
            remedies.USB_HUB,
        )
    return ok("readers plugged directly into the computer", readers=topology)
