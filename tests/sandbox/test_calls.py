"""sandbox.calls: the one retry layer, and the keys of the response cache."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache

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


# Single flight: one caller at a time makes an identical temperature-0 call; the others get
# its answer from the cache (Django's cache: Redis when configured, the database otherwise).


def complete(backend: Backend, request: CompletionRequest = REQUEST, deadline: float = 0):
    return calls.complete(backend, request, "openai", deadline or far_deadline())


def test_an_identical_request_is_answered_from_the_cache(db):
    backend = ScriptedBackend(Completion(text="Hi", input_tokens=3))
    first, second = complete(backend), complete(backend)
    assert len(backend.requests) == 1
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.completion == Completion(text="Hi", input_tokens=3)
    assert [(e.backend, e.model, e.cache_hit) for e in second.log] == [
        ("openai", "gpt-4o-mini", True)
    ]


def test_a_request_above_temperature_zero_is_always_sent(db):
    warm = dataclasses.replace(REQUEST, temperature=0.7)
    backend = ScriptedBackend(Completion(text="A"), Completion(text="B"))
    assert [complete(backend, warm).completion.text for _ in range(2)] == ["A", "B"]


def test_a_failed_call_is_not_cached(db):
    backend = ScriptedBackend(permanent(), Completion(text="Hi"))
    assert complete(backend).error is not None
    assert complete(backend).completion == Completion(text="Hi")


class Slow(Backend):
    """Answers after a pause, so that identical calls overlap."""

    def __init__(self) -> None:
        self.requests = 0

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests += 1
        time.sleep(0.3)
        return Completion(text="Hi")


@pytest.mark.django_db(transaction=True)
def test_identical_calls_at_once_make_one_call_and_share_its_answer():
    backend = Slow()
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(lambda _: complete(backend), range(5)))
    assert backend.requests == 1
    assert [o.completion.text for o in outcomes] == ["Hi"] * 5
    assert sorted(o.cache_hit for o in outcomes) == [False, True, True, True, True]


def test_a_follower_stops_waiting_when_the_leader_fails(db):
    key = f"completion:test-{uuid.uuid4()}"
    cache.add(key, calls.FETCHING, 10)
    cache.delete(key)  # the leader's call failed: its mark is gone, nothing stored
    started = time.monotonic()
    assert calls.wait_for_leader(key, started + 5) is None
    assert time.monotonic() - started < 1


def test_a_follower_of_a_leader_that_never_answers_calls_itself_in_time(db, settings):
    settings.PROVIDER_TIMEOUT, settings.PROVIDER_TRIES, settings.RETRY_BACKOFF_MAX = 0.2, 1, 0
    backend = ScriptedBackend(Completion(text="Hi"))
    key = cache_key("openai", backend.cache_scope, REQUEST, 0)
    cache.add(key, calls.FETCHING, 10)  # a leader whose worker died
    started = time.monotonic()
    outcome = complete(backend, deadline=started + 1)
    assert outcome.completion == Completion(text="Hi")
    assert outcome.cache_hit is False
    assert time.monotonic() - started < 1


@pytest.fixture
def unreachable_cache(settings):
    """The response cache on a Redis that is not there (stopped, restarting, unplugged)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }


def test_without_its_cache_a_call_is_made_uncached(unreachable_cache, caplog):
    backend = ScriptedBackend(Completion(text="Hi"), Completion(text="Hi again"))
    assert complete(backend).completion == Completion(text="Hi")
    assert complete(backend).completion == Completion(text="Hi again")  # no cache, no hit
    assert "the response cache failed; calling the model uncached" in caplog.text
