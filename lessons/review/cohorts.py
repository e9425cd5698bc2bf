"""Cohorts: joining one with its code, and the deadlines that make attempts late."""

from __future__ import annotations

from datetime import datetime

from lessons.models import Course, Exercise
from lessons.review.models import JOIN_CODE_ALPHABET, Cohort, Deadline, Membership


def normalize_code(code: str) -> str:
    """Return a join code as stored: upper case, without the spaces and dashes people type."""
    return "".join(ch for ch in code.upper() if ch in JOIN_CODE_ALPHABET)


def join(cohort: Cohort, user) -> bool:
    """Make the user a member of the cohort; return False if they already were."""
    _, created = Membership.objects.get_or_create(cohort=cohort, learner=user)
    return created


def deadlines_of(cohort: Cohort) -> dict[int, datetime]:
    """Return the cohort's deadlines, {exercise id: due at}."""
    return dict(Deadline.objects.filter(cohort=cohort).values_list("exercise_id", "due_at"))


def work_is_late(
    last_attempt_at: datetime | None, passed_at: datetime | None, due_at: datetime | None
) -> bool:
    """Return whether a learner's work on an exercise (their Progress's last attempt and first
    pass) is late against a deadline: tried after it, not having passed before it."""
    if due_at is None or last_attempt_at is None:
        return False
    passed_in_time = passed_at is not None and passed_at <= due_at
    return last_attempt_at > due_at and not passed_in_time


def is_late(created_at: datetime, due_at: datetime | None) -> bool:
    """Return whether an attempt made at `created_at` is late against a deadline (or none)."""
    return due_at is not None and created_at > due_at


def cohort_with_code(code: str) -> Cohort | None:
    """Return the cohort this join code opens, if its course is open to learners (not a draft
    or archived, whoever asks: its instructors see such courses, but no one joins them)."""
    normalized = normalize_code(code)
    if not normalized:
        return None
    live = Course.objects.live()
    return (
        Cohort.objects.select_related("course")
        .filter(join_code=normalized, course__in=live)
        .first()
    )


def drop_instructors(course: Course) -> int:
    """Take the course's instructors out of its cohorts, as they are never members (the
    gradebook and statistics are of learners); their attempts and progress are kept. Every
    change of a course's instructors calls it. Return how many memberships went."""
    taught = Membership.objects.filter(cohort__course=course, learner__taught_courses=course)
    return taught.delete()[0]


def teaches(user, cohort: Cohort) -> bool:
    """Return whether the user teaches the cohort's course (and so is never one of its members:
    the gradebook and statistics are of learners)."""
    return Course.objects.taught_by(user).filter(pk=cohort.course_id).exists()


def deadline_exercises(course_id: int) -> list[Exercise]:
    """Return the exercises a deadline can be set on: the course's live ones, drafts too (so
    deadlines can be set before publishing), in lesson then exercise order."""
    return list(
        Exercise.objects.filter(lesson__course_id=course_id, archived=False, lesson__archived=False)
        .select_related("lesson")
        .only("id", "title", "status", "lesson__id", "lesson__title")
        .order_by("lesson__position", "lesson__id", "position", "id")
    )
