"""The one interface every model backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


class BackendError(Exception):
    """A backend call failed. Transient errors may succeed if tried again; permanent ones not.

    The message is shown to learners, so it never carries key material.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    messages: tuple[dict[str, str], ...]
    system: str = ""
    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()

    def prompt_text(self) -> str:
        """Return the whole prompt as one text (what stub rules and echo read)."""
        parts = [f"[system]\n{self.system}"] if self.system else []
        parts += [f"[{m['role']}]\n{m['content']}" for m in self.messages]
        return "\n\n".join(parts)


@dataclass(frozen=True)
class Completion:
    """A model's reply: the continuation only (a prefill is not repeated in text)."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    model: str = ""
    extra: dict = field(default_factory=dict)


class Backend(ABC):
    """Send one request to a model and return its completion, or raise BackendError."""

    label = ""

    @abstractmethod
    def complete(self, request: CompletionRequest) -> Completion: ...
