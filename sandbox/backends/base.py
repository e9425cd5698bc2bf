"""The one interface every model backend implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

# Why a call failed. Transient ones may succeed if tried again; permanent ones never will.
TRANSIENT_CODES = (
    "rate_limited",
    "overloaded",
    "server_error",
    "timeout",
    "connection",
    "bad_response",
)
PERMANENT_CODES = ("auth", "rejected", "config", "not_found", "budget")


# NUL, and UTF-16 surrogates left unpaired (JSON's "\ud800"): PostgreSQL stores neither in
# text or jsonb, and neither means anything to a learner.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Return a provider's text with each unstorable character replaced by U+FFFD; it is
    graded as it is saved. Raise TypeError if it is not text."""
    if not isinstance(text, str):
        raise TypeError(f"{type(text).__name__} is not text")
    return UNSTORABLE.sub("\ufffd", text)


class BackendError(Exception):
    """A backend call failed.

    `message` is shown to learners, so it never carries key material or a stack trace.
    `retry_after` is the provider's hint in seconds (a 429's retry-after), if it gave one.
    """

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        message = storable(message)
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code or ("rejected" if permanent else "server_error")
        self.retry_after = retry_after


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

    @property
    def prefill(self) -> str:
        """Return the final assistant turn the model should continue, if there is one."""
        last = self.messages[-1] if self.messages else None
        return last["content"] if last and last["role"] == "assistant" else ""


# Past any context window: a provider counting more (or below 0) is broken; the ledger's too.
MAX_REPORTED_TOKENS = 100_000_000


@dataclass(frozen=True)
class Completion:
    """A model's reply: the continuation only (a prefill is not repeated in text)."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    latency_ms: int = 0
    model: str = ""
    request_id: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", storable(self.text))  # frozen
        for name in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
            count = getattr(self, name)
            if not 0 <= count <= MAX_REPORTED_TOKENS:  # the SDKs turn ValueError into bad_response
                raise ValueError(f"{name} is {count}: not a token count")


class Backend(ABC):
    """Send one request to a model (one HTTP call at most) and return its completion.

    Raise BackendError, never a provider's own exception. Backends do not retry:
    retries live in one layer, sandbox.runs.call_with_retries.
    """

    label = ""
    unsent: dict[str, str] = {}  # request settings this backend does not send, and why

    @property
    def cache_scope(self) -> str:
        """What else, besides the request, decides the reply (a stub's rules): part of the
        cache key."""
        return ""

    @abstractmethod
    def complete(self, request: CompletionRequest) -> Completion: ...
