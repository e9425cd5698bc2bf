"""Put the demo learner in a demo cohort of every course the demo instructor teaches, so a
fresh `make run` shows the gradebook as soon as the learner submits. Refused under production
settings."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from lessons.models import Course
from lessons.review import cohorts
from lessons.review.models import Cohort

DEMO_COHORT = "Demo cohort"


class Command(BaseCommand):
    help = (
        "Create (once) a demo cohort with the demo learner in each course of the demo instructor."
    )

    def handle(self, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo cohort exists only in the embedded default (DEBUG=True).")
        users = {u.username: u for u in User.objects.filter(username__in=["learner", "instructor"])}
        if len(users) < 2:
            raise CommandError("Run manage.py create_demo_accounts first.")
        courses = Course.objects.taught_by(users["instructor"]).order_by("position", "id")
        if not courses:
            raise CommandError("The demo instructor teaches no course: import one first.")
        for course in courses:
            cohort, _ = Cohort.objects.get_or_create(
                course=course, name=DEMO_COHORT, defaults={"created_by": users["instructor"]}
            )
            cohorts.join(cohort, users["learner"])
            self.stdout.write(f"  {cohort.name} of {course.title}: join code {cohort.join_code}")
