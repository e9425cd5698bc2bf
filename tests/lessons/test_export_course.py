"""manage.py export_course SLUG DIR: a course as files that import back to the same course."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from lessons.authoring.coursefiles import export_course, import_course
from lessons.models import Case, Course, Exercise, Lesson
from tests.conftest import STARTER, make_attempt, make_user

# Fields that say when or in which row something was stored, not what it is.
NOT_CONTENT = {"id", "course", "lesson", "exercise", "created_at", "updated_at"}


def fields(row) -> dict:
    return {
        f.name: getattr(row, f.name)
        for f in type(row)._meta.concrete_fields
        if f.name not in NOT_CONTENT
    }


def dump(course: Course) -> dict:
    """Return every field of the course, its lessons, exercises and test cases (no ids)."""
    return {
        **fields(course),
        "lessons": [
            {
                **fields(lesson),
                "exercises": [
                    {**fields(exercise), "cases": [fields(c) for c in exercise.cases.all()]}
                    for exercise in lesson.exercises.all()
                ],
            }
            for lesson in course.lessons.all()
        ],
    }


def export(slug: str, folder: Path, *options: str) -> str:
    out = StringIO()
    call_command("export_course", slug, str(folder), *options, stdout=out)
    return out.getvalue()


def reimport(course: Course, folder: Path) -> Course:
    """Export the course to folder, delete it, and import the folder."""
    export(course.slug, folder)
    course.delete()
    return import_course(folder).course


def test_export_then_import_reproduces_the_starter_course(db, tmp_path):
    course = import_course(STARTER).course
    before = dump(course)
    assert reimport(course, tmp_path / "copy") is not None
    assert dump(Course.objects.get()) == before


def test_exporting_twice_writes_the_same_files(db, tmp_path):
    course = import_course(STARTER).course
    first = export_course(course)
    export(course.slug, tmp_path / "copy")
    import_course(tmp_path / "copy")
    assert export_course(Course.objects.get()) == first


def test_it_writes_readable_files(db, tmp_path):
    course = import_course(STARTER).course
    export(course.slug, tmp_path / "copy")
    lessons = sorted(p.name for p in (tmp_path / "copy" / "lessons").iterdir())
    assert lessons[:2] == ["01-anatomy.md", "02-clear-and-specific.md"]
    text = (tmp_path / "copy" / "exercises" / "tagline.yaml").read_text()
    assert text.startswith("slug: tagline\ntitle: A tagline a program can paste\ninstructions: |\n")
    assert "variables: [product]\n" in text
    assert "status:" not in text  # published is the default
    assert "backend:" not in text  # so is the stub
    data = yaml.safe_load((tmp_path / "copy" / "course.yaml").read_text())
    assert data["lessons"][0] == {
        "slug": "anatomy",
        "title": "Anatomy of a prompt",
        "file": "lessons/01-anatomy.md",
        "exercises": ["exercises/tagline.yaml", "exercises/capital-format.yaml"],
    }


def make_browser_course() -> Course:
    """A course as the browser authoring pages would leave it: rows, no files."""
    course = Course.objects.create(
        slug="support-desk", title="Support desk prompts", description="", position=3
    )
    course.instructors.add(make_user("ines"))
    first = Lesson.objects.create(course=course, slug="triage", title="Triage", body="# Triage\n")
    second = Lesson.objects.create(course=course, slug="tone", title="Tone", position=1)
    rubric = {
        "pass_threshold": 0.5,
        "criteria": [
            {
                "id": "label",
                "kind": "one_of",
                "params": {"labels": {"from_case": "labels"}},
                "ignore_case": True,
                "feedback": {"fail": "One label only."},
            },
            {
                "id": "tag",
                "kind": "xml_tag",
                "params": {
                    "tag": "answer",
                    "criteria": [{"kind": "equals", "params": {"text": "yes"}}],
                },
                "weight": 0.5,
            },
        ],
        "samples": {
            "good": [{"output": "billing", "expected": {"labels": ["billing"]}}],
            "bad": ["billing and refund"],
        },
    }
    triage = Exercise.objects.create(
        lesson=first,
        slug="classify",
        title="Classify an email",
        instructions="Label `{email}`.\n\nUse the policy.",
        status=Exercise.DRAFT,
        editable_fields=["system", "prefill"],
        starter_system="You label emails.\nOne word only.",
        starter_prefill="Label:",
        slots=[
            {"name": "task", "label": "Task", "text": "Label this: {email}", "editable": True},
            {"name": "policy", "label": "", "text": "{policy}", "editable": False},
        ],
        examples=[
            {"role": "user", "text": "I was charged twice", "editable": False},
            {"role": "assistant", "text": "billing", "editable": True},
        ],
        variables=["email", "policy"],
        fixed_variables={"policy": "Refunds within 30 days.\nNo exceptions."},
        backend="openai",
        model_name="gpt-4o-mini",
        temperature=0.7,
        max_tokens=300,
        samples=5,
        sample_rule="at_least",
        samples_needed=4,
        stub={
            "rules": [{"if": ["twice"], "unless": "refund", "reply": "billing"}],
            "default": "no idea",
        },
        rubric=rubric,
        hints=["Name the labels.", "Show an example."],
        solution={
            "system": "Label it.",
            "slots": {"task": "Label: {email}"},
            "examples": {"1": "billing"},
        },
        known_bad=[{"prefill": "Sure"}],
    )
    Case.objects.create(
        exercise=triage,
        name="Double charge",
        position=0,
        variables={"email": "Charged twice!"},
        expected={"labels": ["billing"]},
        reference="billing",
        weight=2.5,
        visibility="hide_if_fail",
    )
    Case.objects.create(
        exercise=triage,
        name="Yes or no",
        position=1,
        variables={"email": "yes"},
        expected={"labels": "yes"},
    )
    Exercise.objects.create(
        lesson=second,
        slug="classify",
        title="Same slug, other lesson",
        status=Exercise.PUBLISHED,
        editable_fields=[],
        rubric={"criteria": [{"id": "x", "kind": "valid_json"}]},
    )
    Case.objects.create(exercise=second.exercises.get(), name="Only case")
    return course


def test_a_course_written_in_the_browser_round_trips(db, tmp_path):
    course = make_browser_course()
    before = dump(course)
    reimport(course, tmp_path / "support-desk")
    assert dump(Course.objects.get()) == before


def test_a_browser_course_exports_every_field(db, tmp_path):
    course = make_browser_course()
    export(course.slug, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out" / "exercises").iterdir())
    assert names == ["tone.classify.yaml", "triage.classify.yaml"]
    data = yaml.safe_load((tmp_path / "out" / "exercises" / "triage.classify.yaml").read_text())
    assert data["status"] == "draft"
    assert data["model"] == {
        "backend": "openai",
        "name": "gpt-4o-mini",
        "temperature": 0.7,
        "max_tokens": 300,
        "samples": 5,
        "sample_rule": "at_least",
        "samples_needed": 4,
    }
    assert data["prompt"]["slots"][1] == {"name": "policy", "text": "{policy}"}
    assert data["fixed_variables"] == {"policy": "Refunds within 30 days.\nNo exceptions."}
    assert data["cases"][0]["visibility"] == "hide_if_fail"


def test_archived_exercises_are_left_out(db, tmp_path, learner):
    course = make_browser_course()
    archived = Exercise.objects.get(lesson__slug="tone")
    make_attempt(learner, archived)
    archived.archived = True
    archived.save(update_fields=["archived"])
    files = export_course(course)
    assert "exercises/classify.yaml" in files
    assert "exercises/tone.classify.yaml" not in files
    assert "exercises" not in yaml.safe_load(files["course.yaml"])["lessons"][1]


def test_importing_an_export_leaves_what_was_archived_in_the_browser_as_it_is(db, tmp_path):
    # Never attempted, so a removal from the files would delete it: archived, it is kept.
    course = import_course(STARTER).course
    tagline = Exercise.objects.get(slug="tagline")
    tagline.archived = True
    tagline.save(update_fields=["archived"])
    lesson = course.lessons.order_by("position").last()
    lesson.exercises.update(archived=True)
    lesson.archived = True
    lesson.save(update_fields=["archived"])
    export(course.slug, tmp_path / "copy")
    report = import_course(tmp_path / "copy")
    assert report.deleted == [] and report.archived == []
    assert Exercise.objects.filter(pk=tagline.pk, archived=True).exists()
    assert Lesson.objects.filter(pk=lesson.pk, archived=True).exists()
    assert lesson.exercises.exists()


@pytest.mark.parametrize("title", ["A tagline\x85for a program", "Two\nlines\x85and a NEL"])
def test_a_next_line_character_comes_back_as_written(db, tmp_path, title):
    course = import_course(STARTER).course
    Exercise.objects.filter(slug="tagline").update(title=title, instructions=title)
    reimport(course, tmp_path / "copy")
    assert Exercise.objects.values_list("title", "instructions").get(slug="tagline") == (
        title,
        title,
    )


def test_it_refuses_a_folder_that_is_not_empty(db, tmp_path):
    import_course(STARTER)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="is not empty; pass --replace"):
        export("prompt-fundamentals", tmp_path)


def test_replace_removes_files_the_course_no_longer_has(db, tmp_path):
    course = import_course(STARTER).course
    export(course.slug, tmp_path)
    Exercise.objects.filter(slug="tagline").delete()
    (tmp_path / "README.md").write_text("not a course file")

    out = export(course.slug, tmp_path, "--replace")

    assert "Removed exercises/tagline.yaml" in out
    assert not (tmp_path / "exercises" / "tagline.yaml").exists()
    assert (tmp_path / "README.md").exists()


def test_it_refuses_an_unknown_course(db, tmp_path):
    with pytest.raises(CommandError, match="There is no course 'nope'"):
        export("nope", tmp_path)


def test_an_instructor_edits_an_exported_file_and_reimports_it(db, tmp_path, alice_client):
    """The round trip an instructor makes with git: export, edit a YAML file, import."""
    course = import_course(STARTER).course
    learner = make_user("learner-with-history")
    exercise = Exercise.objects.get(slug="tagline")
    attempt = make_attempt(learner, exercise)
    export(course.slug, tmp_path)
    path = next(tmp_path.glob("exercises/*tagline*.yaml"))
    path.write_text(path.read_text().replace("title: A tagline", "title: A crisp tagline", 1))

    call_command("import_course", str(tmp_path), stdout=StringIO())

    exercise.refresh_from_db()
    assert exercise.title.startswith("A crisp tagline")
    assert Exercise.objects.get(pk=exercise.pk).attempts.get() == attempt
    assert "A crisp tagline" in alice_client.get(exercise.get_absolute_url()).content.decode()


def test_a_new_exercise_made_in_the_browser_round_trips_before_it_has_test_cases(
    ines_client, instructor, tmp_path
):
    # The browser makes an exercise as a draft with no test cases: its export says `cases: []`.
    ines_client.post("/teach/courses/new/", {"title": "Fresh", "slug": "fresh"})
    course = Course.objects.get(slug="fresh")
    ines_client.post("/teach/courses/fresh/lessons/new/", {"title": "One", "slug": "one"})
    lesson = course.lessons.get()
    ines_client.post(f"/teach/courses/fresh/lessons/{lesson.pk}/exercises/new/", {"title": "New"})
    assert not lesson.exercises.get().cases.exists()
    before = dump(course)
    # An import numbers lessons and exercises in the files' order from 0; the browser from 1.
    before["lessons"][0]["position"] = before["lessons"][0]["exercises"][0]["position"] = 0
    reimport(course, tmp_path / "fresh")
    assert dump(Course.objects.get(slug="fresh")) == before


def test_a_published_exercise_still_needs_a_test_case(db, tmp_path):
    course = make_browser_course()
    Case.objects.filter(exercise__lesson__slug="tone").delete()
    export(course.slug, tmp_path / "out")
    with pytest.raises(CommandError) as e:
        call_command("import_course", str(tmp_path / "out"), stdout=StringIO())
    assert (
        "out/exercises/tone.classify.yaml:5: cases: needs a list of at least one test case "
        "(a draft may have none)"
    ) in str(e.value)


@pytest.mark.parametrize("name", ["a-file", "a-file/below"])
def test_a_folder_it_cannot_write_is_an_error_not_a_traceback(db, tmp_path, name):
    course = make_browser_course()
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(CommandError) as e:
        export(course.slug, tmp_path / name)
    assert str(tmp_path / "a-file") in str(e.value)
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_replace_writes_a_file_in_place_of_a_link_not_through_it(db, tmp_path):
    # A clone of someone's course may link a course file to one of yours.
    course = make_browser_course()
    export(course.slug, tmp_path / "out")
    yours = tmp_path / "yours.txt"
    yours.write_text("keep me")
    link = tmp_path / "out" / "exercises" / "triage.classify.yaml"
    link.unlink()
    link.symlink_to(yours)
    export(course.slug, tmp_path / "out", "--replace")
    assert yours.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text().startswith("slug: classify\n")


def test_replace_refuses_a_lessons_folder_that_links_elsewhere(db, tmp_path):
    course = make_browser_course()
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "lessons").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CommandError) as e:
        export(course.slug, tmp_path / "out", "--replace")
    assert "out/lessons is a symbolic link" in str(e.value)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_browser_draft_whose_cases_all_weigh_0_round_trips_with_a_warning(db, tmp_path):
    # The case editor takes a weight of 0 for every case; the import refused the export.
    course = make_browser_course()
    Case.objects.filter(exercise__lesson__slug="triage").update(weight=0)
    before = dump(course)
    export(course.slug, tmp_path / "out")
    course.delete()
    out = StringIO()
    call_command("import_course", str(tmp_path / "out"), stdout=out)
    assert dump(Course.objects.get()) == before
    assert (
        "cases[0].weight: at least one test case needs a weight above 0; publishing will fail"
    ) in out.getvalue()
