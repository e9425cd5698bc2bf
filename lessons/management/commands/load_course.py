"""Load a course folder (YAML + Markdown) into the database, all or nothing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lessons.coursefiles import CourseFilesInvalid, load_course


class Command(BaseCommand):
    help = "Load a course folder; re-loading updates it in place. Any problem changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", type=Path, help="the folder holding course.yaml")

    def handle(self, folder: Path, **options) -> None:
        try:
            course = load_course(folder.resolve())
        except CourseFilesInvalid as e:
            raise CommandError(
                f"{folder} has {len(e.problems)} problem(s); nothing was changed:\n{e}"
            ) from None
        lessons = course.lessons.count()
        exercises = sum(lesson.exercises.count() for lesson in course.lessons.all())
        self.stdout.write(f"Loaded {course.title!r}: {lessons} lessons, {exercises} exercises.")
