"""manage.py create_demo_cohort: the demo learner in a demo cohort of each course the demo
instructor teaches, so a fresh `make run` has a gradebook to show."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lessons.models import Course
from lessons.review.models import Cohort, Membership
from tests.conftest import make_user


def create_demo_cohort() -> dict[str, str]:
    """Run the command and return the printed {course title: join code}."""
    out = StringIO()
    call_command("create_demo_cohort", stdout=out)
    return dict(re.findall(r"^\s*Demo cohort of (.+): join code (\S+)$", out.getvalue(), re.M))


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    instructor = make_user("instructor", is_staff=True)
    learner = make_user("learner")
    for slug in ("first", "second"):
        Course.objects.create(slug=slug, title=slug.title()).instructors.add(instructor)
    Course.objects.create(slug="not-theirs", title="Not theirs")
    return instructor, learner


def test_it_puts_the_demo_learner_in_a_cohort_of_each_course_the_instructor_teaches(demo):
    instructor, learner = demo
    codes = create_demo_cohort()
    cohorts = Cohort.objects.filter(name="Demo cohort")
    assert set(codes) == {"First", "Second"}
    assert {c.course.title: c.join_code for c in cohorts} == codes
    assert all(c.created_by == instructor for c in cohorts)
    assert set(Cohort.objects.taught_by(instructor)) == set(cohorts)
    assert Membership.objects.filter(learner=learner).count() == 2


def test_running_it_again_changes_nothing(demo):
    first = create_demo_cohort()
    assert create_demo_cohort() == first
    assert Cohort.objects.count() == 2 and Membership.objects.count() == 2


def test_it_needs_the_demo_accounts(db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="create_demo_accounts"):
        call_command("create_demo_cohort", stdout=StringIO())


def test_it_is_refused_with_debug_off(demo, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=True"):
        call_command("create_demo_cohort", stdout=StringIO())
    assert not Cohort.objects.exists()
