"""Run an attempt: the one place that joins the models, the backends and the graders."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

import graders
from lessons.models import Case, Exercise
from sandbox.backends import Backend, BackendError, Completion, CompletionRequest, backend_class
from sandbox.models import Attempt, Run
from sandbox.prompting import RenderedPrompt, render_prompt

log = logging.getLogger(__name__)

# Test cases of one attempt run at once; a worker thread waits on at most this many calls.
MAX_PARALLEL_CASES = 8


def make_backend(exercise: Exercise) -> Backend:
    """Return the backend an exercise names, configured from the settings."""
    cls = backend_class(exercise.backend)
    if exercise.backend == "stub":
        return cls(
            script=exercise.stub_script,
            latency_ms=settings.STUB_LATENCY_MS,
            failure_rate=settings.STUB_FAILURE_RATE,
        )
    return cls()


@dataclass(frozen=True)
class CaseOutcome:
    case: Case
    prompt: RenderedPrompt
    completion: Completion | None
    error: BackendError | None
    grade: graders.CaseGrade | None


def submission_for(exercise: Exercise, fields: dict[str, str], prompt: RenderedPrompt):
    return graders.Submission(
        fields=fields,
        starter=exercise.starter(),
        editable=tuple(exercise.editable_fields),
        variables=tuple(exercise.variables),
        rendered=prompt.as_text(),
    )


def run_case(
    backend: Backend, exercise: Exercise, fields: dict[str, str], case: Case
) -> CaseOutcome:
    """Render the prompt for one test case, call the model, grade the output. No database."""
    prompt = render_prompt(fields, case.variables)
    request = CompletionRequest(
        model=exercise.model_name,
        system=prompt.system,
        messages=tuple(prompt.messages()),
        temperature=exercise.temperature,
        max_tokens=exercise.max_tokens,
    )
    try:
        completion = backend.complete(request)
    except BackendError as e:
        return CaseOutcome(case, prompt, None, e, None)
    grade = graders.grade_case(
        exercise.parsed_rubric,
        completion.text,
        case=case.as_grader_case(),
        submission=submission_for(exercise, fields, prompt),
    )
    return CaseOutcome(case, prompt, completion, None, grade)


def execute_attempt(attempt_id: str) -> None:
    """Run a queued attempt to the end.

    1. Claim it (queued → running); a redelivered message finds nothing to claim.
    2. Run every test case at once: render, call the backend, grade. No
       transaction is open while the backend is called.
    3. Save the runs and the total in one transaction, or the error.
    """
    try:
        attempt = Attempt.objects.select_related("exercise").get(id=attempt_id)
    except Attempt.DoesNotExist:
        log.warning("attempt %s is gone; nothing to run", attempt_id)
        return
    if not attempt.claim():
        log.info("attempt %s is %s; another delivery has it", attempt_id, attempt.status)
        return
    exercise = attempt.exercise
    cases = list(exercise.cases.all())
    if not cases:
        attempt.fail("This exercise has no test cases yet; tell your instructor.")
        return
    try:
        backend = make_backend(exercise)
        fields = attempt.fields()
        with ThreadPoolExecutor(max_workers=min(len(cases), MAX_PARALLEL_CASES)) as pool:
            outcomes = list(pool.map(lambda case: run_case(backend, exercise, fields, case), cases))
        save_outcomes(attempt, exercise, outcomes)
    except Exception:
        # A bug must not leave the learner watching "running" forever.
        log.exception("attempt %s crashed", attempt_id)
        attempt.fail("Something went wrong while grading this attempt; it has been logged.")
        raise


def save_outcomes(attempt: Attempt, exercise: Exercise, outcomes: list[CaseOutcome]) -> None:
    errors = [o.error for o in outcomes if o.error]
    with transaction.atomic():
        if errors:
            first = errors[0]
            kind = "The model refused the request" if first.permanent else "The model failed"
            if not attempt.fail(f"{kind}: {first.message}"):
                return
        else:
            grade = graders.aggregate(
                exercise.parsed_rubric, [(o.grade, o.case.weight) for o in outcomes]
            )
            if not attempt.finish(grade.score, grade.passed):
                return
        Run.objects.bulk_create(run_row(attempt, i, o) for i, o in enumerate(outcomes))


def run_row(attempt: Attempt, position: int, outcome: CaseOutcome) -> Run:
    completion, grade = outcome.completion, outcome.grade
    return Run(
        attempt=attempt,
        case=outcome.case,
        position=position,
        case_name=outcome.case.name,
        hidden=outcome.case.hidden,
        messages=[{"role": "system", "content": outcome.prompt.system}, *outcome.prompt.messages()],
        output=completion.text if completion else "",
        input_tokens=completion.input_tokens if completion else 0,
        output_tokens=completion.output_tokens if completion else 0,
        latency_ms=completion.latency_ms if completion else 0,
        error=outcome.error.message if outcome.error else "",
        score=grade.score if grade else None,
        passed=grade.passed if grade else None,
        criteria=[c.to_dict() for c in grade.criteria] if grade else [],
    )
