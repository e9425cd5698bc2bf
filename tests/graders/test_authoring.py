from __future__ import annotations

import pytest

from graders import (
    Case,
    RubricError,
    case_problems,
    load_rubric,
    missing_case_values,
    self_test,
    try_rubric,
)

RUBRIC = {
    "pass_threshold": 1,
    "criteria": [
        {
            "id": "label",
            "kind": "one_of",
            "params": {"labels": ["billing", "refund"]},
            "ignore_case": True,
        }
    ],
    "samples": {"good": ["billing", "Refund", {"output": "refund"}], "bad": ["billing.", ""]},
}


def test_self_test_passes_when_the_rubric_judges_every_sample_right():
    report = self_test(load_rubric(RUBRIC))
    assert report.ok and len(report.results) == 5 and report.messages() == []


def test_self_test_names_each_misjudged_sample():
    rubric = load_rubric(
        {**RUBRIC, "samples": {"good": ["billing", "Billing."], "bad": ["refund"]}}
    )
    report = self_test(rubric)
    assert not report.ok
    assert [(r.expected, r.index) for r in report.misjudged] == [("good", 1), ("bad", 0)]
    assert report.messages()[0].startswith("good sample 2 ('Billing.') failed")
    assert "(failing: label)" in report.messages()[0]


def test_samples_carry_their_own_case_values():
    rubric = load_rubric(
        {
            "criteria": [{"id": "a", "kind": "equals", "params": {"text": {"from_case": "label"}}}],
            "samples": {
                "good": [{"output": "refund", "expected": {"label": "refund"}}],
                "bad": [{"output": "refund", "expected": {"label": "billing"}}],
            },
        }
    )
    assert self_test(rubric).ok


def test_try_rubric_grades_a_pasted_output_without_a_model():
    assert try_rubric(RUBRIC, "billing").passed
    judged = try_rubric(
        {
            "criteria": [
                {"id": "j", "kind": "llm_judge", "params": {"model": "m", "items": ["polite"]}}
            ]
        },
        "Hello",
    )
    assert judged.status == "unavailable" and not judged.passed
    with pytest.raises(RubricError):
        try_rubric({"criteria": []}, "x")


def test_case_problems_name_the_case_whose_pattern_re2_cannot_compile():
    rubric = load_rubric(
        {"criteria": [{"id": "shape", "kind": "regex", "params": {"pattern": {"from_case": "p"}}}]}
    )
    [problem] = case_problems(rubric, Case(name="Echo", expected={"p": "(a)\\1"}))
    assert problem.startswith("criterion shape: test case 'Echo': pattern RE2 cannot compile")
    assert case_problems(rubric, Case(name="ok", expected={"p": "a+"})) == []
    assert case_problems(rubric, Case(name="no value yet")) == []


def test_missing_case_values_names_what_a_case_lacks_that_the_rubric_reads():
    rubric = load_rubric(
        {
            "criteria": [
                {"id": "label", "kind": "equals", "params": {"text": {"from_case": "label"}}},
                {"id": "close", "kind": "levenshtein", "params": {"threshold": 0.5}},
                {"id": "near", "kind": "rouge_l", "params": {"threshold": 0.5, "reference": "x"}},
            ]
        }
    )
    assert missing_case_values(rubric, Case(expected={"label": "a"}, reference="a")) == []
    assert missing_case_values(rubric, Case(expected={"lable": "a"})) == [
        ("expected", "has no 'label', which criterion 'label' reads (from_case)"),
        (
            "reference",
            "is empty, and criterion 'close' (levenshtein) compares each output with it; give "
            "the case a reference, or the criterion params.reference",
        ),
    ]
