"""One scoring path: the same outputs graded by the runner, a regrade, the rubric self-test, the
publish check's reference run and try-rubric get the same scores, statuses and per-criterion
results, with a judge whose answer is malformed (needs review) and several samples per case."""

from __future__ import annotations

import threading
from unittest.mock import Mock, patch

import pytest

from lessons import publishing, regrading
from lessons.models import Exercise, PublishCheck, Regrade
from sandbox.backends import Backend, Completion, CompletionRequest
from tests.conftest import HTMX, make_attempt, make_exercise, run_queued

pytestmark = pytest.mark.django_db

PROMPT = "Please say hello to {name}."
OUTPUTS = ("Hello there!", "Hello, here is a reply far too long for the word count.")
RUBRIC = {
    "pass_threshold": 0.5,
    "criteria": [
        {"id": "greets", "kind": "contains", "params": {"text": "hello"}, "ignore_case": True},
        {"id": "short", "kind": "word_count", "params": {"max": 5}},
        {
            "id": "friendly",
            "kind": "llm_judge",
            "params": {"model": "stub:scripted", "items": ["The reply greets the reader."]},
        },
    ],
    "samples": {"good": list(OUTPUTS)},
}


class Replay(Backend):
    """Answers the learner's prompt with OUTPUTS in turn, and the judge with prose, which a
    judge must not give (so every judged output needs review)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def complete(self, request: CompletionRequest) -> Completion:
        if "one entry per rubric item" in request.prompt_text():
            return Completion(text="It greets the reader, so I would say it passes.")
        with self.lock:
            self.count += 1
            return Completion(text=OUTPUTS[self.count % 2])


def replayed():
    return patch("sandbox.runs.make_backend", side_effect=lambda *a, **k: Replay())


def graded(score, passed, criteria) -> tuple:
    return (round(score, 9), passed, [dict(c) for c in criteria])


def by_output(attempt) -> dict[str, tuple]:
    return {r.output: graded(r.score, r.passed, r.criteria) for r in attempt.runs.all()}


@pytest.mark.parametrize("require_all_samples", [False, True])
def test_every_path_grades_the_same_outputs_alike(
    require_all_samples, learner, instructor, ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        rubric=RUBRIC,
        samples=2,
        temperature=0.7,
        require_all_samples=require_all_samples,
        solution={"user": PROMPT},
    )
    attempt = make_attempt(learner, exercise, user_prompt=PROMPT)
    with replayed():
        run_queued()
    attempt.refresh_from_db()
    runner = by_output(attempt)
    assert set(runner) == set(OUTPUTS)
    assert {c["status"] for _, _, cs in runner.values() for c in cs if c["id"] == "friendly"} == {
        "needs_review"
    }
    assert attempt.passed is False  # a case that needs review never passes

    # Regrade: the stored outputs graded again.
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    with replayed():
        regrading.run(regrade.pk, publish=Mock())
    regraded = Exercise.objects.get(pk=exercise.pk).attempts.get(pk=attempt.pk)
    assert by_output(regraded) == runner
    assert (regraded.score, regraded.passed) == (attempt.score, attempt.passed)

    # Self-test: the outputs as the rubric's good samples.
    with replayed():
        report = publishing.self_test(exercise, attempt)
    for result in report.results:
        grade = result.grade
        assert (
            graded(grade.score, grade.passed, [c.to_dict() for c in grade.criteria])
            == (runner[result.output])
        )

    # The publish check: the reference solution (the same prompt) run by the worker.
    with replayed():
        with django_capture_on_commit_callbacks(execute=True):
            ines_client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
        run_queued()
    reference = PublishCheck.objects.get().reference
    assert by_output(reference) == runner
    assert (reference.score, reference.passed) == (attempt.score, attempt.passed)

    # Try this rubric, for the same test case (the full page, whose context the client keeps).
    case = exercise.cases.get()
    for output in OUTPUTS:
        with replayed():
            r = ines_client.post(
                f"/teach/exercises/{exercise.id}/rubric/try/",
                {"output": output, "case": case.pk},
            )
        grade = r.context["grade"]
        assert (
            graded(grade.score, grade.passed, [c.to_dict() for c in grade.criteria])
            == (runner[output])
        )
