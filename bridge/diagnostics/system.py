"""The computer: operating system, bridge version, official middleware / PKCS#11 modules."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

from bridge import __version__
from bridge.diagnostics import remedies
from bridge.diagnostics.context import Context
from bridge.diagnostics.model import CheckStatus, Outcome, ok

# Debian packages that ship each module, for the version.
_PACKAGES = {"beidpkcs11": "libbeidpkcs11-0", "opensc-pkcs11": "opensc-pkcs11"}


def check_os(ctx: Context) -> Outcome:
    return ok(
        f"{platform.system()} {platform.release()}, eid-bridge {__version__}",
        os=platform.system(),
        release=platform.release(),
        machine=platform.machine(),
        python=sys.version.split()[0],
        bridge=__version__,
    )


def package_version(package: str) -> str | None:
    """The installed version of a Debian package (None without dpkg or the package)."""
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return None
    try:
        answer = subprocess.run(
            [dpkg, "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if answer.returncode != 0:
        return None
    return answer.stdout.strip() or None


def _kind(path: Path) -> str:
    return "beidpkcs11" if "beid" in path.name.lower() else "opensc-pkcs11"


def check_middleware(ctx: Context) -> Outcome:
    found = [p for p in ctx.options.middleware_paths if p.exists()]
    modules = [
        {"module": _kind(p), "path": str(p), "version": package_version(_PACKAGES[_kind(p)])}
        for p in found
    ]
    if any(m["module"] == "beidpkcs11" for m in modules):
        return Outcome(CheckStatus.OK, "official eID middleware installed", {"modules": modules})
    if modules:
        return Outcome(
            CheckStatus.OK,
            "no official eID middleware; OpenSC's PKCS#11 module can serve the card",
            {"modules": modules},
        )
    return Outcome(
        CheckStatus.WARNING,
        "no eID PKCS#11 module found (the bridge itself does not need one)",
        {"searched": [str(p) for p in ctx.options.middleware_paths]},
        remedies.NO_MIDDLEWARE,
    )
