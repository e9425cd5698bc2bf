"""sandbox.calls: the one retry layer, and the keys of the response cache."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid

import pytest

from sandbox import calls
from sandbox.backends import Backend, BackendError, Completion, CompletionRequest
from sandbox.calls import RetryPolicy, cache_key, call_with_retries

REQUEST = CompletionRequest(
    model="gpt-4o-mini",
    messages=({"role": "user", "content": "Say hello."},),
    system="Be brief.",
    temperature=0.0,
    max_tokens=64,
)
POLICY = RetryPolicy(tries=3, base=1, cap=20)


class Highest:
    """An rng whose jitter is always the most it can be."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Lowest:
    def uniform(self, a: float, b: float) -> float:
        return a


def transient(code: str = "server_error", retry_after: float | None = None) -> BackendError:
    return BackendError("The provider had a temporary problem.", code=code, retry_after=retry_after)


def permanent() -> BackendError:
    return BackendError("The provider refused the API key.", permanent=True, code="auth")


class ScriptedBackend(Backend):
    """Answers each call with the next item: a BackendError is raised, a Completion returned."""

    def __init__(self, *answers: BackendError | Completion) -> None:
        self.answers = list(answers)
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BackendError):
            raise answer
        return answer


class Sleeps(list):
    """An injected sleep that only writes down how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def far_deadline() -> float:
    return time.monotonic() + 3600


# RetryPolicy.delay


def test_the_backoff_doubles_with_each_failed_try():
    delays = [POLICY.delay(n, None, Highest()) for n in range(1, 6)]
    assert delays == [1, 2, 4, 8, 16]


def test_the_backoff_is_capped():
    assert POLICY.delay(6, None, Highest()) == 20
    assert POLICY.delay(30, None, Highest()) == 20


def test_the_jitter_waits_at_least_half_the_backoff():
    assert [POLICY.delay(n, None, Lowest()) for n in range(1, 6)] == [0.5, 1, 2, 4, 8]


def test_the_delays_are_jittered():
    rng = random.Random(1)
    delays = [POLICY.delay(2, None, rng) for _ in range(20)]
    assert len(set(delays)) > 1
    assert all(1 <= d <= 2 for d in delays)


def test_the_delays_of_retry_after_answers_are_jittered():
    # Twenty learners told "retry-after: 2" at once must not all come back together.
    rng = random.Random(2)
    delays = [POLICY.delay(1, 2.0, rng) for _ in range(20)]
    assert len(set(delays)) > 1


@pytest.mark.parametrize("retry_after", [0.0, 0.3, 1.0, 2.0, 5.5, 19.0])
@pytest.mark.parametrize("failed_tries", [1, 2, 3])
def test_it_never_waits_less_than_the_providers_retry_after(failed_tries, retry_after):
    for rng in (Lowest(), Highest(), random.Random(3)):
        assert POLICY.delay(failed_tries, retry_after, rng) >= retry_after


def test_it_never_retries_sooner_than_a_retry_after_longer_than_the_cap():
    # A provider that says "retry-after: 60" will refuse a retry sent after 20 seconds:
    # that retry only spends a try. Waiting the full time (the deadline then stops the
    # retrying, see below) is the only useful answer.
    assert POLICY.delay(1, 60.0, Lowest()) >= 60


# call_with_retries


def test_it_retries_transient_errors_until_the_call_succeeds():
    backend = ScriptedBackend(transient(), transient("overloaded"), Completion(text="Hi"))
    sleeps = Sleeps()
    outcome = call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=sleeps)
    assert outcome.completion == Completion(text="Hi")
    assert outcome.error is None
    assert len(backend.requests) == 3
    assert [entry.error_code for entry in outcome.log] == ["server_error", "overloaded", ""]
    assert [entry.completion for entry in outcome.log] == [None, None, Completion(text="Hi")]
    assert len(sleeps) == 2


def test_it_sends_the_same_request_on_every_try():
    backend = ScriptedBackend(transient(), Completion(text="Hi"))
    call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=Sleeps())
    assert backend.requests == [REQUEST, REQUEST]


def test_it_waits_longer_before_each_retry():
    backend = ScriptedBackend(transient(), transient(), Completion(text="Hi"))
    sleeps = Sleeps()
    call_with_retries(backend, REQUEST, RetryPolicy(3, 1, 20), far_deadline(), sleep=sleeps)
    first, second = sleeps
    assert 0.5 <= first <= 1
    assert 1 <= second <= 2


def test_it_waits_the_retry_after_the_provider_asks_for():
    backend = ScriptedBackend(transient("rate_limited", retry_after=2.5), Completion(text="Hi"))
    sleeps = Sleeps()
    outcome = call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=sleeps)
    assert outcome.completion is not None
    (waited,) = sleeps
    assert waited >= 2.5


def test_it_makes_exactly_one_call_for_a_permanent_error():
    backend = ScriptedBackend(permanent(), Completion(text="never sent"))
    sleeps = Sleeps()
    outcome = call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=sleeps)
    assert len(backend.requests) == 1
    assert outcome.completion is None
    assert outcome.error.code == "auth"
    assert [entry.error_code for entry in outcome.log] == ["auth"]
    assert sleeps == []


def test_it_stops_after_the_configured_number_of_tries():
    backend = ScriptedBackend(*[transient() for _ in range(5)])
    sleeps = Sleeps()
    outcome = call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=sleeps)
    assert len(backend.requests) == POLICY.tries == 3
    assert outcome.completion is None
    assert outcome.error.code == "server_error"
    assert len(outcome.log) == 3
    # No wait after the last try: nothing follows it.
    assert len(sleeps) == 2


def test_it_stops_retrying_when_the_wait_would_pass_the_deadline():
    backend = ScriptedBackend(transient(), Completion(text="too late"))
    sleeps = Sleeps()
    # The first wait is at least 5 seconds (half the 10-second backoff); 2 seconds remain.
    policy = RetryPolicy(tries=3, base=10, cap=20)
    outcome = call_with_retries(backend, REQUEST, policy, time.monotonic() + 2, sleep=sleeps)
    assert len(backend.requests) == 1
    assert outcome.error.code == "server_error"
    assert sleeps == []


def test_it_does_not_retry_a_retry_after_that_ends_past_the_deadline():
    backend = ScriptedBackend(transient("rate_limited", retry_after=10), Completion(text="late"))
    sleeps = Sleeps()
    outcome = call_with_retries(backend, REQUEST, POLICY, time.monotonic() + 5, sleep=sleeps)
    assert len(backend.requests) == 1
    assert outcome.error.code == "rate_limited"
    assert sleeps == []


def test_it_never_sleeps_for_real_when_sleep_is_injected():
    backend = ScriptedBackend(transient(), transient(), Completion(text="Hi"))
    started = time.monotonic()
    call_with_retries(backend, REQUEST, RetryPolicy(3, 10, 20), far_deadline(), sleep=Sleeps())
    assert time.monotonic() - started < 1


def test_it_returns_the_error_instead_of_raising_it():
    backend = ScriptedBackend(permanent())
    outcome = call_with_retries(backend, REQUEST, POLICY, far_deadline(), sleep=Sleeps())
    assert isinstance(outcome.error, BackendError)


# cache_key


def key(request: CompletionRequest = REQUEST, **overrides) -> str:
    args = {"backend_name": "openai", "scope": "", "sample": 0, **overrides}
    return cache_key(args["backend_name"], args["scope"], request, args["sample"])


def test_the_cache_key_is_the_same_for_the_same_call():
    assert key() == key(dataclasses.replace(REQUEST))
    assert key().startswith("completion:")


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"messages": ({"role": "user", "content": "Say goodbye."},)},
        {
            "messages": (
                {"role": "user", "content": "Say hello."},
                {"role": "assistant", "content": "H"},
            )
        },
        {"system": "Be long."},
        {"temperature": 0.7},
        {"max_tokens": 65},
        {"stop": ("\n",)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_cache_key_changes_with_every_field_of_the_request(change):
    assert key(dataclasses.replace(REQUEST, **change)) != key()


def test_the_cache_key_changes_with_the_backend():
    assert key(backend_name="anthropic") != key()


def test_the_cache_key_changes_with_the_scope():
    # The scope is a stub's rules: an instructor's fixed rule must not replay the old reply.
    assert key(scope="rules-v2") != key(scope="rules-v1")


def test_the_cache_key_changes_with_the_sample():
    assert key(sample=1) != key(sample=0)


def test_only_temperature_zero_requests_are_cached():
    assert calls.cacheable(REQUEST)
    assert not calls.cacheable(dataclasses.replace(REQUEST, temperature=0.2))


# Single flight: a key holds a leader's mark, then its completion (Django's cache: Redis
# when configured, the database otherwise)


@pytest.fixture
def fresh_key(db) -> str:
    return f"completion:test-{uuid.uuid4()}"


def lead(key: str) -> bool:
    ((leads, _),) = calls.lookup_or_lead([key], 10)
    return leads


def test_only_one_caller_leads_a_key(fresh_key):
    assert lead(fresh_key) is True
    assert lead(fresh_key) is False
    calls.finish_leading({fresh_key: None})
    assert lead(fresh_key) is True
    calls.finish_leading({fresh_key: None})


def test_a_key_that_holds_a_completion_cannot_be_led(fresh_key):
    lead(fresh_key)
    calls.finish_leading({fresh_key: Completion(text="Hi")})
    assert calls.lookup_or_lead([fresh_key], 10) == [(False, Completion(text="Hi"))]
    assert calls.wait_for_leader(fresh_key, time.monotonic() + 5) == Completion(text="Hi")


def test_a_lookup_leads_free_keys_and_tells_completions_from_calls_in_flight(fresh_key):
    stored, in_flight, free = f"{fresh_key}:a", f"{fresh_key}:b", f"{fresh_key}:c"
    lead(stored)
    calls.finish_leading({stored: Completion(text="Hi")})
    lead(in_flight)
    assert calls.lookup_or_lead([stored, in_flight, free, free], 10) == [
        (False, Completion(text="Hi")),
        (False, None),
        (True, None),
        (False, None),  # the same request twice in one attempt: the second follows the first
    ]


def test_a_follower_gets_the_leaders_completion(fresh_key):
    lead(fresh_key)
    calls.finish_leading({fresh_key: Completion(text="Hi", input_tokens=3, output_tokens=1)})
    completion = calls.wait_for_leader(fresh_key, time.monotonic() + 5)
    assert completion == Completion(text="Hi", input_tokens=3, output_tokens=1)


def test_a_follower_stops_waiting_when_the_leader_fails(fresh_key):
    lead(fresh_key)
    calls.finish_leading({fresh_key: None})  # the call failed: nothing stored
    started = time.monotonic()
    assert calls.wait_for_leader(fresh_key, started + 5) is None
    assert time.monotonic() - started < 1
