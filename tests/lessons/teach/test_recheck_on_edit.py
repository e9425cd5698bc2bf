"""Every write path that changes what a published exercise's check depends on runs the check
again, and a failing one is shown to its instructors on /teach/ and on the exercise's pages,
while learners keep the exercise as it is now."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from django.utils import timezone

from lessons.authoring import coursefiles, publishing
from lessons.authoring.forms import ExerciseForm
from lessons.models import Exercise, PublishCheck
from lessons.tasks import reconcile
from sandbox import runs
from sandbox.models import Attempt, UsageRecord
from tests.conftest import HTMX, RUBRIC, make_exercise, run_queued
from tests.lessons.teach.test_edit_cases import rows
from tests.lessons.teach.test_edit_exercise import form_data
from tests.lessons.teach.test_edit_rubric import criteria


@pytest.fixture
def exercise(checked_exercise):
    return checked_exercise


def latest_check(exercise) -> PublishCheck:
    return exercise.publish_checks.select_related("reference").first()


def edit_exercise(client, exercise, **changes):
    data = {
        "title": exercise.title,
        "variables": "name",
        "fixed_variables": "",
        "hints": "",
        "known_bad": "",
        "stub": "rules:\n  - if: say hello\n    reply: Hello there!\ndefault: Hmm, a long reply.\n",
        **changes,
    }
    data = form_data(**data)
    return client.post(f"/teach/exercises/{exercise.id}/", data)


def test_an_edit_of_nothing_checked_starts_no_check(ines_client, exercise):
    edit_exercise(ines_client, exercise)  # settles the stub and fields the form writes
    run_queued()
    count = PublishCheck.objects.count()
    r = edit_exercise(ines_client, exercise, title="Greet someone warmly")
    assert r.status_code == 302
    assert PublishCheck.objects.count() == count


@pytest.mark.parametrize(
    "changes",
    [
        {"starter_user": "Talk to {name}, please."},
        {"temperature": "0.5"},
        {"max_tokens": "100"},
        {"samples": "2"},
        {"sample_rule": "any"},
        {"solution_user": "Say hello to {name}, kindly."},
    ],
)
def test_the_exercise_form_checks_it_again(ines_client, exercise, changes):
    edit_exercise(ines_client, exercise, **changes)
    check = latest_check(exercise)
    assert (check.reason, check.status) == ("recheck", "checking")
    run_queued()
    assert latest_check(exercise).status == "passed"


def test_the_cases_editor_checks_it_again(ines_client, exercise):
    case = exercise.cases.get()
    before = PublishCheck.objects.count()
    ines_client.post(
        f"/teach/exercises/{exercise.id}/cases/",
        rows({"id": str(case.pk), "name": "Ada", "var_name": "Grace"}),
    )
    assert PublishCheck.objects.count() == before + 1


def test_csv_import_checks_it_again(ines_client, exercise):
    before = PublishCheck.objects.count()
    ines_client.post(
        f"/teach/exercises/{exercise.id}/cases/import/",
        {"csv_text": "name,__name\nGrace,Grace\n", "replace": ""},
    )
    assert exercise.cases.count() == 2
    assert PublishCheck.objects.count() == before + 1


def test_a_rubric_that_the_reference_fails_is_reported_and_learners_keep_the_exercise(
    ines_client, exercise
):
    ines_client.post(
        f"/teach/exercises/{exercise.id}/rubric/",
        criteria({"id": "bye", "kind": "contains", "params": "text: goodbye"}),
    )
    run_queued()
    check = latest_check(exercise)
    assert check.status == "failed" and check.problems[0].startswith("Reference solution")
    exercise.refresh_from_db()
    assert exercise.status == Exercise.PUBLISHED
    home = ines_client.get("/teach/").content.decode()
    assert "1 published exercise failed its reference check" in home
    assert f'href="/teach/exercises/{exercise.id}/"' in home
    assert home.count("Reference solution: it scored 0%") == 1
    for page in ("", "cases/", "rubric/"):
        html = ines_client.get(f"/teach/exercises/{exercise.id}/{page}").content.decode()
        assert 'data-publish="failing"' in html and f'data-check="{check.pk}"' in html
        assert html.count("Reference solution: it scored 0%") == 1
    # Fixed: the check runs again, passes, and the banner goes.
    ines_client.post(
        f"/teach/exercises/{exercise.id}/rubric/yaml/",
        {"rubric": "criteria:\n  - {id: greets, kind: contains, params: {text: Hello}}\n"},
    )
    run_queued()
    assert latest_check(exercise).status == "passed"
    assert "reference check" not in ines_client.get("/teach/").content.decode()


def test_check_again_reruns_a_failed_check_on_request(ines_client, exercise, delay):
    Exercise.objects.filter(pk=exercise.pk).update(stub={"default": "Nope."})
    PublishCheck.objects.update(definition="")  # the edit above bypassed the write paths
    publishing.recheck_if_changed(exercise)
    run_queued()
    assert latest_check(exercise).status == "failed"
    r = ines_client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
    assert 'data-publish="checking"' in r.content.decode()
    assert latest_check(exercise).reason == "recheck"


def test_course_import_checks_changed_published_exercises_as_an_instructor(
    instructor, exercise, tmp_path
):
    folder = tmp_path / "basics"
    coursefiles.write_course(exercise.lesson.course, folder)
    before = PublishCheck.objects.count()
    coursefiles.import_course(folder)
    assert PublishCheck.objects.count() == before  # unchanged: nothing to check
    exercise_file = next((folder / "exercises").glob("*greet*.yaml"))
    text = exercise_file.read_text()
    assert "max: 5" in text
    exercise_file.write_text(text.replace("max: 5", "max: 1"))
    coursefiles.import_course(folder)
    check = latest_check(exercise)
    assert PublishCheck.objects.count() == before + 1
    assert check.reason == "recheck" and check.reference.learner == instructor
    run_queued()
    assert latest_check(exercise).status == "failed"


def test_drafts_are_not_checked_on_edit(ines_client, instructor):
    draft = make_exercise(status=Exercise.DRAFT, slug="draft", rubric=RUBRIC)
    ines_client.post(f"/teach/exercises/{draft.id}/rubric/yaml/", {"rubric": "criteria: []\n"})
    assert not PublishCheck.objects.filter(exercise=draft).exists()


def test_an_edit_while_a_check_runs_fails_it_even_if_undone(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    """Publish a draft whose reference fails; while a worker runs its check, loosen the rubric,
    let the worker grade with the loose one, then put the strict one back: the check must not
    pass on a run of a version that is gone (the digest it compares is the same again)."""
    draft = make_exercise(status=Exercise.DRAFT, solution={"user": "Tell {name} a story."})
    strict = draft.rubric
    with django_capture_on_commit_callbacks(execute=True):
        ines_client.post(f"/teach/exercises/{draft.id}/publish/", headers=HTMX)
    check = draft.publish_checks.get()
    Attempt.objects.claim(str(check.reference_id), lease_seconds=60)  # a worker has it: not idle
    loose = "criteria:\n  - id: any\n    kind: length\n    params: {min: 1}\n"
    ines_client.post(f"/teach/exercises/{draft.id}/rubric/yaml/", {"rubric": loose})
    # That worker dies; another takes the run up, reads the loose rubric, and dies before
    # deciding.
    Attempt.objects.filter(pk=check.reference_id).update(lease_expires_at=timezone.now())
    with patch("lessons.authoring.publishing.finish_check"):
        runs.execute(str(check.reference_id))
    check.refresh_from_db()
    assert check.reference.passed  # graded with the loose rubric
    Exercise.objects.filter(pk=draft.pk).update(rubric=strict)
    publishing.recheck_if_changed(draft)  # as the editors call it after saving
    Attempt.objects.filter(pk=check.reference_id).update(finished_at="2000-01-01T00:00:00Z")
    reconcile()  # decides checks whose worker died
    check.refresh_from_db()
    draft.refresh_from_db()
    assert (check.status, check.problems) == ("failed", [publishing.CHANGED])
    assert draft.status == Exercise.DRAFT


@pytest.mark.parametrize(
    "meanwhile, kept",
    [
        (Exercise.DRAFT, Exercise.DRAFT),  # another tab's Unpublish: it does not come back
        (Exercise.PUBLISHED, Exercise.PUBLISHED),  # a draft's check published it meanwhile
    ],
)
def test_the_exercise_form_never_writes_back_the_status_it_read(
    ines_client, exercise, meanwhile, kept
):
    edit_exercise(ines_client, exercise)  # settle the fields the form writes
    run_queued()
    Exercise.objects.filter(pk=exercise.pk).update(
        status=Exercise.PUBLISHED if meanwhile == Exercise.DRAFT else Exercise.DRAFT
    )
    original = ExerciseForm.is_valid

    def changed_meanwhile(self):  # committed while this request validates its form
        Exercise.objects.filter(pk=exercise.pk).update(status=meanwhile)
        return original(self)

    with patch.object(ExerciseForm, "is_valid", changed_meanwhile):
        assert edit_exercise(ines_client, exercise, title="A new title").status_code == 302
    exercise.refresh_from_db()
    assert (exercise.status, exercise.title) == (kept, "A new title")


def test_quick_edits_run_and_bill_only_the_reference_of_the_last(ines_client, instructor, exercise):
    """Three edits while the first check's reference is still queued: each starts a check and
    fails the one before; the runs of those superseded checks end unrun, billed nothing, and
    only the last edit's reference reaches the model."""
    edit_exercise(ines_client, exercise)  # settles the stub and fields the form writes
    run_queued()
    billed = UsageRecord.objects.filter(learner=instructor).count()
    for solution in ("Say hello to {name}, kindly.", "Say hello to {name}!", "Say hello, {name}."):
        assert edit_exercise(ines_client, exercise, solution_user=solution).status_code == 302
    superseded, last = list(exercise.publish_checks.all()[1:3]), latest_check(exercise)
    assert [c.reference.status for c in superseded] == [Attempt.ERROR] * 2
    assert {c.reference.error_code for c in superseded} == {publishing.SUPERSEDED}
    run_queued()
    assert UsageRecord.objects.filter(learner=instructor).count() == billed + 1
    assert not UsageRecord.objects.filter(attempt__in=[c.reference for c in superseded]).exists()
    assert [(c.status, c.problems) for c in superseded] == [("failed", [publishing.CHANGED])] * 2
    assert latest_check(exercise).status == "passed" and last.reference.runs.count() == 1
    # The superseded runs are no failure anyone is told of: the latest check passed.
    assert "reference check" not in ines_client.get("/teach/").content.decode()
    page = ines_client.get(f"/teach/exercises/{exercise.id}/").content.decode()
    assert 'data-publish="failing"' not in page


def test_an_edit_past_the_per_minute_limit_is_saved_and_its_check_refused(
    ines_client, exercise, settings, delay
):
    """Edits posted in a loop would each queue a reference run: past SUBMISSIONS_PER_MINUTE
    checks, the edit is saved but its check fails at once, and the banner says to check again."""
    settings.SUBMISSIONS_PER_MINUTE = 1  # the fixture's check was one
    queued = delay.call_count
    r = edit_exercise(ines_client, exercise, solution_user="Say hello to {name}, kindly.")
    assert r.status_code == 302
    exercise.refresh_from_db()
    assert exercise.solution["user"] == "Say hello to {name}, kindly."
    check = latest_check(exercise)
    assert (check.status, check.reference) == ("failed", None)
    assert check.problems[0].startswith("You have started 1 publish checks in the last minute")
    assert delay.call_count == queued
    home = ines_client.get("/teach/").content.decode()
    assert "failed its reference check" in home and "in the last minute" in home
    # A minute on, Check again runs it.
    PublishCheck.objects.update(created_at="2000-01-01T00:00:00Z")
    ines_client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
    assert latest_check(exercise).reference is not None
