"""Stateless processes: two portal processes on one PostgreSQL serve one user alternately
(log in on one, the next pages on the other), as behind a load balancer."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.portal_harness import PASSWORD, SECRET, create_schema
from webclient.portal.db import make_engine, make_sessionmaker, transaction, utcnow
from webclient.portal.models import User
from webclient.portal.security import hash_password

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else b""
            raise RuntimeError(f"portal process exited: {output!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"portal on port {port} did not start")


@pytest.fixture
def two_portals(postgres_url: str) -> Iterator[tuple[str, str]]:
    ports = [_free_port(), _free_port()]
    origin = f"http://127.0.0.1:{ports[0]}"
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": postgres_url,
        "PORTAL_SECRET_KEY": base64.b64encode(SECRET).decode(),
        # One site behind a load balancer has one origin, whichever process answers.
        "PORTAL_ORIGIN": origin,
        "PORTAL_SMTP_PORT": "9",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "webclient.portal", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_listening(port, process)
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


async def test_one_session_served_by_two_processes(
    postgres_url: str, two_portals: tuple[str, str]
) -> None:
    await create_schema(postgres_url)
    engine = make_engine(postgres_url)
    async with transaction(make_sessionmaker(engine)) as db:
        db.add(User(username="anne", first_name="Anne", last_name="Dubois",
                    email="anne@example.be", password_hash=hash_password(PASSWORD),
                    activated_at=utcnow(), language="en"))
    await engine.dispose()
    first, second = two_portals
    jar = aiohttp.CookieJar(unsafe=True)  # cookies ignore the port: one jar, two processes
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        page = await (await http.get(f"{first}/login")).text()
        token = CSRF.search(page).group(1)  # type: ignore[union-attr]
        login = await http.post(
            f"{second}/login",
            data={"_csrf": token, "username": "anne", "password": PASSWORD},
            headers={"Origin": first}, allow_redirects=False,
        )
        assert login.status == 303, await login.text()
        for base in (first, second, first):
            profile = await http.get(f"{base}/profile", allow_redirects=False)
            assert profile.status == 200
            assert "anne" in await profile.text()
        page = await (await http.get(f"{second}/")).text()
        token = CSRF.search(page).group(1)  # type: ignore[union-attr]
        logout = await http.post(f"{first}/logout", data={"_csrf": token},
                                 headers={"Origin": first}, allow_redirects=False)
        assert logout.status == 303
        after = await http.get(f"{second}/profile", allow_redirects=False)
        assert after.status == 303
        assert after.headers["Location"].startswith("/login")
