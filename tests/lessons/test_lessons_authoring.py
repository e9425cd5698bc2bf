"""lessons.authoring: CSV test cases and ordering — called directly."""

from __future__ import annotations

import pytest

from lessons.authoring import editing
from tests.conftest import make_exercise

pytestmark = pytest.mark.django_db


def test_it_reads_one_case_per_row_with_expectations():
    text = (
        "ticket,__name,__visibility,__expected,__expected2\n"
        'Charged twice,Billing,show,equals:billing,"regex:^[a-z]+$"\n'
        "Where is my money,Refund,hidden,equals:refund,regex:^refund$\n"
    )
    result = editing.parse_cases_csv(text, ["ticket"])
    assert result.errors == []
    assert [c["name"] for c in result.cases] == ["Billing", "Refund"]
    assert result.cases[1]["visibility"] == "hide"
    assert result.cases[1]["variables"] == {"ticket": "Where is my money"}
    assert result.cases[1]["expected"] == {"expect-equals": "refund", "expect-regex": "^refund$"}
    assert [c["id"] for c in result.criteria] == ["expect-equals", "expect-regex"]
    assert result.criteria[1]["params"] == {"pattern": {"from_case": "expect-regex"}}


def test_a_cell_without_a_prefix_means_equals():
    result = editing.parse_cases_csv("city,__expected\nParis,France\n", ["city"])
    assert result.cases[0]["expected"] == {"expect-equals": "France"}


def test_it_names_the_row_and_column_of_every_problem():
    text = "ticket,__visibility,__expected,colour\na,show,contains:x,red\n"
    result = editing.parse_cases_csv(text, ["ticket", "customer"])
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
    result = editing.parse_cases_csv(text, ["ticket"])
    assert result.cases == [] and result.criteria == []
    errors = "\n".join(result.errors)
    assert "Row 2, column '__visibility': 'sometimes' is not one of" in errors
    assert "Row 3, column '__weight'" in errors
    assert "Row 3, column '__expected'" in errors and "backreference" in errors.lower()
    assert "Row 4, column '__expected': contains: needs a value" in errors
    assert "Row 5: other rows check contains:" in errors


def test_it_refuses_a_row_with_the_wrong_number_of_cells():
    result = editing.parse_cases_csv("a,b\n1\n", ["a", "b"])
    assert result.errors == ["Row 2: 1 cells, but the header has 2 columns."]


def test_imported_expectations_grade_each_case():
    exercise = make_exercise(variables=["name"], cases=[])
    imported = editing.parse_cases_csv("name,__expected\nAda,contains:Ada\n", ["name"])
    editing.save_imported_cases(exercise, imported, replace=False)
    exercise.refresh_from_db()
    case = exercise.cases.get()
    assert case.expected == {"expect-contains": "Ada"}
    assert exercise.rubric["criteria"][-1]["id"] == "expect-contains"
    from graders import try_rubric

    grade = try_rubric(exercise.rubric, "hello Ada", case=case.as_grader_case())
    assert {c.id: c.passed for c in grade.criteria}["expect-contains"]


def test_move_swaps_neighbours_and_renumbers():
    exercise = make_exercise()
    lesson = exercise.lesson
    second = make_exercise(slug="two")
    editing.move(lesson.exercises.all(), second, -1)
    assert list(lesson.exercises.values_list("slug", flat=True)) == ["two", "greet"]


def test_the_judges_calls_reach_the_ledger_even_when_the_block_raises(instructor):
    from graders.judge import JudgeRequest
    from sandbox.models import UsageRecord

    exercise = make_exercise()
    request = JudgeRequest(
        model="stub:scripted", system="", prompt="Judge this.", delimiter="", items=(), scale=5
    )
    with pytest.raises(RuntimeError), editing.judge_on_ledger(exercise, instructor.pk) as judge:
        judge(request)
        raise RuntimeError("the self-test blew up after its judge call")
    assert UsageRecord.objects.filter(learner=instructor, attempt=None).count() == 1
