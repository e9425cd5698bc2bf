"""What the OpenAI and Anthropic backends share: an official SDK client with its retries
off, and the mapping of its exceptions onto BackendError.

Both SDKs come from the same generator, so their exception classes have the same names.
"""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from types import ModuleType
from typing import Any

from sandbox.backends import errors
from sandbox.backends.base import Backend, Completion, CompletionRequest

# Local servers ignore the key, but the SDKs refuse to start without one.
LOCAL_SERVER_KEY = "not-needed"


class SdkBackend(Backend):
    sdk: ModuleType  # the SDK package, openai or anthropic: its exceptions
    client_class: type  # its client
    provider = ""  # the provider's name in messages

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._key = api_key
        self._client: Any = None
        if api_key or base_url:
            self._client = self.client_class(
                api_key=api_key or LOCAL_SERVER_KEY,
                base_url=base_url,
                timeout=timeout,
                # Retries live in one layer of ours (sandbox.calls), so one call is one request.
                max_retries=0,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout={self.timeout})"

    @abstractmethod
    def send(self, client: Any, request: CompletionRequest) -> Any:
        """Make the one HTTP call and return the SDK's response object."""

    @abstractmethod
    def parse(self, response: Any, latency_ms: int) -> Completion:
        """Return the Completion in a response, or raise if a field it needs is missing."""

    def complete(self, request: CompletionRequest) -> Completion:
        if self._client is None:
            raise errors.missing_key(self.provider)
        sdk = self.sdk
        started = time.monotonic()
        try:
            response = self.send(self._client, request)
        except sdk.APITimeoutError:
            raise errors.timed_out(self.timeout) from None
        except sdk.APIConnectionError:
            raise errors.connection_failed() from None
        except sdk.APIStatusError as e:
            raise errors.for_status(
                e.status_code,
                e.response.headers,
                body=e.body,
                model=request.model,
                secret=self._key,
            ) from None
        except (sdk.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError):
            raise errors.bad_response() from None
        latency_ms = int((time.monotonic() - started) * 1000)
        try:
            return self.parse(response, latency_ms)
        except (AttributeError, IndexError, OverflowError, TypeError, ValueError):
            # The SDK does not validate replies, so a body missing its fields (or not JSON at
            # all, which comes back as a str, or counting infinite tokens) fails here.
            raise errors.bad_response() from None
