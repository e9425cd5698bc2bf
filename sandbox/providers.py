"""Which backends and models exist, what they cost, and how to build them: all from settings.

Backends take their keys and options as arguments; this module is where the
settings are read and handed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sandbox.backends import BACKENDS, Backend, backend_class
from sandbox.backends.cassette import CassetteBackend, Mode
from sandbox.backends.stub import MODELS as STUB_MODELS
from sandbox.backends.stub import StubScript

MILLION = Decimal(1_000_000)
MODEL_NAME_CHARS = 100
MICRODOLLAR = Decimal("0.000001")  # the ledger's precision (UsageRecord.cost_usd)


@dataclass(frozen=True)
class ModelChoice:
    backend: str
    model: str
    input_price: Decimal = Decimal(0)  # USD per million tokens
    output_price: Decimal = Decimal(0)

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.model}"

    @property
    def label(self) -> str:
        return f"{BACKENDS[self.backend][0]} · {self.model}"

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        cost = (input_tokens * self.input_price + output_tokens * self.output_price) / MILLION
        return cost.quantize(MICRODOLLAR)  # as every database keeps it, so sums agree


def parse_models(spec: str) -> dict[str, ModelChoice]:
    """Parse SANDBOX_MODELS: "backend:model:input_price:output_price;…".

    >>> parse_models("openai:gpt-4o-mini:0.15:0.60")["openai:gpt-4o-mini"].output_price
    Decimal('0.60')
    """
    choices = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        try:
            # A model name may hold colons itself (Ollama's "llama3.2:3b").
            backend, rest = item.split(":", 1)
            model, price_in, price_out = rest.rsplit(":", 2)
            choice = ModelChoice(backend, model, Decimal(price_in), Decimal(price_out))
        except (ValueError, ArithmeticError):
            raise ImproperlyConfigured(
                f"SANDBOX_MODELS entry {item!r} must be backend:model:input_price:output_price"
            ) from None
        if backend not in BACKENDS:
            raise ImproperlyConfigured(f"SANDBOX_MODELS names unknown backend {backend!r}")
        if len(model) > MODEL_NAME_CHARS:  # as exercises and the usage ledger keep it
            raise ImproperlyConfigured(
                f"SANDBOX_MODELS entry {item!r}: the model name is {len(model)} characters; "
                f"at most {MODEL_NAME_CHARS}"
            )
        choices[choice.key] = choice
    return choices


def allowed_models() -> dict[str, ModelChoice]:
    """Return every model exercises and the playground may use, stub models first."""
    stub = {f"stub:{m}": ModelChoice("stub", m) for m in STUB_MODELS}
    return {**stub, **parse_models(settings.SANDBOX_MODELS)}


def model_choice(backend: str, model: str) -> ModelChoice:
    """Return the allowed model, or a free placeholder for one outside the allowlist."""
    return allowed_models().get(f"{backend}:{model}", ModelChoice(backend, model))


def backend_unavailable(backend: str) -> str:
    """Return why a backend cannot be used here, or "" when it can."""
    if backend not in BACKENDS:
        return f"There is no backend called {backend!r}."
    if settings.CASSETTE_MODE == "replay" or backend == "stub":
        return ""
    key, base_url = provider_settings(backend)
    if backend == "openai" and not key and base_url:
        return ""  # a local OpenAI-compatible server (Ollama, vLLM) needs no key
    if not key:
        name = backend.upper()
        return f"{BACKENDS[backend][0]} is not configured on this server (no {name}_API_KEY)."
    return ""


def provider_settings(backend: str) -> tuple[str, str]:
    """Return (api key, base URL) for a provider backend, from OPENAI_API_KEY and the like."""
    prefix = backend.upper()
    return getattr(settings, f"{prefix}_API_KEY", ""), getattr(settings, f"{prefix}_BASE_URL", "")


def model_unavailable(backend: str, model: str) -> str:
    """Return why this model cannot be called here, or "" when it can: its backend must be
    configured and, except for the free stub, the model must be on the priced allowlist, so
    every billed call is on the ledger at its price."""
    reason = backend_unavailable(backend)
    if reason or backend == "stub":
        return reason
    if f"{backend}:{model}" not in allowed_models():
        return f"The model {model!r} is not on this site's list of allowed models (SANDBOX_MODELS)."
    return ""


def offline_backend(backend: str, script: StubScript) -> tuple[Backend, ModelChoice] | None:
    """Return how to run an exercise whose backend is not configured here, for the publish
    check: its recorded cassette if there is one, else its stub rules; None if neither."""
    folder = settings.CASSETTE_DIR / backend
    if folder.is_dir() and any(folder.glob("*.json")):
        return CassetteBackend(None, folder, "replay", backend=backend), ModelChoice(backend, "")
    if script.rules:
        stub = backend_class("stub")(script=script)
        return stub, ModelChoice("stub", "scripted")
    return None


def reference_unavailable(backend: str, script: StubScript) -> str:
    """Return why a reference solution cannot run here at all, or "" when it can."""
    reason = backend_unavailable(backend)
    if reason and offline_backend(backend, script) is None:
        return f"{reason} It has no recorded cassette or stub rules to run on instead."
    return ""


def make_backend(backend: str, script: StubScript | None = None) -> Backend:
    """Return a configured backend; wrapped in a cassette when recording or replaying."""
    cls = backend_class(backend)
    if backend == "stub":
        return cls(
            script=script,
            latency_ms=settings.STUB_LATENCY_MS,
            failure_rate=settings.STUB_FAILURE_RATE,
        )
    inner = None
    if settings.CASSETTE_MODE != "replay":
        key, base_url = provider_settings(backend)
        inner = cls(api_key=key, base_url=base_url or None, timeout=settings.PROVIDER_TIMEOUT)
    if settings.CASSETTE_MODE == "off":
        assert inner is not None  # built above: "off" is not "replay"
        return inner
    mode = cast(Mode, settings.CASSETTE_MODE)  # settings checked it is off, record or replay
    return CassetteBackend(inner, settings.CASSETTE_DIR / backend, mode, backend=backend)
