"""Model calls: the one layer that retries, and the response cache.

Retries live here and nowhere else: the SDKs are built with max_retries=0 and
drain_queue has no Celery retries, so one model call costs at most
PROVIDER_TRIES HTTP calls. The functions that call a backend touch no database,
so they can run in worker threads; cache reads and writes go through Django's
cache (Redis when configured, the database otherwise) from the task's thread.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from sandbox.backends import Backend, BackendError, Completion, CompletionRequest
from sandbox.cache import add_or_get_many

CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class RetryPolicy:
    tries: int
    base: float
    cap: float

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(settings.PROVIDER_TRIES, settings.RETRY_BACKOFF_BASE, settings.RETRY_BACKOFF_MAX)

    def delay(self, failed_tries: int, retry_after: float | None, rng=random) -> float:
        """Return seconds to wait before the next try: exponential backoff with jitter,
        and never less than the provider's retry-after.

        >>> RetryPolicy(3, 1, 20).delay(2, None, random.Random(0)) <= 4
        True
        """
        if retry_after is not None:
            # The provider said when; the attempt's deadline still bounds the wait.
            return retry_after + rng.uniform(0, self.base / 2)
        backoff = min(self.cap, self.base * 2 ** (failed_tries - 1))
        return backoff / 2 + rng.uniform(0, backoff / 2)


@dataclass(frozen=True)
class CallLog:
    """One HTTP call (or cache hit) for the usage ledger."""

    completion: Completion | None
    error_code: str = ""
    latency_ms: int = 0
    cache_hit: bool = False
    # The model called, when it is not the job's own (a judge's call).
    backend: str = ""
    model: str = ""


@dataclass
class CallOutcome:
    completion: Completion | None = None
    error: BackendError | None = None
    cache_hit: bool = False
    log: list[CallLog] = field(default_factory=list)


def call_with_retries(
    backend: Backend,
    request: CompletionRequest,
    policy: RetryPolicy,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> CallOutcome:
    """Call the backend, retrying transient errors with backoff until the tries or the
    deadline (a time.monotonic() value) run out. Never raises BackendError: it is returned."""
    outcome = CallOutcome()
    for attempt_number in range(1, policy.tries + 1):
        started = time.monotonic()
        try:
            completion = backend.complete(request)
        except BackendError as e:
            latency = int((time.monotonic() - started) * 1000)
            outcome.log.append(CallLog(None, e.code, latency))
            outcome.error = e
            if e.permanent or attempt_number == policy.tries:
                return outcome
            wait = policy.delay(attempt_number, e.retry_after)
            if time.monotonic() + wait >= deadline:
                return outcome
            sleep(wait)
            continue
        outcome.log.append(CallLog(completion, "", completion.latency_ms))
        outcome.completion, outcome.error = completion, None
        return outcome
    return outcome


def call_budget() -> float:
    """Return the longest one model call can take, every try and backoff included."""
    tries = settings.PROVIDER_TRIES
    return settings.PROVIDER_TIMEOUT * tries + settings.RETRY_BACKOFF_MAX * (tries - 1)


def cache_key(backend_name: str, scope: str, request: CompletionRequest, sample: int) -> str:
    """Return the cache key of a request: backend (and its scope, such as a stub's rules),
    model, parameters, messages and sample index."""
    r = request
    fields = [r.model, r.system, r.messages, r.temperature, r.max_tokens, r.stop]
    payload = json.dumps([backend_name, scope, fields, sample], sort_keys=True)
    return "completion:" + hashlib.sha256(payload.encode()).hexdigest()


def cacheable(request: CompletionRequest) -> bool:
    return request.temperature == 0


# What a key holds while its leader makes the call: the single-flight lock and the cached
# answer share the key, so storing the answer releases the lock in the same write.
FETCHING = "fetching"


def lookup_or_lead(keys: list[str], seconds: float) -> list[tuple[bool, Completion | None]]:
    """Take every key nobody holds, so that this caller makes its model call, in one
    round trip. Return, for each key in turn, (leads, completion):

    - (True, None): this caller leads the key; its mark expires after `seconds`, in
      case its worker dies;
    - (False, completion): the cache holds the key's answer;
    - (False, None): another leader is making the call.
    """
    held = add_or_get_many(cache, keys, FETCHING, timeout=max(1, int(seconds)))
    return [
        (value is None, None if value in (None, FETCHING) else Completion(**value))
        for value in held
    ]


def finish_leading(results: dict[str, Completion | None]) -> None:
    """Store the leaders' completions over their marks; drop the marks of failed calls
    (failures are not cached), so that followers make the call themselves."""
    cache.set_many(
        {key: dict(vars(c)) for key, c in results.items() if c is not None}, CACHE_SECONDS
    )
    failed = [key for key, c in results.items() if c is None]
    if failed:
        cache.delete_many(failed)


def wait_for_leader(key: str, deadline: float, interval: float = 0.02) -> Completion | None:
    """Wait while another worker makes the same call; return its completion, or None if it
    failed (its mark is gone with no completion) or the deadline passed."""
    while time.monotonic() < deadline:
        value = cache.get(key)
        if value is None:
            return None
        if value != FETCHING:
            return Completion(**value)
        time.sleep(interval)
    return None
