"""The cascade figure (lessons.cascade_bench): judge calls per attempt on the starter
course's judge exercises, counted as the grader makes them."""

from __future__ import annotations

import pytest

from lessons.cascade_bench import JUDGE_EXERCISES, measure, total


@pytest.fixture(scope="module")
def lines():
    return [measure(slug) for slug in JUDGE_EXERCISES]


def test_every_call_is_counted_as_a_grade_or_a_check(lines):
    for line in [*lines, total(lines)]:
        assert line["cascade"] == pytest.approx(line["cascade_grade"] + line["cascade_checks"])


def test_the_cascade_asks_the_judge_less_than_grading_every_case(lines):
    by_slug = {line["name"].rsplit(".", 1)[1]: line for line in lines}
    # Three of late-delivery-reply's five prompts get a reply unsigned or over 80 words.
    assert (
        by_slug["late-delivery-reply"]["cascade"]
        < by_slug["late-delivery-reply"]["without_requires"]
    )
    for line in lines:
        assert line["cascade"] <= line["without_requires"]
        # Grade calls: at most one per case and judge criterion, as llm-rubric makes.
        assert line["cascade_grade"] <= line["one_call_per_case"]
