"""L5: a null answer ("master key") earns nothing on any criterion of a starter exercise that
reads the output, judged ones included, on every test case. Criteria on the learner's prompt
are graded as ever."""

from __future__ import annotations

import time

import pytest

import graders
from lessons.cascade_bench import EXERCISES, load
from sandbox.calls import make_judge

NULL_ANSWERS = [":", ".", "Thought process:", "Let's solve this problem step by step.", ""]
SLUGS = sorted(path.stem for path in EXERCISES.glob("*.yaml"))


def test_the_starter_course_has_exercises_to_try():
    assert len(SLUGS) >= 20


@pytest.mark.parametrize("null", NULL_ANSWERS)
@pytest.mark.parametrize("slug", SLUGS)
def test_a_null_answer_scores_0_on_every_content_criterion(slug, null):
    exercise, cases = load(slug)
    rubric = graders.load_rubric(exercise.rubric)
    judge = make_judge(exercise, time.monotonic() + 60, [])
    content = {
        c.id
        for c in rubric.criteria
        if c.target == "output" and graders.CRITERIA[c.kind].reads == "output"
    }
    for case in cases:
        submission = exercise.submission(exercise.solution, case)
        grade = graders.grade_case(rubric, null, case.as_grader_case(), submission, judge=judge)
        earned = {c.id: c.score for c in grade.criteria if c.id in content and c.score > 0}
        assert earned == {}, f"{slug} / {case.name}"
        assert not grade.passed
