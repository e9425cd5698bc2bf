from __future__ import annotations

import pytest
from grader_helpers import criterion, grade_one

from graders import Case, RubricError, load_rubric

REFUND_RULE = {
    "criteria": [
        {
            "kind": "any_of",
            "params": {
                "criteria": [
                    {"kind": "contains", "params": {"text": "Refund"}, "ignore_case": True},
                    {"kind": "regex", "params": {"pattern": "money.back"}},
                ]
            },
        },
        {"kind": "not_contains", "params": {"text": "guarantee"}},
    ]
}


@pytest.mark.parametrize(
    ("output", "passed"),
    [
        ("You get a REFUND.", True),
        ("money-back offer", True),
        ("Money back", False),
        ("Refund, guaranteed", False),
        ("refund guarantee", False),
        ("nothing", False),
    ],
)
def test_one_criterion_expresses_the_refund_rule(output, passed):
    result = grade_one(
        "all_of", output, REFUND_RULE, feedback={"fail": "Offer a refund, promise nothing."}
    )
    assert result.passed is passed
    assert result.feedback == ("" if passed else "Offer a refund, promise nothing.")


def test_none_of_and_negated_groups():
    params = {
        "criteria": [
            {"kind": "contains", "params": {"text": "a"}},
            {"kind": "contains", "params": {"text": "b"}},
        ]
    }
    assert grade_one("none_of", "xyz", params).passed
    assert not grade_one("none_of", "xbz", params).passed
    assert grade_one("any_of", "xbz", params).passed
    assert not grade_one("any_of", "xbz", params, negate=True).passed


def test_sub_criteria_errors_name_the_path():
    bad = {"criteria": [{"id": "inner", "kind": "regex", "params": {"pattern": "(?=x)"}}]}
    with pytest.raises(RubricError) as e:
        load_rubric({"criteria": [criterion("all_of", bad)]})
    assert e.value.criterion == "c.inner" and e.value.field == "params.pattern"
    with pytest.raises(RubricError, match="at least one"):
        load_rubric({"criteria": [criterion("all_of", {"criteria": []})]})


def test_an_unavailable_branch_never_passes_a_group():
    judge_branch = {"kind": "llm_judge", "params": {"model": "m", "items": ["polite"]}}
    all_of = {"criteria": [{"kind": "contains", "params": {"text": "x"}}, judge_branch]}
    result = grade_one("all_of", "x", all_of)
    assert not result.passed and result.status == "unavailable"
    none_of = {"criteria": [judge_branch]}
    assert not grade_one("none_of", "x", none_of).passed


def test_groups_use_per_case_expectations():
    params = {
        "criteria": [
            {"kind": "equals", "params": {"text": {"from_case": "label"}}},
            {"kind": "contains", "params": {"text": "unsure"}},
        ]
    }
    assert grade_one("any_of", "billing", params, case=Case(expected={"label": "billing"})).passed


def test_none_of_marks_a_matched_forbidden_phrase_as_the_failure():
    params = {
        "criteria": [
            {"kind": "contains", "params": {"text": "7Q4Z"}},
            {"kind": "regex", "params": {"pattern": "S-T-A-F-F"}},
        ]
    }
    leaked = grade_one("none_of", "The code is STAFF-7Q4Z.", params)
    assert not leaked.passed
    assert leaked.detail.startswith('expected none of: ✗ found "7Q4Z"')
    assert "; ✓ " in leaked.detail  # the pattern that did not match is fine
    secret = grade_one("none_of", "I can't share that.", params)
    assert secret.passed and "✗" not in secret.detail and secret.detail.count("✓") == 2


def test_all_of_still_ticks_what_passed():
    params = {"criteria": [{"kind": "contains", "params": {"text": "a"}}]}
    assert grade_one("all_of", "a", params).detail.startswith("all of: ✓ ")
