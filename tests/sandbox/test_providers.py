"""sandbox.providers: the allowed models and their prices, and building backends from settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from sandbox.backends import BackendError, CompletionRequest
from sandbox.backends.anthropic import AnthropicBackend
from sandbox.backends.cassette import CassetteBackend
from sandbox.backends.openai import OpenAIBackend
from sandbox.backends.stub import StubBackend, parse_script
from sandbox.providers import (
    ModelChoice,
    allowed_models,
    backend_unavailable,
    make_backend,
    model_choice,
    parse_models,
)

REQUEST = CompletionRequest(model="gpt-4o-mini", messages=({"role": "user", "content": "Hi"},))


@pytest.fixture
def no_keys(settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""
    settings.CASSETTE_MODE = "off"
    return settings


# parse_models


def test_it_parses_models_and_prices():
    models = parse_models("openai:gpt-4o-mini:0.15:0.60; anthropic:claude-3-5-haiku-latest:0.80:4")
    assert models == {
        "openai:gpt-4o-mini": ModelChoice(
            "openai", "gpt-4o-mini", Decimal("0.15"), Decimal("0.60")
        ),
        "anthropic:claude-3-5-haiku-latest": ModelChoice(
            "anthropic", "claude-3-5-haiku-latest", Decimal("0.80"), Decimal("4")
        ),
    }


def test_it_ignores_empty_entries():
    assert list(parse_models(";openai:gpt-4o:2.5:10;;  ;")) == ["openai:gpt-4o"]
    assert parse_models("") == {}


def test_it_accepts_a_model_name_with_a_colon():
    # Ollama tags its models "llama3.1:8b"; the OpenAI backend talks to Ollama.
    models = parse_models("openai:llama3.1:8b:0:0")
    assert list(models) == ["openai:llama3.1:8b"]
    assert models["openai:llama3.1:8b"].model == "llama3.1:8b"


@pytest.mark.parametrize(
    "entry",
    ["openai:gpt-4o-mini", "openai:gpt-4o-mini:0.15", "openai:gpt-4o-mini:cheap:0.60", "gpt-4o"],
)
def test_it_names_a_malformed_entry(entry):
    with pytest.raises(ImproperlyConfigured) as e:
        parse_models(f"anthropic:claude-3-5-haiku-latest:0.80:4.00;{entry}")
    assert repr(entry) in str(e.value)
    assert "backend:model:input_price:output_price" in str(e.value)


def test_it_names_an_unknown_backend():
    with pytest.raises(ImproperlyConfigured) as e:
        parse_models("mistral:mistral-small:0.2:0.6")
    assert "'mistral'" in str(e.value)


def test_it_refuses_a_model_name_longer_than_exercises_and_the_ledger_keep():
    parse_models(f"openai:{'m' * 100}:0.1:0.1")
    with pytest.raises(ImproperlyConfigured) as e:
        parse_models(f"openai:{'m' * 101}:0.1:0.1")
    assert "the model name is 101 characters; at most 100" in str(e.value)


def test_a_choice_costs_its_price_per_million_tokens():
    choice = ModelChoice("openai", "gpt-4o-mini", Decimal("0.15"), Decimal("0.60"))
    assert choice.cost(1_000_000, 0) == Decimal("0.15")
    assert choice.cost(2000, 1000) == Decimal("0.0009")
    assert choice.key == "openai:gpt-4o-mini"
    assert choice.label == "OpenAI (or compatible) · gpt-4o-mini"


# allowed_models and model_choice


def test_the_stub_models_are_always_allowed_first_and_free(settings):
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"
    models = allowed_models()
    assert list(models) == [
        "stub:echo",
        "stub:scripted",
        "stub:judge",
        "stub:obedient",
        "openai:gpt-4o-mini",
    ]
    assert models["stub:echo"].cost(1000, 1000) == 0
    assert models["openai:gpt-4o-mini"].output_price == Decimal("0.60")


def test_the_stub_models_are_allowed_with_no_models_configured(settings):
    settings.SANDBOX_MODELS = ""
    assert list(allowed_models()) == ["stub:echo", "stub:scripted", "stub:judge", "stub:obedient"]


def test_model_choice_returns_the_configured_prices(settings):
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"
    assert model_choice("openai", "gpt-4o-mini").input_price == Decimal("0.15")


# backend_unavailable


def test_the_stub_is_always_available(no_keys):
    assert backend_unavailable("stub") == ""


def test_openai_without_a_key_is_unavailable_with_a_reason(no_keys):
    assert backend_unavailable("openai") == (
        "OpenAI (or compatible) is not configured on this server (no OPENAI_API_KEY)."
    )


def test_anthropic_without_a_key_is_unavailable_with_a_reason(no_keys):
    assert backend_unavailable("anthropic") == (
        "Anthropic is not configured on this server (no ANTHROPIC_API_KEY)."
    )


def test_a_backend_with_a_key_is_available(no_keys):
    no_keys.OPENAI_API_KEY = "sk-test-abc123"
    no_keys.ANTHROPIC_API_KEY = "sk-ant-test-abc123"
    assert backend_unavailable("openai") == ""
    assert backend_unavailable("anthropic") == ""


def test_an_unknown_backend_is_unavailable(no_keys):
    assert backend_unavailable("mistral") == "There is no backend called 'mistral'."


def test_an_anthropic_base_url_without_a_key_is_still_unavailable(no_keys):
    no_keys.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
    assert "no ANTHROPIC_API_KEY" in backend_unavailable("anthropic")


def test_every_backend_is_available_when_replaying_cassettes(no_keys):
    no_keys.CASSETTE_MODE = "replay"
    assert backend_unavailable("openai") == ""
    assert backend_unavailable("anthropic") == ""


def test_a_local_openai_compatible_server_needs_no_key(no_keys, fake_provider):
    no_keys.OPENAI_BASE_URL = fake_provider.openai_url
    assert backend_unavailable("openai") == ""
    completion = make_backend("openai").complete(REQUEST)
    assert completion.text == "Hello there!"
    (received,) = fake_provider.calls()
    assert received.headers["authorization"] == "Bearer not-needed"


# make_backend


def test_it_builds_the_stub_with_the_settings_latency_and_failure_rate(settings):
    settings.STUB_LATENCY_MS = 5
    settings.STUB_FAILURE_RATE = 0.25
    script = parse_script({"default": "Hi."})
    backend = make_backend("stub", script)
    assert isinstance(backend, StubBackend)
    assert backend.latency_ms == 5
    assert backend.failure_rate == 0.25
    assert backend.script is script


def test_it_builds_a_provider_backend_with_the_settings_key_url_and_timeout(no_keys):
    no_keys.OPENAI_API_KEY = "sk-test-abc123"
    no_keys.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    no_keys.PROVIDER_TIMEOUT = 7
    backend = make_backend("openai")
    assert isinstance(backend, OpenAIBackend)
    assert backend.timeout == 7
    assert backend._client.api_key == "sk-test-abc123"
    assert str(backend._client.base_url).startswith("http://127.0.0.1:9/v1")


@pytest.mark.parametrize("name, cls", [("openai", OpenAIBackend), ("anthropic", AnthropicBackend)])
def test_the_sdks_do_not_retry_on_their_own(no_keys, name, cls):
    setattr(no_keys, f"{name.upper()}_API_KEY", "sk-test-abc123")
    backend = make_backend(name)
    assert isinstance(backend, cls)
    assert backend._client.max_retries == 0


def test_it_returns_a_cassette_with_no_provider_in_replay_mode(no_keys, tmp_path):
    no_keys.CASSETTE_MODE = "replay"
    no_keys.CASSETTE_DIR = tmp_path
    backend = make_backend("openai")
    assert isinstance(backend, CassetteBackend)
    assert backend.mode == "replay"
    assert backend.inner is None
    assert backend.folder == tmp_path / "openai"
    with pytest.raises(BackendError) as e:
        backend.complete(REQUEST)
    assert e.value.permanent


def test_it_wraps_the_provider_in_a_cassette_when_recording(no_keys, tmp_path):
    no_keys.CASSETTE_MODE = "record"
    no_keys.CASSETTE_DIR = tmp_path
    no_keys.OPENAI_API_KEY = "sk-test-abc123"
    backend = make_backend("openai")
    assert isinstance(backend, CassetteBackend)
    assert isinstance(backend.inner, OpenAIBackend)
