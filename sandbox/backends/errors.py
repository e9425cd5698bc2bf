"""Turn a provider's failure into a BackendError a learner can read.

Both SDK backends catch their own exceptions and call these helpers, so the mapping
from HTTP status to code, permanence and wording lives in one place.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from sandbox.backends.base import BackendError

# Provider messages are only ever quoted after these are blanked out: OpenAI's 401 echoes
# the start and end of the key it was given ("Incorrect API key provided: sk-abc***xyz").
SECRET_PATTERNS = (
    re.compile(r"\bsk-[\w*.\-]*"),
    re.compile(r"\bBearer\s+\S+", re.IGNORECASE),
    re.compile(r"\b(?:x-api-key|authorization)\s*[:=]\s*\S+", re.IGNORECASE),
)
DETAIL_MAX_CHARS = 200


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the provider's hint in seconds from `retry-after-ms` or `retry-after`, if any.

    `retry-after` is either seconds ("2", "1.5") or an HTTP date
    ("Wed, 21 Oct 2026 07:28:00 GMT"); a date in the past means 0.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return finite_seconds(float(ms) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return finite_seconds(float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def finite_seconds(value: float) -> float:
    """Return a hint of `value` seconds, at least 0; raise ValueError for nan or infinity."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a number of seconds")
    return max(value, 0.0)


def redact(text: str, secret: str = "") -> str:
    """Return text with key material blanked out, on one line, at most DETAIL_MAX_CHARS long."""
    if secret:
        text = text.replace(secret, "[redacted]")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    text = " ".join(text.split())
    if len(text) > DETAIL_MAX_CHARS:
        text = text[: DETAIL_MAX_CHARS - 1].rstrip() + "…"
    return text


def provider_message(body: object) -> str:
    """Return the `message` of an error body ({"error": {"message": …}} or {"message": …})."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            body = error
        message = body.get("message")
        if isinstance(message, str):
            return message
    return ""


def _seconds(value: float) -> str:
    """Return "1 second", "3 seconds": rounded up, so a learner never retries too soon."""
    whole = max(math.ceil(value), 1)
    return "1 second" if whole == 1 else f"{whole} seconds"


def for_status(
    status: int,
    headers: Mapping[str, str],
    *,
    body: object = None,
    model: str = "",
    secret: str = "",
) -> BackendError:
    """Return the BackendError for an HTTP error status from the provider.

    The provider's own explanation is quoted only for rejected requests, where it is
    what the learner needs ("max_tokens is too large"), and only after redaction.
    """
    wait = retry_after(headers)
    if status == 429:
        when = f"try again in {_seconds(wait)}" if wait else "try again shortly"
        return BackendError(
            f"The provider is rate-limiting requests; {when}.",
            code="rate_limited",
            retry_after=wait,
        )
    if status == 529:
        return BackendError(
            "The provider is overloaded right now; try again in a moment.",
            code="overloaded",
            retry_after=wait,
        )
    if status == 408:
        return BackendError(
            "The provider gave up waiting for the request; try again in a moment.",
            code="timeout",
            retry_after=wait,
        )
    if status == 409 or status >= 500:
        return BackendError(
            f"The provider had a temporary problem (HTTP {status}); try again in a moment.",
            code="server_error",
            retry_after=wait,
        )
    if status in (401, 403):
        reason = "refused the API key" if status == 401 else "does not allow this API key here"
        return BackendError(
            f"The provider {reason} (HTTP {status}); ask your instructor to check the key.",
            permanent=True,
            code="auth",
        )
    if status == 402:
        return BackendError(
            "The provider account has run out of credit (HTTP 402); tell your instructor.",
            permanent=True,
            code="auth",
        )
    if status == 404:
        named = f"the model {model!r}" if model else "that model"
        return BackendError(
            f"The provider does not know {named} (HTTP 404); check the model name.",
            permanent=True,
            code="not_found",
        )
    detail = redact(provider_message(body), secret)
    return BackendError(
        f"The provider rejected the request (HTTP {status})" + (f": {detail}" if detail else "."),
        permanent=True,
        code="rejected",
    )


def timed_out(timeout: float) -> BackendError:
    return BackendError(
        f"The provider did not answer within {timeout:g} seconds; try again in a moment.",
        code="timeout",
    )


def connection_failed() -> BackendError:
    return BackendError(
        "Could not reach the provider; check the network and the provider's address.",
        code="connection",
    )


def bad_response() -> BackendError:
    return BackendError(
        "The provider sent a reply that could not be read; try again in a moment.",
        code="bad_response",
    )


def missing_key(provider: str) -> BackendError:
    return BackendError(
        f"No API key is configured for {provider}; ask your instructor to set one.",
        permanent=True,
        code="config",
    )
