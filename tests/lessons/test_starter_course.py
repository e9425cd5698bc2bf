"""The starter course works on the stub: every solution passes and every known-bad prompt fails.

Each prompt runs as an attempt would (sandbox.runs.execute_attempt: render, call the
stub, grade with graders.grade_case, total with graders.aggregate), without a worker.
"""

from __future__ import annotations

import pytest
import yaml

from lessons.coursefiles import load_course
from lessons.models import Exercise
from sandbox.models import Attempt
from sandbox.runs import execute_attempt
from tests.conftest import STARTER, make_attempt

COURSE = yaml.safe_load((STARTER / "course.yaml").read_text())
EXERCISES = [
    yaml.safe_load((STARTER / name).read_text())["slug"]
    for lesson in COURSE["lessons"]
    for name in lesson["exercises"]
]


def grade(learner, exercise: Exercise, prompt: dict[str, str]) -> Attempt:
    fields = {**exercise.starter(), **prompt}
    attempt = make_attempt(
        learner,
        exercise,
        system_prompt=fields["system"],
        user_prompt=fields["user"],
        prefill=fields["prefill"],
    )
    execute_attempt(str(attempt.id))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED, attempt.error
    return attempt


def failures(attempt: Attempt) -> list[str]:
    return [
        f"{run.case_name}: {c['id']}: {c['detail']}"
        for run in attempt.runs.all()
        for c in run.criteria
        if not c["passed"]
    ]


@pytest.fixture
def starter(db) -> None:
    load_course(STARTER)


def test_the_course_has_exercises_to_check():
    assert EXERCISES == ["tagline", "capital-format", "meeting-bullets", "invoice-json"]


@pytest.mark.parametrize("slug", EXERCISES)
def test_the_solution_passes(starter, learner, slug):
    exercise = Exercise.objects.get(slug=slug)
    assert exercise.solution
    attempt = grade(learner, exercise, exercise.solution)
    assert attempt.passed, failures(attempt)
    assert attempt.score == 1.0


@pytest.mark.parametrize("slug", EXERCISES)
def test_every_known_bad_prompt_fails(starter, learner, slug):
    exercise = Exercise.objects.get(slug=slug)
    assert exercise.known_bad
    for prompt in exercise.known_bad:
        attempt = grade(learner, exercise, prompt)
        assert not attempt.passed, prompt
        assert attempt.score < 1.0, prompt


@pytest.mark.parametrize("slug", EXERCISES)
def test_the_starter_prompt_fails(starter, learner, slug):
    exercise = Exercise.objects.get(slug=slug)
    assert not grade(learner, exercise, {}).passed
