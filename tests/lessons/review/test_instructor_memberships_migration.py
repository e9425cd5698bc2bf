"""Migration 0022 takes a course's instructors out of its cohorts."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from lessons.models import Course
from lessons.review.models import Cohort, Membership, Progress
from tests.conftest import make_exercise, make_user

migration = importlib.import_module("lessons.migrations.0022_drop_instructor_memberships")


@pytest.mark.django_db
def test_instructors_made_after_joining_leave_the_courses_cohorts_only():
    greet = make_exercise()
    course = greet.lesson.course
    cohort = Cohort.objects.create(course=course, name="Morning")
    elsewhere = Cohort.objects.create(course=Course.objects.create(slug="o", title="O"), name="X")
    dora, bob = make_user("dora"), make_user("bob")
    for each, user in ((cohort, dora), (elsewhere, dora), (cohort, bob)):
        Membership.objects.create(cohort=each, learner=user)
    Progress.objects.create(learner=dora, exercise=greet, attempts=1, best_score=1.0)
    course.instructors.add(dora)  # as the course form did, before it took her out

    migration.drop_instructor_memberships(apps, None)
    kept = Membership.objects.values_list("cohort__name", "learner__username")
    assert sorted(kept) == [("Morning", "bob"), ("X", "dora")]
    assert Progress.objects.filter(learner=dora).exists()
