"""lessons.review.progress: a learner's progress on an exercise, summarized from their graded
attempts by one rule, rebuilt whenever those change, with their outputs waiting for review."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons.review import progress
from lessons.review.models import Override, Progress, ReviewItem
from lessons.review.progress import GradedAttempt, RunResult, Usage, refresh, summarize
from sandbox import runs
from sandbox.models import Attempt, UsageRecord
from tests.conftest import make_attempt, make_exercise, make_run, run_queued, slow_grading
from tests.live import wait_until

START = timezone.now()


def graded(index: int, score: float, passed: bool, *failed: str, case_id: int = 1):
    run = RunResult(case_id=case_id, passed=passed, failed=frozenset(failed))
    return GradedAttempt(f"a{index}", START + timedelta(minutes=index), score, passed, [run])


def test_summary_of_no_attempts_is_not_tried():
    summary = summarize([], Usage())
    assert summary["attempts"] == 0 and summary["best_score"] is None
    assert not summary["passed"] and summary["attempts_to_pass"] is None


def test_summary_counts_attempts_to_the_first_pass_and_groups_failures():
    attempts = [
        graded(0, 0.2, False, "tone", "length"),
        graded(1, 0.5, False, "length"),
        graded(2, 0.4, False, "length", "tone"),
        graded(3, 1.0, True),
        graded(4, 0.5, False, "length"),
    ]
    summary = summarize(attempts, Usage(10, 20, Decimal("0.5")))
    assert summary["attempts"] == 5 and summary["best_score"] == 1.0
    assert summary["passed"] and not summary["first_try_passed"]
    assert summary["attempts_to_pass"] == 4
    assert summary["passed_at"] == attempts[3].created_at
    assert summary["last_attempt_at"] == attempts[4].created_at
    assert summary["failure_groups"] == [
        {"criteria": ["length", "tone"], "count": 2, "attempt": "a2"},
        {"criteria": ["length"], "count": 2, "attempt": "a4"},
    ]
    assert summary["case_results"] == {"1": [1, 5]}
    assert (summary["input_tokens"], summary["cost_usd"]) == (10, Decimal("0.5"))


def test_a_first_try_pass():
    summary = summarize([graded(0, 1.0, True)], Usage())
    assert summary["first_try_passed"] and summary["attempts_to_pass"] == 1


@pytest.mark.django_db
def test_a_graded_attempt_brings_its_learners_progress_up_to_date(learner):
    exercise = make_exercise()
    make_attempt(learner, exercise, user_prompt="Tell {name} a story.")
    run_queued()
    make_attempt(learner, exercise, user_prompt="Please say hello to {name}.")
    run_queued()
    row = Progress.objects.get(learner=learner, exercise=exercise)
    assert (row.attempts, row.best_score, row.passed, row.attempts_to_pass) == (2, 1.0, True, 2)
    assert row.failure_groups[0]["criteria"] == ["greets", "short"]
    case_id = str(exercise.cases.get().pk)
    assert row.case_results == {case_id: [1, 2]}


@pytest.mark.django_db
def test_reference_runs_and_errors_are_not_progress(learner):
    exercise = make_exercise()
    make_attempt(learner, exercise, is_reference=True)
    make_attempt(learner, exercise, status=Attempt.ERROR)
    run_queued()
    assert refresh(learner.pk, exercise.pk).attempts == 0


@pytest.mark.django_db
def test_an_override_is_the_score_progress_counts(learner, instructor):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    make_run(attempt, passed=False, score=0.5)
    Override.objects.create(attempt=attempt, score=1.0, passed=True, reason="Fine", by=instructor)
    row = refresh(learner.pk, exercise.pk)
    assert (row.best_score, row.passed) == (1.0, True)
    assert Progress.objects.get().passed


def test_an_attempt_an_override_failed_with_no_criterion_failed_is_grouped_as_overridden():
    by_hand = RunResult(case_id=1, passed=True, failed=frozenset())
    attempts = [
        graded(0, 0.9, False),  # under the threshold, no criterion failed
        GradedAttempt("a1", START, 0.2, False, [by_hand], overridden=True),
        GradedAttempt("a2", START, 0.1, False, [by_hand], overridden=True),
        graded(3, 0.2, False, "tone"),
        GradedAttempt("a4", START, 0.3, False, [RunResult(1, False, frozenset({"tone"}))], True),
    ]
    assert summarize(attempts, Usage())["failure_groups"] == [
        {"criteria": [], "count": 2, "attempt": "a2", "overridden": True},
        {"criteria": ["tone"], "count": 2, "attempt": "a4"},  # a criterion failed: said so
        {"criteria": [], "count": 1, "attempt": "a0"},
    ]


@pytest.mark.django_db
def test_an_override_to_a_fail_groups_the_attempt_as_overridden(learner, instructor):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    make_run(attempt, passed=True, score=1.0, criteria=[{"id": "greets", "passed": True}])
    Override.objects.create(
        attempt=attempt, score=0.2, passed=False, reason="Copied", by=instructor
    )
    groups = refresh(learner.pk, exercise.pk).failure_groups
    assert groups == [{"criteria": [], "count": 1, "attempt": str(attempt.pk), "overridden": True}]


@pytest.mark.django_db
def test_usage_of_every_attempt_is_summed(learner):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=1, passed=True)
    for tokens in (3, 4):
        UsageRecord.objects.create(
            learner=learner,
            attempt=attempt,
            backend="stub",
            model="m",
            input_tokens=tokens,
            output_tokens=1,
            cost_usd=Decimal("0.01"),
        )
    row = refresh(learner.pk, exercise.pk)
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (7, 2, Decimal("0.02"))


def needs_review(criterion_id: str = "judge", **extra) -> dict:
    return {"id": criterion_id, "passed": False, "status": "needs_review", **extra}


@pytest.mark.django_db
def test_outputs_the_judge_could_not_decide_or_that_look_like_injections_wait_for_review(learner):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0, passed=False)
    run = make_run(
        attempt,
        criteria=[
            needs_review(),
            {"id": "tone", "passed": True, "status": "ok", "suspected_injection": True},
        ],
    )
    assert refresh(learner.pk, exercise.pk).needs_review == 2
    reasons = set(ReviewItem.objects.filter(run=run).values_list("criterion_id", "reason"))
    assert reasons == {("judge", "needs_review"), ("tone", "injection")}
    # Graded again without them (decided, or a new rubric): the items resolve, once.
    run.criteria = [{"id": "judge", "passed": True, "status": "ok"}]
    run.save()
    assert refresh(learner.pk, exercise.pk).needs_review == 0
    assert ReviewItem.objects.filter(resolved_at__isnull=True).count() == 0
    assert ReviewItem.objects.count() == 2


def test_a_criterion_waiting_for_review_is_no_failure_and_its_attempts_are_grouped_apart():
    criteria = [needs_review(), {"id": "tone", "passed": False, "status": "ok"}]
    run = progress.run_result(1, False, criteria)
    assert (run.failed, run.waiting) == ({"tone"}, {"judge"})
    waiting = progress.run_result(1, False, [needs_review()])
    attempts = [
        graded(0, 0.5, False, "tone"),
        GradedAttempt("a1", START, 0.5, False, [run]),
        GradedAttempt("a2", START, 0.9, False, [waiting]),
    ]
    assert summarize(attempts, Usage())["failure_groups"] == [
        {"criteria": ["tone"], "count": 1, "attempt": "a0"},
        {"criteria": ["tone"], "count": 1, "waiting": ["judge"], "attempt": "a1"},
        {"criteria": [], "count": 1, "waiting": ["judge"], "attempt": "a2"},
    ]
    # Runs not passed that wait for review are no failed runs of their case either.
    assert summarize(attempts, Usage())["case_results"] == {"1": [0, 1]}


@pytest.mark.django_db
def test_refresh_makes_the_same_queries_for_one_attempt_or_many(learner):
    exercise = make_exercise()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            refresh(learner.pk, exercise.pk)
        return len(captured)

    attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0, passed=False)
    make_run(attempt, criteria=[needs_review()])
    queries()  # opens its item
    one = queries()
    for _ in range(5):
        attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0, passed=False)
        make_run(attempt, criteria=[needs_review()])
        make_run(attempt, 1, criteria=[needs_review()])
    queries()  # opens the new items
    assert queries() == one


@pytest.mark.django_db
def test_a_new_attempt_is_counted_in_as_a_refresh_would_count_it(learner):
    exercise = make_exercise()
    for prompt in ("Tell {name} a story.", "Please say hello to {name}.", "Bye {name}"):
        make_attempt(learner, exercise, user_prompt=prompt)
        run_queued()
    counted = Progress.objects.values().get()
    rebuilt = Progress.objects.values().get() if refresh(learner.pk, exercise.pk) else None
    assert {k: v for k, v in counted.items() if k != "updated_at"} == {
        k: v for k, v in rebuilt.items() if k != "updated_at"
    }
    assert counted["attempts"] == 3 and counted["attempts_to_pass"] == 2


@pytest.mark.django_db
def test_counting_a_new_attempt_in_does_not_read_the_older_ones_again(learner):
    """A learner may have hundreds of attempts: the worker reads the new one only."""
    exercise = make_exercise()
    make_attempt(learner, exercise, user_prompt="Tell {name} a story.")
    run_queued()
    # Change an old attempt behind progress's back: only a full refresh can see it.
    Attempt.objects.update(score=0.9)
    make_attempt(learner, exercise, user_prompt="Tell {name} a tale.")
    run_queued()
    assert Progress.objects.get().best_score == 0.0
    assert refresh(learner.pk, exercise.pk).best_score == 0.9


@pytest.mark.django_db(transaction=True)
def test_a_first_attempt_counted_while_another_creates_the_row_rebuilds_it(learner, monkeypatch):
    """Two first attempts graded at once both find no row; the second insert fails on the
    unique key, and the row is rebuilt from both attempts rather than counting one."""
    from lessons.review import progress

    exercise = make_exercise()
    make_attempt(learner, exercise, user_prompt="Tell {name} a story.")
    run_queued()
    monkeypatch.setattr(progress, "locked_row", lambda learner_id, exercise_id: None)
    make_attempt(learner, exercise, user_prompt="Please say hello to {name}.")
    run_queued()
    row = Progress.objects.get()
    assert row.attempts == 2 and row.passed and row.attempts_to_pass == 2


def test_a_refresh_between_the_grade_and_its_signal_counts_the_attempt_once(learner):
    exercise = make_exercise()
    make_attempt(learner, exercise)
    real = runs.attempt_finished.send_robust

    def send(*args, **kwargs):  # an instructor's override or decision refreshes the row then
        refresh(learner.pk, exercise.pk)
        return real(*args, **kwargs)

    with patch.object(runs.attempt_finished, "send_robust", side_effect=send) as sent:
        run_queued()
    assert sent.called
    assert Progress.objects.get().attempts == 1


def in_thread(fn, *args) -> threading.Thread:
    """Start fn(*args) on a thread of its own, with a database connection of its own."""

    def target() -> None:
        try:
            fn(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def waits_for_a_lock() -> bool:
    if connection.vendor != "postgresql":  # SQLite: the write lock, which nothing reports
        time.sleep(0.5)
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_locks WHERE NOT granted")
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_a_first_attempt_graded_while_a_refresh_holds_the_row_is_counted_once(learner):
    """An instructor's refresh has read the learner's graded attempts (none) and not saved yet
    when a worker grades their first one: the worker waits for the row the refresh made and
    locked, then counts its attempt in; the refresh's empty summary does not overwrite it."""
    exercise = make_exercise()
    make_attempt(learner, exercise)
    read, go = threading.Event(), threading.Event()
    real_summarize = progress.summarize

    def summarize_when_told(*args):
        read.set()
        go.wait(10)
        return real_summarize(*args)

    with patch.object(progress, "summarize", side_effect=summarize_when_told):
        refreshing = in_thread(refresh, learner.pk, exercise.pk)
        assert read.wait(10)
        grading = in_thread(run_queued)
        wait_until(lambda: waits_for_a_lock() or not grading.is_alive(), 10, "the worker")
        go.set()
        refreshing.join(10)
        grading.join(10)
    assert Attempt.objects.get().status == Attempt.GRADED
    assert Progress.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_refresh_while_a_first_attempt_is_being_counted_waits_and_counts_it(learner):
    """A worker has made the learner's row for their first attempt and not committed yet when
    an instructor's refresh starts: the refresh waits for the row, then reads the attempt."""
    exercise = make_exercise()
    make_attempt(learner, exercise)
    counted, go = threading.Event(), threading.Event()
    real_record = progress.record

    def record_then_wait(*args):
        row = real_record(*args)
        counted.set()
        go.wait(10)
        return row

    with patch.object(progress, "record", side_effect=record_then_wait):
        grading = in_thread(run_queued)
        assert counted.wait(10)
        refreshing = in_thread(refresh, learner.pk, exercise.pk)
        wait_until(lambda: waits_for_a_lock() or not refreshing.is_alive(), 10, "the refresh")
        go.set()
        grading.join(10)
        refreshing.join(10)
    assert Progress.objects.get().attempts == 1


def test_an_attempt_is_counted_though_its_worker_dies_right_after_saving_it(learner):
    exercise = make_exercise()
    make_attempt(learner, exercise)
    # Nothing after the commit runs.
    with patch.object(runs.attempt_finished, "send_robust", return_value=[]):
        run_queued()
    assert Progress.objects.get().attempts == 1


def test_progress_that_cannot_be_counted_never_fails_the_attempt(learner, caplog):
    exercise = make_exercise()
    attempt = make_attempt(learner, exercise)
    with patch("lessons.review.progress.record", side_effect=RuntimeError("a bug")):
        run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED and attempt.runs.count() == 1
    assert "a receiver of attempt_saved failed" in caplog.text
    assert not Progress.objects.exists()


@pytest.mark.django_db
def test_what_a_failed_attempt_was_billed_counts_and_a_reference_run_does_not(learner, settings):
    # Alice is also an instructor who ran the publish check; then an attempt of hers ran out
    # of time after its calls were billed. Counted in as they finish, as a refresh counts.
    exercise = make_exercise()
    make_attempt(learner, exercise, user_prompt="Please say hello to {name}.")
    make_attempt(learner, exercise, is_reference=True, user_prompt="Hello {name}!")
    run_queued()
    settings.ATTEMPT_SOFT_TIME_LIMIT = 0.2
    with slow_grading(0.3):
        failed = make_attempt(learner, exercise, user_prompt="Say hi to {name}.")
        run_queued()
    failed.refresh_from_db()
    assert (failed.status, failed.error_code) == (Attempt.ERROR, "time_limit")
    billed = UsageRecord.objects.filter(attempt__is_reference=False)
    assert failed.usage_records.exists()

    counted = Progress.objects.values().get()
    rebuilt = Progress.objects.values().get() if refresh(learner.pk, exercise.pk) else None
    assert {k: v for k, v in counted.items() if k != "updated_at"} == {
        k: v for k, v in rebuilt.items() if k != "updated_at"
    }
    assert counted["attempts"] == 1
    assert counted["input_tokens"] == sum(u.input_tokens for u in billed)
