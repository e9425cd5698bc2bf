"""Small builders shared by the grader tests: one criterion, graded on one output."""

from __future__ import annotations

from typing import Any

from graders import Case, CriterionResult, Submission, grade_case, load_rubric


def criterion(kind: str, params: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {"id": "c", "kind": kind, "params": params or {}, **options}


def grade_one(
    kind: str,
    output: str,
    params: dict[str, Any] | None = None,
    *,
    case: Case | None = None,
    submission: Submission | None = None,
    judge: Any = None,
    rubric: dict[str, Any] | None = None,
    **options: Any,
) -> CriterionResult:
    data = {"pass_threshold": 1, "criteria": [criterion(kind, params, **options)], **(rubric or {})}
    return grade_case(load_rubric(data), output, case, submission, judge=judge).criteria[0]
