"""Rubric grading, in plain Python: no Django, no model backends.

The public interface:

- load_rubric(data) -> Rubric, raising RubricError(message, criterion, field)
- grade_attempt(rubric, [CaseOutputs(case, outputs, submission, previous, decisions)], *,
  sample_rule=SampleRule(), judge=None, map=map) -> Grade: how every caller scores an attempt
- SampleRule(kind, needed) for a case's k samples: kind in SAMPLE_RULES (mean, all, at_least
  n, any); .check(k) raises SampleRuleError(message, field)
- grade_case(rubric, output, case, submission, *, judge=None, previous=None) -> CaseGrade
- judge_calls_needed(rubric, [stored criteria by id, ...]) -> int, and judge_calls_at_most
  (retries); reusable_previous(rubric, cases) -> the stored criteria a regrade would reuse
- aggregate(rubric, [(case_grade, weight), ...]) -> Grade (the cases -> attempt step)
- try_rubric(rubric_or_dict, output, ...) -> CaseGrade, and self_test(rubric) -> SelfTestReport
- feedback_visible(visibility, passed) -> bool, with VISIBILITY the allowed values
- CRITERIA: every criterion kind, name -> Kind (summary, params)

See docs/graders.md for every kind with its parameters and an example.
"""

from __future__ import annotations

from graders.authoring import (
    SampleResult,
    SelfTestReport,
    case_problems,
    missing_case_values,
    self_test,
    try_rubric,
)
from graders.context import Case, Submission
from graders.engine import CRITERIA, aggregate, grade_case
from graders.judge import Judge, JudgeRequest
from graders.results import (
    STATUSES,
    VISIBILITY,
    CaseGrade,
    CriterionResult,
    Decision,
    Grade,
    feedback_visible,
)
from graders.rubric import Criterion, Rubric, RubricError, load_rubric
from graders.scoring import (
    SAMPLE_RULES,
    CaseOutputs,
    SampleRule,
    SampleRuleError,
    grade_attempt,
    judge_calls_at_most,
    judge_calls_needed,
    reusable_previous,
    score_case,
)

__all__ = (
    "case_problems",
    "CRITERIA",
    "SAMPLE_RULES",
    "STATUSES",
    "VISIBILITY",
    "Case",
    "CaseGrade",
    "CaseOutputs",
    "Criterion",
    "CriterionResult",
    "Decision",
    "Grade",
    "Judge",
    "JudgeRequest",
    "Rubric",
    "RubricError",
    "SampleResult",
    "SampleRule",
    "SampleRuleError",
    "SelfTestReport",
    "Submission",
    "aggregate",
    "feedback_visible",
    "grade_attempt",
    "grade_case",
    "judge_calls_at_most",
    "judge_calls_needed",
    "load_rubric",
    "missing_case_values",
    "reusable_previous",
    "score_case",
    "self_test",
    "try_rubric",
)
