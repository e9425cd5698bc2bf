"""Seed the review demo: a course, a cohort of learners and their graded attempts, in bulk."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons.review import seeding


class Command(BaseCommand):
    help = (
        f"Create the course {seeding.COURSE_SLUG!r} with a cohort of learners "
        f"({seeding.LEARNER_PREFIX}00001, …) taught by {seeding.INSTRUCTOR!r}, and their graded "
        "attempts, runs, usage (priced as a small hosted model), review items, decisions and "
        "overrides, for trying and measuring the review pages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--learners", type=int, default=50)
        parser.add_argument("--exercises", type=int, default=40)
        parser.add_argument("--attempts", type=int, default=10, help="per learner and exercise")
        parser.add_argument("--cases", type=int, default=3, help="test cases per exercise")
        parser.add_argument("--cohort-name", default="Review demo cohort")
        parser.add_argument("--seed", type=int, default=1, help="the same seed, the same data")
        parser.add_argument("--password", default="", help="of every seeded account")
        parser.add_argument(
            "--replace", action="store_true", help="delete the seeded course and users first"
        )
        parser.add_argument(
            "--force", action="store_true", help="run with DEBUG=False (it creates accounts)"
        )

    def handle(self, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates accounts: with DEBUG=False, pass --force.")
        size = seeding.Size(
            options["learners"], options["exercises"], options["attempts"], options["cases"]
        )
        try:
            result = seeding.seed(
                size,
                seed=options["seed"],
                cohort_name=options["cohort_name"],
                password=options["password"],
                replace=options["replace"],
                report=lambda message: self.stdout.write(f"seed_demo: {message}"),
            )
        except seeding.SeedError as e:
            raise CommandError(str(e)) from None
        counts = ", ".join(
            f"{count:,} {name.replace('_', ' ')}" for name, count in result.counts.items()
        )
        self.stdout.write(f"seed_demo: done in {result.seconds:.1f} s: {counts}")
        self.stdout.write(
            f"  {seeding.INSTRUCTOR} and {seeding.LEARNER_PREFIX}00001… password: {result.password}"
        )
        self.stdout.write(f"  cohort {result.cohort.name!r} (id {result.cohort.pk})")
