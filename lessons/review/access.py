"""How every review page finds what it shows: through the courses the instructor teaches.
Anything outside them does not exist for the viewer (404, never 403)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404

from lessons.models import Exercise
from lessons.review.models import Cohort
from sandbox.models import Attempt


def cohort_for_instructor(user, cohort_id: int) -> Cohort:
    """Return a cohort of a course this user teaches, or 404."""
    return get_object_or_404(
        Cohort.objects.taught_by(user).select_related("course").distinct(), pk=cohort_id
    )


def exercise_of(cohort: Cohort, exercise_id: int) -> Exercise:
    """Return an exercise of the cohort's course (drafts and archived ones too), or 404."""
    return get_object_or_404(
        Exercise.objects.select_related("lesson__course").filter(lesson__course=cohort.course_id),
        pk=exercise_id,
    )


def member_of(cohort: Cohort, learner_id: int) -> User:
    """Return a learner of the cohort, or 404."""
    return get_object_or_404(User.objects.filter(memberships__cohort=cohort), pk=learner_id)


def attempt_for_instructor(user, attempt_id) -> Attempt:
    """Return a learner's graded-or-not attempt on an exercise of a course this user teaches,
    whoever made it, or 404."""
    return get_object_or_404(
        Attempt.objects.by_learners()
        .filter(exercise__lesson__course__instructors=user)
        .select_related("exercise__lesson__course", "learner")
        .distinct(),
        pk=attempt_id,
    )
