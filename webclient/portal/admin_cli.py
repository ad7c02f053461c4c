"""The administrator's command-line tasks: import a register, create a staff account."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from sqlalchemy import func, select

from webclient.portal.catalogue import Recognition
from webclient.portal.db import make_engine, make_sessionmaker, transaction, utcnow
from webclient.portal.i18n import using_language
from webclient.portal.models import User, UserRole
from webclient.portal.recognitions import ImportReport, RegisterFileError, import_register
from webclient.portal.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, hash_password
from webclient.portal.settings import PortalSettings


def _fail(message: str) -> int:
    print(f"portal: {message}", file=sys.stderr)
    return 1


async def _import(settings: PortalSettings, register: Recognition, path: Path) -> ImportReport:
    engine = make_engine(settings.database_url)
    try:
        return await import_register(
            make_sessionmaker(engine), settings.require_secret(), register, path.name,
            path.read_bytes(),
        )
    finally:
        await engine.dispose()


def import_register_command(settings: PortalSettings, register: Recognition, path: Path) -> int:
    """Prints the counts and the rejected rows (line, masked number, reason)."""
    try:
        if path.stat().st_size > 5 * 1024 * 1024:
            return _fail(f"{path}: the file is larger than 5 MB; split it")
        with using_language("en"):  # an administrator's console, as the log
            report = asyncio.run(_import(settings, register, path))
    except OSError as exc:
        return _fail(f"{path}: {exc.strerror or exc}")
    except (RegisterFileError, ValueError) as exc:
        return _fail(f"{path}: {exc}")
    for row in report.rejected:
        print(f"line {row.line}: {row.number or '-'}: {row.reason}", file=sys.stderr)
    print(
        f"{register.value}: {report.rows} rows, {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected, "
        f"{report.granted} recognitions granted"
    )
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _create(settings: PortalSettings, args: argparse.Namespace, password: str) -> str:
    username: str = args.username.strip().lower()
    engine = make_engine(settings.database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as db:
            taken = await db.scalar(
                select(func.count()).select_from(User).where(User.username == username)
            )
            if taken:
                raise ValueError(f"the username '{username}' is taken")
            now = utcnow()
            db.add(User(
                username=username,
                first_name=args.first_name.strip() or username,
                last_name=args.last_name.strip(),
                email=args.email.strip().lower(),
                password_hash=hash_password(password),
                password_changed_at=now,
                role=UserRole(args.role),
                language="fr",
                created_at=now,
                activated_at=now,
            ))
    finally:
        await engine.dispose()
    return username


def create_user_command(settings: PortalSettings, args: argparse.Namespace) -> int:
    username = args.username.strip().lower()
    if not username or len(username) > 64 or not username.replace(".", "").replace(
        "-", ""
    ).replace("_", "").isalnum():
        return _fail("the username takes letters, digits, '.', '-' and '_' (at most 64)")
    email = args.email.strip()
    if "@" not in email.strip("@") or len(email) > 254 or " " in email:
        return _fail(f"'{email}' is not an e-mail address")
    try:
        password = _read_password()
    except (ValueError, EOFError) as exc:
        return _fail(str(exc) or "no password given")
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return _fail(f"the password needs at least {PASSWORD_MIN_LENGTH} characters")
    try:
        created = asyncio.run(_create(settings, args, password))
    except ValueError as exc:
        return _fail(str(exc))
    print(f"created {args.role} '{created}' (activated)")
    return 0
