"""OpenAI chat completions, and any server that speaks them (Ollama, vLLM, llama.cpp, LM Studio).

`base_url` points the backend at such a server, e.g. "http://localhost:11434/v1" for Ollama.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai

from sandbox.backends import errors
from sandbox.backends.base import Backend, Completion, CompletionRequest

# Local servers ignore the key, but the SDK refuses to start without one.
LOCAL_SERVER_KEY = "not-needed"


class OpenAIBackend(Backend):
    label = "OpenAI (or compatible)"

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._key = api_key
        self._client: openai.OpenAI | None = None
        if api_key or base_url:
            self._client = openai.OpenAI(
                api_key=api_key or LOCAL_SERVER_KEY,
                base_url=base_url,
                timeout=timeout,
                # Retries live in one layer of ours (sandbox.runs), so one call is one request.
                max_retries=0,
            )

    def __repr__(self) -> str:
        return f"OpenAIBackend(timeout={self.timeout})"

    def complete(self, request: CompletionRequest) -> Completion:
        if self._client is None:
            raise errors.missing_key("OpenAI")
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m["role"], "content": m["content"]} for m in request.messages]
        started = time.monotonic()
        try:
            response = self._client.chat.completions.create(
                model=request.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=list(request.stop) if request.stop else openai.omit,
            )
        except openai.APITimeoutError:
            raise errors.timed_out(self.timeout) from None
        except openai.APIConnectionError:
            raise errors.connection_failed() from None
        except openai.APIStatusError as e:
            raise errors.for_status(
                e.status_code,
                e.response.headers,
                body=e.body,
                model=request.model,
                secret=self._key,
            ) from None
        except (openai.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError):
            raise errors.bad_response() from None
        latency_ms = int((time.monotonic() - started) * 1000)
        try:
            return parse(response, latency_ms)
        except (AttributeError, IndexError, TypeError, ValueError):
            # The SDK does not validate replies, so a body missing its fields
            # (or not JSON at all, which comes back as a str) fails here.
            raise errors.bad_response() from None


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
