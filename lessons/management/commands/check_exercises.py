"""Replay every published exercise's reference solution and known-bad prompts, and print
which now pass or fail differently from expected; exit 1 when one drifted (docs/authoring.md,
"Exercise health")."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from lessons.authoring import health
from lessons.models import Course, Exercise, HealthCheck


class Command(BaseCommand):
    help = (
        "Run each published exercise's reference solution (it should pass) and known-bad "
        "prompts (they should fail) on its configured backend, or its cassette or stub rules "
        "without keys, and report exercise, check, expected and got. Exits 1 on drift."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "course", nargs="?", metavar="COURSE", help="a course slug (default: every course)"
        )
        parser.add_argument(
            "--user",
            help="the username whose ledger and budget the calls go on (default: each "
            "course's first instructor)",
        )

    def handle(self, *args, **options) -> None:
        courses = Course.objects.order_by("position", "slug")
        if options["course"]:
            courses = courses.filter(slug=options["course"])
            if not courses:
                raise CommandError(f"There is no course {options['course']!r}.")
        else:
            published = Exercise.objects.filter(status=Exercise.PUBLISHED)
            courses = courses.filter(lessons__exercises__in=published).distinct()
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user {options['user']!r}.")
        failed = []
        for course in courses:
            runner = user or course.instructors.order_by("pk").first()
            if runner is None:
                raise CommandError(f"{course.slug}: nobody teaches it; name a --user to run it.")
            failed += self.report(course, health.check_course(course, runner))
        if failed:
            raise CommandError("exercise health check failed:\n" + "\n".join(failed))

    def report(self, course: Course, job: HealthCheck) -> list[str]:
        """Print the check's table; return a line per drift (or its error)."""
        self.stdout.write(f"\n{course.slug}: {job.done} of {job.total} exercises checked")
        self.stdout.write(f"  {'exercise':<40}  {'check':<20}  {'expected':<8}  got")
        for row in job.rows:
            score = "" if row["score"] is None else f" ({row['score']}%)"
            mark = "  DRIFT" if row["drifted"] else ""
            self.stdout.write(
                f"  {row['exercise']:<40}  {row['check']:<20}  {row['expected']:<8}  "
                f"{row['got']}{score}{mark}"
            )
            if row["drifted"] and row["detail"]:
                self.stdout.write(f"    {row['detail']}")
        if job.status != HealthCheck.DONE:
            return [f"{course.slug}: {job.error or job.status}"]
        return [
            f"{course.slug}/{r['exercise']} · {r['check']}: expected {r['expected']}, "
            f"got {r['got']}"
            for r in job.rows
            if r["drifted"]
        ]
