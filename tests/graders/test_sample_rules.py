"""Sample rules: how a test case's k samples make its grade (mean, all, at least n, any)."""

from __future__ import annotations

import pytest
from grader_helpers import criterion

from graders import (
    Case,
    CaseGrade,
    CaseOutputs,
    SampleRule,
    SampleRuleError,
    Submission,
    grade_attempt,
    load_rubric,
    score_case,
)

RUBRIC = load_rubric({"pass_threshold": 0.5, "criteria": [criterion("contains", {"text": "hi"})]})


def sample(score: float, status: str = "ok") -> CaseGrade:
    return CaseGrade(score=score, passed=score >= 0.5 and status == "ok", status=status)


def case(rule: SampleRule, *scores: float, status: str = "ok") -> CaseGrade:
    """The case of these samples; `status` is the last sample's."""
    samples = [sample(s) for s in scores[:-1]] + [sample(scores[-1], status)]
    return score_case(RUBRIC, samples, sample_rule=rule)


MEAN, ALL, ANY = SampleRule(), SampleRule("all"), SampleRule("any")


def at_least(n: int) -> SampleRule:
    return SampleRule("at_least", n)


def test_the_mean_passes_at_the_threshold_whatever_each_sample_did():
    grade = case(MEAN, 1.0, 0.5, 0.0)
    assert (grade.score, grade.passed) == (0.5, True)
    assert not case(MEAN, 1.0, 0.0, 0.0).passed


def test_all_scores_the_worst_sample_and_needs_every_one_to_pass():
    assert (case(ALL, 1.0, 1.0, 0.5).score, case(ALL, 1.0, 1.0, 0.5).passed) == (0.5, True)
    grade = case(ALL, 1.0, 1.0, 0.0)
    assert (grade.score, grade.passed) == (0.0, False)


def test_at_least_n_scores_the_nth_best_sample_and_counts_the_passes():
    grade = case(at_least(2), 0.25, 1.0, 0.75)
    assert (grade.score, grade.passed) == (0.75, True)
    grade = case(at_least(3), 0.25, 1.0, 0.75)
    assert (grade.score, grade.passed) == (0.25, False)


def test_at_least_k_is_all_and_at_least_one_is_any():
    for scores in [(1.0, 0.5, 0.0), (0.0, 0.0, 0.75), (1.0, 1.0, 1.0), (0.0, 0.25, 0.0)]:
        assert case(at_least(3), *scores) == case(ALL, *scores)
        assert case(at_least(1), *scores) == case(ANY, *scores)


def test_any_scores_the_best_sample_and_passes_if_one_passed():
    grade = case(ANY, 0.0, 0.25, 0.75)
    assert (grade.score, grade.passed) == (0.75, True)
    grade = case(ANY, 0.0, 0.25, 0.25)
    assert (grade.score, grade.passed) == (0.25, False)


@pytest.mark.parametrize("rule", [MEAN, ALL, at_least(1), ANY], ids=str)
def test_a_case_with_a_sample_that_needs_review_never_passes(rule):
    grade = case(rule, 1.0, 1.0, 1.0, status="needs_review")
    assert grade.status == "needs_review" and not grade.passed


def test_a_case_with_fewer_samples_than_it_needs_fails_at_zero():
    # An attempt run with 2 samples, regraded after the exercise came to need 3 of 4.
    grade = case(at_least(3), 1.0, 1.0)
    assert (grade.score, grade.passed) == (0.0, False)


def test_the_case_keeps_every_sample_for_its_pass_count():
    grade = case(at_least(2), 1.0, 0.0, 1.0, 0.0, 1.0)
    assert [s.passed for s in grade.samples] == [True, False, True, False, True]
    assert grade.passed


def test_grade_attempt_applies_the_rule_to_each_case():
    outputs = CaseOutputs(Case(name="greets"), ("hi", "no", "no"), Submission())
    assert grade_attempt(RUBRIC, [outputs], sample_rule=ANY).passed
    assert not grade_attempt(RUBRIC, [outputs], sample_rule=at_least(2)).passed
    assert grade_attempt(RUBRIC, [outputs], sample_rule=ANY).score == 1.0
    assert grade_attempt(RUBRIC, [outputs]).score == pytest.approx(1 / 3, abs=1e-6)


@pytest.mark.parametrize("rule", [MEAN, ALL, ANY, at_least(1), at_least(5)], ids=str)
def test_a_rule_within_the_samples_checks(rule):
    rule.check(5)


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        (SampleRule("most"), "sample_rule", "must be one of mean, all, at_least, any, not 'most'"),
        (at_least(0), "samples_needed", "must be from 1 to 5 (the samples per case), not 0"),
        (at_least(6), "samples_needed", "must be from 1 to 5 (the samples per case), not 6"),
        (SampleRule("all", 3), "samples_needed", "is for sample_rule at_least only"),
    ],
    ids=str,
)
def test_a_bad_rule_names_its_field(rule, field, message):
    with pytest.raises(SampleRuleError) as raised:
        rule.check(5)
    assert (raised.value.field, raised.value.message) == (field, message)


def test_each_rule_says_what_a_case_needs():
    assert [r.describe(5) for r in (MEAN, ALL, at_least(4), ANY)] == [
        "the mean score decides",
        "all 5 must pass",
        "needs 4 of 5",
        "any 1 of 5",
    ]
