"""Edge cases of the one scoring path: escaped placeholders, overflowing weights, needs-review
samples, exact thresholds, a composite's with_prefill and target."""

from __future__ import annotations

import math

import pytest

from graders import Case, RubricError, Submission, load_rubric, try_rubric
from graders.scoring import CaseOutputs, SampleRule, grade_attempt


def fixed_policy_submission(user: str, rendered_user: str) -> Submission:
    return Submission(
        fields={"system": "", "user": user, "prefill": ""},
        variables=("policy", "q"),
        fixed_variables={"policy": "POLICY TEXT"},
        rendered=f"[user]\n{rendered_user}",
        rendered_fields={"system": "", "user": rendered_user, "prefill": ""},
    )


def test_uses_variables_does_not_count_an_escaped_placeholder():
    # `{{policy}}` is the escape (graders.placeholders): the model receives the literal text
    # "{policy}", never the policy. uses_variables must not count it as using the variable.
    rubric = load_rubric({"pass_threshold": 1, "criteria": [{"id": "u", "kind": "uses_variables"}]})
    sub = fixed_policy_submission("Follow {{policy}} for {q}", "Follow {policy} for hi")
    grade = try_rubric(rubric, "an answer", Case(variables={"q": "hi"}), sub)
    assert not grade.passed, grade.criteria[0].detail


def test_uses_variables_does_not_count_spaced_double_braces():
    # `{{ policy }}` is plain text to the renderer (not even an escape), yet the detail of a
    # failing uses_variables tells the learner to write exactly that.
    rubric = load_rubric({"pass_threshold": 1, "criteria": [{"id": "u", "kind": "uses_variables"}]})
    sub = fixed_policy_submission("Follow {{ policy }} for {q}", "Follow {{ policy }} for hi")
    grade = try_rubric(rubric, "an answer", Case(variables={"q": "hi"}), sub)
    assert not grade.passed, grade.criteria[0].detail


@pytest.mark.parametrize("weight", [math.inf, 1e308])
def test_a_rubric_whose_weights_overflow_is_refused_or_scores_a_number(weight):
    data = {
        "pass_threshold": 0.5,
        "criteria": [
            {"id": "a", "kind": "contains", "params": {"text": "x"}, "weight": weight},
            {"id": "b", "kind": "contains", "params": {"text": "y"}, "weight": weight},
        ],
    }
    try:
        rubric = load_rubric(data)
    except RubricError:
        return  # refused: fine
    grade = try_rubric(rubric, "x and y")
    assert not math.isnan(grade.score) and grade.passed


def test_require_all_samples_with_a_needs_review_sample_never_passes():
    judged = {
        "pass_threshold": 0.5,
        "criteria": [
            {"id": "c", "kind": "contains", "params": {"text": "ok"}},
            {"id": "j", "kind": "llm_judge", "params": {"model": "m", "items": ["good"]}},
        ],
    }
    rubric = load_rubric(judged)

    def judge(request):
        return "prose, not JSON"

    case = CaseOutputs(Case(), ("ok",) * 5, Submission())
    for rule in (SampleRule("all"), SampleRule("any"), SampleRule("at_least", 2), SampleRule()):
        grade = grade_attempt(rubric, [case], sample_rule=rule, judge=judge)
        assert grade.status == "needs_review" and not grade.passed
        assert not grade.cases[0].passed


def test_threshold_reached_exactly_passes():
    rubric = load_rubric(
        {
            "pass_threshold": 0.7,
            "criteria": [
                {"id": "a", "kind": "contains", "params": {"text": "a"}, "weight": 0.7},
                {"id": "b", "kind": "contains", "params": {"text": "b"}, "weight": 0.3},
                {"id": "z", "kind": "contains", "params": {"text": "zzz"}, "weight": 0},
            ],
        }
    )
    assert try_rubric(rubric, "a").passed
    cases = [
        CaseOutputs(Case(weight=w), outs, Submission()) for w, outs in ((7, ("a",)), (3, ("q",)))
    ]
    # case1 score 0.7 pass; case2 score 0 ; attempt = 0.49
    g = grade_attempt(rubric, cases)
    assert g.score == pytest.approx(0.49) and not g.passed


def test_with_prefill_on_a_composite_applies_to_its_sub_criteria():
    sub = Submission(
        fields={"prefill": "{"},
        rendered_fields={"system": "", "user": "u", "prefill": "{"},
        rendered="[user]\nu\n\n[assistant]\n{",
    )
    plain = load_rubric({"criteria": [{"id": "g", "kind": "valid_json", "with_prefill": True}]})
    grouped = load_rubric(
        {
            "criteria": [
                {
                    "id": "g",
                    "kind": "all_of",
                    "with_prefill": True,
                    "params": {
                        "criteria": [
                            {"kind": "valid_json"},
                            {"kind": "json_path_equals", "params": {"path": "$.a", "value": 1}},
                        ]
                    },
                }
            ]
        }
    )
    assert try_rubric(plain, '"a": 1}', Case(), sub).passed
    assert try_rubric(grouped, '"a": 1}', Case(), sub).passed


def test_target_prompt_on_a_composite_reads_the_prompt_or_is_refused():
    data = {
        "criteria": [
            {
                "id": "g",
                "kind": "none_of",
                "target": "prompt",
                "params": {"criteria": [{"kind": "contains", "params": {"text": "secret"}}]},
            }
        ]
    }
    try:
        rubric = load_rubric(data)
    except RubricError:
        return
    # The prompt has no "secret"; the output does. target: prompt must read the prompt.
    grade = try_rubric(rubric, "the secret is 42", Case(), Submission(rendered="[user]\nhello"))
    assert grade.passed, grade.criteria[0].detail
