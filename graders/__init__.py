"""Rubric grading, in plain Python: no Django, no model backends.

The public interface:

- load_rubric(data) -> Rubric, raising RubricError(criterion, field, message)
- grade_case(rubric, output, case, submission) -> CaseGrade
- aggregate(rubric, [(case_grade, weight), ...]) -> Grade
"""

from __future__ import annotations

from graders.context import Case, Submission
from graders.engine import CRITERIA, aggregate, grade_case
from graders.results import CaseGrade, CriterionResult, Grade
from graders.rubric import Criterion, Rubric, RubricError, load_rubric

__all__ = (
    "CRITERIA",
    "Case",
    "CaseGrade",
    "Criterion",
    "CriterionResult",
    "Grade",
    "Rubric",
    "RubricError",
    "Submission",
    "aggregate",
    "grade_case",
    "load_rubric",
)
