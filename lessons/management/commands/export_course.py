"""Export a course (imported from files or written in the browser) to a course folder."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lessons.authoring.coursefiles import ExportRefused, write_course
from lessons.models import Course


class Command(BaseCommand):
    help = "Write a course to a folder of YAML and Markdown files that import_course reads back."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the course's slug")
        parser.add_argument("folder", type=Path, help="where to write course.yaml and the rest")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="overwrite a folder that is not empty, removing lesson and exercise files "
            "the course no longer has",
        )

    def handle(self, slug: str, folder: Path, replace: bool = False, **options) -> None:
        try:
            course = Course.objects.get(slug=slug)
        except Course.DoesNotExist:
            raise CommandError(f"There is no course {slug!r}.") from None
        try:
            removed = write_course(course, folder, replace=replace)
        except ExportRefused as e:
            raise CommandError(str(e)) from None
        lessons = course.lessons.filter(archived=False).count()
        self.stdout.write(f"Exported {course.title!r} ({lessons} lessons) to {folder}.")
        for name in removed:
            self.stdout.write(f"Removed {name} (no longer in the course).")
