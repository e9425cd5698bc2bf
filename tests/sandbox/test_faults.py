"""Faults at class scale, with real parts: real worker and beat processes on a Redis of the
test's own (killed and restarted at will), and the real OpenAI SDK against a local fake
provider. Every test ends with no attempt left unfinished and none graded twice.

The worker runs with small, still nested, limits: a 5-second soft limit inside an 8-second
lease, a reconciler every second, and a stub that takes seconds to answer.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from unittest.mock import patch

import pytest
from celery import Celery
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from django.utils.html import escape
from kombu.exceptions import OperationalError

from lessons.review.models import Progress
from sandbox import calls, limits, runs
from sandbox.models import Attempt, Run, UsageRecord
from sandbox.tasks import run_attempt
from tests.conftest import RUBRIC, make_attempt, make_exercise, run_queued
from tests.fakeprovider import FAKE_KEY, hang, raw, status, success
from tests.live import Stack, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Nested like production (see test_settings_invariants), only smaller.
SMALL = {
    "STUB_LATENCY_MS": "0",
    "PROVIDER_TIMEOUT": "1",
    "RETRY_BACKOFF_BASE": "0.05",
    "RETRY_BACKOFF_MAX": "0.5",
    "ATTEMPT_SOFT_TIME_LIMIT": "5",
    "ATTEMPT_LEASE_SECONDS": "8",
    "BROKER_VISIBILITY_TIMEOUT": "30",
    "RECONCILE_QUEUED_AFTER": "1",
    "RECONCILE_EVERY": "1",
    "CELERY_WORKER_CONCURRENCY": "16",
}
TWO_CASES = [
    {"name": "Ada", "variables": {"name": "Ada"}},
    {"name": "Grace", "variables": {"name": "Grace"}},
]


def make_learner(username: str = "alice") -> User:
    # No password: hashing one with the production hasher takes a second.
    return User.objects.create(username=username)


def fresh_prompt() -> str:
    """A prompt no earlier test (or run) has cached: it passes the stub's 'say hello' rule."""
    return f"Please say hello to {{name}}. ({uuid.uuid4().hex[:8]})"


def assert_all_final_once(cases: int | None = None) -> None:
    """No attempt is left unfinished; each finished one has one run per job, once."""
    unfinished = Attempt.objects.exclude(status__in=Attempt.FINAL)
    assert not unfinished.exists(), list(unfinished.values("id", "status"))
    if cases is not None:
        for attempt in Attempt.objects.filter(status=Attempt.GRADED):
            positions = list(attempt.runs.values_list("position", flat=True))
            assert sorted(positions) == list(range(cases)), (attempt.id, positions)


def real_calls_per_attempt() -> dict:
    rows = (
        UsageRecord.objects.filter(cache_hit=False)
        .values("attempt")
        .annotate(n=Count("id"))
        .values_list("attempt", "n")
    )
    return dict(rows)


# Real processes


@pytest.fixture
def stack_for(tmp_path, private_redis):
    """Build a Stack (worker, beat) on the private Redis with SMALL settings and overrides."""
    stacks: list[Stack] = []

    def build(folder: str = "", **env: str) -> Stack:
        (tmp_path / folder).mkdir(exist_ok=True)
        stack = Stack(
            workdir=tmp_path / folder,
            broker="redis",
            extra_env={"REDIS_URL": private_redis.url, **SMALL, **env},
        )
        stacks.append(stack)
        return stack

    try:
        yield build
    finally:
        for stack in stacks:
            stack.stop()


@pytest.fixture
def publisher(private_redis):
    """Publish run_attempt messages from this process, as the web process does."""
    app = Celery("publisher", broker=private_redis.url)
    app.conf.broker_connection_retry_on_startup = True
    app.conf.broker_connection_max_retries = 3

    def publish(*attempts: Attempt) -> None:
        for attempt in attempts:
            app.send_task("sandbox.run_attempt", args=[str(attempt.id)])

    try:
        yield publish
    finally:
        app.close()


def queued_messages(private_redis) -> int:
    import redis

    return redis.Redis.from_url(private_redis.url).llen("celery")


def kill_9(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def reconciled_total(log: str) -> int:
    return sum(int(n) for n in re.findall(r"reconciled (\d+) attempts", log))


def ten_attempts_running(stack: Stack, publisher):
    """Start the stack's worker, queue ten two-case attempts; return the worker once all ten
    are running."""
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    worker = stack.start_worker()
    publisher(*(make_attempt(learner, exercise, user_prompt=fresh_prompt()) for _ in range(10)))
    wait_until(
        lambda: Attempt.objects.filter(status=Attempt.RUNNING).count() == 10,
        15,
        "all ten attempts to be running",
    )
    return worker


# R1: model calls of 5 to 20 s need a soft limit and a lease above 20 s.
LONG_CALLS = {
    "ATTEMPT_SOFT_TIME_LIMIT": "22",
    "ATTEMPT_LEASE_SECONDS": "24",
    "BROKER_VISIBILITY_TIMEOUT": "50",
    "CELERY_WORKER_CONCURRENCY": "25",
}
STALLING = "tests.stalling_worker"  # scripts the stub's latency and a grader's loop


def start_workers(stacks: list[Stack]) -> list[subprocess.Popen]:
    """Start a worker on every stack at once: each takes seconds to be ready."""
    with ThreadPoolExecutor() as starting:
        return list(starting.map(lambda stack: stack.start_worker(include=STALLING), stacks))


def test_fifty_attempts_in_flight_when_every_worker_is_killed_are_graded_once(stack_for, publisher):
    learner = make_learner()
    exercise = make_exercise()
    stacks = [stack_for(folder=name, **LONG_CALLS) for name in ("first", "second")]
    workers = start_workers(stacks)
    # Longest first: the last attempts claimed, on a slow machine, are still in flight.
    latencies = [20 - 15 * i / 49 for i in range(50)]
    prompts = [f"{fresh_prompt()} STUB-WAITS {s:.1f}s" for s in latencies]
    publisher(*(make_attempt(learner, exercise, user_prompt=p) for p in prompts))
    wait_until(
        lambda: Attempt.objects.filter(status=Attempt.RUNNING).count() == 50,
        30,
        "all fifty attempts to be running",
    )

    for worker in workers:
        kill_9(worker)
    killed_at = time.monotonic()
    assert Attempt.objects.filter(status=Attempt.RUNNING).count() == 50
    start_workers(stacks)
    stacks[0].start_beat()

    # The leases (24 s) run out, the reconciler (every 1 s) publishes the attempts again, the
    # new workers claim them, and the stub answers again (5 to 20 s).
    wait_until(
        lambda: not Attempt.objects.exclude(status__in=Attempt.FINAL).exists(),
        60,
        "every attempt to finish after the kill",
    )
    assert time.monotonic() - killed_at < 50 + 1  # visibility timeout + reconciler interval
    assert_all_final_once(cases=1)
    assert set(Attempt.objects.values_list("status", flat=True)) == {Attempt.GRADED}
    assert set(Attempt.objects.values_list("score", flat=True)) == {1.0}
    assert all(a.deliveries >= 2 for a in Attempt.objects.all())
    # One grade per grader: one run per attempt (unique per case), each with one result per
    # criterion of the rubric.
    criteria = [c["id"] for c in RUBRIC["criteria"]]
    runs_per_attempt = Run.objects.values("attempt").annotate(n=Count("id"))
    assert {row["n"] for row in runs_per_attempt} == {1} and len(runs_per_attempt) == 50
    for results in Run.objects.values_list("criteria", flat=True):
        assert [r["id"] for r in results] == criteria
    # The grade-write audit: the learner's progress counts each saved grade once, per
    # attempt and per attempt × case (the killed deliveries saved nothing).
    progress = Progress.objects.get(learner=learner, exercise=exercise)
    assert progress.attempts == 50
    assert progress.case_results == {str(exercise.cases.get().id): [50, 50]}
    calls = real_calls_per_attempt()
    assert len(calls) == 50 and max(calls.values()) <= 2, calls
    for stack in stacks:
        assert "crashed" not in stack.log("worker").read_text()


def test_a_worker_stopped_for_a_deploy_finishes_its_attempts_first(stack_for, publisher):
    stack = stack_for(STUB_LATENCY_MS="2000")
    worker = ten_attempts_running(stack, publisher)

    stopped_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)  # as a deploy stops it: it finishes what it runs
    worker.wait(timeout=30)
    assert time.monotonic() - stopped_at < 20 + 2  # soft shutdown timeout + one attempt
    assert set(Attempt.objects.values_list("status", flat=True)) == {Attempt.GRADED}
    assert set(Attempt.objects.values_list("deliveries", flat=True)) == {1}
    assert_all_final_once(cases=2)


def test_deliveries_together_and_once_more_later_do_the_work_once(stack_for, publisher):
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    stack = stack_for(STUB_LATENCY_MS="1500")
    stack.start_worker()
    attempt = make_attempt(learner, exercise, user_prompt=fresh_prompt())

    publisher(attempt, attempt)
    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 15, "the attempt to finish")
    finished = Attempt.objects.values().get(id=attempt.id)
    publisher(attempt)
    log = stack.log("worker")
    wait_until(
        lambda: (
            log.read_text().count("Task sandbox.run_attempt") >= 3
            and log.read_text().count("succeeded in") >= 3
        ),
        15,
        "the late duplicate to be handled",
    )

    assert Attempt.objects.values().get(id=attempt.id) == finished
    assert finished["status"] == Attempt.GRADED
    assert finished["deliveries"] == 1
    assert Run.objects.filter(attempt=attempt).count() == 2
    assert real_calls_per_attempt() == {attempt.id: 2}  # one call per test case
    assert "not claimed: lease held" in log.read_text()
    assert "not claimed: already final" in log.read_text()
    assert_all_final_once(cases=2)


def test_two_workers_on_one_queue_run_each_attempt_once(stack_for, publisher):
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    slow = {"STUB_LATENCY_MS": "300", "CELERY_WORKER_CONCURRENCY": "4"}
    workers = [stack_for(folder=name, **slow) for name in ("first", "second")]
    for stack in workers:
        stack.start_worker()
    attempts = [make_attempt(learner, exercise, user_prompt=fresh_prompt()) for _ in range(40)]
    publisher(*attempts, *attempts)  # every message twice, as after a redelivery
    wait_until(
        lambda: Attempt.objects.filter(status=Attempt.GRADED).count() == 40,
        30,
        "the forty attempts to be graded",
    )
    assert_all_final_once(cases=2)
    assert set(Attempt.objects.values_list("deliveries", flat=True)) == {1}
    assert set(real_calls_per_attempt().values()) == {2}  # one call per test case

    def ran() -> list[int]:
        return [stack.log("worker").read_text().count("succeeded in") for stack in workers]

    # The second copies may still be in flight once the forty are graded: wait for them too.
    wait_until(lambda: sum(ran()) == 80, 30, "every delivery to finish")
    assert all(ran()), ran()  # both claimed at the same time, and never the same attempt
    assert_all_final_once(cases=2)


def test_an_attempt_that_kills_its_worker_every_time_is_set_aside_as_poison(stack_for, publisher):
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    stack = stack_for(MAX_DELIVERIES="2")
    # tests/crashing_worker.py, loaded into the worker, stops it on this word.
    poison = make_attempt(learner, exercise, user_prompt=f"CRASH-THE-WORKER {fresh_prompt()}")
    worker = stack.start_worker(include="tests.crashing_worker")
    stack.start_beat()
    publisher(poison)

    crashes = 0
    while not Attempt.objects.get(id=poison.id).is_final:
        wait_until(
            lambda w=worker: w.poll() is not None or Attempt.objects.get(id=poison.id).is_final,
            30,
            "the worker to crash or the attempt to be set aside",
        )
        if worker.poll() is not None:  # a supervisor restarts it; the lease runs out
            crashes += 1
            assert crashes <= 2, "the poison attempt ran more than MAX_DELIVERIES times"
            worker = stack.start_worker(include="tests.crashing_worker")

    poison.refresh_from_db()
    assert (poison.status, poison.error_code, poison.deliveries) == (Attempt.ERROR, "poison", 3)
    assert "stopped or stalled its worker 2 times" in poison.error
    assert crashes == 2
    # Other attempts keep flowing.
    attempt = make_attempt(learner, exercise, user_prompt=fresh_prompt())
    publisher(attempt)
    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 15, "the next attempt")
    assert Attempt.objects.get(id=attempt.id).status == Attempt.GRADED
    assert worker.poll() is None
    assert_all_final_once()


def looping_attempt(seconds: float) -> Attempt:
    """An attempt on the echo model whose grader (tests/stalling_worker.py) loops this long."""
    exercise = make_exercise(model_name="echo")
    return make_attempt(make_learner(), exercise, user_prompt=f"GRADER-LOOPS-FOR {seconds}s")


def test_a_grader_looping_past_the_soft_limit_fails_the_attempt_with_time_limit(
    stack_for, publisher
):
    attempt = looping_attempt(6.5)  # past the soft limit (5 s), within the lease (8 s)
    stack = stack_for()
    stack.start_worker(include=STALLING)
    publisher(attempt)
    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 20, "the attempt to finish")

    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code) == (Attempt.ERROR, "time_limit")
    assert "longer than 5 seconds" in attempt.error
    assert attempt.deliveries == 1
    assert_all_final_once()


def test_a_grader_looping_past_the_time_limit_is_set_aside_once_its_lease_expires(
    stack_for, publisher
):
    attempt = looping_attempt(60)  # past the lease (8 s): the thread never gives up in time
    stack = stack_for(MAX_DELIVERIES="1")
    worker = stack.start_worker(include=STALLING)
    stack.start_beat()
    publisher(attempt)
    wait_until(
        lambda: Attempt.objects.filter(id=attempt.id, status=Attempt.RUNNING).exists(),
        10,
        "the attempt to be running",
    )
    lease = Attempt.objects.get(id=attempt.id).lease_expires_at

    # The reconciler publishes it again once its lease (8 s) expires; that delivery takes
    # over from the stuck one and, past MAX_DELIVERIES, sets it aside.
    wait_until(lambda: Attempt.objects.get(id=attempt.id).is_final, 8 + 10, "the attempt")
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code, attempt.deliveries) == (Attempt.ERROR, "poison", 2)
    assert "stalled its worker 1 times" in attempt.error
    assert attempt.finished_at > lease
    assert worker.poll() is None
    assert reconciled_total(stack.log("worker").read_text()) >= 1
    kill_9(worker)  # its stuck thread would hold up a warm shutdown


def test_a_hundred_attempts_queued_while_workers_are_paused_survive_a_redis_restart(
    stack_for, publisher, private_redis
):
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    stack = stack_for(STUB_LATENCY_MS="100")
    paused = [stack.start_worker(), stack.start_beat()]
    for process in paused:
        process.send_signal(signal.SIGSTOP)
    publisher(*(make_attempt(learner, exercise, user_prompt=fresh_prompt()) for _ in range(100)))
    # The paused worker's pending read may have taken one message off the queue.
    queued = queued_messages(private_redis)
    assert queued >= 99

    # Redis restarts without persistence: the queued messages are gone.
    private_redis.restart()
    assert queued_messages(private_redis) == 0
    for process in paused:
        process.send_signal(signal.SIGCONT)

    wait_until(
        lambda: Attempt.objects.filter(status=Attempt.GRADED).count() == 100,
        300,
        "the hundred lost attempts to be graded",
    )
    assert_all_final_once(cases=2)
    assert all(process.poll() is None for process in paused)
    assert reconciled_total(stack.log("worker").read_text()) >= queued


def test_redis_killed_and_restarted_mid_burst_loses_no_attempt(stack_for, publisher, private_redis):
    # Redis is broker and cache: the attempts running lose their cache writes and their
    # acknowledgements, the queued ones their messages. None may fail or be lost.
    learner = make_learner()
    exercise = make_exercise(cases=TWO_CASES)
    stack = stack_for(STUB_LATENCY_MS="2000", CELERY_WORKER_CONCURRENCY="8")
    worker = stack.start_worker()
    stack.start_beat()
    publisher(*(make_attempt(learner, exercise, user_prompt=fresh_prompt()) for _ in range(30)))
    wait_until(
        lambda: Attempt.objects.filter(status=Attempt.RUNNING).count() == 8, 15, "a full worker"
    )
    private_redis.kill()
    time.sleep(2)
    private_redis.start()

    wait_until(
        lambda: not Attempt.objects.exclude(status__in=Attempt.FINAL).exists(),
        60,
        "every attempt to finish after Redis came back",
    )
    assert_all_final_once(cases=2)
    errors = list(Attempt.objects.filter(status=Attempt.ERROR).values_list("error_code", "error"))
    assert errors == []
    assert worker.poll() is None, stack.log("worker").read_text()[-3000:]
    assert reconciled_total(stack.log("worker").read_text()) >= 1


# The broker publish fails after commit (in this process, with the test client)


@pytest.fixture
def broker_down():
    with patch.object(run_attempt, "apply_async", side_effect=OperationalError("Redis is down")):
        yield


PLAYGROUND_RUN = {
    "user": "Say hello.",
    "models": ["stub:echo"],
    "temperature": "0.5",
    "max_tokens": "32",
}


def test_an_attempt_whose_publish_failed_stays_queued_for_the_reconciler(broker_down, settings):
    client = Client(raise_request_exception=False)
    client.force_login(make_learner())
    client.post("/playground/", PLAYGROUND_RUN)
    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.QUEUED

    settings.RECONCILE_QUEUED_AFTER = 0
    published: list[str] = []
    assert runs.reconcile(publish=published.append) == 1
    assert published == [str(attempt.id)]
    runs.execute(published[0])
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    assert_all_final_once()


def test_the_learner_is_sent_to_the_saved_attempt_when_the_broker_is_down(broker_down):
    # The attempt is saved and the reconciler will run it: a server error page would make
    # the learner submit again, spending a second submission (and a second model call).
    client = Client(raise_request_exception=False)
    client.force_login(make_learner())
    r = client.post("/playground/", PLAYGROUND_RUN)
    attempt = Attempt.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/attempts/{attempt.id}/"


# The real OpenAI SDK against the fake provider (in this process: the retry layer is here)


@pytest.fixture
def provider(settings, fake_provider):
    """Point the openai backend at the fake provider, with fast retries and a 1 s timeout.
    Record when each request arrived."""
    settings.OPENAI_API_KEY = FAKE_KEY
    settings.OPENAI_BASE_URL = fake_provider.openai_url
    settings.CASSETTE_MODE = "off"
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"
    settings.PROVIDER_TIMEOUT = 1
    settings.PROVIDER_TRIES = 3
    settings.RETRY_BACKOFF_BASE = 0.05
    settings.RETRY_BACKOFF_MAX = 2
    settings.STUB_LATENCY_MS = 0
    fake_provider.arrivals = []
    receive = fake_provider._next

    def timed(received):
        fake_provider.arrivals.append(time.monotonic())
        return receive(received)

    fake_provider._next = timed
    return fake_provider


@pytest.fixture
def alice():
    return make_learner()


def openai_exercise(**fields):
    fields.setdefault("backend", "openai")
    fields.setdefault("model_name", "gpt-4o-mini")
    fields.setdefault("slug", f"greet-{uuid.uuid4().hex[:6]}")
    return make_exercise(**fields)


def run(learner, exercise, **fields) -> Attempt:
    fields.setdefault("user_prompt", fresh_prompt())
    attempt = make_attempt(learner, exercise, **fields)
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()
    return attempt


def test_rate_limited_calls_are_retried_after_the_retry_after(provider, alice):
    provider.queue(
        status(429, headers={"retry-after": "1"}),
        status(429, headers={"retry-after": "1"}),
        success("Hello there!"),
    )
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.score == 1.0
    assert len(provider.calls()) == 3
    first, second, third = provider.arrivals
    assert second - first >= 1.0
    assert third - second >= 1.0
    assert_all_final_once(cases=1)


def test_a_nul_character_in_a_reply_is_graded_and_saved_as_a_replacement(provider, alice):
    # PostgreSQL stores no NUL in text nor in jsonb; the learner still gets a grade, and
    # sees what was graded.
    provider.queue(success("Hello\x00 there!"))
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.runs.get().output == "Hello\ufffd there!"
    assert_all_final_once(cases=1)


def test_an_unpaired_surrogate_in_a_reply_is_graded_and_saved_as_a_replacement(provider, alice):
    # JSON's "\\ud800" decodes to a lone surrogate, which no UTF-8 database stores.
    provider.queue(raw(openai_reply('"Hello \\ud800 there!"')))
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.runs.get().output == "Hello \ufffd there!"


def test_an_unpaired_surrogate_in_a_providers_error_ends_the_attempt(provider, alice):
    provider.queue(raw(b'{"error": {"message": "bad \\udc00 request"}}', code=400))
    attempt = run(alice, openai_exercise())
    assert (attempt.status, attempt.error_code) == (Attempt.ERROR, "rejected"), attempt.error
    assert "bad \ufffd request" in attempt.error


def test_two_playground_prompts_on_a_model_with_a_long_name_are_run(provider, alice, settings):
    # "Prompt B · OpenAI (or compatible) · <name>" is longer than a run's case name.
    model = "hf.co/bartowski/" + "m" * 84
    settings.SANDBOX_MODELS = f"openai:{model}:0.1:0.1"
    columns = [
        {"model": f"openai:{model}", "label": label, "system": "", "user": fresh_prompt()}
        for label in ("Prompt A", "Prompt B")
    ]
    attempt = Attempt.objects.create(
        learner=alice, playground_models=columns, temperature=0, max_tokens=50
    )
    runs.execute(str(attempt.id))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    labels = attempt.runs.order_by("position").values_list("model_label", flat=True)
    assert list(labels) == [f"Prompt {p} · OpenAI (or compatible) · {model}" for p in "AB"]


def openai_reply(content: str) -> bytes:
    """Return a chat completion's body whose message content is the JSON text `content`."""
    return (
        '{"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini", '
        f'"choices": [{{"index": 0, "message": {{"role": "assistant", "content": {content}}}, '
        '"finish_reason": "stop"}], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}'
    ).encode()


def test_a_request_id_longer_than_its_column_is_cut_not_a_lost_attempt(provider, alice):
    # An OpenAI-compatible server names its own request ids; the ledger keeps 200 characters.
    provider.queue(success("Hello there!", request_id="r" * 500))
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.GRADED, attempt.error
    assert attempt.usage_records.get().request_id == "r" * 200
    assert_all_final_once(cases=1)


def test_a_nul_character_in_a_providers_error_is_saved_as_a_replacement(provider, alice):
    provider.queue(status(400, message="bad\x00 request"))
    attempt = run(alice, openai_exercise())
    assert (attempt.status, attempt.error_code) == (Attempt.ERROR, "rejected"), attempt.error
    assert "bad\ufffd request" in attempt.error


@pytest.mark.parametrize("code", [500, 529])
def test_server_errors_are_retried_until_the_call_succeeds(provider, alice, code):
    provider.queue(status(code), status(code), success("Hello there!"))
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.GRADED, attempt.error
    assert len(provider.calls()) == 3
    assert_all_final_once(cases=1)


def test_a_call_failing_every_try_fails_the_attempt_after_the_tries(provider, alice):
    provider.queue(*[status(500)] * 5)
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == "server_error"
    assert attempt.error.startswith("The model failed: The provider had a temporary problem")
    assert len(provider.calls()) == 3


@pytest.mark.parametrize("tokens", [10**12, -5])
def test_a_reply_reporting_an_impossible_token_count_is_a_bad_response(provider, alice, tokens):
    # A count past any context window would not fit the ledger, and would fail the save.
    provider.queue(*[success("Hello there!", input_tokens=tokens)] * 3)
    attempt = run(alice, openai_exercise())
    assert (attempt.status, attempt.error_code) == (Attempt.ERROR, "bad_response")
    assert attempt.error.startswith("The model failed: The provider sent a reply that could not")
    codes = attempt.usage_records.values_list("error_code", "input_tokens")
    assert list(codes) == [("bad_response", 0)] * 3


PERMANENT = [(400, "rejected"), (401, "auth"), (403, "auth"), (404, "not_found"), (422, "rejected")]
# What a careless provider might echo back: the key itself.
LEAKY_MESSAGE = f"Incorrect API key provided: {FAKE_KEY}. Bearer {FAKE_KEY}"


@pytest.mark.parametrize("code, error_code", PERMANENT)
def test_a_permanent_error_fails_the_attempt_after_exactly_one_call(
    provider, alice, code, error_code
):
    provider.queue(status(code, message=LEAKY_MESSAGE), success("Hello there!"))
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == error_code
    assert attempt.error.startswith("The model refused the request: The provider")
    assert len(provider.calls()) == 1
    assert list(UsageRecord.objects.values_list("error_code", flat=True)) == [error_code]


@pytest.mark.parametrize("code, error_code", PERMANENT)
def test_a_permanent_error_is_explained_without_key_material(provider, alice, code, error_code):
    provider.queue(status(code, message=LEAKY_MESSAGE))
    attempt = run(alice, openai_exercise())
    client = Client()
    client.force_login(alice)
    page = client.get(f"/attempts/{attempt.id}/").content.decode()
    assert escape(attempt.error) in page
    for text in (attempt.error, page, *Run.objects.values_list("error", flat=True)):
        assert "sk-" not in text
        assert FAKE_KEY not in text
        assert "Traceback" not in text


def test_a_hung_provider_times_out_on_every_try_and_fails_the_attempt(provider, alice):
    provider.queue(hang(), hang(), hang())
    started = time.monotonic()
    attempt = run(alice, openai_exercise())
    took = time.monotonic() - started
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == "timeout"
    assert "did not answer within 1 seconds" in attempt.error
    assert len(provider.calls()) == 3
    # 3 tries of 1 s, two waits of at most 0.05 s plus jitter, and some slack.
    assert 3 <= took < 3 + 2 * 0.1 + 1.5


def test_a_worker_gives_up_on_a_hung_provider_in_time_and_runs_the_next_attempt(
    stack_for, publisher, provider, alice
):
    stack = stack_for(
        CELERY_WORKER_CONCURRENCY="1",  # the next attempt waits for this worker
        OPENAI_API_KEY=FAKE_KEY,
        OPENAI_BASE_URL=provider.openai_url,
        CASSETTE_MODE="off",
        SANDBOX_MODELS="openai:gpt-4o-mini:0.15:0.60",
        PROVIDER_TRIES="3",
    )
    exercise = openai_exercise()
    warm, hung, after = (
        make_attempt(alice, exercise, user_prompt=fresh_prompt()) for _ in range(3)
    )
    stack.start_worker()
    # The worker's first call imports the SDK (seconds on a loaded machine): not timed here.
    publisher(warm)
    wait_until(lambda: Attempt.objects.get(id=warm.id).is_final, 20, "the first attempt")
    provider.queue(hang(), hang(), hang())  # then it answers
    provider.arrivals.clear()
    publisher(hung, after)
    wait_until(lambda: not Attempt.objects.exclude(status__in=Attempt.FINAL).exists(), 30, "both")

    hung.refresh_from_db()
    after.refresh_from_db()
    assert (hung.status, hung.error_code) == (Attempt.ERROR, "timeout")
    assert after.status == Attempt.GRADED, after.error
    # Each try timed out at the SDK's timeout (1 s, under the 5 s soft limit), then waited
    # at most RETRY_BACKOFF_MAX (0.5 s) before the next.
    tries = hung.usage_records.values_list("error_code", "latency_ms")
    assert [code for code, _ in tries] == ["timeout"] * 3
    assert all(1000 <= ms < 1500 for _, ms in tries), tries
    first, second, third, _ = provider.arrivals
    assert 1.0 <= second - first < 1.0 + 0.5 + 0.5
    assert 1.0 <= third - second < 1.0 + 0.5 + 0.5
    # The worker's one thread claimed the next attempt within 1 s of giving up.
    assert after.started_at and hung.finished_at
    assert 0 <= (after.started_at - hung.finished_at).total_seconds() < 1.0


# L7: cost caps


def test_no_request_asks_for_more_than_the_token_ceiling(provider, alice, settings):
    settings.MAX_TOKENS_CEILING = 100
    exercise = openai_exercise(max_tokens=4000, cases=TWO_CASES)
    attempt = run(alice, exercise)
    assert attempt.status == Attempt.GRADED, attempt.error
    assert [r.body["max_tokens"] for r in provider.calls()] == [100, 100]


def test_a_playground_request_never_asks_for_more_than_the_token_ceiling(provider, alice, settings):
    settings.MAX_TOKENS_CEILING = 100
    Attempt.objects.create(
        learner=alice,
        playground_models=["openai:gpt-4o-mini"],
        user_prompt=fresh_prompt(),
        temperature=0,
        max_tokens=5000,
    )
    run_queued()
    assert [r.body["max_tokens"] for r in provider.calls()] == [100]


def test_the_spend_cap_stops_attempts_before_any_provider_call(provider, alice, settings):
    settings.GLOBAL_DAILY_SPEND_CAP_USD = 1.0
    UsageRecord.objects.create(
        learner=make_learner("carol"), backend="openai", model="gpt-4o-mini", cost_usd=Decimal(1)
    )
    attempt = run(alice, openai_exercise())
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == "budget"
    assert "spending cap" in attempt.error
    assert provider.calls() == []


def test_a_model_outside_the_price_table_is_never_called(provider, alice):
    # Unpriced, its calls would cost $0 in the ledger: no budget or cap could stop them.
    attempt = run(alice, openai_exercise(model_name="gpt-4-32k"))
    assert attempt.status == Attempt.ERROR
    assert attempt.error_code == "config"
    assert provider.calls() == []


# L8: usage accounting


def run_three_attempts_with_retries(provider, learner) -> None:
    provider.queue(
        success(input_tokens=1000, output_tokens=500, request_id="req_a"),
        status(500),
        success(input_tokens=2000, output_tokens=1000, request_id="req_b"),
        status(429, headers={"retry-after": "0"}),
        status(529),
        success(input_tokens=4000, output_tokens=2000, request_id="req_c"),
    )
    exercise = openai_exercise()
    for _ in range(3):
        attempt = run(learner, exercise)
        assert attempt.status == Attempt.GRADED, attempt.error


def test_the_ledger_has_one_record_per_http_call(provider, alice):
    run_three_attempts_with_retries(provider, alice)
    records = UsageRecord.objects.filter(cache_hit=False).order_by("created_at", "id")
    assert records.count() == len(provider.calls()) == 6
    assert list(records.values_list("error_code", flat=True)) == [
        "",
        "server_error",
        "",
        "rate_limited",
        "overloaded",
        "",
    ]
    assert set(records.exclude(request_id="").values_list("request_id", flat=True)) == {
        "req_a",
        "req_b",
        "req_c",
    }


def test_the_ledger_tokens_equal_what_the_provider_reported(provider, alice):
    run_three_attempts_with_retries(provider, alice)
    totals = UsageRecord.objects.aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"))
    assert totals == {"i": 7000, "o": 3500}


def test_the_ledger_cost_follows_the_price_table(provider, alice):
    run_three_attempts_with_retries(provider, alice)
    for record in UsageRecord.objects.all():
        expected = record.input_tokens * Decimal("0.15") + record.output_tokens * Decimal("0.60")
        assert record.cost_usd == expected / 1_000_000
    # 7000 × $0.15 + 3500 × $0.60 per million tokens
    assert limits.spent_today(learner=alice)["cost"] == Decimal("0.00315")


# Identical temperature-0 submissions


def test_identical_submissions_at_once_make_one_model_call_per_case(settings, alice):
    settings.STUB_LATENCY_MS = 500
    exercise = make_exercise(cases=TWO_CASES)
    prompt = fresh_prompt()
    attempts = [make_attempt(alice, exercise, user_prompt=prompt) for _ in range(20)]
    barrier = threading.Barrier(len(attempts), timeout=10)

    def execute(attempt: Attempt) -> None:
        try:
            barrier.wait()
            runs.execute(str(attempt.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=execute, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert set(Attempt.objects.values_list("status", flat=True)) == {Attempt.GRADED}
    assert UsageRecord.objects.filter(cache_hit=False).count() == 2
    assert UsageRecord.objects.filter(cache_hit=True).count() == 38
    assert_all_final_once(cases=2)


def test_a_follower_of_a_leader_that_died_makes_the_call_itself_in_time(settings, alice):
    # A worker killed mid-call keeps its single-flight lock until the lock expires, as long as
    # a soft limit. An identical prompt submitted meanwhile (a class submitting the starter
    # prompt together) must keep enough of its own time to make the call, not wait it all out.
    settings.ATTEMPT_SOFT_TIME_LIMIT = 3
    settings.PROVIDER_TIMEOUT = 1
    settings.PROVIDER_TRIES = 1
    exercise = make_exercise()
    prompt = fresh_prompt()
    (job,) = runs.prepare(make_attempt(alice, exercise, user_prompt=prompt))
    key = calls.cache_key(job.choice.backend, job.backend.cache_scope, job.request, job.sample)
    # Another worker takes the key...
    assert cache.add(key, calls.FETCHING, settings.ATTEMPT_SOFT_TIME_LIMIT)
    # ...and then dies.

    started = time.monotonic()
    attempt = run(alice, exercise, user_prompt=prompt)
    took = time.monotonic() - started
    assert attempt.status == Attempt.GRADED, attempt.error
    assert took < settings.ATTEMPT_SOFT_TIME_LIMIT - 0.4
