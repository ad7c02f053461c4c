"""``python -m webclient.portal``: serve the portal, migrate its database, make a secret."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from webclient.portal.admin_cli import create_user_command, import_register_command
from webclient.portal.app import create_app
from webclient.portal.catalogue import Recognition
from webclient.portal.migrate import downgrade, upgrade
from webclient.portal.settings import PortalSettings, new_secret
from webclient.portal.wallet.invoices import invoice_month_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webclient.portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the portal (settings from PORTAL_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--migrate", action="store_true", help="upgrade the database first")
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    down = commands.add_parser("downgrade", help="undo migrations (default: all)")
    down.add_argument("revision", nargs="?", default="base")
    commands.add_parser("new-secret", help="print a new secret key for PORTAL_SECRET_KEY")
    register = commands.add_parser(
        "import-register", help="import a professional register (CSV) and grant recognitions"
    )
    register.add_argument("register", choices=[r.value for r in Recognition])
    register.add_argument("file", type=Path, help="CSV (UTF-8) with national_number;reference")
    staff = commands.add_parser(
        "create-user", help="create an activated staff account (password read from stdin)"
    )
    staff.add_argument("--role", choices=["admin", "helpdesk"], required=True)
    staff.add_argument("--first-name", default="")
    staff.add_argument("--last-name", default="")
    staff.add_argument("username")
    staff.add_argument("email")
    invoice_month = commands.add_parser(
        "invoice-month", help="issue the monthly invoices of a month that is over"
    )
    invoice_month.add_argument("month", help="YYYY-MM")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    if args.command == "new-secret":
        print(new_secret())
        return 0
    try:
        settings = PortalSettings.from_env()
    except ValueError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        upgrade(settings.database_url)
        return 0
    if args.command == "downgrade":
        downgrade(settings.database_url, args.revision)
        return 0
    if args.command == "import-register":
        return import_register_command(settings, Recognition(args.register), args.file)
    if args.command == "create-user":
        return create_user_command(settings, args)
    if args.command == "invoice-month":
        return invoice_month_command(settings, args.month)
    if args.migrate:
        upgrade(settings.database_url)
    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
