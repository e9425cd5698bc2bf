"""Run an attempt: the one place that joins the models, the backends and the graders."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

import graders
from lessons.models import Case, Exercise
from sandbox import calls, limits
from sandbox.backends import BACKENDS, Backend, BackendError, Completion, CompletionRequest
from sandbox.batching import Batcher
from sandbox.models import Attempt, Run, UsageRecord
from sandbox.prompting import RenderedPrompt, render_prompt
from sandbox.providers import (
    ModelChoice,
    make_backend,
    model_choice,
    model_unavailable,
    offline_backend,
)

log = logging.getLogger(__name__)

# The most model calls and gradings one worker process runs at once. The pool starts a
# thread only when no idle one is free, so the bound costs nothing until a burst needs it;
# calls beyond it wait in line. It should cover the attempts a worker runs at once times
# their test cases (a burst of 200 learners on 3-case attempts needs 600).
MAX_JOB_THREADS = 2048


@dataclass
class Job:
    """One model call of an attempt: a test case (or a playground model) and a sample index."""

    position: int
    choice: ModelChoice
    backend: Backend
    request: CompletionRequest
    prompt: RenderedPrompt
    case: Case | None = None
    sample: int = 0
    key: str = ""
    leader: bool = False
    outcome: calls.CallOutcome = field(default_factory=calls.CallOutcome)
    grade: graders.CaseGrade | None = None


class AttemptFailed(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def build_request(choice: ModelChoice, prompt: RenderedPrompt, temperature: float, max_tokens: int):
    return CompletionRequest(
        model=choice.model,
        system=prompt.system,
        messages=tuple(prompt.messages()),
        temperature=temperature,
        max_tokens=min(max_tokens, settings.MAX_TOKENS_CEILING),
    )


def exercise_backend(attempt: Attempt, exercise: Exercise) -> tuple[Backend, ModelChoice]:
    """Return the backend an exercise attempt runs on. A reference run (the publish check)
    falls back, where the exercise's backend is not configured, to its recorded cassette or
    its stub rules."""
    reason = model_unavailable(exercise.backend, exercise.model_name)
    if not reason:
        backend = make_backend(exercise.backend, exercise.stub_script)
        return backend, model_choice(exercise.backend, exercise.model_name)
    fallback = offline_backend(exercise.backend, exercise.stub_script)
    if attempt.is_reference and fallback:
        backend, choice = fallback
        return backend, choice if choice.model else model_choice(
            exercise.backend, exercise.model_name
        )
    raise AttemptFailed("config", reason)


def exercise_jobs(attempt: Attempt, exercise: Exercise) -> list[Job]:
    backend, choice = exercise_backend(attempt, exercise)
    jobs = []
    for case in exercise.cases.all():
        prompt = render_prompt(attempt.fields(), exercise.case_variables(case), attempt.examples)
        request = build_request(choice, prompt, exercise.temperature, exercise.max_tokens)
        for sample in range(exercise.samples):
            jobs.append(Job(len(jobs), choice, backend, request, prompt, case, sample))
    return jobs


def playground_jobs(attempt: Attempt) -> list[Job]:
    prompt = render_prompt(attempt.fields(), {})
    jobs = []
    for key in attempt.playground_models:
        backend_name, _, model = key.partition(":")
        choice = model_choice(backend_name, model)
        request = build_request(choice, prompt, attempt.temperature or 0, attempt.max_tokens or 256)
        jobs.append(Job(len(jobs), choice, make_backend(backend_name), request, prompt))
    return jobs


def drain_pending_key() -> str:
    """Return the cache key a submission sets when it publishes drain_queue, and the drain
    clears when it starts: while it is set, a drain is on its way, and a submission
    publishes nothing. One per queue, as sites sharing a Redis keep to their own queues."""
    return f"sandbox:drain-pending:{settings.CELERY_TASK_DEFAULT_QUEUE}"


def drain_queue(wake: Callable[[], object]) -> None:
    """Run the oldest queued attempts, up to a batch, all at once (the work of a drain_queue
    message).

    It clears the pending mark before it claims, so an attempt saved after the claim
    publishes a drain of its own; if it claims a full batch, more may be waiting, so it
    calls `wake` to have another thread or worker take them while these run. An attempt
    whose worker died (running past its lease) is claimed again like a queued one.
    """
    cache.delete(drain_pending_key())
    attempts = claim_next(settings.DRAIN_BATCH)
    if len(attempts) == settings.DRAIN_BATCH:
        wake()
    deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
    together(functools.partial(execute_claimed, deadline=deadline), attempts)


def execute_claimed(attempt: Attempt, deadline: float) -> None:
    """Run a claimed attempt to the end.

    1. An attempt delivered MAX_DELIVERIES times without finishing is poison.
    2. Answer what the cache can; for the rest, call the backend for every test case
       at once (retrying transient errors), with no transaction open.
    3. Grade every output, then save the runs, the usage and the total in one
       transaction, or the error.

    The save of a graded attempt goes through the worker's batcher: the attempts its
    threads finish at the same moment share the statements.
    """
    jobs: list[Job] = []
    try:
        if attempt.deliveries > settings.MAX_DELIVERIES:
            raise AttemptFailed(
                "poison",
                f"Grading this attempt stopped its worker {attempt.deliveries - 1} times, "
                "so it was set aside. Your instructor can see it.",
            )
        jobs = prepare(attempt)
        release_connection()
        run_jobs(jobs, deadline)
        if attempt.exercise:
            grade_jobs(attempt.exercise, attempt, jobs, deadline)
        saves().submit((attempt, jobs))
    except AttemptFailed as e:
        save(attempt, jobs, failure=e)
    except Exception:
        # A bug must not leave the learner watching "running" forever.
        log.exception("attempt %s crashed", attempt.id)
        attempt.fail(
            "internal", "Something went wrong while grading this attempt; it has been logged."
        )
        raise
    finally:
        release_connection()


def claim_next(limit: int) -> list[Attempt]:
    """Claim up to `limit` runnable attempts, each with its exercise and test cases."""
    claimed = Attempt.objects.claim_next(limit, settings.ATTEMPT_LEASE_SECONDS)
    exercises = definitions().current(
        {a.exercise_id: a.exercise_revision for a in claimed if a.exercise_id}
    )
    for attempt in claimed:
        if attempt.exercise_id:
            attempt.exercise = exercises[attempt.exercise_id]
        if attempt.deliveries > 1:
            log.info("attempt %s is claimed again (delivery %d)", attempt.id, attempt.deliveries)
    return claimed


def together(fn: Callable[[Attempt], None], attempts: list[Attempt]) -> None:
    """Run fn on every attempt at once: the first in this thread, the others in the attempt
    pool; return when all are done, raising the first error (a bug) after that."""
    if not attempts:
        return
    futures = [attempt_pool().submit(fn, attempt) for attempt in attempts[1:]]
    errors = []
    try:
        fn(attempts[0])
    except Exception as e:
        errors.append(e)
    for future in futures:
        if future.exception():
            errors.append(future.exception())
    if errors:
        raise errors[0]


class Definitions:
    """The worker's copies of the exercises its attempts run on, with their test cases,
    each kept while its revision stands. The database raises an exercise's revision on
    every change to it or to its cases, and a claim reads the revision with the attempt,
    so an attempt never runs on an older definition than the one current when it was
    claimed; a copy is fetched again when its revision differs from the claim's (newer,
    or older, as after restoring a backup)."""

    def __init__(self) -> None:
        self.held: dict[int, Exercise] = {}

    def current(self, revisions: dict[int, int]) -> dict[int, Exercise]:
        """Return these exercises (id → revision read at the claim) by id."""
        stale = [pk for pk, rev in revisions.items() if self.revision(pk) != rev]
        if stale:
            # Fetched now, a copy may be newer than its claim's revision: it is used, as
            # the claim would have read it a moment later, and the next claim fetches
            # again unless it reads the same.
            self.held.update(Exercise.objects.prefetch_related("cases").in_bulk(stale))
        return {pk: self.held[pk] for pk in revisions if pk in self.held}

    def revision(self, pk: int) -> int | None:
        held = self.held.get(pk)
        return held.revision if held else None


@functools.cache
def definitions() -> Definitions:
    return Definitions()


@functools.cache
def saves() -> Batcher[tuple[Attempt, list[Job]], None]:
    return Batcher(save_graded, lambda item: save(*item))


# The attempts a worker's threads run at once share their round trips to the response
# cache too: a batch of lookups (or of leaders' answers) is one pipeline.
Lookup = tuple[list[str], int]  # cache keys, and seconds a leader's mark lasts
Taken = list[tuple[bool, Completion | None]]


@functools.cache
def lookups() -> Batcher[Lookup, Taken]:
    return Batcher(lookup_batch, lambda lookup: calls.lookup_or_lead(*lookup))


@functools.cache
def finishes() -> Batcher[dict, None]:
    return Batcher(finish_batch, calls.finish_leading)


def lookup_batch(batch: Sequence[Lookup]) -> list[Taken]:
    """Look up every key of the batch in one round trip per mark duration (nearly always
    one); return each lookup's answers. A key looked up twice is led by the first."""
    answers: list[Taken] = [[] for _ in batch]
    by_seconds: dict[int, list[int]] = {}
    for index, (_, seconds) in enumerate(batch):
        by_seconds.setdefault(seconds, []).append(index)
    for seconds, indexes in by_seconds.items():
        taken = iter(calls.lookup_or_lead([k for i in indexes for k in batch[i][0]], seconds))
        for i in indexes:
            answers[i] = [next(taken) for _ in batch[i][0]]
    return answers


def finish_batch(batch: Sequence[dict]) -> list[None]:
    calls.finish_leading({key: c for led in batch for key, c in led.items()})
    return [None] * len(batch)


def release_connection() -> None:
    """Give this thread's database connection back to the pool while the models answer: a
    worker runs more threads than the pool holds connections, and a model call can take
    seconds. (Without a pool, as on SQLite, the connection stays open.)"""
    pooled = "pool" in connection.settings_dict.get("OPTIONS", {})
    if pooled and not connection.in_atomic_block:
        connection.close()


def prepare(attempt: Attempt) -> list[Job]:
    if limits.spend_cap_reached():
        raise AttemptFailed(
            "budget", "Model calls are paused: this site has reached its spending cap for today."
        )
    exercise = attempt.exercise
    for key in attempt.playground_models:
        reason = model_unavailable(*key.split(":", 1))
        if reason:
            raise AttemptFailed("config", reason)
    jobs = exercise_jobs(attempt, exercise) if exercise else playground_jobs(attempt)
    if not jobs:
        raise AttemptFailed("config", "This exercise has no test cases yet; tell your instructor.")
    return jobs


def run_jobs(jobs: list[Job], deadline: float) -> None:
    """Fill every job's outcome: from the cache, from a leader's call, or by calling."""
    policy = calls.RetryPolicy.from_settings()
    lock_seconds = deadline - time.monotonic()
    keyed = [job for job in jobs if calls.cacheable(job.request)]
    for job in jobs:
        job.leader = job not in keyed
    for job in keyed:
        job.key = calls.cache_key(
            job.choice.backend, job.backend.cache_scope, job.request, job.sample
        )
    lookup = ([job.key for job in keyed], max(1, int(lock_seconds)))
    taken = lookups().submit(lookup) if keyed else []
    for job, (leads, completion) in zip(keyed, taken, strict=True):
        job.leader = leads
        if completion:
            job.outcome = hit_outcome(completion)

    def call(job: Job) -> None:
        job.outcome = calls.call_with_retries(job.backend, job.request, policy, deadline)

    try:
        in_parallel(call, [j for j in jobs if j.leader], deadline)
    finally:
        led = {j.key: j.outcome.completion for j in jobs if j.leader and j.key}
        if led:
            finishes().submit(led)
    followers = [j for j in jobs if j.key and not j.leader and not j.outcome.cache_hit]
    for job in followers:
        # Stop waiting in time to make the call ourselves if the leader's worker died.
        hit = calls.wait_for_leader(job.key, deadline - calls.call_budget())
        if hit:
            job.outcome = hit_outcome(hit)
    in_parallel(call, [j for j in followers if not j.outcome.cache_hit], deadline)


def hit_outcome(completion) -> calls.CallOutcome:
    return calls.CallOutcome(
        completion=completion, cache_hit=True, log=[calls.CallLog(completion, cache_hit=True)]
    )


@functools.cache
def attempt_pool() -> ThreadPoolExecutor:
    """Return the worker process's pool for the attempts of its drains. Every drain thread
    may hold a batch, so the pool has a thread for each (started only when needed), and a
    claimed attempt never waits in line while its lease runs."""
    return ThreadPoolExecutor(
        max_workers=settings.CELERY_WORKER_CONCURRENCY * settings.DRAIN_BATCH,
        thread_name_prefix="attempt",
    )


@functools.cache
def job_pool() -> ThreadPoolExecutor:
    """Return the worker process's pool for model calls and grading. Its threads are reused
    across attempts: starting fresh threads for every attempt cost more than a stub call."""
    return ThreadPoolExecutor(max_workers=MAX_JOB_THREADS, thread_name_prefix="attempt-job")


def in_parallel(fn, jobs: list[Job], deadline: float) -> None:
    """Run fn on every job at once: the first in this thread, which would otherwise only
    wait (handing a job to another thread costs more than a stub call), the others in the
    job pool. If those are not done by the deadline, fail the attempt (the soft limit);
    the first ends in time by itself, as a model call's timeouts and tries fit within it.
    """
    if not jobs:
        return
    futures: list[Future] = [job_pool().submit(fn, job) for job in jobs[1:]]
    fn(jobs[0])
    done, pending = wait(
        futures, timeout=max(0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION
    )
    for future in pending:
        future.cancel()  # one already running finishes in the background; its result is dropped
    for future in done:
        future.result()  # re-raise a bug in fn
    if pending:
        raise AttemptFailed(
            "time_limit",
            f"Grading took longer than {settings.ATTEMPT_SOFT_TIME_LIMIT} seconds and was stopped.",
        )


def grade_jobs(exercise: Exercise, attempt: Attempt, jobs: list[Job], deadline: float) -> None:
    failed = next((j.outcome.error for j in jobs if j.outcome.error), None)
    if failed:
        raise AttemptFailed(failed.code, model_failure_message(failed))
    rubric = exercise.parsed_rubric
    fields, starter, editable = attempt.fields(), exercise.starter(), exercise.editable_parts()

    def grade(job: Job) -> None:
        job.grade = graders.grade_case(
            rubric,
            job.outcome.completion.text,
            case=job.case.as_grader_case(),
            submission=graders.Submission(
                fields=fields,
                starter=starter,
                editable=editable,
                variables=tuple(exercise.variables),
                rendered=job.prompt.as_text(),
            ),
            judge=functools.partial(call_judge, exercise, job, deadline),
        )

    if rubric.calls_a_model():
        in_parallel(grade, jobs, deadline)
    else:
        # CPU work under the GIL: other threads would only add the cost of handing it over.
        for job in jobs:
            grade(job)


def call_judge(exercise: Exercise, job: Job, deadline: float, request: graders.JudgeRequest) -> str:
    """Return the raw answer of the judge model an llm_judge criterion names.

    The model is "backend:model", or a model of the exercise's own backend. The call goes
    through the same retry layer, and onto the attempt's ledger. Raising tells the grader
    the judge failed, which it reports as "needs review", never as a pass.
    """
    backend_name, _, model = request.model.partition(":")
    if backend_name not in BACKENDS or not model:
        backend_name, model = exercise.backend, request.model
    reason = model_unavailable(backend_name, model)
    if reason:
        raise JudgeFailed(reason)
    outcome = calls.call_with_retries(
        make_backend(backend_name, exercise.stub_script),
        CompletionRequest(
            model=model,
            system=request.system,
            messages=({"role": "user", "content": request.prompt},),
            temperature=0,
            max_tokens=min(request.max_tokens, settings.MAX_TOKENS_CEILING),
        ),
        calls.RetryPolicy.from_settings(),
        deadline,
    )
    job.outcome.log.extend(replace(e, backend=backend_name, model=model) for e in outcome.log)
    if outcome.error:
        raise JudgeFailed(outcome.error.message)
    return outcome.completion.text


class JudgeFailed(Exception):
    pass


def model_failure_message(error: BackendError) -> str:
    prefix = "The model refused the request" if error.permanent else "The model failed"
    return f"{prefix}: {error.message}"


def case_grades(
    exercise: Exercise, rubric: graders.Rubric, jobs: list[Job]
) -> list[tuple[graders.CaseGrade, float]]:
    """Return one grade per test case, with the case's weight: the mean over its samples,
    passing when it reaches the threshold; or, when the exercise requires every sample to
    pass, the worst sample's, passing only if every sample passed.
    """
    by_case: dict[int, list[Job]] = {}
    for job in jobs:
        by_case.setdefault(job.case.id, []).append(job)
    result = []
    for case_jobs in by_case.values():
        grades = [j.grade for j in case_jobs]
        if exercise.require_all_samples:
            score, passed = min(g.score for g in grades), all(g.passed for g in grades)
        else:
            score = sum(g.score for g in grades) / len(grades)
            passed = score >= rubric.pass_threshold
        merged = graders.CaseGrade(score=score, passed=passed, criteria=grades[0].criteria)
        result.append((merged, case_jobs[0].case.weight))
    return result


def overall_grade(attempt: Attempt, jobs: list[Job]) -> tuple[float | None, bool | None]:
    """Return an attempt's score and whether it passed (None for a playground run)."""
    if not attempt.exercise:
        return None, None
    rubric = attempt.exercise.parsed_rubric  # parsed once: each read serializes the rubric
    grade = graders.aggregate(rubric, case_grades(attempt.exercise, rubric, jobs))
    return grade.score, grade.passed


def save(attempt: Attempt, jobs: list[Job], failure: AttemptFailed | None = None) -> None:
    with transaction.atomic():
        if failure:
            saved = attempt.fail(failure.code, failure.reason)
        else:
            saved = attempt.finish(*overall_grade(attempt, jobs))
        if saved:
            insert_rows([(attempt, jobs)])


def insert_rows(batch: Sequence[tuple[Attempt, list[Job]]]) -> None:
    """Insert the attempts' runs and usage rows: one INSERT each for the whole batch."""
    Run.objects.bulk_create(run_row(a, job) for a, jobs in batch for job in jobs)
    UsageRecord.objects.bulk_create(
        usage_row(a, job, entry) for a, jobs in batch for job in jobs for entry in job.outcome.log
    )


class NotAllRunning(Exception):
    """Some attempt of a batch is no longer running: the batch is saved one by one."""


def save_graded(batch: Sequence[tuple[Attempt, list[Job]]]) -> list[None]:
    """Save graded attempts in one transaction: one UPDATE per distinct grade, then every
    run and every usage row in two INSERTs. If any of them is no longer running (a
    reconciled duplicate finished first), nothing is saved and NotAllRunning is raised,
    so that the batcher saves them one by one, each with its own check."""
    now = timezone.now()
    by_grade: dict[tuple[float | None, bool | None], list[Attempt]] = {}
    for attempt, jobs in batch:
        by_grade.setdefault(overall_grade(attempt, jobs), []).append(attempt)
    with transaction.atomic():
        for (score, passed), attempts in by_grade.items():
            finished = Attempt.objects.filter(
                id__in=[a.id for a in attempts], status=Attempt.RUNNING
            ).update(status=Attempt.GRADED, score=score, passed=passed, finished_at=now)
            if finished != len(attempts):
                raise NotAllRunning()
        insert_rows(batch)
    return [None] * len(batch)


def run_row(attempt: Attempt, job: Job) -> Run:
    completion, grade, error = job.outcome.completion, job.grade, job.outcome.error
    return Run(
        attempt=attempt,
        case=job.case,
        position=job.position,
        case_name=job.case.name if job.case else job.choice.label,
        hidden=bool(
            job.case
            and not graders.feedback_visible(job.case.visibility, bool(grade and grade.passed))
        ),
        sample=job.sample,
        model_label=job.choice.label,
        cache_hit=job.outcome.cache_hit,
        messages=[{"role": "system", "content": job.prompt.system}, *job.prompt.messages()],
        output=completion.text if completion else "",
        input_tokens=completion.input_tokens if completion else 0,
        output_tokens=completion.output_tokens if completion else 0,
        latency_ms=completion.latency_ms if completion else 0,
        error=error.message if error else "",
        score=grade.score if grade else None,
        passed=grade.passed if grade else None,
        criteria=[c.to_dict() for c in grade.criteria] if grade else [],
    )


def usage_row(attempt: Attempt, job: Job, entry: calls.CallLog) -> UsageRecord:
    completion = entry.completion
    tokens_in = completion.input_tokens if completion else 0
    tokens_out = completion.output_tokens if completion else 0
    choice = model_choice(entry.backend, entry.model) if entry.backend else job.choice
    return UsageRecord(
        learner_id=attempt.learner_id,
        attempt=attempt,
        backend=choice.backend,
        model=choice.model,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cached_tokens=completion.cached_tokens if completion else 0,
        reasoning_tokens=completion.reasoning_tokens if completion else 0,
        cost_usd=0 if entry.cache_hit else choice.cost(tokens_in, tokens_out),
        latency_ms=entry.latency_ms,
        cache_hit=entry.cache_hit,
        request_id=completion.request_id if completion else "",
        error_code=entry.error_code,
    )


def reconcile(wake: Callable[[], object]) -> int:
    """Recover attempts a lost message or a dead worker left behind; return how many.

    Attempts queued for longer than RECONCILE_QUEUED_AFTER (their drain message was lost)
    and attempts running past their lease (their worker died) are runnable: if there are
    any, `wake` publishes a drain, whose claims take them (after MAX_DELIVERIES an
    attempt is failed as poison). A second drain is harmless: claims never overlap.
    """
    now = timezone.now()
    # Marked as woken for, so that a queued attempt counts again only if it still waits
    # RECONCILE_QUEUED_AFTER from now.
    stale_queued = Attempt.objects.filter(
        status=Attempt.QUEUED,
        published_at__lt=now - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER),
    ).update(published_at=now)
    expired = Attempt.objects.filter(status=Attempt.RUNNING, lease_expires_at__lt=now).count()
    if not stale_queued + expired:
        return 0
    wake()
    log.warning("reconciled %d attempts", stale_queued + expired)
    return stale_queued + expired
