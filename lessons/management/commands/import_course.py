"""Import a course folder (YAML + Markdown) into the database, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from lessons.authoring.coursefiles import (
    CourseFilesInvalid,
    Problem,
    import_course,
    read_course,
)
from lessons.models import Course
from lessons.review import cohorts as joining


class Command(BaseCommand):
    help = (
        "Import a course folder; importing again updates it in place. Any problem changes "
        "nothing. Exercises removed from the files are archived if attempted, else deleted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, help="the folder holding course.yaml")
        parser.add_argument(
            "--check",
            action="store_true",
            help="only read and check the files; write nothing (for a course repository's CI)",
        )
        parser.add_argument(
            "--if-new",
            action="store_true",
            help="import only if no course has its slug yet, leaving one there (and its edits "
            "in the browser) as it is: what `make run` and docker compose start with",
        )
        parser.add_argument(
            "--instructor",
            action="append",
            default=[],
            metavar="USERNAME",
            help="make this existing user an instructor of the course (repeatable)",
        )

    def handle(
        self,
        folder: Path,
        check: bool = False,
        if_new: bool = False,
        instructor: Sequence[str] = (),
        **options,
    ) -> None:
        instructors = list(User.objects.filter(username__in=instructor))
        unknown = sorted(set(instructor) - {user.username for user in instructors})
        if unknown:
            raise CommandError(f"No user called {', '.join(unknown)}; nothing was changed.")
        try:
            if check:
                course = read_course(folder.resolve())
                lessons = course["lessons"]
                exercises = sum(len(lesson["exercises"]) for lesson in lessons)
                self.stdout.write(
                    f"{folder}: no problems ({len(lessons)} lessons, {exercises} exercises)."
                )
                self.warn(course["warnings"])
                return
            if if_new and (
                here := Course.objects.filter(slug=read_course(folder.resolve())["slug"]).first()
            ):
                here.instructors.add(*instructors)
                joining.drop_instructors(here)
                self.stdout.write(
                    f"{here.title!r} is here already and was left as it is. To update it "
                    f"from {folder}, run: manage.py import_course {folder}"
                )
                for user in instructors:
                    self.stdout.write(f"{user.username} teaches {here.title!r}.")
                return
            report = import_course(folder.resolve(), instructors)
        except CourseFilesInvalid as e:
            raise CommandError(
                f"{folder} has {len(e.problems)} problem(s); nothing was changed:\n{e}"
            ) from None
        self.stdout.write(report.summary())
        for user in instructors:
            self.stdout.write(f"{user.username} teaches {report.course.title!r}.")
        self.warn(report.warnings)

    def warn(self, warnings: list[Problem]) -> None:
        """Print what the import kept as written but learners would meet otherwise."""
        for warning in warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
