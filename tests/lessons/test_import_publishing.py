"""Course imports and the publish gate: an import naming its instructors checks its published
exercises as theirs, and files cannot publish a draft past its publish check."""

from __future__ import annotations

from django.core.management import call_command

from lessons.authoring import coursefiles, publishing
from lessons.models import Course, Exercise, PublishCheck
from tests.conftest import HTMX, make_exercise, run_queued

FAILING_SOLUTION = {"user": "Tell {name} a story."}  # the stub's long default: 'greets' fails


def test_an_import_with_instructors_checks_its_published_exercises(
    instructor, ines_client, delay, tmp_path
):
    exercise = make_exercise(solution=FAILING_SOLUTION)
    folder = tmp_path / "basics"
    coursefiles.write_course(exercise.lesson.course, folder)
    Course.objects.filter(slug="basics").delete()

    call_command("import_course", str(folder), instructor=["ines"])

    imported = Exercise.objects.get(slug="greet")
    assert imported.status == Exercise.PUBLISHED  # learners can open it
    assert imported.lesson.course.instructors.filter(pk=instructor.pk).exists()
    # A published exercise's failing reference is checked and its instructors told.
    assert PublishCheck.objects.filter(exercise=imported).exists(), "no check was run"


def test_a_reimport_does_not_publish_a_draft_its_check_refused(
    instructor, ines_client, delay, tmp_path, django_capture_on_commit_callbacks
):
    draft = make_exercise(status=Exercise.DRAFT, solution=FAILING_SOLUTION)
    with django_capture_on_commit_callbacks(execute=True):
        ines_client.post(f"/teach/exercises/{draft.id}/publish/", headers=HTMX)
    run_queued()
    assert draft.publish_checks.get().status == "failed"  # publishing refused
    draft.refresh_from_db()
    assert draft.status == Exercise.DRAFT

    folder = tmp_path / "basics"
    coursefiles.write_course(draft.lesson.course, folder)
    exercise_file = next((folder / "exercises").glob("*greet*.yaml"))
    exercise_file.write_text(exercise_file.read_text().replace("status: draft\n", ""))
    coursefiles.import_course(folder)  # the default status is published

    draft.refresh_from_db()
    # The files ask for it to be published: it stays a draft, and a publish check decides.
    assert draft.status == Exercise.DRAFT, "published although its publish check failed"
    assert draft.publish_checks.count() == 2


def test_files_publishing_a_draft_fail_its_check_under_way_of_another_version(
    instructor, ines_client, delay, tmp_path, django_capture_on_commit_callbacks
):
    draft = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    folder = tmp_path / "basics"
    coursefiles.write_course(draft.lesson.course, folder)  # this version, marked published:
    exercise_file = next((folder / "exercises").glob("*greet*.yaml"))
    exercise_file.write_text(exercise_file.read_text().replace("status: draft\n", ""))
    Exercise.objects.filter(pk=draft.pk).update(temperature=0.5)  # then another is checked
    with django_capture_on_commit_callbacks(execute=True):
        ines_client.post(f"/teach/exercises/{draft.id}/publish/", headers=HTMX)
    under_way = draft.publish_checks.get()
    coursefiles.import_course(folder)
    under_way.refresh_from_db()
    assert (under_way.status, under_way.problems) == ("failed", [publishing.CHANGED])
    assert draft.publish_checks.filter(status="checking").count() == 1  # of the files' version


def test_an_import_is_not_held_to_the_per_minute_limit_of_checks(
    instructor, delay, tmp_path, settings
):
    """An import checks every exercise it changed at once, as the course's first instructor:
    their checks from the browser in the last minute do not stop it."""
    settings.SUBMISSIONS_PER_MINUTE = 1
    exercises = [
        make_exercise(slug=slug, solution={"user": "Say hello to {name}."})
        for slug in ("greet", "greet-again")
    ]
    publishing.start_check(exercises[0], instructor, PublishCheck.RECHECK)  # the most allowed
    folder = tmp_path / "basics"
    coursefiles.write_course(exercises[0].lesson.course, folder)
    for exercise_file in (folder / "exercises").glob("*greet*.yaml"):
        exercise_file.write_text(exercise_file.read_text().replace("max: 5", "max: 6"))
    coursefiles.import_course(folder)
    for exercise in exercises:
        check = exercise.publish_checks.first()
        assert (check.status, check.problems) == ("checking", [])
        assert check.reference is not None
