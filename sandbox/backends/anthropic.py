"""Anthropic's messages API.

Temperature is not sent: SDK 2.x dropped the sampling parameters, and the API version it
speaks answers 400 to a request that carries one. Newer Claude models also answer 400 to
a prefill; the learner then sees the provider's reason.
"""

from __future__ import annotations

from typing import Any

import anthropic

from sandbox.backends.base import Completion, CompletionRequest
from sandbox.backends.sdk import SdkBackend


class AnthropicBackend(SdkBackend):
    label = "Anthropic"
    sdk = anthropic
    client_class = anthropic.Anthropic
    provider = "Anthropic"
    unsent = {"temperature": "the anthropic SDK 2.x takes no sampling settings"}

    def send(self, client: anthropic.Anthropic, request: CompletionRequest) -> Any:
        return client.messages.create(
            model=request.model,
            messages=messages(request),  # type: ignore[arg-type]
            system=request.system or anthropic.omit,
            max_tokens=request.max_tokens,
            stop_sequences=list(request.stop) if request.stop else anthropic.omit,
        )

    def parse(self, response: Any, latency_ms: int) -> Completion:
        return parse(response, latency_ms)


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
    cache_read = int(getattr(usage, "cache_read_input_tokens", None) or 0)
    cache_creation = int(getattr(usage, "cache_creation_input_tokens", None) or 0)
    return Completion(
        text=text,
        # Every prompt token, as OpenAI counts them: Anthropic reports the cached apart.
        input_tokens=int(usage.input_tokens) + cache_read + cache_creation,
        output_tokens=int(usage.output_tokens),
        cached_tokens=cache_read,
        reasoning_tokens=int(getattr(details, "thinking_tokens", None) or 0),
        latency_ms=latency_ms,
        model=str(response.model),
        request_id=response._request_id or "",
        extra={
            "stop_reason": getattr(response, "stop_reason", None),
            # Cache writes are billed above the input price, so the price table needs them.
            "cache_creation_input_tokens": cache_creation,
        },
    )
