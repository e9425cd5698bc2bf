"""Grade outputs against a rubric: one pure function per criterion kind, in one dict.

A case's score is the weighted mean of its criteria; an attempt's score is the
weighted mean of its cases. Pass thresholds apply to both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from graders import structure, text
from graders.context import Case, Context, Submission
from graders.kinds import Kind, Param
from graders.results import CaseGrade, Check, CriterionResult, Grade
from graders.rubric import Criterion, Rubric

NUMBER = (int, float)
MAX_OUTPUT_CHARS = 200_000

CRITERIA: dict[str, Kind] = {
    "contains": Kind(
        text.contains,
        (Param("text", (str,), help="the text to find"),),
        "The text contains a given piece of text.",
    ),
    "not_contains": Kind(
        text.not_contains,
        (Param("text", (str,), help="the text that must not appear"),),
        "The text does not contain a given piece of text.",
    ),
    "equals": Kind(
        text.equals,
        (Param("text", (str,), help="the exact expected text"),),
        "The text is exactly a given text (after normalisation).",
    ),
    "regex": Kind(
        text.regex,
        (Param("pattern", (str,), help="an RE2 regular expression, searched anywhere"),),
        "The text matches a regular expression (RE2 syntax: linear time, no backreferences).",
        extra=text.check_pattern,
    ),
    "valid_json": Kind(
        structure.valid_json,
        (),
        "The text is valid JSON.",
    ),
    "word_count": Kind(
        text.word_count,
        (
            Param("min", NUMBER, required=False, help="the fewest words allowed"),
            Param("max", NUMBER, required=False, help="the most words allowed"),
        ),
        "The number of words lies within a range.",
        extra=text.check_range,
    ),
}

WHITESPACE = re.compile(r"\s+")


def normalizer(criterion: Criterion):
    def normalize(value: str) -> str:
        if criterion.collapse_whitespace:
            value = WHITESPACE.sub(" ", value)
        if criterion.strip:
            value = value.strip()
        if criterion.ignore_case:
            value = value.casefold()
        return value

    return normalize


def grade_criterion(
    criterion: Criterion, output: str, case: Case, submission: Submission
) -> CriterionResult:
    """Return the result of one criterion on one output (or on the prompt, per its target)."""
    ctx = Context(
        case=case,
        submission=submission,
        normalize=normalizer(criterion),
        ignore_case=criterion.ignore_case,
    )
    subject = submission.rendered if criterion.target == "prompt" else output
    if len(subject) > MAX_OUTPUT_CHARS:
        check = Check(False, f"the {criterion.target} is longer than {MAX_OUTPUT_CHARS} characters")
    else:
        check = CRITERIA[criterion.kind].check(criterion.params, ctx.normalize(subject), ctx)
        if criterion.negate:
            check = Check(not check.passed, f"(negated) {check.detail}", 1 - check.value)
    return CriterionResult(
        id=criterion.id,
        kind=criterion.kind,
        passed=check.passed,
        score=min(1.0, max(0.0, check.value)),
        weight=criterion.weight,
        feedback=criterion.on_pass if check.passed else criterion.on_fail,
        detail=check.detail,
        visible=criterion.visible,
    )


def grade_case(
    rubric: Rubric, output: str, case: Case | None = None, submission: Submission | None = None
) -> CaseGrade:
    """Return the grade of one output: the weighted mean of its criteria, and pass or fail."""
    case = case or Case()
    submission = submission or Submission()
    results = tuple(grade_criterion(c, output, case, submission) for c in rubric.criteria)
    score = weighted_mean((r.score, r.weight) for r in results)
    return CaseGrade(score=score, passed=score >= rubric.pass_threshold, criteria=results)


def aggregate(rubric: Rubric, grades: Iterable[tuple[CaseGrade, float]]) -> Grade:
    """Return the attempt's grade from (case grade, case weight) pairs."""
    pairs = list(grades)
    score = weighted_mean((g.score, w) for g, w in pairs)
    passed = score >= rubric.pass_threshold
    if rubric.require_all_cases:
        passed = passed and all(g.passed for g, _ in pairs)
    return Grade(score=score, passed=passed, cases=tuple(g for g, _ in pairs))


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float:
    total = weight = 0.0
    for value, w in pairs:
        total += value * w
        weight += w
    return round(total / weight, 6) if weight else 0.0
