"""Model backends: one module per provider behind one interface, listed in BACKENDS.

A backend takes its configuration as constructor arguments and imports no Django
models; sandbox.runs builds backends from an exercise and the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from sandbox.backends.base import Backend, BackendError, Completion, CompletionRequest

# name -> (label, dotted path of the class)
BACKENDS: dict[str, tuple[str, str]] = {
    "stub": ("Offline stub", "sandbox.backends.stub.StubBackend"),
    "openai": ("OpenAI (or compatible)", "sandbox.backends.openai.OpenAIBackend"),
    "anthropic": ("Anthropic", "sandbox.backends.anthropic.AnthropicBackend"),
}
BACKEND_CHOICES = [(name, label) for name, (label, _) in BACKENDS.items()]


def backend_class(name: str) -> Callable[..., Backend]:
    """Return the backend's class (its constructor's arguments differ from one to another)."""
    module, _, cls = BACKENDS[name][1].rpartition(".")
    return getattr(import_module(module), cls)


__all__ = (
    "BACKENDS",
    "BACKEND_CHOICES",
    "Backend",
    "BackendError",
    "Completion",
    "CompletionRequest",
    "backend_class",
)
