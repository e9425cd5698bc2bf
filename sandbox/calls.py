"""Model calls: the one layer that retries, the response cache, and the judge's calls.

Retries live here and nowhere else: the SDKs are built with max_retries=0 and
run_attempt has no Celery retries, so one model call costs at most PROVIDER_TRIES
HTTP calls. Nothing here touches the database, so calls run in the worker's pool
threads; the cache is Django's (Redis when configured, the database otherwise).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

import graders
from sandbox.backends import Backend, BackendError, Completion, CompletionRequest
from sandbox.providers import make_backend, model_unavailable

if TYPE_CHECKING:
    from lessons.models import Exercise

CACHE_SECONDS = 7 * 24 * 3600
log = logging.getLogger(__name__)


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
        and never less than the provider's retry-after."""
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
    backend: str = ""
    model: str = ""


@dataclass
class CallOutcome:
    completion: Completion | None = None
    error: BackendError | None = None
    cache_hit: bool = False
    log: list[CallLog] = field(default_factory=list)


def complete(
    backend: Backend,
    request: CompletionRequest,
    backend_name: str,
    deadline: float,
    sample: int = 0,
    use_cache: bool = True,
) -> CallOutcome:
    """Answer a request. At temperature 0 the cache answers identical requests, and one
    caller at a time makes the call (single flight): the others wait for its answer, or
    make the call themselves if it fails or its worker dies."""
    policy = RetryPolicy.from_settings()
    call = functools.partial(
        call_with_retries, backend, request, policy, deadline, backend_name=backend_name
    )
    if not (use_cache and cacheable(request)):
        return call()
    key = cache_key(backend_name, backend.cache_scope, request, sample)
    # Adding the mark first: a miss, the common case, costs one round trip less.
    leads = cached(cache.add, key, FETCHING, max(1, int(deadline - time.monotonic())))
    if leads is None:  # no cache: an optimisation lost, not an attempt
        return call()
    if leads:
        outcome = call()
        if outcome.completion:
            # Stored over the mark: the answer releases the followers in the same write.
            cached(cache.set, key, dict(vars(outcome.completion)), CACHE_SECONDS)
        else:
            cached(cache.delete, key)  # failures are not cached: followers call themselves
        return outcome
    # Held: answered already, or being called by another caller. Stop waiting in time to
    # make the call ourselves if that caller's worker died.
    completion = wait_for_leader(key, deadline - call_budget())
    if completion:
        entry = CallLog(completion, cache_hit=True, backend=backend_name, model=request.model)
        return CallOutcome(completion=completion, cache_hit=True, log=[entry])
    return call()


def call_with_retries(
    backend: Backend,
    request: CompletionRequest,
    policy: RetryPolicy,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    backend_name: str = "",
) -> CallOutcome:
    """Call the backend, retrying transient errors with backoff until the tries or the
    deadline (a time.monotonic() value) run out. Never raises BackendError: it is returned."""
    outcome = CallOutcome()
    model = request.model
    for attempt_number in range(1, policy.tries + 1):
        started = time.monotonic()
        try:
            completion = backend.complete(request)
        except BackendError as e:
            latency = int((time.monotonic() - started) * 1000)
            outcome.log.append(CallLog(None, e.code, latency, backend=backend_name, model=model))
            outcome.error = e
            if e.permanent or attempt_number == policy.tries:
                return outcome
            wait = policy.delay(attempt_number, e.retry_after)
            if time.monotonic() + wait >= deadline:
                return outcome
            sleep(wait)
            continue
        outcome.log.append(
            CallLog(completion, "", completion.latency_ms, backend=backend_name, model=model)
        )
        outcome.completion, outcome.error = completion, None
        return outcome
    return outcome


class JudgeFailed(Exception):
    """The judge model could not answer; the grader reports "needs review", never a pass."""


def make_judge(exercise: Exercise, deadline: float, log: list[CallLog]) -> graders.Judge:
    """Return the judge an llm_judge criterion calls: the model it names ("backend:model", or
    a model of the exercise's backend), through the same retry layer. Every HTTP call it
    makes is appended to `log`, for the ledger; a verdict is stored with its run, so it is
    never looked up in the response cache."""

    def judge(request: graders.JudgeRequest) -> str:
        backend_name, model = exercise.judge_model(request.model)
        reason = model_unavailable(backend_name, model)
        if reason or time.monotonic() >= deadline:
            raise JudgeFailed(reason or "The time for grading ran out.")
        judged = CompletionRequest(
            model=model,
            system=request.system,
            messages=({"role": "user", "content": request.prompt},),
            temperature=0,
            max_tokens=min(request.max_tokens, settings.MAX_TOKENS_CEILING),
        )
        backend = make_backend(backend_name, exercise.stub_script)
        outcome = complete(backend, judged, backend_name, deadline, use_cache=False)
        log.extend(outcome.log)
        if not outcome.completion:
            raise JudgeFailed(outcome.error.message if outcome.error else "no answer")
        return outcome.completion.text

    return judge


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


def cached(operation: Callable[..., Any], *args: Any) -> Any:
    """Return what a cache operation returns, or None if the cache cannot be reached."""
    try:
        return operation(*args)
    except UNREACHABLE:  # Redis down or restarting, a database cache locked: call uncached
        log.warning("the response cache failed; calling the model uncached", exc_info=True)
        return None


# Failures of reaching the cache; anything else (a wrong password, a bug) is raised.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError, DatabaseError)


FETCHING = "fetching"  # what a key holds while its leader makes the call


def wait_for_leader(key: str, deadline: float, interval: float = 0.02) -> Completion | None:
    """Wait while another caller makes the same call; return its completion, or None if it
    failed (its mark is gone), the cache is unreachable or the deadline passed."""
    while time.monotonic() < deadline:
        value = cached(cache.get, key)
        if value is None:
            return None
        if value != FETCHING:
            return Completion(**value)
        time.sleep(interval)
    return None
