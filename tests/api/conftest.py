"""The library's tests run in virtual time against the in-memory ARM."""

from __future__ import annotations

import pytest

from tests.fakes import VIRTUAL_TIME


@pytest.fixture
def anyio_backend() -> object:
    return VIRTUAL_TIME
