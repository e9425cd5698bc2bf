from __future__ import annotations

import json

import pytest
from grader_helpers import criterion
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import CRITERIA, Case, RubricError, grade_case, load_rubric
from graders.null_answers import null_answer


def error_of(data) -> RubricError:
    with pytest.raises(RubricError) as e:
        load_rubric(data)
    return e.value


def test_errors_name_the_criterion_and_field():
    e = error_of({"criteria": [criterion("contains", {"text": 3})]})
    assert (e.criterion, e.field) == ("c", "params.text") and "must be text" in e.message
    assert str(e) == "criterion 'c'.params.text: must be text, not 3"
    e = error_of({"criteria": [criterion("contains", {})]})
    assert e.field == "params.text" and e.message == "is required"
    e = error_of({"criteria": [criterion("contains", {"text": "x"}, colour="red")]})
    assert e.field == "colour"
    e = error_of({"criteria": [criterion("contains", {"text": "x"}, with_prefill="yes")]})
    assert e.field == "with_prefill"


def test_a_criterion_id_is_at_most_100_characters_at_any_level():
    load_rubric({"criteria": [criterion("valid_json", id="x" * 100)]})
    e = error_of({"criteria": [criterion("valid_json", id="x" * 101)]})
    assert (e.field, e.message) == ("id", "criterion 1's id is 101 characters; at most 100")
    child = criterion("valid_json", id="y" * 101)
    e = error_of({"criteria": [criterion("all_of", {"criteria": [child]})]})
    assert (e.field, e.message) == ("id", "c.criteria[0]'s id is 101 characters; at most 100")


def test_an_unknown_kind_lists_the_valid_ones():
    e = error_of({"criteria": [criterion("containz")]})
    assert e.field == "kind"
    assert all(name in e.message for name in CRITERIA)
    assert error_of({"criteria": [criterion(["regex"])]}).field == "kind"  # not a TypeError


def test_rubric_level_fields_are_checked():
    assert (
        error_of({"criteria": [criterion("valid_json")], "unavailable": "maybe"}).field
        == "unavailable"
    )
    assert (
        error_of({"criteria": [criterion("valid_json")], "samples": {"good": [3]}}).field
        == "samples.good[0]"
    )
    assert (
        error_of({"criteria": [criterion("valid_json")], "pass_threshold": 2}).field
        == "pass_threshold"
    )
    assert error_of({"criteria": []}).field == "criteria"


def test_a_case_reference_must_name_a_key():
    e = error_of({"criteria": [criterion("equals", {"text": {"from_case": ""}})]})
    assert e.field == "params.text.from_case"


# Rubrics built from valid pieces, for the properties below.
TEXT = st.text(alphabet="abcAB .!?\n", min_size=1, max_size=8)
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "strip": st.booleans(),
        "ignore_case": st.booleans(),
        "collapse_whitespace": st.booleans(),
        "weight": st.sampled_from([0.5, 1, 2]),
        "negate": st.booleans(),
        "with_prefill": st.booleans(),
        "visible": st.booleans(),
        "feedback": st.fixed_dictionaries({"fail": st.just("Try again.")}),
    },
)
LEAVES = st.one_of(
    st.builds(lambda t: ("contains", {"text": t}), TEXT),
    st.builds(lambda t: ("not_contains", {"text": t}), TEXT),
    st.builds(lambda ts: ("contains_any", {"texts": ts}), st.lists(TEXT, min_size=1, max_size=3)),
    st.builds(lambda t: ("equals", {"text": t}), TEXT),
    st.builds(lambda t: ("ends_with", {"text": [t]}), TEXT),
    st.builds(lambda ts: ("one_of", {"labels": ts}), st.lists(TEXT, min_size=1, max_size=3)),
    st.builds(lambda n: ("length", {"unit": "characters", "max": n}), st.integers(0, 20)),
    st.builds(lambda n: ("word_count", {"min": n}), st.integers(0, 3)),
    st.builds(lambda p: ("regex", {"pattern": p}), st.sampled_from(["a+", "^b", "[.!?]$", "A|B"])),
    st.just(("valid_json", {})),
    st.just(("equals", {"text": {"from_case": "label"}})),
    st.builds(lambda x: ("levenshtein", {"threshold": x}), st.sampled_from([0.0, 0.5, 1.0])),
    st.builds(lambda x: ("rouge_l", {"threshold": x}), st.sampled_from([0.0, 0.5, 1.0])),
    st.just(("markdown_list", {})),
)


@st.composite
def criteria(draw, depth: int = 0):
    kind, params = draw(
        LEAVES
        if depth >= 2
        else st.one_of(
            LEAVES, st.sampled_from(["all_of", "any_of", "none_of"]).map(lambda k: (k, None))
        )
    )
    if params is None:
        params = {"criteria": draw(st.lists(criteria(depth + 1), min_size=1, max_size=3))}
    return {"kind": kind, "params": params, **draw(OPTIONS)}


@st.composite
def rubrics(draw):
    items = draw(st.lists(criteria(), min_size=1, max_size=4))
    for i, item in enumerate(items):
        item["id"] = f"c{i}"
        item["weight"] = item.get("weight", 1)
    return {
        "pass_threshold": draw(st.sampled_from([0, 0.5, 1])),
        "criteria": items,
        "require_all_cases": draw(st.booleans()),
        "unavailable": draw(st.sampled_from(["fail", "skip"])),
    }


OUTPUTS = st.text(alphabet='abAB .!?\n{}"1-', max_size=30)
CASES = st.builds(lambda label, ref: Case(expected={"label": label}, reference=ref), TEXT, TEXT)


@settings(max_examples=150, deadline=None)
@given(rubrics())
def test_a_rubric_round_trips_through_json_unchanged(data):
    rubric = load_rubric(data)
    again = load_rubric(json.loads(json.dumps(rubric.to_dict())))
    assert again == rubric and again.to_dict() == rubric.to_dict()


@settings(max_examples=150, deadline=None)
@given(rubrics(), OUTPUTS, CASES)
def test_scores_stay_in_0_1_and_grading_is_deterministic(data, output, case):
    rubric = load_rubric(data)
    first, second = grade_case(rubric, output, case), grade_case(rubric, output, case)
    assert first == second
    assert 0 <= first.score <= 1
    assert all(0 <= c.score <= 1 for c in first.criteria)
    json.dumps(first.to_dict())


@settings(max_examples=150, deadline=None)
@given(criteria(), OUTPUTS, CASES)
def test_negation_flips_pass(item, output, case):
    item = {**item, "id": "c", "negate": False}
    plain = grade_case(load_rubric({"criteria": [item]}), output, case).criteria[0]
    negated = grade_case(
        load_rubric({"criteria": [{**item, "negate": True}]}), output, case
    ).criteria[0]
    if null_answer(output):  # nothing to grade: 0 either way round
        assert plain.score == negated.score == 0
    elif plain.status == "ok":
        assert negated.passed is not plain.passed
        assert negated.score == pytest.approx(1 - plain.score)
    else:
        assert not plain.passed and not negated.passed
