"""The `published` key of course files: an imported course and its lessons are published
unless course.yaml says `published: false`; export writes it for drafts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from lessons.authoring.coursefiles import import_course
from lessons.models import Course, Lesson
from tests.conftest import STARTER
from tests.lessons.test_export_course import export, reimport
from tests.lessons.test_import_course import edit, line_of, load, load_fails, reported_line


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the starter course that a test may edit."""
    return Path(shutil.copytree(STARTER, tmp_path / "prompt-fundamentals"))


def test_the_starter_course_is_published(db):
    load(STARTER)
    assert Course.objects.get().published
    assert not Lesson.objects.filter(published=False).exists()


def test_published_false_imports_a_draft_course_and_lesson(db, course):
    edit(course / "course.yaml", "lessons:\n", "published: false\nlessons:\n")
    edit(
        course / "course.yaml",
        "    file: lessons/01-anatomy.md\n",
        "    file: lessons/01-anatomy.md\n    published: false\n",
    )
    load(course)
    assert not Course.objects.get().published
    assert list(Lesson.objects.filter(published=False).values_list("slug", flat=True)) == [
        "anatomy"
    ]
    shutil.copy(STARTER / "course.yaml", course / "course.yaml")
    load(course)  # the files decide: without the key, published again
    assert Course.objects.get().published
    assert not Lesson.objects.filter(published=False).exists()


def test_published_must_be_true_or_false(db, course):
    edit(course / "course.yaml", "lessons:\n", "published: draft\nlessons:\n")
    message = load_fails(course)
    line = line_of(course / "course.yaml", "published: draft")
    assert reported_line(message, "course.yaml", "published") == line
    assert "must be true or false, not 'draft'" in message
    assert not Course.objects.exists()


def test_export_writes_published_false_for_drafts_and_reimport_keeps_them(db, tmp_path):
    course = import_course(STARTER).course
    Course.objects.filter(pk=course.pk).update(published=False)
    course.lessons.filter(slug="anatomy").update(published=False)
    export(course.slug, tmp_path / "out")
    data = yaml.safe_load((tmp_path / "out" / "course.yaml").read_text())
    assert data["published"] is False
    assert data["lessons"][0]["published"] is False
    assert "published" not in data["lessons"][1]
    again = reimport(Course.objects.get(pk=course.pk), tmp_path / "again")
    assert not again.published
    assert not again.lessons.get(slug="anatomy").published
    assert again.lessons.get(slug="clear-and-specific").published
