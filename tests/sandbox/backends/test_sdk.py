"""sandbox.backends.sdk: what both SDK backends share, driven through each real SDK over HTTP
against tests.fakeprovider: how error statuses map, one HTTP call per try, the timeout, and
a key that never shows."""

from __future__ import annotations

import time

import pytest

from sandbox.backends import BackendError
from sandbox.backends.anthropic import AnthropicBackend
from sandbox.backends.openai import OpenAIBackend
from tests.fakeprovider import FAKE_KEY, REQUEST, FakeProvider, hang, status, success


@pytest.fixture(params=["openai", "anthropic"])
def backend(request, fake_provider: FakeProvider):
    """Return a function that builds the backend under test, pointed at the fake provider."""
    if request.param == "openai":
        return lambda timeout=5.0: OpenAIBackend(
            FAKE_KEY, base_url=fake_provider.openai_url, timeout=timeout
        )
    return lambda timeout=5.0: AnthropicBackend(
        FAKE_KEY, base_url=fake_provider.anthropic_url, timeout=timeout
    )


def failure(backend, **kwargs) -> BackendError:
    with pytest.raises(BackendError) as info:
        backend(**kwargs).complete(REQUEST)
    return info.value


@pytest.mark.parametrize(
    ("code", "expected", "permanent"),
    [
        (429, "rate_limited", False),
        (500, "server_error", False),
        (502, "server_error", False),
        (503, "server_error", False),
        (529, "overloaded", False),
        (400, "rejected", True),
        (401, "auth", True),
        (403, "auth", True),
        (404, "not_found", True),
        (422, "rejected", True),
    ],
)
def test_it_maps_an_error_status_after_exactly_one_http_call(
    backend, fake_provider, code, expected, permanent
):
    # A second scripted answer would succeed if the SDK retried.
    fake_provider.queue(status(code), success())
    error = failure(backend)
    assert (error.code, error.permanent) == (expected, permanent)
    assert len(fake_provider.received) == 1


def test_it_times_out_a_hung_provider_after_the_configured_timeout(backend, fake_provider):
    fake_provider.queue(hang())
    started = time.monotonic()
    error = failure(backend, timeout=0.5)
    elapsed = time.monotonic() - started
    assert (error.code, error.permanent) == ("timeout", False)
    assert 0.45 <= elapsed < 2.0
    assert len(fake_provider.received) == 1


def test_its_repr_does_not_show_the_key(backend):
    assert "sk-" not in repr(backend())
