"""lessons.review.decisions: an instructor's decision regrades the attempt through the one
scoring path and stays through later regrades; an override sets the score by hand. Both are
in the audit trail and in the learner's progress."""

from __future__ import annotations

from unittest.mock import Mock

import pytest

from lessons.authoring import regrading
from lessons.models import Regrade
from lessons.review import decisions
from lessons.review.models import AuditEntry, Decision, Override, Progress, ReviewItem
from sandbox.models import Attempt, UsageRecord
from tests.conftest import (
    JUDGED_RUBRIC,
    UNDECIDED_JUDGE_STUB,
    make_attempt,
    make_exercise,
    run_queued,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def undecided(learner) -> Attempt:
    exercise = make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB)
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score, attempt.passed) == ("graded", 0.5, False)
    return attempt


def test_an_output_the_judge_could_not_decide_waits_in_the_queue(undecided):
    item = ReviewItem.objects.get()
    assert (item.attempt_id, item.criterion_id, item.reason) == (
        undecided.pk,
        "friendly",
        "needs_review",
    )
    assert Progress.objects.get().needs_review == 1


def test_deciding_it_met_regrades_the_attempt_and_resolves_the_item(undecided, instructor):
    run = undecided.runs.get()
    decisions.decide(run, "friendly", True, "Warm and polite.", instructor)
    undecided.refresh_from_db()
    assert (undecided.score, undecided.passed) == (1.0, True)
    friendly = {c["id"]: c for c in undecided.runs.get().criteria}["friendly"]
    assert friendly["status"] == "ok" and friendly["passed"]
    assert friendly["detail"] == "An instructor reviewed this: met."
    assert "Warm and polite." not in str(undecided.runs.get().criteria), (
        "the note is not the learner's"
    )
    assert ReviewItem.objects.get().resolved_at is not None
    progress = Progress.objects.get()
    assert (progress.passed, progress.needs_review, progress.best_score) == (True, 0, 1.0)
    decision = Decision.objects.get()
    assert (decision.judge_status, decision.judge_passed) == ("needs_review", None)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.score_before, entry.score_after) == (
        "decision",
        instructor,
        0.5,
        1.0,
    )
    assert entry.summary == "friendly on Ada: met"


def test_a_changed_decision_is_audited_and_keeps_the_judges_first_verdict(undecided, instructor):
    run = undecided.runs.get()
    decisions.decide(run, "friendly", True, "", instructor)
    decisions.decide(run, "friendly", False, "Too curt.", instructor)
    undecided.refresh_from_db()
    assert (undecided.score, undecided.passed) == (0.5, False)
    assert Decision.objects.get().judge_status == "needs_review"
    assert list(AuditEntry.objects.values_list("summary", flat=True)) == [
        "friendly on Ada: met",
        "friendly on Ada: not met (was met)",
    ]


def test_a_later_regrade_keeps_the_decision(undecided, instructor):
    decisions.decide(undecided.runs.get(), "friendly", True, "", instructor)
    regrade = Regrade.objects.create(exercise=undecided.exercise, requested_by=instructor)
    regrading.run(regrade.pk, publish=Mock())
    undecided.refresh_from_db()
    assert undecided.passed and ReviewItem.objects.filter(resolved_at=None).count() == 0


def test_a_criterion_the_rubric_does_not_have_is_refused(undecided, instructor):
    with pytest.raises(decisions.ReviewError, match="no criterion 'kind'"):
        decisions.decide(undecided.runs.get(), "kind", True, "", instructor)
    assert not Decision.objects.exists() and not AuditEntry.objects.exists()


def test_an_attempt_still_running_cannot_be_decided(learner, instructor):
    attempt = make_attempt(learner, make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB))
    run = attempt.runs.create(position=0, case_name="Ada")
    with pytest.raises(decisions.ReviewError, match="graded attempt"):
        decisions.decide(run, "friendly", True, "", instructor)


def test_an_override_sets_the_score_and_passes_at_the_threshold(undecided, instructor):
    decisions.override(undecided, 1.0, "Judged by hand.", instructor)
    progress = Progress.objects.get()
    assert (progress.best_score, progress.passed) == (1.0, True)
    undecided.refresh_from_db()
    assert undecided.score == 0.5, "the graded score is kept beside the override"
    decisions.override(undecided, 0.9, "Not quite.", instructor)
    assert Override.objects.get().passed is False
    decisions.clear_override(undecided, instructor)
    assert not Override.objects.exists()
    assert Progress.objects.get().best_score == 0.5
    assert list(AuditEntry.objects.values_list("summary", flat=True)) == [
        "score 50% → 100%",
        "score 100% → 90%",
        "score 90% → 50% (as graded)",
    ]


@pytest.mark.parametrize(
    ("score", "reason", "message"),
    [(1.5, "Too high", "between 0 and 100%"), (0.5, "  ", "Give a reason")],
)
def test_a_bad_override_is_refused_and_changes_nothing(
    undecided, instructor, score, reason, message
):
    with pytest.raises(decisions.ReviewError, match=message):
        decisions.override(undecided, score, reason, instructor)
    assert not Override.objects.exists() and not AuditEntry.objects.exists()


def test_clearing_no_override_is_refused(undecided, instructor):
    with pytest.raises(decisions.ReviewError, match="not overridden"):
        decisions.clear_override(undecided, instructor)


def test_a_decision_asks_no_judge_and_leaves_the_other_outputs_waiting(learner, instructor):
    exercise = make_exercise(
        rubric=JUDGED_RUBRIC,
        stub=UNDECIDED_JUDGE_STUB,
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Bo", "variables": {"name": "Bo"}},
        ],
    )
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    calls_before = UsageRecord.objects.count()
    first = attempt.runs.get(case_name="Ada")
    decisions.decide(first, "friendly", True, "", instructor)
    assert UsageRecord.objects.count() == calls_before, "nothing billed, no judge asked"
    open_items = ReviewItem.objects.filter(resolved_at=None)
    assert list(open_items.values_list("run__case_name", flat=True)) == ["Bo"]
    attempt.refresh_from_db()
    assert not attempt.passed, "Bo still needs review"


def test_a_criterion_no_person_needs_to_decide_is_refused(undecided, instructor):
    with pytest.raises(decisions.ReviewError, match="not for a person to decide"):
        decisions.decide(undecided.runs.get(), "greets", False, "", instructor)
    undecided.refresh_from_db()
    assert undecided.score == 0.5 and not Decision.objects.exists()


def test_after_another_judge_changed_a_decision_waits_for_a_regrade(learner, instructor):
    polite = {
        "id": "polite",
        "kind": "llm_judge",
        "params": {"model": "stub:scripted", "items": ["The reply is polite."]},
    }
    exercise = make_exercise(
        rubric={**JUDGED_RUBRIC, "criteria": [*JUDGED_RUBRIC["criteria"], polite]},
        stub=UNDECIDED_JUDGE_STUB,
    )
    attempt = make_attempt(learner, exercise)
    run_queued()
    attempt.refresh_from_db()
    polite["params"]["items"] = ["The reply is very polite."]
    exercise.rubric = {**JUDGED_RUBRIC, "criteria": [*JUDGED_RUBRIC["criteria"], polite]}
    exercise.save()
    with pytest.raises(decisions.ReviewError, match="regrade the exercise first"):
        decisions.decide(attempt.runs.get(), "friendly", True, "", instructor)
    assert not Decision.objects.exists()
