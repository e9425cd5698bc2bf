"""The calibration arithmetic: accuracy, Cohen's kappa and false-pass rate of a judge's
outcomes on labelled outputs, worked by hand. No database."""

from __future__ import annotations

import doctest

import pytest

from graders import calibration
from graders.calibration import (
    FAILED,
    NEEDS_REVIEW,
    PASSED,
    Label,
    Thresholds,
    accuracy,
    cohen_kappa,
    measure,
    shortfalls,
)
from graders.rubric import load_rubric


def test_its_worked_examples_hold():
    assert doctest.testmod(calibration).failed == 0


def table(yes_yes: int, yes_no: int, no_yes: int, no_no: int) -> list[tuple[bool, bool]]:
    """The pairs of a 2×2 agreement table: (first rater, second rater)."""
    return (
        [(True, True)] * yes_yes
        + [(True, False)] * yes_no
        + [(False, True)] * no_yes
        + [(False, False)] * no_no
    )


def test_kappa_of_textbook_tables():
    # Wikipedia, "Cohen's kappa", the worked example and the two of "Same percentages but
    # different numbers".
    assert cohen_kappa(table(20, 5, 10, 15)) == pytest.approx(0.4)
    assert cohen_kappa(table(45, 15, 25, 15)) == pytest.approx(0.1304, abs=1e-4)
    assert cohen_kappa(table(25, 35, 5, 35)) == pytest.approx(0.2593, abs=1e-4)


def test_kappa_of_perfect_agreement_and_of_agreement_no_better_than_chance():
    assert cohen_kappa(table(3, 0, 0, 2)) == pytest.approx(1.0)
    assert cohen_kappa(table(0, 3, 2, 0)) < 0
    # The judge says yes to everything: it agrees as often as chance would.
    assert cohen_kappa(table(3, 2, 0, 0)) == pytest.approx(0.0)


def test_kappa_is_undefined_with_no_pairs_or_when_both_raters_use_one_class():
    assert cohen_kappa([]) is None
    assert cohen_kappa(table(4, 0, 0, 0)) is None
    assert cohen_kappa(table(0, 0, 0, 4)) is None


def test_accuracy_is_the_share_of_agreeing_pairs():
    assert accuracy(table(20, 5, 10, 15)) == pytest.approx(0.7)
    assert accuracy([]) is None


def test_kappa_of_a_hand_computed_table():
    # 20 outputs, 10 labelled met. The judge passes 9 of them and 2 of the 10 not met.
    # Observed 17/20 = 0.85; the label says yes half the time, the judge 11/20 = 0.55;
    # chance 0.5 × 0.55 + 0.5 × 0.45 = 0.5; kappa (0.85 - 0.5) / 0.5 = 0.7.
    pairs = [(True, PASSED)] * 9 + [(True, FAILED)]
    pairs += [(False, PASSED)] * 2 + [(False, FAILED)] * 8
    result = measure(pairs)
    assert result.accuracy == pytest.approx(0.85)
    assert result.kappa == pytest.approx(0.7)
    assert result.false_pass_rate == pytest.approx(0.2)
    assert (result.n, result.met, result.false_passes, result.needs_review) == (20, 10, 2, 0)


def test_a_judge_that_fails_everything_is_accurate_on_not_met_labels_but_has_no_kappa_gain():
    result = measure([(True, FAILED)] + [(False, FAILED)] * 9)
    assert result.accuracy == pytest.approx(0.9)
    assert result.kappa == 0.0
    assert result.false_pass_rate == 0.0


def test_needs_review_is_never_a_pass():
    result = measure([(True, NEEDS_REVIEW), (False, NEEDS_REVIEW)])
    assert result.accuracy == 0.5
    assert result.false_pass_rate == 0.0
    assert result.needs_review == 2


def test_no_labels_give_no_figures():
    result = measure([])
    assert (result.n, result.accuracy, result.kappa, result.false_pass_rate) == (
        0,
        None,
        None,
        None,
    )
    assert shortfalls(result) == ["there are no labelled outputs"]


def test_it_refuses_an_unknown_outcome():
    with pytest.raises(ValueError, match="not 'ok'"):
        measure([(True, "ok")])


def test_a_perfect_judge_on_both_classes_has_no_shortfall():
    assert shortfalls(measure([(True, PASSED)] * 5 + [(False, FAILED)] * 5)) == []


def test_one_false_pass_in_fifty_not_met_labels_is_within_two_percent():
    pairs = [(True, PASSED)] * 50 + [(False, PASSED)] + [(False, FAILED)] * 49
    assert shortfalls(measure(pairs)) == []
    pairs = [(True, PASSED)] * 50 + [(False, PASSED)] * 2 + [(False, FAILED)] * 48
    assert shortfalls(measure(pairs)) == ["false-pass rate 4% is above 2%"]


def test_a_set_of_one_class_falls_short_whatever_the_judge_did():
    assert shortfalls(measure([(True, PASSED)] * 10)) == [
        "no output is labelled not met, so no false-pass rate can be measured",
        "every label is of one class, so kappa is undefined: label both kinds",
    ]
    assert shortfalls(measure([(False, FAILED)] * 10)) == [
        "every label is of one class, so kappa is undefined: label both kinds"
    ]


def test_figures_at_the_thresholds_pass():
    # Accuracy 9/10; chance 0.5 × 0.4 + 0.5 × 0.6 = 0.5, kappa (0.9 - 0.5) / 0.5 = 0.8.
    pairs = [(True, PASSED)] * 4 + [(True, FAILED)] + [(False, FAILED)] * 5
    assert shortfalls(measure(pairs)) == []


def test_thresholds_can_be_loosened():
    loose = Thresholds(min_accuracy=0.5, max_false_pass_rate=0.5, min_kappa=0.0)
    assert shortfalls(measure([(True, PASSED), (True, FAILED), (False, FAILED)]), loose) == []


JUDGED = {
    "pass_threshold": 1.0,
    "criteria": [
        {"id": "short", "kind": "word_count", "params": {"max": 3}},
        {
            "id": "polite",
            "kind": "llm_judge",
            "weight": 0,
            "params": {
                "model": "judge",
                "items": ["The reply says please."],
                "requires": ["short"],
                "labelled": [{"output": "Please sit.", "met": True, "note": "polite"}],
            },
        },
    ],
}


def test_alone_keeps_the_criterion_with_a_weight_and_without_what_it_requires():
    rubric = calibration.alone(load_rubric(JUDGED).criteria[1].to_dict())
    assert [c.id for c in rubric.criteria] == ["polite"]
    assert rubric.criteria[0].weight == 1
    assert rubric.criteria[0].params["requires"] == []


def test_the_labelled_param_gives_labels_named_by_position():
    [label] = calibration.labelled(load_rubric(JUDGED).criteria[1])
    assert label == Label("Please sit.", met=True, note="polite", source="labelled[0]")


def test_judge_label_without_a_judge_is_not_a_pass():
    rubric = calibration.alone(load_rubric(JUDGED).criteria[1].to_dict())
    result = calibration.judge_label(rubric, Label("Please sit.", met=True), judge=None)
    assert result.status == "unavailable"
    assert calibration.outcome(result) == FAILED


def test_labels_round_trip_through_json_shapes():
    label = Label("Hi", met=False, expected={"k": 1}, prefill="{", note="injected", source="x")
    assert Label.from_dict(label.to_dict()) == label
    assert Label.from_dict({"output": "Hi", "met": True}, source="labelled[0]").source == (
        "labelled[0]"
    )
