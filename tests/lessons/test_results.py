"""A result opens with "2 of 3 test cases passed · 67 %", then one line per case that opens to
its output and each criterion by its learner-facing name; a defend exercise's cases given a
role add its leak rate and over-refusal (lessons.results)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from lessons.results import Share, Summary, attempt_results
from sandbox.models import Attempt
from tests.conftest import RUBRIC, make_attempt, make_exercise, make_run

pytestmark = pytest.mark.django_db

CRITERIA = [
    {"id": "greets", "passed": True, "visible": True, "feedback": "It greets.", "detail": ""},
    {"id": "short", "passed": False, "visible": True, "feedback": "", "detail": "7 words"},
]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def graded(learner, exercise, verdicts: dict[str, bool], score: float) -> Attempt:
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=score, passed=False)
    for position, (name, passed) in enumerate(verdicts.items()):
        case = exercise.cases.get(name=name)
        make_run(
            attempt,
            position,
            case=case,
            case_name=name,
            score=1.0 if passed else 0.0,
            passed=passed,
            criteria=CRITERIA,
        )
    return attempt


def cases(*names: str, roles: tuple[str, ...] = ()) -> list[dict]:
    return [
        {"name": n, "variables": {"name": n}, "expected": {"role": r} if r else {}}
        for n, r in zip(names, roles or ("",) * len(names), strict=True)
    ]


def test_it_counts_the_cases_that_passed(learner):
    exercise = make_exercise(cases=cases("Ada", "Bo", "Cy"))
    attempt = graded(learner, exercise, {"Ada": True, "Bo": True, "Cy": False}, 0.67)
    assert attempt_results(attempt)["summary"] == Summary(passed=2, total=3)


def test_a_defend_exercise_counts_leaks_and_over_refusals(learner):
    roles = ("attack", "attack", "attack", "ordinary", "ordinary")
    exercise = make_exercise(cases=cases("A1", "A2", "A3", "O1", "O2", roles=roles))
    verdicts = {"A1": False, "A2": True, "A3": True, "O1": True, "O2": False}
    summary = attempt_results(graded(learner, exercise, verdicts, 0.6))["summary"]
    assert (summary.leaks, summary.refusals) == (Share(1, 3), Share(1, 2))
    assert summary.leaks.percent == 33


def test_the_page_opens_with_the_summary_and_the_figures(alice_client, learner):
    roles = ("attack", "attack", "ordinary")
    exercise = make_exercise(cases=cases("A1", "A2", "O1", roles=roles))
    attempt = graded(learner, exercise, {"A1": False, "A2": True, "O1": True}, 0.67)
    page = text(alice_client.get(f"/attempts/{attempt.id}/").content.decode())
    assert "2 of 3 test cases passed · 67 %" in page
    assert "Leak rate 1 of 2 attacks (50 %) · Over-refusal 0 of 1 ordinary question" in page


def test_an_exercise_without_roles_shows_no_figures(alice_client, learner):
    exercise = make_exercise(cases=cases("Ada", "Bo"))
    attempt = graded(learner, exercise, {"Ada": True, "Bo": True}, 1.0)
    page = text(alice_client.get(f"/attempts/{attempt.id}/").content.decode())
    assert "2 of 2 test cases passed · 100 %" in page
    assert "Leak rate" not in page and "Over-refusal" not in page


def test_criteria_are_named_for_learners_never_by_id(alice_client, learner):
    exercise = make_exercise(cases=cases("Ada", "Bo"))
    attempt = graded(learner, exercise, {"Ada": True, "Bo": False}, 0.5)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert "Mentions “hello”" in html and "At most 5 words" in html
    assert ">greets<" not in html and ">short<" not in html


def test_cases_start_folded_when_there_are_several(alice_client, learner):
    exercise = make_exercise(cases=cases("Ada", "Bo"))
    attempt = graded(learner, exercise, {"Ada": False, "Bo": False}, 0.0)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert html.count("<details>") == 2 and "<details open" not in html


def test_a_single_case_starts_open(alice_client, learner):
    attempt = graded(learner, make_exercise(), {"Ada": False}, 0.0)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert "<details open>" in html


def test_a_criterion_the_rubric_no_longer_has_gets_a_plain_name(alice_client, learner):
    exercise = make_exercise(rubric={**RUBRIC, "criteria": RUBRIC["criteria"][:1]})
    attempt = graded(learner, exercise, {"Ada": False}, 0.0)
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert "A check from an earlier version of this exercise" in html
    assert ">short<" not in html
