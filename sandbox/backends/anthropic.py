"""Anthropic's messages API.

Temperature is not sent: SDK 2.x dropped the sampling parameters, and the API version it
speaks answers 400 to a request that carries one. Newer Claude models also answer 400 to
a prefill; the learner then sees the provider's reason.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic

from sandbox.backends import errors
from sandbox.backends.base import Backend, Completion, CompletionRequest

# Compatible local servers ignore the key, but the SDK refuses to start without one.
LOCAL_SERVER_KEY = "not-needed"


class AnthropicBackend(Backend):
    label = "Anthropic"

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._key = api_key
        self._client: anthropic.Anthropic | None = None
        if api_key or base_url:
            self._client = anthropic.Anthropic(
                api_key=api_key or LOCAL_SERVER_KEY,
                base_url=base_url,
                timeout=timeout,
                # Retries live in one layer of ours (sandbox.runs), so one call is one request.
                max_retries=0,
            )

    def __repr__(self) -> str:
        return f"AnthropicBackend(timeout={self.timeout})"

    def complete(self, request: CompletionRequest) -> Completion:
        if self._client is None:
            raise errors.missing_key("Anthropic")
        started = time.monotonic()
        try:
            response = self._client.messages.create(
                model=request.model,
                messages=messages(request),  # type: ignore[arg-type]
                system=request.system or anthropic.omit,
                max_tokens=request.max_tokens,
                stop_sequences=list(request.stop) if request.stop else anthropic.omit,
            )
        except anthropic.APITimeoutError:
            raise errors.timed_out(self.timeout) from None
        except anthropic.APIConnectionError:
            raise errors.connection_failed() from None
        except anthropic.APIStatusError as e:
            raise errors.for_status(
                e.status_code,
                e.response.headers,
                body=e.body,
                model=request.model,
                secret=self._key,
            ) from None
        except (anthropic.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError):
            raise errors.bad_response() from None
        latency_ms = int((time.monotonic() - started) * 1000)
        try:
            return parse(response, latency_ms)
        except (AttributeError, IndexError, TypeError, ValueError):
            # The SDK does not validate replies, so a body missing its fields
            # (or not JSON at all, which comes back as a str) fails here.
            raise errors.bad_response() from None


def messages(request: CompletionRequest) -> list[dict[str, str]]:
    """Return the turns to send; a prefill stays the final assistant turn.

    The API rejects a final assistant turn that ends in whitespace, so a prefill
    "Answer: " is sent as "Answer:" (and a blank one not at all).
    """
    turns = [{"role": m["role"], "content": m["content"]} for m in request.messages]
    if turns and turns[-1]["role"] == "assistant":
        prefill = turns.pop()["content"].rstrip()
        if prefill:
            turns.append({"role": "assistant", "content": prefill})
    return turns


def parse(response: Any, latency_ms: int) -> Completion:
    """Return the Completion in a message, or raise if a field it needs is missing."""
    blocks = response.content
    if not isinstance(blocks, list):
        raise TypeError("content is not a list of blocks")
    text = "".join(block.text for block in blocks if block.type == "text")
    usage = response.usage
    details = getattr(usage, "output_tokens_details", None)
    return Completion(
        text=text,
        input_tokens=int(usage.input_tokens),
        output_tokens=int(usage.output_tokens),
        cached_tokens=int(getattr(usage, "cache_read_input_tokens", None) or 0),
        reasoning_tokens=int(getattr(details, "thinking_tokens", None) or 0),
        latency_ms=latency_ms,
        model=str(response.model),
        request_id=response._request_id or "",
        extra={
            "stop_reason": getattr(response, "stop_reason", None),
            # Cache writes are billed above the input price, so the price table needs them.
            "cache_creation_input_tokens": int(
                getattr(usage, "cache_creation_input_tokens", None) or 0
            ),
        },
    )
