"""lessons.review.statistics: the pure numbers of the exercise statistics page."""

from __future__ import annotations

import pytest

from graders import load_rubric
from lessons.review.statistics import (
    agreement,
    case_totals,
    criteria_most_failed,
    criterion_texts,
    histogram,
    histogram_chart,
    median,
    merge_failure_groups,
    nice_top,
)


def test_the_median_of_odd_and_even_counts_and_of_nothing():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5
    assert median([]) is None


def test_the_histogram_puts_each_score_in_its_ten_percent_bin_and_full_marks_in_the_last():
    counts = histogram([0.0, 0.05, 0.099, 0.1, 0.7, 0.695, 0.999, 1.0])
    assert len(counts) == 10
    assert counts[0] == 2  # 0% and 5%; 9.9% is shown as 10%
    assert counts[1] == 2
    assert counts[6] == 0 and counts[7] == 2  # 69.5% is shown as 70%
    assert counts[9] == 2  # 99.9% shows as 100%, and 100% is in the last bin
    assert sum(counts) == 8


def test_the_histogram_clamps_out_of_range_scores_and_takes_other_bin_counts():
    assert histogram([-0.2, 1.5], bins=4) == [1, 0, 0, 1]
    assert histogram([]) == [0] * 10


def test_failure_groups_of_many_learners_are_merged_largest_first_with_a_sample():
    rows = [
        [{"criteria": ["tone"], "count": 1, "attempt": "a1"}],
        [
            {"criteria": ["length", "tone"], "count": 3, "attempt": "b1"},
            {"criteria": ["tone"], "count": 2, "attempt": "b2"},
        ],
        [{"criteria": ["tone", "length"], "count": 1, "attempt": "c1"}],
        [],
    ]
    groups = merge_failure_groups(rows)
    assert [(g.criteria, g.count) for g in groups] == [
        (("length", "tone"), 4),
        (("tone",), 3),
    ]
    # The sample is from the learner who failed that way most often.
    assert [g.attempt for g in groups] == ["b1", "b2"]


def test_attempts_an_override_failed_are_merged_apart_from_those_under_the_threshold():
    rows = [
        [{"criteria": [], "count": 1, "attempt": "a1", "overridden": True}],
        [{"criteria": [], "count": 2, "attempt": "b1"}],
        [{"criteria": [], "count": 1, "attempt": "c1", "overridden": True}],
    ]
    groups = merge_failure_groups(rows)
    assert [(g.overridden, g.count, g.attempt) for g in groups] == [
        (False, 2, "b1"),
        (True, 2, "a1"),
    ]


def test_the_criteria_most_often_failed_count_the_failing_attempts_they_failed_in():
    groups = merge_failure_groups(
        [
            [{"criteria": ["length", "tone"], "count": 4, "attempt": "a"}],
            [{"criteria": ["tone"], "count": 3, "attempt": "b"}],
            [{"criteria": [], "count": 1, "attempt": "c"}],
        ]
    )
    assert criteria_most_failed(groups) == [("tone", 7), ("length", 4)]


def test_case_results_of_many_learners_are_summed_per_case():
    rows = [{"1": [1, 2], "2": [0, 2]}, {"1": [3, 3]}, {}]
    assert case_totals(rows) == {"1": (4, 5), "2": (0, 2)}


def test_agreement_per_judge_version_counts_labels_without_a_verdict_apart():
    labels = [
        ("new", True, True),
        ("new", False, False),
        ("new", None, True),  # the judge could not decide: a label, not a verdict
        ("old", True, False),
        ("old", True, True),
        ("old", True, True),
        ("old", True, True),
    ]
    current, old = agreement(labels, current="new")
    assert (current.version, current.current, current.labels, current.judged) == (
        "new",
        True,
        3,
        2,
    )
    assert current.accuracy == 1.0 and current.kappa == pytest.approx(1.0)
    assert (old.current, old.labels, old.judged) == (False, 4, 4)
    assert old.accuracy == pytest.approx(0.75)
    assert old.kappa == pytest.approx(0.0)  # a judge that always says yes


def test_agreement_of_a_version_with_only_undecided_labels_has_no_figures():
    (row,) = agreement([("v1", None, True)], current="v2")
    assert not row.current and row.judged == 0
    assert row.accuracy is None and row.kappa is None


def test_the_chart_axis_goes_up_to_a_round_count_and_bars_scale_to_it():
    assert [nice_top(n) for n in (0, 1, 5, 7, 12, 37, 180, 4321)] == [
        1,
        1,
        5,
        10,
        20,
        50,
        200,
        5000,
    ]
    chart = histogram_chart([0, 5, 10, 0, 0, 0, 0, 0, 0, 20], width=640, height=240)
    assert chart.top_count == 20
    tallest, half = chart.bars[9], chart.bars[2]
    assert tallest.y == chart.top and tallest.height == chart.bottom - chart.top
    assert half.height == pytest.approx(tallest.height / 2)
    assert chart.bars[0].height == 0
    assert (chart.bars[0].low, chart.bars[0].high) == (0, 10)
    assert (chart.bars[9].low, chart.bars[9].high) == (90, 100)
    assert [count for _, count in chart.ticks] == [0, 4, 8, 12, 16, 20]
    assert all(bar.x + bar.width <= chart.width for bar in chart.bars)


def test_criterion_texts_are_the_fail_feedback_or_else_the_judge_items():
    rubric = load_rubric(
        {
            "criteria": [
                {
                    "id": "greets",
                    "kind": "contains",
                    "params": {"text": "hi"},
                    "feedback": {"fail": "Say hi."},
                },
                {"id": "short", "kind": "word_count", "params": {"max": 5}},
                {
                    "id": "kind",
                    "kind": "llm_judge",
                    "params": {"model": "stub:scripted", "items": ["Is kind.", "Is brief."]},
                },
            ]
        }
    )
    assert criterion_texts(rubric) == {
        "greets": "Say hi.",
        "short": "",
        "kind": "Is kind. · Is brief.",
    }
