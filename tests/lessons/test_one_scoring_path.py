"""One scoring path: the same outputs graded by the runner, a regrade, the rubric self-test, the
publish check's reference run and try-rubric get the same scores, statuses and per-criterion
results, with a judge whose answer is malformed (needs review), several samples per case, two
test cases of different weights, and a criterion that reads the prefill rendered for the case
(so the Submission each path builds is compared too)."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from unittest.mock import Mock, patch

import pytest

from lessons.authoring import publishing, regrading
from lessons.models import Exercise, PublishCheck, Regrade
from sandbox.backends import Backend, Completion, CompletionRequest
from tests.conftest import HTMX, make_attempt, make_exercise, run_queued

pytestmark = pytest.mark.django_db

PROMPT = "Please say hello to {name}."
PREFILL = "Dear {name}, "
CASES = [
    {"name": "Ada", "variables": {"name": "Ada"}},
    {"name": "Grace", "variables": {"name": "Grace"}, "weight": 2},
]
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
        # Prefill + continuation: "Dear Ada, Hello…" passes for Ada only, if the prefill is
        # rendered for the case ("Dear {name}, " would fail both).
        {
            "id": "to-ada",
            "kind": "starts_with",
            "params": {"text": "Dear Ada, Hello"},
            "with_prefill": True,
        },
    ],
    "samples": {"good": list(OUTPUTS)},
}


class Replay(Backend):
    """Answers each test case's prompt with OUTPUTS in turn (so each case gets both, whatever
    order its samples run in), and the judge with prose, which a judge must not give (so every
    judged output needs review)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.judged = 0
        self.lock = threading.Lock()

    def complete(self, request: CompletionRequest) -> Completion:
        prompt = request.prompt_text()
        with self.lock:
            if "one entry per rubric item" in prompt:
                self.judged += 1
                return Completion(text="It greets the reader, so I would say it passes.")
            self.counts[prompt] += 1
            return Completion(text=OUTPUTS[self.counts[prompt] % 2])


@contextmanager
def replayed():
    """The runner's backend and the judge's (sandbox.calls.make_judge builds its own) are one
    Replay; the judge must really have been asked."""
    backend = Replay()
    with (
        patch("sandbox.runs.make_backend", return_value=backend),
        patch("sandbox.calls.make_backend", return_value=backend),
    ):
        yield backend
    assert backend.judged, "the judge was not asked"


def graded(score, passed, criteria) -> tuple:
    return (round(score, 9), passed, [dict(c) for c in criteria])


def by_output(attempt) -> dict[tuple[str, str], tuple]:
    return {
        (r.case_name, r.output): graded(r.score, r.passed, r.criteria) for r in attempt.runs.all()
    }


@pytest.mark.parametrize("sample_rule", ["mean", "all", "any"])
def test_every_path_grades_the_same_outputs_alike(
    sample_rule, learner, instructor, ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        rubric=RUBRIC,
        samples=2,
        temperature=0.7,
        sample_rule=sample_rule,
        starter_prefill=PREFILL,
        solution={"user": PROMPT},
        cases=CASES,
    )
    attempt = make_attempt(learner, exercise, user_prompt=PROMPT, prefill=PREFILL)
    with replayed():
        run_queued()
    attempt.refresh_from_db()
    runner = by_output(attempt)
    assert set(runner) == {(case["name"], output) for case in CASES for output in OUTPUTS}
    assert {c["status"] for _, _, cs in runner.values() for c in cs if c["id"] == "friendly"} == {
        "needs_review"
    }
    to_ada = {
        key: c["passed"] for key, (_, _, cs) in runner.items() for c in cs if c["id"] == "to-ada"
    }
    assert to_ada == {key: key[0] == "Ada" for key in runner}  # the prefill rendered per case
    assert attempt.passed is False  # a case that needs review never passes

    # Regrade: the stored outputs graded again.
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    with replayed():
        regrading.run(regrade.pk, publish=Mock())
    regraded = Exercise.objects.get(pk=exercise.pk).attempts.get(pk=attempt.pk)
    assert by_output(regraded) == runner
    assert (regraded.score, regraded.passed) == (attempt.score, attempt.passed)

    # Self-test: the outputs as the rubric's good samples, graded for the first test case.
    with replayed():
        report = publishing.self_test(exercise, attempt)
    assert len(report.results) == len(OUTPUTS)
    for result in report.results:
        grade = result.grade
        assert (
            graded(grade.score, grade.passed, [c.to_dict() for c in grade.criteria])
            == (runner["Ada", result.output])
        )

    # The publish check: the reference solution (the same prompt) run by the worker.
    with replayed():
        with django_capture_on_commit_callbacks(execute=True):
            ines_client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
        run_queued()
    reference = PublishCheck.objects.get().reference
    assert by_output(reference) == runner
    assert (reference.score, reference.passed) == (attempt.score, attempt.passed)

    # Try this rubric, for each test case (the full page, whose context the client keeps).
    for case in exercise.cases.all():
        for output in OUTPUTS:
            with replayed():
                r = ines_client.post(
                    f"/teach/exercises/{exercise.id}/rubric/try/",
                    {"output": output, "case": case.pk},
                )
            grade = r.context["grade"]
            assert (
                graded(grade.score, grade.passed, [c.to_dict() for c in grade.criteria])
                == (runner[case.name, output])
            )
