"""lessons.review.cohorts: join codes as people type them, what a deadline makes late, and
a course's instructors kept out of its cohorts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lessons.models import Course
from lessons.review.cohorts import drop_instructors, is_late, normalize_code, work_is_late
from lessons.review.models import Cohort, Membership, Progress
from tests.conftest import make_exercise, make_user

DUE = datetime(2027, 3, 1, 17, 30, tzinfo=UTC)
BEFORE, AFTER = DUE - timedelta(hours=1), DUE + timedelta(hours=1)


def test_codes_are_read_in_any_case_with_spaces_and_dashes():
    assert normalize_code(" abcd-2345 ") == "ABCD2345"
    assert normalize_code("<b>") == "B"  # only the code's alphabet is kept


def test_work_is_late_when_tried_after_the_deadline_without_passing_before_it():
    assert work_is_late(AFTER, None, DUE)
    assert work_is_late(AFTER, AFTER, DUE), "passed, but only after the deadline"
    assert not work_is_late(AFTER, BEFORE, DUE), "passed in time, tried again later"
    assert not work_is_late(BEFORE, None, DUE)
    assert not work_is_late(AFTER, None, None), "no deadline"
    assert not work_is_late(None, None, DUE), "not tried"


def test_an_attempt_is_late_after_the_deadline():
    assert is_late(AFTER, DUE) and not is_late(DUE, DUE) and not is_late(AFTER, None)


@pytest.mark.django_db
def test_a_courses_instructors_are_taken_out_of_its_cohorts_keeping_their_progress():
    greet = make_exercise()
    course = greet.lesson.course
    morning = Cohort.objects.create(course=course, name="Morning")
    evening = Cohort.objects.create(course=course, name="Evening")
    elsewhere = Cohort.objects.create(course=Course.objects.create(slug="o", title="O"), name="X")
    dora, bob = make_user("dora"), make_user("bob")
    for cohort, user in ((morning, dora), (evening, dora), (elsewhere, dora), (morning, bob)):
        Membership.objects.create(cohort=cohort, learner=user)
    Progress.objects.create(learner=dora, exercise=greet, attempts=2, best_score=0.5)
    course.instructors.add(dora)

    assert drop_instructors(course) == 2
    kept = Membership.objects.values_list("cohort__name", "learner__username")
    assert sorted(kept) == [("Morning", "bob"), ("X", "dora")]  # she learns the other course
    assert Progress.objects.get(learner=dora).attempts == 2
    assert drop_instructors(course) == 0
