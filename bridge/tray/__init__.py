"""The tray icon, start at login, single instance and headless fallback (``eid-bridge tray``).

:func:`main` is what the command runs; :class:`bridge.tray.app.TrayApp` is the application.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from bridge.config import Settings
from bridge.service.daemon import Daemon

log = logging.getLogger(__name__)


def main(
    settings: Settings,
    build_daemon: Callable[[], Daemon],
    *,
    headless: bool = False,
    at_login: bool = False,
    port: int | None = None,
    verbose: bool = False,
) -> int:
    """Run the tray (or the daemon alone without a display) as the session's one instance.
    ``at_login``: started by the autostart entry; a running instance then shows nothing."""
    from bridge.tray.app import TrayApp, display_available
    from bridge.tray.autostart import for_platform
    from bridge.tray.instance import SingleInstance, hand_over
    from bridge.tray.logs import setup_logging

    log_file = setup_logging(settings.log_dir, verbose=verbose)
    instance = SingleInstance()
    if not instance.acquire():
        answered = hand_over(instance.directory, "quiet" if at_login else "show")
        print(
            "eID bridge is already running"
            + ("; it was asked to show its status" if answered and not at_login else ""),
            file=sys.stderr,
        )
        return 0
    show_icon = not headless and display_available()
    app = TrayApp(settings, build_daemon(), autostart=for_platform(), instance=instance,
                  port=port)
    try:
        app.start_daemon()
    except OSError as exc:
        instance.release()
        print(f"error: the bridge cannot listen: {exc}", file=sys.stderr)
        return 3
    print(f"eID bridge listening on {', '.join(app.bridge.addresses)} (log: {log_file})",
          file=sys.stderr)
    if show_icon:
        try:
            app.create_icon()
        except Exception as exc:  # no usable tray backend or X connection
            log.warning("no tray icon (%s); running without it", exc)
            show_icon = False
    if show_icon:
        app.run()
    else:
        log.info("no display: running the bridge without the tray icon")
        app.run_headless()
    return 0
