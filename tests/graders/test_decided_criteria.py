"""Instructors' decisions: a decided criterion is what they decided, in every grading."""

from __future__ import annotations

from typing import Any

from graders import (
    Case,
    CaseOutputs,
    Decision,
    JudgeRequest,
    Submission,
    grade_attempt,
    grade_case,
    load_rubric,
)

JUDGE = {
    "id": "judge",
    "kind": "llm_judge",
    "params": {"model": "stub:judge", "items": ["It greets the reader"]},
}
CONTAINS = {"id": "hello", "kind": "contains", "params": {"text": "hello"}}


def rubric(*criteria: dict[str, Any]) -> Any:
    return load_rubric({"pass_threshold": 1.0, "criteria": list(criteria)})


def unreachable_judge(request: JudgeRequest) -> str:
    raise AssertionError("a decided criterion must not call the judge")


def bad_judge(request: JudgeRequest) -> str:
    return "I would rather not say."


def test_a_decided_judge_criterion_passes_without_asking_the_judge():
    grade = grade_case(
        rubric(JUDGE),
        "hello",
        judge=unreachable_judge,
        decisions={"judge": Decision(met=True)},
    )
    (result,) = grade.criteria
    assert (result.status, result.passed, result.score) == ("ok", True, 1.0)
    assert result.detail == "An instructor reviewed this: met."
    assert grade.passed and grade.status == "ok"


def test_without_a_decision_the_same_output_needs_review_and_does_not_pass():
    grade = grade_case(rubric(JUDGE), "hello", judge=bad_judge)
    assert grade.status == "needs_review" and not grade.passed


def test_a_decision_stands_over_a_stored_verdict_that_could_be_reused():
    first = grade_case(rubric(JUDGE), "hello", decisions={"judge": Decision(met=True)})
    stored = {c.id: c.to_dict() for c in first.criteria}
    again = grade_case(
        rubric(JUDGE),
        "hello",
        judge=unreachable_judge,
        previous=stored,
        decisions={"judge": Decision(met=False)},
    )
    assert not again.criteria[0].passed and not again.passed


def test_any_criterion_can_be_decided_and_undecided_ones_are_graded():
    grade = grade_case(
        rubric(CONTAINS, {**CONTAINS, "id": "bye", "params": {"text": "bye"}}),
        "hello",
        decisions={"bye": Decision(met=True)},
    )
    assert [(c.id, c.passed) for c in grade.criteria] == [("hello", True), ("bye", True)]


def test_grade_attempt_applies_each_samples_own_decisions():
    outputs = CaseOutputs(
        Case(name="a"),
        ("hello", "hello"),
        Submission(),
        decisions=({"judge": Decision(met=True)}, {}),
    )
    grade = grade_attempt(rubric(JUDGE), [outputs], judge=bad_judge)
    first, second = grade.cases[0].samples
    assert first.status == "ok" and first.passed
    assert second.status == "needs_review"
    assert not grade.passed
