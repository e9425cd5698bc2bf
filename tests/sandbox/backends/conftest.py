"""Fixtures for the backend tests: a real local HTTP server playing the providers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeprovider import FakeProvider


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake
