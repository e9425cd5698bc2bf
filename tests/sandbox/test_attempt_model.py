"""Attempt's state transitions (conditional UPDATEs) and Attempt.objects.visible_to."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons.models import Exercise
from sandbox.models import WALK_UNFINISHED_IN_ORDER, Attempt
from tests.conftest import make_attempt

LEASE = 60  # seconds


def stored(attempt: Attempt) -> Attempt:
    return Attempt.objects.get(id=attempt.id)


def claim(limit: int = 10) -> list[Attempt]:
    return Attempt.objects.claim_next(limit, LEASE)


def test_claim_moves_queued_attempts_to_running_and_returns_them(learner, exercise):
    first, second = make_attempt(learner, exercise), make_attempt(learner, exercise)
    claimed = claim()
    assert [a.id for a in claimed] == [first.id, second.id]
    for attempt, mine in zip((first, second), claimed, strict=True):
        assert mine.status == stored(attempt).status == Attempt.RUNNING
        assert mine.started_at == stored(attempt).started_at is not None
        assert mine.exercise == exercise
        assert mine.exercise_revision == Exercise.objects.get(pk=exercise.pk).revision


def test_claim_takes_the_oldest_first_up_to_the_limit(learner, exercise):
    now = timezone.now()
    newer = make_attempt(learner, exercise, created_at=now)
    older = make_attempt(learner, exercise, created_at=now - timedelta(seconds=5))
    assert [a.id for a in claim(1)] == [older.id]
    assert stored(newer).status == Attempt.QUEUED


def test_claim_leaves_out_what_another_claim_has(learner, exercise):
    taken = make_attempt(learner, exercise)
    assert [a.id for a in claim()] == [taken.id]
    started_at = stored(taken).started_at
    free = make_attempt(learner, exercise)
    assert [a.id for a in claim()] == [free.id]
    assert stored(taken).started_at == started_at
    assert stored(taken).deliveries == 1


def test_claim_takes_a_lease_and_counts_the_delivery(learner, exercise):
    attempt = make_attempt(learner, exercise)
    before = timezone.now()
    (mine,) = claim()
    row = stored(attempt)
    assert row.deliveries == mine.deliveries == 1
    assert row.lease_expires_at == mine.lease_expires_at >= before + timedelta(seconds=LEASE)


def test_claim_takes_over_a_running_attempt_whose_lease_has_expired(learner, exercise):
    attempt = make_attempt(learner, exercise)
    claim()
    Attempt.objects.filter(id=attempt.id).update(lease_expires_at=timezone.now() - timedelta(1))
    assert [a.id for a in claim()] == [attempt.id]
    assert stored(attempt).deliveries == 2
    assert stored(attempt).lease_expires_at > timezone.now()


def test_claim_does_not_take_over_a_running_attempt_within_its_lease(learner, exercise):
    attempt = make_attempt(learner, exercise)
    claim()
    assert claim() == []
    assert stored(attempt).deliveries == 1


def test_claim_leaves_out_final_attempts(learner, exercise):
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    failed = make_attempt(learner, exercise, status=Attempt.ERROR, error="Gave up.")
    assert claim() == []
    assert stored(attempt).status == Attempt.GRADED
    assert stored(failed).status == Attempt.ERROR


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite keeps no dead index entries to skip"
)


@on_postgresql
def test_the_claim_walks_the_index_of_unfinished_attempts_in_order(learner, exercise):
    make_attempt(learner, exercise)
    sql, params = Attempt.objects.claim_statement(32, LEASE)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(WALK_UNFINISHED_IN_ORDER)
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using attempt_unfinished" in plan, plan
    assert "Bitmap" not in plan and "Sort" not in plan, plan


@on_postgresql
def test_the_claim_runs_with_the_planner_told_so(learner, exercise):
    make_attempt(learner, exercise)
    with CaptureQueriesContext(connection) as queries:
        assert len(claim()) == 1
    statements = [q["sql"] for q in queries]
    walk = statements.index(WALK_UNFINISHED_IN_ORDER)
    assert statements[walk + 1].startswith('UPDATE "sandbox_attempt"')


def test_finish_moves_a_running_attempt_to_graded(learner, exercise):
    attempt = make_attempt(learner, exercise)
    claim()
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
    attempt = make_attempt(learner, exercise)
    claim()
    attempt.finish(0.5, False)
    late = stored(attempt)
    late.status = Attempt.RUNNING  # a stale copy that still believes it is running
    assert late.finish(1.0, True) is False
    assert (stored(attempt).score, stored(attempt).passed) == (0.5, False)


def test_fail_moves_a_queued_or_running_attempt_to_error(learner, exercise):
    running = make_attempt(learner, exercise)
    claim()
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
    attempt = make_attempt(learner, exercise)
    claim()
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
    claim()
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
