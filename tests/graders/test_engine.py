from __future__ import annotations

import pytest
from grader_helpers import criterion, grade_one

from graders import (
    VISIBILITY,
    Case,
    Submission,
    aggregate,
    feedback_visible,
    grade_case,
    load_rubric,
)


def test_a_case_score_is_the_weighted_mean_of_its_criteria():
    rubric = load_rubric(
        {
            "pass_threshold": 0.7,
            "criteria": [
                {"id": "a", "kind": "contains", "params": {"text": "x"}, "weight": 3},
                {"id": "b", "kind": "contains", "params": {"text": "y"}, "weight": 1},
            ],
        }
    )
    grade = grade_case(rubric, "x")
    assert grade.score == 0.75 and grade.passed


def test_aggregate_weights_cases_and_can_require_every_case():
    rubric = load_rubric(
        {"pass_threshold": 0.5, "criteria": [criterion("contains", {"text": "x"})]}
    )
    strict = load_rubric({**rubric.to_dict(), "require_all_cases": True})
    good, bad = grade_case(rubric, "x"), grade_case(rubric, "no")
    assert aggregate(rubric, [(good, 3), (bad, 1)]).score == 0.75
    assert aggregate(rubric, [(good, 3), (bad, 1)]).passed
    assert not aggregate(strict, [(good, 3), (bad, 1)]).passed


@pytest.mark.parametrize(
    ("visibility", "passed", "visible"),
    [
        ("show", True, True),
        ("show", False, True),
        ("hide", True, False),
        ("hide", False, False),
        ("hide_if_fail", True, True),
        ("hide_if_fail", False, False),
        ("hide_if_pass", True, False),
        ("hide_if_pass", False, True),
    ],
)
def test_feedback_visibility_follows_coderunner(visibility, passed, visible):
    assert visibility in VISIBILITY
    assert feedback_visible(visibility, passed) is visible


def test_an_unknown_visibility_is_refused():
    with pytest.raises(ValueError):
        feedback_visible("sometimes", True)


def test_the_continuation_alone_is_graded_by_default():
    submission = Submission(fields={"prefill": '{"label": '})
    assert not grade_one("valid_json", '"billing"}', submission=submission).passed
    assert grade_one("valid_json", '"billing"}', submission=submission, with_prefill=True).passed
    rubric = load_rubric({"with_prefill": True, "criteria": [criterion("valid_json")]})
    assert grade_case(rubric, '"billing"}', submission=submission).passed
    overridden = load_rubric(
        {"with_prefill": True, "criteria": [criterion("valid_json", with_prefill=False)]}
    )
    assert not grade_case(overridden, '"billing"}', submission=submission).passed


def test_a_prefill_cannot_satisfy_a_criterion_by_default():
    submission = Submission(fields={"prefill": "refund"})
    assert not grade_one(
        "contains", " is not possible", {"text": "refund"}, submission=submission
    ).passed


def test_details_never_carry_a_30_character_stretch_of_the_reference():
    reference = "Your refund of 40 euros will arrive within five working days."
    case = Case(reference=reference, expected={"answer": reference})
    output = "I think: " + reference
    rubric = load_rubric(
        {
            "criteria": [
                criterion("equals", {"text": {"from_case": "answer"}}),
                {"id": "d", "kind": "contains", "params": {"text": "zzz"}},
            ]
        }
    )
    grade = grade_case(rubric, output, case)
    for result in grade.criteria:
        for start in range(len(result.detail) - 29):
            assert result.detail[start : start + 30].casefold() not in reference.casefold()
    assert "[reference answer hidden]" in grade.criteria[0].detail


def test_to_dict_is_plain_json_data():
    import json

    grade = grade_case(load_rubric({"criteria": [criterion("contains", {"text": "x"})]}), "x")
    data = json.loads(json.dumps(grade.to_dict()))
    assert set(data["criteria"][0]) >= {
        "id",
        "passed",
        "score",
        "feedback",
        "detail",
        "visible",
        "status",
    }


def test_the_benchmark_runs_and_reports_json_figures():
    from graders import bench

    figures = bench.run(count=20, rounds=1)
    assert {f["name"] for f in figures} >= {"criterion_checks_per_second", "outputs_per_second"}
    assert all(f["value"] > 0 and f["unit"] for f in figures)
