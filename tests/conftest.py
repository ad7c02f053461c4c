from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.services import Pcscd, ServiceMissing


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """The real PC/SC daemon with vpcd's two virtual readers."""
    service = Pcscd()
    try:
        service.start()
    except ServiceMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PC/SC tests: {exc}")
        pytest.skip(str(exc))
    yield service
    if service.owned:
        service.stop()
