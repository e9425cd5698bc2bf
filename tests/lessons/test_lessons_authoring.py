"""lessons.authoring: CSV test cases, publish decision, regrade — called directly."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from lessons import authoring
from lessons.models import Exercise, Regrade
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise, run_queued

pytestmark = pytest.mark.django_db


def test_it_reads_one_case_per_row_with_expectations():
    text = (
        "ticket,__name,__visibility,__expected,__expected2\n"
        'Charged twice,Billing,show,equals:billing,"regex:^[a-z]+$"\n'
        "Where is my money,Refund,hidden,equals:refund,regex:^refund$\n"
    )
    result = authoring.parse_cases_csv(text, ["ticket"])
    assert result.errors == []
    assert [c["name"] for c in result.cases] == ["Billing", "Refund"]
    assert result.cases[1]["visibility"] == "hide"
    assert result.cases[1]["variables"] == {"ticket": "Where is my money"}
    assert result.cases[1]["expected"] == {"expect-equals": "refund", "expect-regex": "^refund$"}
    assert [c["id"] for c in result.criteria] == ["expect-equals", "expect-regex"]
    assert result.criteria[1]["params"] == {"pattern": {"from_case": "expect-regex"}}


def test_a_cell_without_a_prefix_means_equals():
    result = authoring.parse_cases_csv("city,__expected\nParis,France\n", ["city"])
    assert result.cases[0]["expected"] == {"expect-equals": "France"}


def test_it_names_the_row_and_column_of_every_problem():
    text = "ticket,__visibility,__expected,colour\na,show,contains:x,red\n"
    result = authoring.parse_cases_csv(text, ["ticket", "customer"])
    assert result.cases == []
    assert any("column 'colour'" in e and "Row 1" in e for e in result.errors)
    assert any("variable 'customer'" in e for e in result.errors)


def test_it_reports_bad_cells_and_saves_nothing():
    text = (
        "ticket,__visibility,__weight,__expected\n"
        "a,sometimes,1,contains:x\n"
        "b,show,heavy,regex:(a)\\1\n"
        "c,show,1,contains:\n"
        "d,show,1,\n"
    )
    result = authoring.parse_cases_csv(text, ["ticket"])
    assert result.cases == [] and result.criteria == []
    errors = "\n".join(result.errors)
    assert "Row 2, column '__visibility': 'sometimes' is not one of" in errors
    assert "Row 3, column '__weight'" in errors
    assert "Row 3, column '__expected'" in errors and "backreference" in errors.lower()
    assert "Row 4, column '__expected': contains: needs a value" in errors
    assert "Row 5: other rows check contains:" in errors


def test_it_refuses_a_row_with_the_wrong_number_of_cells():
    result = authoring.parse_cases_csv("a,b\n1\n", ["a", "b"])
    assert result.errors == ["Row 2: 1 cells, but the header has 2 columns."]


def test_imported_expectations_grade_each_case():
    exercise = make_exercise(variables=["name"], cases=[])
    imported = authoring.parse_cases_csv("name,__expected\nAda,contains:Ada\n", ["name"])
    authoring.save_imported_cases(exercise, imported, replace=False)
    exercise.refresh_from_db()
    case = exercise.cases.get()
    assert case.expected == {"expect-contains": "Ada"}
    assert exercise.rubric["criteria"][-1]["id"] == "expect-contains"
    from graders import try_rubric

    grade = try_rubric(exercise.rubric, "hello Ada", case=case.as_grader_case())
    assert {c.id: c.passed for c in grade.criteria}["expect-contains"]


def reference_run(exercise: Exercise, instructor) -> Attempt:
    attempt = Attempt.objects.create(
        learner=instructor, **authoring.reference_attempt_fields(exercise)
    )
    run_queued()
    attempt.refresh_from_db()
    return attempt


def test_it_publishes_when_the_reference_passes_and_the_self_test_passes(instructor):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    result = authoring.finish_publish(exercise, reference_run(exercise, instructor))
    assert result.published and result.problems == []
    exercise.refresh_from_db()
    assert exercise.status == Exercise.PUBLISHED


def test_it_refuses_when_the_reference_fails_and_names_the_criterion(instructor):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Talk to {name}."})
    result = authoring.finish_publish(exercise, reference_run(exercise, instructor))
    assert not result.published
    assert result.problems[0].startswith("Reference solution: it scored 0% (needs 100%)")
    assert "criterion 'greets' failed on case 1 ('Ada')" in result.problems[0]
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


def test_it_refuses_when_a_known_bad_sample_passes(instructor):
    rubric = {
        "pass_threshold": 1.0,
        "criteria": [
            {"id": "greets", "kind": "contains", "params": {"text": "hello"}, "ignore_case": True}
        ],
        "samples": {"good": ["hello"], "bad": ["hello, I am bad"]},
    }
    exercise = make_exercise(
        status=Exercise.DRAFT, rubric=rubric, solution={"user": "Say hello to {name}."}
    )
    result = authoring.finish_publish(exercise, reference_run(exercise, instructor))
    assert not result.published
    assert result.problems == [
        "Self-test: bad sample 1 ('hello, I am bad') passed with score 1.00, but should have failed"
    ]


def test_it_waits_for_a_reference_run_that_is_not_final(instructor):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    attempt = Attempt.objects.create(
        learner=instructor, **authoring.reference_attempt_fields(exercise)
    )
    assert authoring.finish_publish(exercise, attempt).pending


def test_it_refuses_a_reference_run_of_an_older_solution(instructor):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    attempt = reference_run(exercise, instructor)
    exercise.solution = {"user": "Say hello to {name}, warmly."}
    result = authoring.finish_publish(exercise, attempt)
    assert not result.published
    assert "changed while it was being checked" in result.problems[0]


def no_backend(*args, **kwargs):
    raise AssertionError("a regrade must not call a model")


def test_regrade_grades_stored_outputs_again_without_calling_a_model(learner, instructor):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, user_prompt="Please say hello to {name}.")
    run_queued()
    attempt.refresh_from_db()
    assert attempt.passed  # "Hello there!" has hello, in under 5 words
    exercise.rubric = {
        "pass_threshold": 1.0,
        "criteria": [{"id": "bye", "kind": "contains", "params": {"text": "goodbye"}}],
    }
    exercise.save()
    regrade = Regrade.objects.create(exercise=exercise, requested_by=instructor)
    with (
        patch("sandbox.providers.make_backend", no_backend),
        patch("sandbox.runs.make_backend", no_backend),
    ):
        authoring.regrade_exercise(regrade.pk)
    attempt.refresh_from_db()
    regrade.refresh_from_db()
    assert (attempt.score, attempt.passed) == (0.0, False)
    run = attempt.runs.get()
    assert [c["id"] for c in run.criteria] == ["bye"] and run.passed is False
    assert (regrade.status, regrade.total, regrade.done, regrade.changed) == ("done", 1, 1, 1)


def test_regrade_leaves_reference_runs_alone(instructor):
    exercise = make_exercise(solution={"user": "Say hello to {name}."})
    reference = reference_run(exercise, instructor)
    regrade = Regrade.objects.create(exercise=exercise)
    authoring.regrade_exercise(regrade.pk)
    regrade.refresh_from_db()
    assert regrade.total == 0
    assert Attempt.objects.get(pk=reference.pk).passed


def test_a_duplicate_regrade_message_does_nothing(instructor):
    exercise = make_exercise()
    regrade = Regrade.objects.create(exercise=exercise, status=Regrade.DONE)
    authoring.regrade_exercise(regrade.pk)
    regrade.refresh_from_db()
    assert regrade.status == Regrade.DONE and regrade.started_at is None


def test_move_swaps_neighbours_and_renumbers():
    exercise = make_exercise()
    lesson = exercise.lesson
    second = make_exercise(slug="two")
    authoring.move(lesson.exercises.all(), second, -1)
    assert list(lesson.exercises.values_list("slug", flat=True)) == ["two", "greet"]
