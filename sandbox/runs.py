"""The path of an attempt, from its Celery task to its saved grade, top to bottom.

1. `run_attempt(id)` calls execute(id), which claims the attempt: queued (or running past
   its lease, as when its worker died) → running with a new lease, in one conditional
   UPDATE. A duplicate delivery claims nothing and returns.
2. prepare() builds one Job per model call: a test case and sample (or a playground model).
3. The calls run at once on the process's pool, with no transaction open; sandbox.calls
   answers what the response cache can and retries transient errors.
4. graders.grade_attempt scores the outputs: the one scoring path. Past the soft limit (after
   the calls or the grading) the attempt fails as time_limit.
5. save() writes the runs, usage and total in one transaction if this delivery still holds
   the attempt (sending attempt_saved in it), then attempt_finished: the one place joining
   models, backends, graders.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

import graders
from lessons.models import Case, Exercise, length_problem
from sandbox import calls, limits
from sandbox.backends import Backend, CompletionRequest
from sandbox.models import CASE_NAME_CHARS, Attempt, Run, UsageRecord
from sandbox.prompting import RenderedPrompt, render_prompt
from sandbox.providers import (
    ModelChoice,
    backend_unavailable,
    make_backend,
    model_choice,
    model_unavailable,
    offline_backend,
)
from sandbox.signals import attempt_finished, attempt_saved

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class Job:
    """One model call of an attempt: a test case and a sample index, or a playground model."""

    position: int
    choice: ModelChoice
    backend: Backend
    request: CompletionRequest
    prompt: RenderedPrompt
    case: Case | None = None
    sample: int = 0
    label: str = ""  # of a playground call: "Prompt B · Offline stub · echo"
    outcome: calls.CallOutcome = field(default_factory=calls.CallOutcome)
    grade: graders.CaseGrade | None = None  # of its sample
    case_passed: bool = False  # whether its test case passed, which hide_if_fail reads


class AttemptFailed(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def execute(attempt_id: str) -> None:
    """Run an attempt to the end, if it can be claimed."""
    attempt = Attempt.objects.claim(attempt_id, settings.ATTEMPT_LEASE_SECONDS)
    if attempt is None:
        return
    deadline = time.monotonic() + settings.ATTEMPT_SOFT_TIME_LIMIT
    jobs: list[Job] = []
    judge_log: list[calls.CallLog] = []
    try:
        if attempt.deliveries > settings.MAX_DELIVERIES:
            raise AttemptFailed(
                "poison",
                f"Grading this attempt stopped or stalled its worker {attempt.deliveries - 1} "
                "times, so it was set aside. Your instructor can see it.",
            )
        jobs = prepare(attempt)
        release_connection()
        in_pool(functools.partial(call_model, deadline=deadline), jobs, deadline)
        exercise = attempt.exercise
        grade = grade_jobs(attempt, exercise, jobs, judge_log, deadline) if exercise else None
        if time.monotonic() > deadline:  # a grader ran past it: a thread cannot be stopped
            raise over_time()
        save(attempt, jobs, judge_log, grade=grade)
    except AttemptFailed as e:
        save_failure(attempt, jobs, judge_log, e)
    except Exception:
        # A bug must neither leave the learner watching "running" nor lose the calls' usage.
        log.exception("attempt %s crashed", attempt.id)
        reason = "Something went wrong while grading this attempt; it has been logged."
        save_failure(attempt, jobs, judge_log, AttemptFailed("internal", reason))
        raise
    finally:
        release_connection()


def save_failure(
    attempt: Attempt, jobs: list[Job], judge_log: list[calls.CallLog], failure: AttemptFailed
) -> None:
    try:
        save(attempt, jobs, judge_log, failure=failure)
    except Exception:  # saving its runs is what failed: the failure and the usage, then
        log.exception("attempt %s: its runs could not be saved", attempt.id)
        save(attempt, jobs, judge_log, failure=failure, with_runs=False)


def release_connection() -> None:
    """Give the thread's pooled connection back while models answer (seconds, on more threads
    than the pool has connections)."""
    pooled = "pool" in connection.settings_dict.get("OPTIONS", {})
    if pooled and not connection.in_atomic_block:
        connection.close()


def prepare(attempt: Attempt) -> list[Job]:
    # Again here: the submit's check saw only finished attempts, not those queued with it.
    refused = limits.budget_refusal(attempt.learner_id)
    if refused:
        raise AttemptFailed("budget", refused)
    for column in attempt.playground_columns():
        reason = model_unavailable(*column["model"].split(":", 1))
        if reason:
            raise AttemptFailed("config", reason)
    exercise = attempt.exercise
    jobs = exercise_jobs(attempt, exercise) if exercise else playground_jobs(attempt)
    if not jobs:
        raise AttemptFailed("config", "This exercise has no test cases yet; tell your instructor.")
    return jobs


def exercise_jobs(attempt: Attempt, exercise: Exercise) -> list[Job]:
    backend, choice = exercise_backend(attempt, exercise)
    jobs: list[Job] = []
    for case in exercise.cases.all():
        prompt = exercise.prompt(attempt.fields(), attempt.examples, case)
        if problem := length_problem(prompt, f"the test case “{case.name}”"):
            raise AttemptFailed("config", problem)
        request = build_request(choice, prompt, exercise.temperature, exercise.max_tokens)
        for sample in range(exercise.samples):
            jobs.append(Job(len(jobs), choice, backend, request, prompt, case, sample))
    return jobs


def playground_jobs(attempt: Attempt) -> list[Job]:
    jobs: list[Job] = []
    for column in attempt.playground_columns():
        backend_name, _, model = column["model"].partition(":")
        choice = model_choice(backend_name, model)
        prompt = render_prompt(column, {})  # its variables are filled in already
        request = build_request(choice, prompt, attempt.temperature or 0, attempt.max_tokens or 256)
        label = " · ".join(filter(None, (column["label"], choice.label)))
        backend = make_backend(backend_name)
        jobs.append(Job(len(jobs), choice, backend, request, prompt, label=label))
    return jobs


def exercise_backend(attempt: Attempt, exercise: Exercise) -> tuple[Backend, ModelChoice]:
    """Return the backend an exercise attempt runs on. A reference run (the publish check)
    falls back, where the exercise's backend is not configured, to its recorded cassette or
    its stub rules; not where only its model is off the allowlist, which learners meet too."""
    reason = model_unavailable(exercise.backend, exercise.model_name)
    if not reason:
        backend = make_backend(exercise.backend, exercise.stub_script)
        return backend, model_choice(exercise.backend, exercise.model_name)
    fallback = offline_backend(exercise.backend, exercise.stub_script)
    if attempt.is_reference and fallback and backend_unavailable(exercise.backend):
        backend, choice = fallback
        if not choice.model:
            choice = model_choice(exercise.backend, exercise.model_name)
        return backend, choice
    raise AttemptFailed("config", reason)


def build_request(
    choice: ModelChoice, prompt: RenderedPrompt, temperature: float, max_tokens: int
) -> CompletionRequest:
    return CompletionRequest(
        model=choice.model,
        system=prompt.system,
        messages=tuple(prompt.messages()),
        temperature=temperature,
        max_tokens=min(max_tokens, settings.MAX_TOKENS_CEILING),
    )


def call_model(job: Job, deadline: float) -> None:
    job.outcome = calls.complete(
        job.backend, job.request, job.choice.backend, deadline, sample=job.sample
    )


@functools.cache
def pool() -> ThreadPoolExecutor:
    """The worker process's one pool for model calls (and judged grading), started lazily."""
    return ThreadPoolExecutor(max_workers=settings.MODEL_CALL_THREADS, thread_name_prefix="call")


def in_pool(fn: Callable[[Item], Result], items: Sequence[Item], deadline: float) -> list[Result]:
    """Run fn on every item at once (the first in this thread, which would only wait) and
    return the results in order. Past the deadline (the soft limit) the attempt fails; calls
    still running are waited for (each ends within its timeout), so their usage is saved."""
    futures = [pool().submit(fn, item) for item in items[1:]]
    first = [fn(items[0])] if items else []
    _, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    if pending or time.monotonic() > deadline:
        for future in pending:
            future.cancel()
        wait(pending, timeout=settings.PROVIDER_TIMEOUT + 1)
        raise over_time()
    return first + [future.result() for future in futures]


def over_time() -> AttemptFailed:
    limit = settings.ATTEMPT_SOFT_TIME_LIMIT
    return AttemptFailed("time_limit", f"Grading took longer than {limit} seconds and was stopped.")


def grade_jobs(
    attempt: Attempt,
    exercise: Exercise,
    jobs: list[Job],
    judge_log: list[calls.CallLog],
    deadline: float,
) -> graders.Grade:
    failed = next((j.outcome.error for j in jobs if j.outcome.error), None)
    if failed:
        prefix = "The model refused the request" if failed.permanent else "The model failed"
        raise AttemptFailed(failed.code, f"{prefix}: {failed.message}")
    rubric = exercise.parsed_rubric
    by_case: dict[Case, list[Job]] = {}
    for job in jobs:
        if job.case:
            by_case.setdefault(job.case, []).append(job)
    cases = [
        graders.CaseOutputs(
            case=case.as_grader_case(),
            outputs=tuple(j.outcome.completion.text for j in case_jobs if j.outcome.completion),
            submission=exercise.grader_submission(attempt.fields(), attempt.examples, case),
        )
        for case, case_jobs in by_case.items()
    ]
    judge = calls.make_judge(exercise, deadline, judge_log)

    def map_in_pool(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return in_pool(fn, list(items), deadline)

    grade = graders.grade_attempt(
        rubric,
        cases,
        sample_rule=exercise.parsed_sample_rule,
        judge=judge,
        # Judged grading waits on a model; the rest is CPU work, which threads only slow.
        map=map_in_pool if rubric.calls_a_model() else map,
    )
    for case_jobs, case_grade in zip(by_case.values(), grade.cases, strict=True):
        for job, sample_grade in zip(case_jobs, case_grade.samples, strict=True):
            job.grade, job.case_passed = sample_grade, case_grade.passed
    return grade


def save(
    attempt: Attempt,
    jobs: list[Job],
    judge_log: list[calls.CallLog],
    grade: graders.Grade | None = None,
    failure: AttemptFailed | None = None,
    with_runs: bool = True,
) -> None:
    """Save the outcome and runs, if this delivery still holds the attempt, and the usage of
    every call it made (billed either way), in one transaction. Nothing after the commit
    raises: a receiver's failure is logged, not the attempt's (nor saved twice)."""
    entries = [entry for job in jobs for entry in job.outcome.log] + judge_log
    with transaction.atomic():
        if failure:
            saved = attempt.fail(failure.code, failure.reason)
        else:
            saved = attempt.finish(grade.score if grade else None, grade.passed if grade else None)
        rows = [run_row(attempt, job) for job in jobs] if saved and with_runs else []
        Run.objects.bulk_create(rows)
        usage = UsageRecord.for_calls(attempt.learner_id, attempt, entries)
        UsageRecord.objects.bulk_create(usage)
        if saved:
            try:
                with transaction.atomic():  # a savepoint, which a receiver's failure rolls back
                    attempt_saved.send(sender=Attempt, attempt=attempt, runs=rows, usage=usage)
            except Exception:
                log.exception("attempt %s: a receiver of attempt_saved failed", attempt.id)
    if saved:
        sent = attempt_finished.send_robust(Attempt, attempt=attempt, runs=rows, usage=usage)
        for receiver, error in sent:
            if isinstance(error, Exception):
                log.error("attempt %s: %s failed", attempt.id, receiver, exc_info=error)


def run_row(attempt: Attempt, job: Job) -> Run:
    completion, grade, error = job.outcome.completion, job.grade, job.outcome.error
    return Run(
        attempt=attempt,
        case=job.case,
        position=job.position,
        case_name=job.case.name if job.case else job.label[:CASE_NAME_CHARS],
        hidden=bool(
            job.case and not graders.feedback_visible(job.case.visibility, job.case_passed)
        ),
        sample=job.sample,
        model_label=job.label or job.choice.label,
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


def reconcile(publish: Callable[[str], object]) -> int:
    """Publish again what a lost message or a dead worker left behind (see republish)."""
    expired = Attempt.objects.filter(status=Attempt.RUNNING, lease_expires_at__lt=timezone.now())
    return republish(Attempt.objects.all(), expired, lambda pk: publish(str(pk)), "attempts")


def republish(
    rows: QuerySet, expired: QuerySet, publish: Callable[[Any], object], what: str
) -> int:
    """Publish again the rows queued past RECONCILE_QUEUED_AFTER (a lost message) and the
    `expired` (a dead worker), RECONCILE_BATCH of each at most; the claim makes it harmless."""
    now = timezone.now()
    waited = now - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER)
    stale = rows.filter(status="queued", published_at__lt=waited)
    limit = settings.RECONCILE_BATCH
    ids = [
        *stale.values_list("pk", flat=True)[:limit],
        *expired.values_list("pk", flat=True)[:limit],
    ]
    if not ids:
        return 0
    stale.filter(pk__in=ids).update(published_at=now)  # counts again only if it waits again
    for pk in ids:
        publish(pk)
    log.warning("reconciled %d %s", len(ids), what)
    return len(ids)
