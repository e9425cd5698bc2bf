"""Attempt's state transitions (conditional UPDATEs) and Attempt.objects.visible_to."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from sandbox.models import Attempt
from tests.conftest import make_attempt

LEASE = 60  # seconds


def stored(attempt: Attempt) -> Attempt:
    return Attempt.objects.get(id=attempt.id)


def claim(attempt: Attempt) -> Attempt | None:
    return Attempt.objects.claim(attempt.id, LEASE)


def test_claim_moves_a_queued_attempt_to_running_and_returns_it(learner, exercise):
    attempt = make_attempt(learner, exercise)
    mine = claim(attempt)
    assert mine is not None
    assert mine.status == stored(attempt).status == Attempt.RUNNING
    assert mine.started_at == stored(attempt).started_at is not None
    assert mine.exercise == exercise


def test_claim_takes_a_lease_and_counts_the_delivery(learner, exercise):
    attempt = make_attempt(learner, exercise)
    before = timezone.now()
    mine = claim(attempt)
    row = stored(attempt)
    assert row.deliveries == mine.deliveries == 1
    assert row.lease_expires_at == mine.lease_expires_at >= before + timedelta(seconds=LEASE)


def test_claim_takes_over_a_running_attempt_whose_lease_has_expired(learner, exercise):
    attempt = make_attempt(learner, exercise)
    claim(attempt)
    Attempt.objects.filter(id=attempt.id).update(lease_expires_at=timezone.now() - timedelta(1))
    assert claim(attempt) is not None
    assert stored(attempt).deliveries == 2
    assert stored(attempt).lease_expires_at > timezone.now()


def test_claim_does_not_take_over_a_running_attempt_within_its_lease(learner, exercise, caplog):
    attempt = make_attempt(learner, exercise)
    claim(attempt)
    assert claim(attempt) is None
    assert stored(attempt).deliveries == 1
    assert f"attempt {attempt.id} not claimed: lease held" in caplog.text


def test_claim_leaves_final_attempts_alone(learner, exercise, caplog):
    graded = make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    failed = make_attempt(learner, exercise, status=Attempt.ERROR, error="Gave up.")
    assert claim(graded) is None and claim(failed) is None
    assert stored(graded).status == Attempt.GRADED
    assert stored(failed).status == Attempt.ERROR
    assert f"attempt {graded.id} not claimed: already final" in caplog.text


def test_finish_moves_a_running_attempt_to_graded(learner, exercise):
    attempt = claim(make_attempt(learner, exercise))
    assert attempt.finish(0.75, False) is True
    row = stored(attempt)
    assert (row.status, row.score, row.passed) == (Attempt.GRADED, 0.75, False)
    assert row.finished_at is not None
    assert attempt.status == Attempt.GRADED


def test_finish_changes_nothing_on_a_queued_attempt(learner, exercise):
    attempt = make_attempt(learner, exercise)
    assert attempt.finish(1.0, True) is False
    row = stored(attempt)
    assert (row.status, row.score, row.passed) == (Attempt.QUEUED, None, None)
    assert row.finished_at is None
    assert attempt.status == Attempt.QUEUED
    assert attempt.score is None


def test_finish_does_not_grade_twice(learner, exercise):
    attempt = claim(make_attempt(learner, exercise))
    attempt.finish(0.5, False)
    late = stored(attempt)
    late.status = Attempt.RUNNING  # a stale copy that still believes it is running
    assert late.finish(1.0, True) is False
    assert (stored(attempt).score, stored(attempt).passed) == (0.5, False)


def test_fail_moves_a_queued_or_running_attempt_to_error(learner, exercise):
    running = claim(make_attempt(learner, exercise))
    queued = make_attempt(learner, exercise)
    for attempt in (queued, running):
        assert attempt.fail("provider", "The model failed.") is True
        row = stored(attempt)
        assert (row.status, row.error_code, row.error) == (
            Attempt.ERROR,
            "provider",
            "The model failed.",
        )
        assert row.finished_at is not None


def test_fail_changes_nothing_on_a_graded_attempt(learner, exercise):
    attempt = claim(make_attempt(learner, exercise))
    attempt.finish(1.0, True)
    assert attempt.fail("internal", "Too late.") is False
    row = stored(attempt)
    assert (row.status, row.score, row.passed, row.error) == (Attempt.GRADED, 1.0, True, "")
    assert attempt.status == Attempt.GRADED


def test_fail_keeps_the_first_reason(learner, exercise):
    attempt = make_attempt(learner, exercise)
    attempt.fail("provider", "First reason.")
    assert stored(attempt).fail("internal", "Second reason.") is False
    assert stored(attempt).error == "First reason."


def test_is_final_and_score_percent(learner, exercise):
    attempt = make_attempt(learner, exercise)
    assert not attempt.is_final
    assert attempt.score_percent is None
    attempt = claim(attempt)
    attempt.finish(2 / 3, False)
    assert attempt.is_final
    assert attempt.score_percent == 67


def test_visible_to_returns_only_the_learners_own_attempts(learner, other_learner, exercise):
    mine = {make_attempt(learner, exercise).id, make_attempt(learner, exercise).id}
    theirs = {make_attempt(other_learner, exercise).id}
    assert set(Attempt.objects.visible_to(learner).values_list("id", flat=True)) == mine
    assert set(Attempt.objects.visible_to(other_learner).values_list("id", flat=True)) == theirs


def test_visible_to_returns_nothing_to_an_anonymous_user(learner, exercise):
    make_attempt(learner, exercise)
    assert not Attempt.objects.visible_to(AnonymousUser()).exists()


def test_get_absolute_url_is_the_attempt_page(learner, exercise):
    attempt = make_attempt(learner, exercise)
    assert attempt.get_absolute_url() == f"/attempts/{attempt.id}/"


def test_visible_to_includes_the_reference_runs_of_the_courses_one_teaches(
    learner, instructor, other_instructor, exercise
):
    check = make_attempt(learner, exercise, is_reference=True)  # started by a co-instructor
    exercise.lesson.course.instructors.add(learner)
    assert Attempt.objects.visible_to(instructor).filter(id=check.id).exists()
    assert not Attempt.objects.visible_to(other_instructor).filter(id=check.id).exists()
    learners_own = make_attempt(learner, exercise)
    assert not Attempt.objects.visible_to(instructor).filter(id=learners_own.id).exists()
