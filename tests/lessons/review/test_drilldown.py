"""lessons.review.drilldown: what a page of a learner's attempts holds, for an instructor and
for the learner: the prompt as written, each case's output against the attempt before, and
only what learners may see of criteria and hidden runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lessons.review.drilldown import history, learner_criteria, output_changes, prompt_texts
from lessons.review.models import Decision
from sandbox.models import Attempt, Run
from tests.conftest import make_attempt, make_exercise, make_run

pytestmark = pytest.mark.django_db


def test_the_prompt_lists_its_non_empty_parts_and_which_the_learner_wrote(learner):
    exercise = make_exercise(
        editable_fields=["user"],
        examples=[
            {"role": "user", "text": "Hi", "editable": False},
            {"role": "assistant", "text": "Hello!", "editable": True},
        ],
    )
    attempt = make_attempt(
        learner,
        exercise,
        system_prompt="Be kind.",
        user_prompt="Greet {name}.",
        examples=[["user", "Hi"], ["assistant", "Hello, friend!"]],
    )
    assert prompt_texts(exercise, attempt) == [
        ("System", "Be kind.", False),
        ("User", "Greet {name}.", True),
        ("Example 1 · user", "Hi", False),
        ("Example 2 · assistant", "Hello, friend!", True),
    ]


def runs(*specs) -> list[Run]:
    return [
        Run(case_id=case, case_name=name, sample=sample, output=output, hidden=hidden)
        for case, name, sample, output, hidden in specs
    ]


def test_outputs_are_paired_by_case_and_sample_and_hidden_ones_left_out_for_learners():
    before = runs((1, "Ada", 0, "Hi", False), (1, "Ada", 1, "Hey", False), (2, "Zed", 0, "x", True))
    now = runs(
        (1, "Ada", 0, "Hi", False),
        (1, "Ada", 1, "Hello", False),
        (2, "Zed", 0, "y", True),
        (3, "New", 0, "z", False),
    )
    changes = output_changes(now, before, for_instructor=True)
    assert [c.label for c in changes] == ["Ada · sample 1", "Ada · sample 2", "Zed", "New"]
    assert [c.diff is None for c in changes] == [True, False, False, False]
    assert [c.label for c in output_changes(now, before, for_instructor=False)] == [
        "Ada · sample 1",
        "Ada · sample 2",
        "New",
    ]


def test_learners_see_visible_criteria_and_a_decisions_verdict_without_its_note(
    learner, instructor
):
    attempt = make_attempt(learner, make_exercise(), status=Attempt.GRADED)
    run = make_run(
        attempt,
        criteria=[
            {"id": "shown", "passed": False, "detail": "why"},
            {"id": "backstage", "passed": False, "visible": False, "detail": "secret"},
            {"id": "judged", "passed": True, "detail": "An instructor reviewed this: met. Nice."},
        ],
    )
    Decision.objects.create(run=run, criterion_id="judged", met=True, note="Nice.")
    views = learner_criteria(Run.objects.prefetch_related("decisions").get(pk=run.pk))
    assert [(v.id, v.detail, v.decision) for v in views] == [
        ("shown", "why", None),
        ("judged", "An instructor reviewed this: met.", None),
    ]


def test_a_page_numbers_attempts_from_the_first_and_diffs_the_last_against_the_next_page(
    learner,
):
    exercise = make_exercise()
    for minutes in range(22):
        attempt = make_attempt(
            learner,
            exercise,
            status=Attempt.GRADED,
            user_prompt=f"prompt {minutes}",
            created_at=timezone.now() - timedelta(minutes=minutes),
        )
        make_run(attempt)
    first = history(learner.pk, exercise, 1, for_instructor=False)
    assert (first.total, first.has_older, len(first.attempts)) == (22, True, 20)
    assert [a.number for a in first.attempts[:2]] == [22, 21]
    last = first.attempts[-1]
    assert last.number == 3 and last.previous is not None
    assert [c.label for c in last.prompt_changes] == ["User"]
    second = history(learner.pk, exercise, 2, for_instructor=False)
    assert [a.number for a in second.attempts] == [2, 1] and not second.has_older
    assert second.attempts[-1].previous is None and second.attempts[-1].prompt_changes == []
