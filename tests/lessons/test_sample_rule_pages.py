"""The result pages show each test case of several samples as "passes 3 of 5 · needs 4 of 5",
passed or failed by the exercise's sample rule, as grading decided it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from lessons.results import result_rows
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt
from tests.conftest import RUBRIC, make_attempt, make_exercise, make_run

pytestmark = pytest.mark.django_db

HALF = {**RUBRIC, "pass_threshold": 0.5}
PASSED = {"score": 1.0, "passed": True, "criteria": [{"id": "greets", "status": "ok"}]}
FAILED = {"score": 0.0, "passed": False, "criteria": [{"id": "greets", "status": "ok"}]}


def graded_attempt(learner, exercise, *samples: dict) -> Attempt:
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.6, passed=True)
    case = exercise.cases.get()
    for position, fields in enumerate(samples):
        make_run(attempt, position, case=case, case_name="Ada", sample=position, **fields)
    return attempt


def summary(html: str) -> str:
    """Return the text of the test case's summary line, tags removed."""
    line = re.search(r'<summary class="run-head">(.*?)</summary>', html, re.DOTALL)
    assert line, "no test case on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", line.group(1)).split())


@pytest.mark.parametrize(
    ("rule", "needed", "text"),
    [
        ("mean", 0, "✓ Passed: Ada · passes 3 of 5 · the mean score decides"),
        ("all", 0, "✗ Failed: Ada · passes 3 of 5 · all 5 must pass"),
        ("at_least", 3, "✓ Passed: Ada · passes 3 of 5 · needs 3 of 5"),
        ("at_least", 4, "✗ Failed: Ada · passes 3 of 5 · needs 4 of 5"),
        ("any", 0, "✓ Passed: Ada · passes 3 of 5 · any 1 of 5"),
    ],
)
def test_the_learner_reads_the_pass_count_and_what_the_rule_needs(
    alice_client, learner, rule, needed, text
):
    exercise = make_exercise(rubric=HALF, samples=5, sample_rule=rule, samples_needed=needed)
    attempt = graded_attempt(learner, exercise, PASSED, FAILED, PASSED, FAILED, PASSED)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert summary(html) == text


def test_one_sample_shows_its_score_and_no_rule(alice_client, learner):
    exercise = make_exercise(sample_rule="all")
    attempt = graded_attempt(learner, exercise, PASSED)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert summary(html) == "✓ Passed: Ada · 100%"


def test_a_case_with_a_sample_waiting_for_review_has_not_passed(learner):
    exercise = make_exercise(samples=2, sample_rule="any")
    waiting = {"score": 0.0, "passed": False, "criteria": [{"status": "needs_review"}]}
    attempt = graded_attempt(learner, exercise, PASSED, waiting)
    (row,) = result_rows(attempt.runs.all(), exercise)
    assert (row["passes"], row["passed"], row["rule"]) == (1, False, "any 1 of 2")


def test_the_instructors_drilldown_shows_the_rule_too(ines_client, instructor, learner):
    exercise = make_exercise(samples=3, sample_rule="at_least", samples_needed=2)
    cohort = Cohort.objects.create(course=exercise.lesson.course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    graded_attempt(learner, exercise, PASSED, FAILED, PASSED)
    url = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, exercise.pk])
    html = ines_client.get(url).content.decode()
    assert summary(html) == "✓ Passed: Ada · passes 2 of 3 · needs 2 of 3"
