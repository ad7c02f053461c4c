"""Personal accounts: create, activate, log in and out, profile, password and e-mail changes,
forgotten password.

Every state change is a POST (CSRF-checked by the middleware) answered by a redirect with a
flash, or by the same form again with what to fix. Passwords are never shown again, never
trimmed, never logged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webclient.portal import accounts as svc
from webclient.portal import throttle
from webclient.portal.access import AUTH_METHOD, USER, Access, requires
from webclient.portal.db import transaction, utcnow
from webclient.portal.i18n import current_language
from webclient.portal.i18n import gettext as _
from webclient.portal.keys import DB, MAILER, SETTINGS
from webclient.portal.login import log_in, log_out
from webclient.portal.mail import MailError
from webclient.portal.models import PasswordReset, User
from webclient.portal.pages import flash, read_form, redirect, render, safe_next
from webclient.portal.security import (
    PASSWORD_MIN_LENGTH,
    hash_password,
    password_needs_rehash,
    sha256_hex,
    url_token,
    verify_password,
)

log = logging.getLogger("webclient.portal.accounts")

RESEND_LIMIT = 3
"""Codes mailed on request per account within ``RESEND_WINDOW`` (the first one is free)."""
RESEND_WINDOW = 15 * 60
RESET_LIMIT = 3
"""Reset links mailed per account within the throttle window."""
FORGOT_IP_LIMIT = 10
PHOTO_MAX = 1024 * 1024
PHOTO_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def _user(request: web.Request) -> User:
    return request[USER]


async def _raw_field(request: web.Request, name: str) -> str:
    """A form field exactly as typed: passwords keep their spaces."""
    value = (await request.post()).get(name)
    return value if isinstance(value, str) else ""


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def _mail(
    request: web.Request, to: str, template: str, values: dict[str, Any], language: str
) -> bool:
    """Send a mail; ``False`` if the mail server refused (the caller tells the user)."""
    try:
        await request.app[MAILER].send_template(request.app, to, template, values,
                                                language=language)
    except MailError:
        return False
    return True


def _password_rules() -> str:
    return _("At least %(min)s characters; not your username or e-mail address. A sentence "
             "of several words is easy to remember and hard to guess.", min=PASSWORD_MIN_LENGTH)


# -- create an account -------------------------------------------------------------------------


@requires(Access.PUBLIC)
async def register_form(request: web.Request) -> web.Response:
    if request.get(USER) is not None:
        raise redirect("/")
    return await render(request, "accounts/register.html",
                        {"form": {}, "errors": {}, "rules": _password_rules(), "suggested": ""})


@requires(Access.PUBLIC)
async def suggest(request: web.Request) -> web.Response:
    first = request.query.get("first", "")[: svc.NAME_MAX]
    last = request.query.get("last", "")[: svc.NAME_MAX]
    async with transaction(request.app[DB]) as db:
        username = await svc.suggest_username(db, first, last)
    return web.json_response({"username": username})


@requires(Access.PUBLIC)
async def register(request: web.Request) -> web.Response:
    if request.get(USER) is not None:
        raise redirect("/")
    settings = request.app[SETTINGS]
    form = await read_form(request)
    password = await _raw_field(request, "password")
    confirmation = await _raw_field(request, "password_confirm")
    first_name, last_name = form.get("first_name", ""), form.get("last_name", "")
    email = svc.normalise_email(form.get("email", ""))
    username = svc.normalise_username(form.get("username", ""))
    form.update(email=email, username=username)

    async def again(errors: dict[str, str], suggested: str = "") -> web.Response:
        return await render(
            request, "accounts/register.html",
            {"form": form, "errors": errors, "rules": _password_rules(), "suggested": suggested},
            status=200 if not errors else 400,
        )

    errors: dict[str, str] = {}
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if problem := svc.name_problem(value):
            errors[field] = problem
    if problem := svc.email_problem(email):
        errors["email"] = problem
    if not username or form.get("action") == "suggest":
        # The username is never chosen behind the user's back: show the suggestion first.
        if "first_name" in errors or "last_name" in errors:
            return await again(errors)
        async with transaction(request.app[DB]) as db:
            form["username"] = await svc.suggest_username(db, first_name, last_name)
        return await again(errors, suggested=form["username"])
    if problem := svc.username_problem(username):
        errors["username"] = problem
    errors.update(svc.password_problems(password, confirmation, username=username, email=email))
    if errors:
        return await again(errors)

    # Argon2 runs in a thread (it releases the GIL), outside the transaction.
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with transaction(request.app[DB]) as db:
            user = User(
                username=username, first_name=first_name, last_name=last_name, email=email,
                password_hash=password_hash, language=current_language(),
                password_changed_at=utcnow(),
            )
            db.add(user)
            await db.flush()  # the unique index decides who gets a username, even in a race
            code = await svc.issue_code(db, settings.require_secret(), user, svc.ACTIVATE,
                                        email, settings.activation_ttl)
    except IntegrityError:
        async with transaction(request.app[DB]) as db:
            form["username"] = await svc.suggest_username(db, first_name, last_name)
        return await again({"username": _(
            "The username %(username)s is already taken. We suggest %(suggestion)s; you can "
            "also choose another one.", username=username, suggestion=form["username"])})
    await log_in(request, user, "password")
    sent = await _mail(request, email, "activation",
                       {"user": user, "code": code, "minutes": settings.activation_ttl // 60},
                       user.language)
    if sent:
        await flash(request, _("Your account is created. We sent an activation code to "
                               "%(email)s.", email=email), "success")
    else:
        await flash(request, _("Your account is created, but the mail with your activation "
                               "code could not be sent. Press \"Send a new code\" in a few "
                               "minutes."), "error")
    raise redirect("/activate")


# -- activation ------------------------------------------------------------------------------


@requires(Access.LOGGED_IN)
async def activate_form(request: web.Request) -> web.Response:
    user = _user(request)
    if user.activated:
        raise redirect(safe_next(request.query.get("next")))
    return await render(request, "accounts/activate.html",
                        {"next": safe_next(request.query.get("next"), ""), "errors": {}})


@requires(Access.LOGGED_IN)
async def activate(request: web.Request) -> web.Response:
    user = _user(request)
    settings = request.app[SETTINGS]
    form = await read_form(request)
    target = safe_next(form.get("next"))
    if user.activated:
        raise redirect(target)
    async with transaction(request.app[DB]) as db:
        check = await svc.check_code(db, settings.require_secret(), user.id, svc.ACTIVATE,
                                     form.get("code", ""), settings.activation_max_attempts)
        if check.result is svc.CodeResult.OK:
            row = await db.get(User, user.id)
            if row is not None:
                row.activated_at = utcnow()
    if check.result is svc.CodeResult.OK:
        await flash(request, _("Your account is activated. Welcome!"), "success")
        raise redirect(target)
    return await render(request, "accounts/activate.html",
                        {"next": safe_next(form.get("next"), ""),
                         "errors": {"code": svc.code_message(check)}}, status=400)


async def _send_code_throttled(
    request: web.Request, user: User, purpose: str, email: str, template: str,
    values: dict[str, Any],
) -> bool:
    """Mail a new code unless too many were asked for lately (then flash what to do)."""
    settings = request.app[SETTINGS]
    key = f"code:{purpose}:{user.id}"
    async with transaction(request.app[DB]) as db:
        if await throttle.exceeded(db, key, RESEND_LIMIT, RESEND_WINDOW):
            minutes = await svc.minutes_until_free(db, key, RESEND_LIMIT, RESEND_WINDOW)
            blocked = True
        else:
            blocked = False
            await throttle.record(db, key)
            code = await svc.issue_code(db, settings.require_secret(), user, purpose, email,
                                        settings.activation_ttl)
    if blocked:
        await flash(request, _("You asked for too many codes. Wait %(minutes)s min, then ask "
                               "again.", minutes=minutes), "error")
        return False
    if not await _mail(request, email, template,
                       {**values, "user": user, "code": code,
                        "minutes": settings.activation_ttl // 60}, user.language):
        await flash(request, _("The mail could not be sent. Try again in a few minutes."),
                    "error")
        return False
    return True


@requires(Access.LOGGED_IN)
async def activate_resend(request: web.Request) -> web.Response:
    user = _user(request)
    if user.activated:
        raise redirect("/")
    if await _send_code_throttled(request, user, svc.ACTIVATE, user.email, "activation", {}):
        await flash(request, _("We sent a new code to %(email)s. The previous code no longer "
                               "works.", email=user.email), "success")
    raise redirect("/activate")


# -- log in / out ----------------------------------------------------------------------------


async def _login_page(
    request: web.Request, username: str, next_path: str, error: str | None, status: int = 200,
    locked: bool = False,
) -> web.Response:
    return await render(request, "accounts/login.html",
                        {"username": username, "next": next_path, "error": error,
                         "locked": locked}, status=status)


@requires(Access.PUBLIC)
async def login_form(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"), "")
    if request.get(USER) is not None:
        raise redirect(next_path or "/")
    return await _login_page(request, "", next_path, None)


@requires(Access.PUBLIC)
async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    form = await read_form(request)
    username = svc.normalise_username(form.get("username", ""))[:64]
    password = await _raw_field(request, "password")
    next_path = safe_next(form.get("next"), "")
    user_key, ip_key = svc.login_user_key(username), svc.login_ip_key(_client(request))
    limit, window = settings.login_max_failures, settings.throttle_window

    async def locked_page(db_key: str, key_limit: int) -> web.Response:
        async with transaction(request.app[DB]) as db:
            minutes = await svc.minutes_until_free(db, db_key, key_limit, window)
        if db_key == ip_key:
            message = _("Too many failed logins from your network. Wait %(minutes)s min, then "
                        "try again.", minutes=minutes)
        else:
            message = _("Too many failed logins for this username: it is locked for "
                        "%(minutes)s min. Wait, or set a new password with \"Forgotten "
                        "password\".", minutes=minutes)
        return await _login_page(request, username, next_path, message, 429, locked=True)

    if not username or not password:
        return await _login_page(request, username, next_path,
                                 _("Enter your username and your password."), 400)
    async with transaction(request.app[DB]) as db:
        user_locked = await throttle.exceeded(db, user_key, limit, window)
        ip_locked = await throttle.exceeded(db, ip_key, 4 * limit, window)
        user = await db.scalar(select(User).where(func.lower(User.username) == username))
    if user_locked:
        return await locked_page(user_key, limit)
    if ip_locked:
        return await locked_page(ip_key, 4 * limit)
    # Unknown usernames are checked against a dummy hash: same time, same answer.
    known_hash = user.password_hash if user else None
    if not await asyncio.to_thread(verify_password, known_hash, password) or user is None:
        async with transaction(request.app[DB]) as db:
            await throttle.record(db, user_key)
            await throttle.record(db, ip_key)
        async with transaction(request.app[DB]) as db:
            now_locked = await throttle.exceeded(db, user_key, limit, window)
        if now_locked:
            return await locked_page(user_key, limit)
        return await _login_page(request, username, next_path, _(
            "Wrong username or password. Check both (the password is case-sensitive) or use "
            "\"Forgotten password\"."), 401)
    rehashed = None
    if password_needs_rehash(user.password_hash):
        rehashed = await asyncio.to_thread(hash_password, password)
    async with transaction(request.app[DB]) as db:
        await throttle.clear(db, user_key)
        if rehashed is not None:
            row = await db.get(User, user.id)
            if row is not None:
                row.password_hash = rehashed
    await log_in(request, user, "password")
    raise redirect(next_path or "/")


@requires(Access.LOGGED_IN)
async def logout(request: web.Request) -> web.Response:
    await log_out(request)
    raise redirect("/")


# -- profile ---------------------------------------------------------------------------------


async def _profile_page(
    request: web.Request, form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    user = _user(request)
    values = form if form is not None else {
        "first_name": user.first_name, "last_name": user.last_name, "phone": user.phone or ""}
    async with transaction(request.app[DB]) as db:
        pending = await svc.pending_code(db, user.id, svc.CHANGE_EMAIL)
    return await render(request, "accounts/profile.html",
                        {"form": values, "errors": errors or {},
                         "pending_email": pending.email if pending else None,
                         "photo_max_kb": PHOTO_MAX // 1024}, status=status)


@requires(Access.ACTIVATED)
async def profile(request: web.Request) -> web.Response:
    return await _profile_page(request)


@requires(Access.ACTIVATED)
async def profile_save(request: web.Request) -> web.Response:
    """Contact data; names only while no eID is linked. A ``username`` field is ignored:
    the username never changes."""
    user = _user(request)
    form = await read_form(request)
    errors: dict[str, str] = {}
    if not user.eid_linked:
        for field in ("first_name", "last_name"):
            if problem := svc.name_problem(form.get(field, "")):
                errors[field] = problem
    phone = form.get("phone", "")
    if problem := svc.phone_problem(phone):
        errors["phone"] = problem
    if errors:
        shown = {"first_name": form.get("first_name", user.first_name),
                 "last_name": form.get("last_name", user.last_name), "phone": phone}
        return await _profile_page(request, shown, errors, status=400)
    async with transaction(request.app[DB]) as db:
        row = await db.get(User, user.id)
        if row is not None:
            if not row.eid_linked:
                row.first_name, row.last_name = form["first_name"], form["last_name"]
            row.phone = phone or None
    await flash(request, _("Your profile is saved."), "success")
    raise redirect("/profile")


@requires(Access.ACTIVATED)
async def photo(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        found = (await db.execute(
            select(User.photo, User.photo_type).where(User.id == _user(request).id))).first()
    if found is None or not found.photo or not found.photo_type:
        raise web.HTTPNotFound()
    return web.Response(
        body=found.photo, content_type=found.photo_type,
        headers={"Cache-Control": "private, max-age=0, must-revalidate",
                 "X-Content-Type-Options": "nosniff"},
    )


@requires(Access.ACTIVATED)
async def photo_upload(request: web.Request) -> web.Response:
    user = _user(request)
    upload = (await request.post()).get("photo")
    if not isinstance(upload, web.FileField):
        await flash(request, _("Choose a photo to upload (JPEG or PNG)."), "error")
        raise redirect("/profile")
    data = upload.file.read(PHOTO_MAX + 1)
    if len(data) > PHOTO_MAX:
        await flash(request, _("This photo is larger than %(size)s KB. Choose a smaller one.",
                               size=PHOTO_MAX // 1024), "error")
        raise redirect("/profile")
    # The content decides, not the file name or the browser's claim.
    kind = next((mime for magic, mime in PHOTO_TYPES if data.startswith(magic)), None)
    if kind is None:
        await flash(request, _("This file is not a JPEG or PNG picture. Choose a photo in one "
                               "of these formats."), "error")
        raise redirect("/profile")
    async with transaction(request.app[DB]) as db:
        row = await db.get(User, user.id)
        if row is not None:
            row.photo, row.photo_type = data, kind
    await flash(request, _("Your photo is saved."), "success")
    raise redirect("/profile")


@requires(Access.ACTIVATED)
async def photo_delete(request: web.Request) -> web.Response:
    async with transaction(request.app[DB]) as db:
        row = await db.get(User, _user(request).id)
        if row is not None:
            row.photo, row.photo_type = None, None
    await flash(request, _("Your photo is removed."), "success")
    raise redirect("/profile")


async def _current_password_ok(request: web.Request, user: User, password: str) -> str | None:
    """``None`` if right; else what to say. Wrong guesses count like failed logins."""
    settings = request.app[SETTINGS]
    key = svc.login_user_key(user.username)
    async with transaction(request.app[DB]) as db:
        if await throttle.exceeded(db, key, settings.login_max_failures,
                                   settings.throttle_window):
            minutes = await svc.minutes_until_free(db, key, settings.login_max_failures,
                                                   settings.throttle_window)
            return _("Too many wrong passwords. Wait %(minutes)s min, then try again.",
                     minutes=minutes)
    if await asyncio.to_thread(verify_password, user.password_hash, password):
        return None
    async with transaction(request.app[DB]) as db:
        await throttle.record(db, key)
    return _("This is not your current password. Type it again.")


@requires(Access.ACTIVATED)
async def password_form(request: web.Request) -> web.Response:
    return await render(request, "accounts/password.html",
                        {"errors": {}, "rules": _password_rules()})


@requires(Access.ACTIVATED)
async def password_change(request: web.Request) -> web.Response:
    user = _user(request)
    current = await _raw_field(request, "current_password")
    new = await _raw_field(request, "new_password")
    confirmation = await _raw_field(request, "new_password_confirm")
    errors = svc.password_problems(new, confirmation, username=user.username, email=user.email,
                                   field="new_password", confirm_field="new_password_confirm")
    if problem := await _current_password_ok(request, user, current):
        errors = {"current_password": problem, **errors}
    elif current == new and not errors:
        errors["new_password"] = _("Choose a password different from your current one.")
    if errors:
        return await render(request, "accounts/password.html",
                            {"errors": errors, "rules": _password_rules()}, status=400)
    new_hash = await asyncio.to_thread(hash_password, new)
    async with transaction(request.app[DB]) as db:
        row = await db.get(User, user.id)
        assert row is not None  # the middleware just loaded it
        row.password_hash = new_hash
        row.password_changed_at = utcnow()  # every other session of this user ends
    method = request.get(AUTH_METHOD)
    await log_in(request, row, "eid" if method == "eid" else "password")
    await _mail(request, row.email, "password_changed", {"user": row}, row.language)
    await flash(request, _("Your password is changed. Your other sessions are logged out."),
                "success")
    raise redirect("/profile")


# -- e-mail address change -------------------------------------------------------------------


@requires(Access.ACTIVATED)
async def email_form(request: web.Request) -> web.Response:
    return await render(request, "accounts/email.html", {"form": {}, "errors": {}})


@requires(Access.ACTIVATED)
async def email_change(request: web.Request) -> web.Response:
    user = _user(request)
    form = await read_form(request)
    email = svc.normalise_email(form.get("email", ""))
    form["email"] = email
    errors: dict[str, str] = {}
    if problem := svc.email_problem(email):
        errors["email"] = problem
    elif email.lower() == user.email.lower():
        errors["email"] = _("This is already your address. Enter the new one.")
    if problem := await _current_password_ok(request, user,
                                              await _raw_field(request, "password")):
        errors["password"] = problem
    if errors:
        return await render(request, "accounts/email.html", {"form": form, "errors": errors},
                            status=400)
    if not await _send_code_throttled(request, user, svc.CHANGE_EMAIL, email, "email_change",
                                      {"kind": "code", "new_email": email}):
        raise redirect("/profile/email")
    await flash(request, _("We sent a code to %(email)s. Enter it below to confirm the new "
                           "address.", email=email), "success")
    raise redirect("/profile/email/confirm")


@requires(Access.ACTIVATED)
async def email_confirm_form(request: web.Request) -> web.Response:
    user = _user(request)
    async with transaction(request.app[DB]) as db:
        pending = await svc.pending_code(db, user.id, svc.CHANGE_EMAIL)
    if pending is None:
        raise redirect("/profile/email")
    return await render(request, "accounts/email_confirm.html",
                        {"pending_email": pending.email, "errors": {}})


@requires(Access.ACTIVATED)
async def email_confirm(request: web.Request) -> web.Response:
    user = _user(request)
    settings = request.app[SETTINGS]
    form = await read_form(request)
    old_email = user.email
    async with transaction(request.app[DB]) as db:
        check = await svc.check_code(db, settings.require_secret(), user.id, svc.CHANGE_EMAIL,
                                     form.get("code", ""), settings.activation_max_attempts)
        pending_email = check.code.email if check.code else None
        if check.result is svc.CodeResult.OK and check.code is not None:
            row = await db.get(User, user.id)
            if row is not None:
                row.email = check.code.email
    if check.result is svc.CodeResult.OK and pending_email is not None:
        await _mail(request, old_email, "email_change",
                    {"kind": "notice", "user": user, "new_email": pending_email}, user.language)
        await flash(request, _("Your e-mail address is now %(email)s.", email=pending_email),
                    "success")
        raise redirect("/profile")
    if check.result is svc.CodeResult.MISSING:
        await flash(request, svc.code_message(check), "error")
        raise redirect("/profile/email")
    return await render(request, "accounts/email_confirm.html",
                        {"pending_email": pending_email,
                         "errors": {"code": svc.code_message(check)}}, status=400)


# -- forgotten password ----------------------------------------------------------------------


@requires(Access.PUBLIC)
async def forgot_form(request: web.Request) -> web.Response:
    return await render(request, "accounts/forgot.html", {"login": ""})


@requires(Access.PUBLIC)
async def forgot(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    wanted = (await read_form(request)).get("login", "")[:254]
    ip_key = f"forgot:ip:{_client(request)}"
    async with transaction(request.app[DB]) as db:
        if await throttle.exceeded(db, ip_key, FORGOT_IP_LIMIT, settings.throttle_window):
            minutes = await svc.minutes_until_free(db, ip_key, FORGOT_IP_LIMIT,
                                                   settings.throttle_window)
            blocked = True
        else:
            blocked = False
            await throttle.record(db, ip_key)
    if blocked:
        await flash(request, _("Too many requests from your network. Wait %(minutes)s min, "
                               "then try again.", minutes=minutes), "error")
        raise redirect("/password/forgot")
    if wanted:
        await _send_reset_links(request, wanted)
    # The same answer whether an account matched or not: nobody learns who has one.
    await flash(request, _("If an activated account matches, we sent a link to its e-mail "
                           "address. It works once, for %(minutes)s min. No mail? Check your "
                           "spam folder, then ask again.",
                           minutes=settings.reset_ttl // 60), "info")
    raise redirect("/login")


async def _send_reset_links(request: web.Request, wanted: str) -> None:
    settings = request.app[SETTINGS]
    column = User.email if "@" in wanted else User.username
    links: list[tuple[User, str]] = []
    async with transaction(request.app[DB]) as db:
        users = (await db.scalars(
            select(User).where(func.lower(column) == wanted.lower(),
                               User.activated_at.is_not(None))
        )).all()
        for user in users:
            key = f"reset:{user.id}"
            if await throttle.exceeded(db, key, RESET_LIMIT, settings.throttle_window):
                continue  # silently: the answer must not differ
            await throttle.record(db, key)
            token = url_token()
            now = utcnow()
            db.add(PasswordReset(user_id=user.id, token_hash=sha256_hex(token), created_at=now,
                                 expires_at=now + timedelta(seconds=settings.reset_ttl)))
            links.append((user, token))
    for user, token in links:
        link = f"{settings.origin.rstrip('/')}/password/reset/{token}"
        if not await _mail(request, user.email, "password_reset",
                           {"user": user, "link": link, "minutes": settings.reset_ttl // 60},
                           user.language):
            log.warning("password reset mail for account %s not sent", user.id)


async def _valid_reset(request: web.Request) -> PasswordReset | None:
    token = request.match_info["token"]
    if len(token) > 100:
        return None
    async with transaction(request.app[DB]) as db:
        reset = await db.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == sha256_hex(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    return reset


async def _reset_invalid(request: web.Request) -> web.Response:
    return await render(request, "accounts/reset_invalid.html", status=410)


@requires(Access.PUBLIC)
async def reset_form(request: web.Request) -> web.Response:
    if await _valid_reset(request) is None:
        return await _reset_invalid(request)
    return await render(request, "accounts/reset.html",
                        {"errors": {}, "rules": _password_rules()})


@requires(Access.PUBLIC)
async def reset(request: web.Request) -> web.Response:
    found = await _valid_reset(request)
    if found is None:
        return await _reset_invalid(request)
    async with transaction(request.app[DB]) as db:
        owner = await db.get(User, found.user_id)
    if owner is None:
        return await _reset_invalid(request)
    new = await _raw_field(request, "new_password")
    errors = svc.password_problems(new, await _raw_field(request, "new_password_confirm"),
                                   username=owner.username, email=owner.email,
                                   field="new_password", confirm_field="new_password_confirm")
    if errors:
        return await render(request, "accounts/reset.html",
                            {"errors": errors, "rules": _password_rules()}, status=400)
    new_hash = await asyncio.to_thread(hash_password, new)
    now = utcnow()
    async with transaction(request.app[DB]) as db:
        # Used once: a second click (or a race) finds no outstanding reset and changes nothing.
        claimed = await db.execute(
            update(PasswordReset)
            .where(PasswordReset.id == found.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if not getattr(claimed, "rowcount", 0):
            claimed_ok = False
        else:
            claimed_ok = True
            await db.execute(
                update(PasswordReset)
                .where(PasswordReset.user_id == owner.id, PasswordReset.used_at.is_(None))
                .values(used_at=now)
            )
            row = await db.get(User, owner.id)
            if row is not None:
                row.password_hash = new_hash
                row.password_changed_at = now  # every session of this account ends
            await throttle.clear(db, svc.login_user_key(owner.username))
    if not claimed_ok:
        return await _reset_invalid(request)
    await _mail(request, owner.email, "password_changed", {"user": owner}, owner.language)
    await flash(request, _("Your new password is set. Log in with it."), "success")
    raise redirect("/login")


def setup(app: web.Application) -> None:
    app.router.add_get("/register", register_form, name="register")
    app.router.add_post("/register", register)
    app.router.add_get("/register/suggest", suggest, name="register_suggest")
    app.router.add_get("/activate", activate_form, name="activate")
    app.router.add_post("/activate", activate)
    app.router.add_post("/activate/resend", activate_resend, name="activate_resend")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/profile", profile, name="profile")
    app.router.add_post("/profile", profile_save)
    app.router.add_get("/profile/photo", photo, name="profile_photo")
    app.router.add_post("/profile/photo", photo_upload)
    app.router.add_post("/profile/photo/delete", photo_delete, name="profile_photo_delete")
    app.router.add_get("/profile/password", password_form, name="profile_password")
    app.router.add_post("/profile/password", password_change)
    app.router.add_get("/profile/email", email_form, name="profile_email")
    app.router.add_post("/profile/email", email_change)
    app.router.add_get("/profile/email/confirm", email_confirm_form, name="profile_email_confirm")
    app.router.add_post("/profile/email/confirm", email_confirm)
    app.router.add_get("/password/forgot", forgot_form, name="password_forgot")
    app.router.add_post("/password/forgot", forgot)
    app.router.add_get("/password/reset/{token}", reset_form, name="password_reset")
    app.router.add_post("/password/reset/{token}", reset)
