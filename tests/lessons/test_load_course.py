"""manage.py load_course DIR: all of a course folder or, on any problem, nothing."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from lessons.models import Case, Course, Exercise, Lesson
from sandbox.models import Attempt
from tests.conftest import STARTER, make_attempt


def load(folder: Path) -> str:
    out = StringIO()
    call_command("load_course", str(folder), stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Return what a load may change: every row's id and the fields the files set."""
    return {
        "courses": list(Course.objects.values_list("id", "slug", "title", "description")),
        "lessons": list(Lesson.objects.values_list("id", "slug", "title", "body", "position")),
        "exercises": list(
            Exercise.objects.values_list("id", "slug", "title", "rubric", "stub", "position")
        ),
        "cases": list(
            Case.objects.values_list("id", "name", "variables", "visibility", "position")
        ),
        "attempts": list(Attempt.objects.values_list("id", flat=True)),
    }


def line_of(path: Path, text: str) -> int:
    """Return the 1-based number of the first line of path that contains text."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the starter course that a test may edit."""
    return Path(shutil.copytree(STARTER, tmp_path / "prompt-fundamentals"))


@pytest.fixture
def loaded(db, course) -> Path:
    """The copy, already loaded once."""
    load(course)
    return course


def load_fails(folder: Path) -> str:
    with pytest.raises(CommandError) as e:
        load(folder)
    return str(e.value)


def test_it_loads_the_starter_course(db):
    out = load(STARTER)
    assert "2 lessons, 4 exercises" in out
    course = Course.objects.get()
    assert course.slug == "prompt-fundamentals"
    assert course.title == "Prompt engineering fundamentals"
    assert list(course.lessons.values_list("slug", flat=True)) == ["anatomy", "clear-and-specific"]
    exercises = Exercise.objects.order_by("lesson__position", "position")
    assert list(exercises.values_list("slug", flat=True)) == [
        "tagline", "capital-format", "meeting-bullets", "invoice-json"
    ]
    assert Case.objects.count() == 10
    assert "## The four parts" in Lesson.objects.get(slug="anatomy").body


def test_it_stores_what_an_exercise_file_says(db):
    load(STARTER)
    exercise = Exercise.objects.get(slug="capital-format")
    assert exercise.editable_fields == ["user"]
    assert exercise.starter_user == "What is the capital of {country}?"
    assert exercise.variables == ["country"]
    assert (exercise.backend, exercise.model_name, exercise.max_tokens) == ("stub", "scripted", 60)
    assert exercise.rubric["criteria"][0]["id"] == "format"
    assert len(exercise.hints) == 2
    assert "Capital: <city>" in exercise.solution["user"]
    assert exercise.known_bad == [{"user": "What is the capital of {country}?"}]
    cases = [(c.name, c.variables, c.hidden) for c in exercise.cases.all()]
    assert cases == [
        ("France", {"country": "France"}, False),
        ("Japan", {"country": "Japan"}, False),
        ("Kenya", {"country": "Kenya"}, True),
    ]


def test_loading_twice_changes_nothing(db):
    load(STARTER)
    before = snapshot()
    load(STARTER)
    assert snapshot() == before


def test_it_updates_an_edited_title_in_place_and_keeps_attempts(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    attempt = make_attempt(learner, tagline, status=Attempt.GRADED, score=1.0, passed=True)
    counts = (Course.objects.count(), Lesson.objects.count(), Exercise.objects.count())
    case_ids = set(Case.objects.values_list("id", flat=True))

    edit(loaded / "exercises" / "tagline.yaml", "title: A tagline a program can paste",
         "title: A tagline for the product page")
    load(loaded)

    tagline.refresh_from_db()
    assert tagline.title == "A tagline for the product page"
    assert Attempt.objects.get(id=attempt.id).exercise_id == tagline.id
    assert (Course.objects.count(), Lesson.objects.count(), Exercise.objects.count()) == counts
    assert set(Case.objects.values_list("id", flat=True)) == case_ids


def test_it_keeps_a_removed_exercise_that_has_attempts(loaded, learner):
    tagline = Exercise.objects.get(slug="tagline")
    make_attempt(learner, tagline)
    edit(loaded / "course.yaml", "      - exercises/tagline.yaml\n", "")
    edit(loaded / "course.yaml", "      - exercises/invoice-json.yaml\n", "")
    load(loaded)
    assert Exercise.objects.filter(id=tagline.id).exists()
    assert not Exercise.objects.filter(slug="invoice-json").exists()


def test_it_refuses_a_folder_without_course_yaml(loaded):
    before = snapshot()
    (loaded / "course.yaml").unlink()
    message = load_fails(loaded)
    assert "prompt-fundamentals/course.yaml" in message
    assert "does not exist" in message
    assert "nothing was changed" in message
    assert snapshot() == before


def test_it_refuses_a_missing_lesson_file(loaded):
    before = snapshot()
    line = line_of(loaded / "course.yaml", "file: lessons/02-clear-and-specific.md")
    (loaded / "lessons" / "02-clear-and-specific.md").unlink()
    message = load_fails(loaded)
    assert f"prompt-fundamentals/course.yaml:{line}: file:" in message
    assert "lessons/02-clear-and-specific.md does not exist" in message
    assert snapshot() == before


def test_it_refuses_malformed_yaml(loaded):
    before = snapshot()
    path = loaded / "exercises" / "tagline.yaml"
    edit(path, "variables: [product]", "variables: [product")
    message = load_fails(loaded)
    assert re.search(r"prompt-fundamentals/exercises/tagline\.yaml:\d+: not valid YAML", message)
    line = int(re.search(r"tagline\.yaml:(\d+)", message).group(1))
    assert line >= line_of(path, "variables: [product")
    assert snapshot() == before


def reported_line(message: str, file: str, field: str) -> int:
    match = re.search(rf"{re.escape(file)}:(\d+): {re.escape(field)}", message)
    assert match, f"{file}:<line>: {field} is not in {message!r}"
    return int(match.group(1))


def test_it_refuses_an_unknown_rubric_kind(loaded):
    before = snapshot()
    path = loaded / "exercises" / "tagline.yaml"
    bad_line = line_of(path, "kind: word_count")
    edit(path, "kind: word_count", "kind: wordcount")
    message = load_fails(loaded)
    line = reported_line(message, "prompt-fundamentals/exercises/tagline.yaml", "rubric")
    assert line_of(path, "rubric:") <= line <= bad_line
    assert "'short'" in message
    assert "kind" in message
    assert "'wordcount'" in message
    assert snapshot() == before


def test_it_refuses_a_stub_pattern_re2_cannot_compile(loaded):
    before = snapshot()
    path = loaded / "exercises" / "tagline.yaml"
    edit(path, "'coffee grinder']", "'(?=coffee grinder)']")
    bad_line = line_of(path, "(?=coffee grinder)")
    message = load_fails(loaded)
    line = reported_line(message, "prompt-fundamentals/exercises/tagline.yaml", "stub")
    assert line_of(path, "stub:") <= line <= bad_line
    assert "stub.rules[0].if[2]" in message
    assert "'(?=coffee grinder)'" in message
    assert snapshot() == before


def test_it_refuses_a_case_missing_a_variable(loaded):
    before = snapshot()
    path = loaded / "exercises" / "capital-format.yaml"
    edit(path, "vars: {country: Kenya}", "vars: {}")
    message = load_fails(loaded)
    line = reported_line(message, "prompt-fundamentals/exercises/capital-format.yaml", "vars")
    assert line == line_of(path, "vars: {}")
    assert "cases[2]" in message
    assert "no value for country" in message
    assert snapshot() == before


def test_it_reports_every_problem_at_once(loaded):
    before = snapshot()
    edit(loaded / "exercises" / "tagline.yaml", "kind: word_count", "kind: wordcount")
    edit(loaded / "exercises" / "capital-format.yaml", "vars: {country: Kenya}", "vars: {}")
    message = load_fails(loaded)
    assert "has 2 problem(s)" in message
    assert "tagline.yaml" in message
    assert "capital-format.yaml" in message
    assert snapshot() == before
