"""seed_demo builds a consistent review data set, with the product's own rules."""

from __future__ import annotations

from dataclasses import fields
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

import graders
from lessons.models import Course, Exercise
from lessons.review import progress, seeding
from lessons.review.models import (
    AuditEntry,
    Cohort,
    Decision,
    Membership,
    Override,
    Progress,
    ReviewItem,
)
from sandbox.models import Attempt, Run, UsageRecord
from tests.conftest import make_attempt, make_user, run_queued

TINY = ["--learners", "3", "--exercises", "2", "--attempts", "2"]


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def progress_fields(row: Progress) -> dict:
    data = model_to_dict(row, exclude=["id", "updated_at"])
    data["cost_usd"] = row.cost_usd.normalize()
    return data


def test_a_tiny_seed_makes_every_row_it_says(db, debug):
    out = seed_demo(*TINY)

    course = Course.objects.get(slug=seeding.COURSE_SLUG)
    cohort = Cohort.objects.get(course=course)
    instructor = User.objects.get(username=seeding.INSTRUCTOR)
    assert list(course.instructors.all()) == [instructor]
    learners = User.objects.filter(username__startswith=seeding.LEARNER_PREFIX)
    assert sorted(learners.values_list("username", flat=True)) == [
        "seed-learner-00001",
        "seed-learner-00002",
        "seed-learner-00003",
    ]
    assert Membership.objects.filter(cohort=cohort).count() == 3
    exercises = Exercise.objects.filter(lesson__course=course)
    assert exercises.count() == 2
    for exercise in exercises:
        assert exercise.status == Exercise.PUBLISHED and exercise.backend == "stub"
        rubric = graders.load_rubric(exercise.rubric)
        assert 3 <= len(rubric.criteria) <= 4
        assert [c.id for c in rubric.criteria if c.kind == "llm_judge"] == [seeding.JUDGE]
        assert [c.hidden for c in exercise.cases.all()] == [False, False, True]
    attempts = Attempt.objects.filter(exercise__lesson__course=course)
    assert attempts.count() == 3 * 2 * 2
    assert set(attempts.values_list("status", flat=True)) == {Attempt.GRADED}
    assert Run.objects.filter(attempt__in=attempts).count() == 12 * 3
    assert UsageRecord.objects.filter(attempt__in=attempts).count() == 12 * 3
    assert Progress.objects.filter(exercise__in=exercises).count() == 3 * 2
    assert "12 attempts, 36 runs" in out
    assert "password: review-" in out


def test_runs_hold_criteria_shaped_as_the_graders_store_them(db, debug):
    seed_demo(*TINY)

    keys = {f.name for f in fields(graders.CriterionResult)}
    for criteria in Run.objects.values_list("criteria", flat=True):
        assert [set(c) for c in criteria] == [keys] * len(criteria)
    judged = [c for r in Run.objects.all() for c in r.criteria if c["kind"] == "llm_judge"]
    assert all(c["fingerprint"] for c in judged)


def test_the_first_learner_shows_a_review_queue_a_decision_and_an_override(db, debug):
    seed_demo(*TINY)

    first = User.objects.get(username="seed-learner-00001")
    items = ReviewItem.objects.filter(attempt__learner=first)
    assert {i.reason for i in items if i.resolved_at is None} == {ReviewItem.INJECTION}
    assert {i.reason for i in items if i.resolved_at} == {ReviewItem.NEEDS_REVIEW}
    decision = Decision.objects.filter(run__attempt__learner=first).first()
    assert decision is not None and decision.judge_status == "needs_review"
    assert decision.judge_passed is None and decision.judge_version
    assert Override.objects.filter(attempt__learner=first).count() == 1
    actions = set(
        AuditEntry.objects.filter(attempt__learner=first).values_list("action", flat=True)
    )
    assert actions == {AuditEntry.DECISION, AuditEntry.OVERRIDE}


def test_progress_is_what_refresh_computes_from_the_seeded_attempts(db, debug):
    seed_demo(*TINY)
    seeded = {(p.learner_id, p.exercise_id): progress_fields(p) for p in Progress.objects.all()}
    items = set(ReviewItem.objects.values_list("run_id", "criterion_id", "reason", "resolved_at"))
    assert any(fields["needs_review"] for fields in seeded.values())
    assert any(fields["failure_groups"] for fields in seeded.values())

    for learner_id, exercise_id in seeded:
        progress.refresh(learner_id, exercise_id)

    refreshed = {(p.learner_id, p.exercise_id): progress_fields(p) for p in Progress.objects.all()}
    assert refreshed == seeded
    after = set(ReviewItem.objects.values_list("run_id", "criterion_id", "reason", "resolved_at"))
    assert after == items


def test_the_seeded_exercise_grades_a_real_submission_as_the_seed_stored_it(db, debug):
    seed_demo(*TINY)
    newcomer = make_user("newcomer")
    undecided = Run.objects.filter(decisions__isnull=True).select_related("attempt__exercise")
    tried = {}
    for stored in undecided.order_by("attempt__created_at", "position"):
        tried.setdefault((stored.attempt.exercise, stored.attempt.user_prompt), []).append(stored)
    assert len(tried) >= 3

    for exercise, prompt in tried:
        make_attempt(newcomer, exercise, user_prompt=prompt)
    run_queued()

    for (exercise, prompt), stored_runs in tried.items():
        attempt = Attempt.objects.get(learner=newcomer, exercise=exercise, user_prompt=prompt)
        for stored in stored_runs:
            run = attempt.runs.get(position=stored.position)
            assert (run.output, run.passed, run.score) == (
                stored.output,
                stored.passed,
                stored.score,
            )
            assert run.criteria == stored.criteria
            assert run.messages == stored.messages


def test_the_same_seed_gives_the_same_scores(db, debug):
    def scores() -> list:
        rows = Attempt.objects.order_by("learner__username", "exercise__position", "created_at")
        return list(rows.values_list("user_prompt", "score"))

    seed_demo(*TINY, "--seed", "7")
    first = scores()
    seed_demo(*TINY, "--seed", "7", "--replace")

    assert scores() == first


def test_replace_deletes_the_previous_data_set_and_its_users(db, debug):
    seed_demo(*TINY)
    old_course = Course.objects.get(slug=seeding.COURSE_SLUG).pk
    old_users = set(User.objects.values_list("pk", flat=True))

    out = seed_demo("--learners", "2", "--exercises", "1", "--attempts", "3", "--replace")

    assert "deleted the previous data set" in out
    assert not Course.objects.filter(pk=old_course).exists()
    assert not User.objects.filter(pk__in=old_users).exists()
    assert User.objects.filter(username__startswith=seeding.LEARNER_PREFIX).count() == 2
    assert Attempt.objects.count() == 2 * 1 * 3
    assert Run.objects.count() == 6 * 3 and UsageRecord.objects.count() == 6 * 3
    assert Progress.objects.count() == 2


def test_it_refuses_to_seed_over_an_existing_data_set(db, debug):
    seed_demo(*TINY)

    with pytest.raises(CommandError, match="--replace"):
        seed_demo(*TINY)
    assert Attempt.objects.count() == 12


def test_it_refuses_when_only_the_seeded_users_are_left(db, debug):
    make_user(seeding.INSTRUCTOR)

    with pytest.raises(CommandError, match="--replace"):
        seed_demo(*TINY)


def test_it_refuses_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        seed_demo(*TINY)
    assert not Course.objects.filter(slug=seeding.COURSE_SLUG).exists()

    seed_demo(*TINY, "--force")
    assert Attempt.objects.count() == 12


@pytest.mark.parametrize("arg", ["--learners", "--exercises", "--attempts"])
def test_it_refuses_an_empty_size(db, debug, arg):
    with pytest.raises(CommandError, match="at least 1"):
        seed_demo(*TINY, arg, "0")


def test_it_sets_the_password_it_is_given(db, debug):
    out = seed_demo(*TINY, "--password", "a-long-demo-password")

    assert "password: a-long-demo-password" in out
    for username in (seeding.INSTRUCTOR, "seed-learner-00002"):
        assert User.objects.get(username=username).check_password("a-long-demo-password")
