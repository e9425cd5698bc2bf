"""OpenAI chat completions, and any server that speaks them (Ollama, vLLM, llama.cpp, LM Studio).

`base_url` points the backend at such a server, e.g. "http://localhost:11434/v1" for Ollama.
"""

from __future__ import annotations

from typing import Any

import openai

from sandbox.backends.base import Completion, CompletionRequest
from sandbox.backends.sdk import SdkBackend


class OpenAIBackend(SdkBackend):
    label = "OpenAI (or compatible)"
    sdk = openai
    client_class = openai.OpenAI
    provider = "OpenAI"

    def send(self, client: openai.OpenAI, request: CompletionRequest) -> Any:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m["role"], "content": m["content"]} for m in request.messages]
        return client.chat.completions.create(
            model=request.model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=list(request.stop) if request.stop else openai.omit,
        )

    def parse(self, response: Any, latency_ms: int) -> Completion:
        return parse(response, latency_ms)


def parse(response: Any, latency_ms: int) -> Completion:
    """Return the Completion in a chat completion, or raise if a field it needs is missing."""
    choice = response.choices[0]
    text = choice.message.content
    if text is None:
        text = ""
    elif not isinstance(text, str):
        raise TypeError("content is not text")
    usage = response.usage
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    extra = {"finish_reason": choice.finish_reason}
    if getattr(choice.message, "refusal", None):
        extra["refusal"] = choice.message.refusal
    return Completion(
        text=text,
        input_tokens=int(usage.prompt_tokens),
        output_tokens=int(usage.completion_tokens),
        cached_tokens=int(getattr(prompt_details, "cached_tokens", None) or 0),
        reasoning_tokens=int(getattr(completion_details, "reasoning_tokens", None) or 0),
        latency_ms=latency_ms,
        model=str(response.model),
        request_id=response._request_id or "",
        extra=extra,
    )
