"""POST /teach/exercises/<id>/publish/ and GET …/publish/<check>/: the publish check runs the
reference solution through the real pipeline, and the worker publishes or says why not; the
page only watches."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import Mock, patch

from django.utils import timezone

from lessons.authoring import publishing
from lessons.models import Course, Exercise, Lesson, PublishCheck
from lessons.tasks import reconcile
from sandbox import runs
from sandbox.models import Attempt, UsageRecord
from sandbox.signals import attempt_finished
from tests.conftest import HTMX, make_exercise, make_user, run_queued


def start(client, exercise, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
    return r


def status(client, exercise, check):
    return client.get(f"/teach/exercises/{exercise.id}/publish/{check.pk}/", headers=HTMX)


def test_it_queues_a_reference_run_and_polls_the_check(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    r = start(ines_client, exercise, django_capture_on_commit_callbacks)
    check = PublishCheck.objects.get()
    attempt = check.reference
    assert attempt.is_reference and attempt.learner == instructor
    assert attempt.user_prompt == "Say hello to {name}."
    assert (check.reason, check.status, check.requested_by) == ("publish", "checking", instructor)
    delay.assert_called_once_with(str(attempt.id))
    html = r.content.decode()
    assert f'hx-get="/teach/exercises/{exercise.id}/publish/{check.pk}/"' in html
    assert 'hx-trigger="every 500ms"' in html
    assert 'data-publish="checking"' in status(ines_client, exercise, check).content.decode()


def test_the_worker_publishes_it_with_no_further_request(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()  # the worker; the instructor's tab may be closed
    exercise.refresh_from_db()
    check = PublishCheck.objects.get()
    assert exercise.status == Exercise.PUBLISHED
    assert (check.status, check.problems) == ("passed", [])
    html = status(ines_client, exercise, check).content.decode()
    assert 'data-publish="published"' in html
    assert "every 500ms" not in html  # final: the polling stops


def test_it_says_whether_learners_reach_it_through_its_lesson_and_course(
    ines_client, delay, django_capture_on_commit_callbacks
):
    """ "Learners can open it now" was said of an exercise in a draft lesson of a draft course,
    which no learner can open."""
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    lesson, course = exercise.lesson, exercise.lesson.course
    Lesson.objects.filter(pk=lesson.pk).update(published=False)
    Course.objects.filter(pk=course.pk).update(published=False)
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()
    check = PublishCheck.objects.get()
    html = status(ines_client, exercise, check).content.decode()
    assert "learners will see it once its lesson and its course are published." in html
    assert "can open it" not in html
    editor = f"/teach/exercises/{exercise.id}/"
    assert "Learners will see it once its lesson and" in ines_client.get(editor).content.decode()
    Lesson.objects.filter(pk=lesson.pk).update(published=True)
    html = ines_client.get(editor).content.decode()
    assert "Learners will see it once its course is published. Edits" in html
    Course.objects.filter(pk=course.pk).update(published=True)
    assert "Learners can open it now. Edits" in ines_client.get(editor).content.decode()
    html = status(ines_client, exercise, check).content.decode()
    assert "learners can open it now." in html
    Course.objects.filter(pk=course.pk).update(archived=True)  # published, but archived
    page = ines_client.get(editor).content.decode()
    assert "Learners do not see it: its course is archived. Edits" in page
    assert "can open it" not in page


def test_screen_readers_hear_the_check_start_and_end_once(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    page = ines_client.get(f"/teach/exercises/{exercise.id}/").content.decode()
    # The status region sits outside the panel that each poll replaces.
    assert '<p id="publish-announcement" class="visually-hidden" role="status"' in page
    started = start(ines_client, exercise, django_capture_on_commit_callbacks).content.decode()
    oob = '<span id="publish-announcement" hx-swap-oob="innerHTML">'
    assert f"{oob}Checking: the reference solution runs on every test case.</span>" in started
    check = PublishCheck.objects.get()
    assert oob not in status(ines_client, exercise, check).content.decode()  # a poll: no news
    run_queued()
    assert f"{oob}Published.</span>" in status(ines_client, exercise, check).content.decode()


def test_it_refuses_while_the_reference_fails_and_says_which_check(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Talk to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()
    check = PublishCheck.objects.get()
    html = status(ines_client, exercise, check).content.decode()
    assert check.status == "failed"
    assert html.count("Reference solution: it scored 0% (needs 100%)") == 1
    assert "criterion &#x27;greets&#x27; failed on case 1" in html
    assert f'href="/attempts/{check.reference_id}/"' in html
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT
    # The editor shows the failed check too, until another check passes.
    page = ines_client.get(f"/teach/exercises/{exercise.id}/").content.decode()
    assert 'data-publish="refused"' in page and "it scored 0%" in page


def test_it_refuses_when_the_self_test_fails(
    ines_client, delay, django_capture_on_commit_callbacks
):
    rubric = {
        "criteria": [{"id": "greets", "kind": "contains", "params": {"text": "Hello"}}],
        "samples": {"bad": ["Hello, I should fail"]},
    }
    exercise = make_exercise(
        status=Exercise.DRAFT, rubric=rubric, solution={"user": "Say hello to {name}."}
    )
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()
    html = status(ines_client, exercise, PublishCheck.objects.get()).content.decode()
    assert "Self-test: bad sample 1" in html and "should have failed" in html
    assert "Reference solution:" not in html


def test_it_refuses_a_reference_run_of_an_exercise_edited_meanwhile(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    Exercise.objects.filter(pk=exercise.pk).update(solution={"user": "Say hello, {name}."})
    run_queued()
    check = PublishCheck.objects.get()
    assert check.status == "failed"
    assert "changed while it was being checked" in check.problems[0]
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


def test_a_check_whose_worker_died_after_saving_the_run_is_decided_by_the_reconciler(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    # The worker dies right after its save.
    with patch.object(attempt_finished, "send_robust", return_value=[]):
        run_queued()
    check = PublishCheck.objects.get()
    assert check.reference.status == Attempt.GRADED and check.status == "checking"
    finished_long_ago(check.reference)
    assert reconcile.run() == 1
    check.refresh_from_db()
    exercise.refresh_from_db()
    assert check.status == "passed" and exercise.status == Exercise.PUBLISHED
    assert reconcile.run() == 0


def finished_long_ago(attempt: Attempt) -> None:
    """Backdate an attempt's finish past RECONCILE_QUEUED_AFTER: its signal is long lost."""
    from django.conf import settings

    long_ago = timezone.now() - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER + 1)
    Attempt.objects.filter(pk=attempt.pk).update(finished_at=long_ago)


def test_the_reconciler_leaves_a_check_whose_reference_just_finished_to_its_signal(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    # Its handler is deciding it right now.
    with patch.object(attempt_finished, "send_robust", return_value=[]):
        run_queued()
    check = PublishCheck.objects.get()
    with patch("lessons.authoring.publishing.check_problems") as check_problems:
        assert publishing.finish_stranded_checks() == 0
    check_problems.assert_not_called()  # no second self-test, no second judge bill
    check.refresh_from_db()
    assert check.status == "checking"
    finished_long_ago(check.reference)
    assert publishing.finish_stranded_checks() == 1
    check.refresh_from_db()
    assert check.status == "passed"


def test_one_check_that_raises_stops_neither_the_other_checks_nor_the_regrades(
    ines_client, instructor, delay, django_capture_on_commit_callbacks, monkeypatch
):
    first = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    second = make_exercise(
        status=Exercise.DRAFT, slug="greet-2", solution={"user": "Say hello to {name}."}
    )
    for exercise in (first, second):
        start(ines_client, exercise, django_capture_on_commit_callbacks)
    with patch.object(attempt_finished, "send_robust", return_value=[]):
        run_queued()
    for check in PublishCheck.objects.all():
        finished_long_ago(check.reference)
    real = publishing.check_problems

    def broken_for_the_first(check):
        if check.exercise_id == first.pk:
            raise RuntimeError("the judge's backend blew up")
        return real(check)

    monkeypatch.setattr(publishing, "check_problems", broken_for_the_first)
    assert publishing.finish_stranded_checks() == 2
    statuses = dict(PublishCheck.objects.values_list("exercise_id", "status"))
    assert statuses == {first.pk: "checking", second.pk: "passed"}
    # The whole check recovery failing still leaves the regrades' recovery to run.
    monkeypatch.setattr(publishing, "finish_stranded_checks", Mock(side_effect=RuntimeError))
    regrades = Mock(return_value=3)
    monkeypatch.setattr("lessons.tasks.regrading.reconcile", regrades)
    assert reconcile.run() == 3
    regrades.assert_called_once()


def test_an_edit_saved_while_the_self_test_ran_is_not_published(
    ines_client, delay, django_capture_on_commit_callbacks, monkeypatch
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    real = publishing.self_test

    def self_test_during_an_edit(exercise, attempt):
        report = real(exercise, attempt)  # after check_problems compared the definitions
        Exercise.objects.filter(pk=exercise.pk).update(rubric={"criteria": []})
        return report

    monkeypatch.setattr(publishing, "self_test", self_test_during_an_edit)
    run_queued()
    check = PublishCheck.objects.get()
    exercise.refresh_from_db()
    assert check.status == "failed" and exercise.status == Exercise.DRAFT
    assert check.problems[0].startswith("The exercise changed while it was being checked: ")


def test_it_refuses_at_once_when_the_instructor_is_over_budget(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    UsageRecord.objects.create(
        learner=instructor, backend="stub", model="scripted", input_tokens=10**9
    )
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    html = start(ines_client, exercise, django_capture_on_commit_callbacks).content.decode()
    check = PublishCheck.objects.get()
    assert check.status == "failed" and check.reference is None
    assert check.problems == [check.problems[0]] and "You have used your" in check.problems[0]
    assert "You have used your" in html
    assert not Attempt.objects.exists()
    delay.assert_not_called()
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


def test_it_refuses_at_once_without_a_solution_or_cases(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={}, cases=[])
    r = start(ines_client, exercise, django_capture_on_commit_callbacks)
    html = r.content.decode()
    assert "There is no reference solution" in html
    assert "There are no test cases" in html
    assert not Attempt.objects.exists()
    delay.assert_not_called()
    assert PublishCheck.objects.get().status == "failed"


def test_it_refuses_at_once_when_the_backend_is_not_configured_and_nothing_can_stand_in(
    ines_client, delay, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.CASSETTE_DIR = tmp_path
    exercise = make_exercise(
        status=Exercise.DRAFT,
        backend="openai",
        model_name="gpt-4o-mini",
        stub={},
        solution={"user": "Say hello to {name}."},
    )
    html = start(ines_client, exercise, django_capture_on_commit_callbacks).content.decode()
    assert "it cannot be run here" in html and "OPENAI_API_KEY" in html
    assert "no recorded cassette or stub rules" in html
    assert not Attempt.objects.exists()


def test_without_the_backend_the_reference_runs_on_the_stub_rules(
    ines_client, delay, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.CASSETTE_DIR = tmp_path
    exercise = make_exercise(
        status=Exercise.DRAFT,
        backend="openai",
        model_name="gpt-4o-mini",
        solution={"user": "Please say hello to {name}."},
    )
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    attempt = Attempt.objects.get(is_reference=True)
    run_queued()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.GRADED and attempt.passed
    assert attempt.runs.get().model_label == "Offline stub · scripted"


def test_a_model_off_the_allowlist_fails_the_check_as_it_fails_learners(
    ines_client, delay, django_capture_on_commit_callbacks, settings
):
    settings.OPENAI_API_KEY = "sk-test-configured"
    settings.SANDBOX_MODELS = "openai:gpt-4o-mini:0.15:0.60"
    exercise = make_exercise(
        status=Exercise.DRAFT,
        backend="openai",
        model_name="gpt-not-allowed",
        solution={"user": "Please say hello to {name}."},
    )
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()  # the stub rules do not stand in: learners would get no answer
    check = exercise.publish_checks.get()
    assert check.status == PublishCheck.FAILED
    assert "not on this site's list of allowed models" in check.problems[0]
    assert not check.reference.runs.exists()


def test_reference_runs_do_not_count_as_learner_attempts(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    assert not Attempt.objects.by_learners().exists()


def test_unpublish_takes_it_back_to_draft(ines_client, instructor):
    exercise = make_exercise()
    r = ines_client.post(f"/teach/exercises/{exercise.id}/unpublish/", headers=HTMX)
    assert "Draft" in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


def test_a_refusal_names_each_failing_check_once_numbering_cases_as_the_page(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        solution={"user": "Talk to {name}."},
        samples=3,
        cases=[
            {"name": "Ada", "variables": {"name": "Ada"}},
            {"name": "Bob", "variables": {"name": "Bob"}},
        ],
    )
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    run_queued()
    [problem] = PublishCheck.objects.get().problems
    assert problem.count("criterion 'greets' failed on case 1 ('Ada')") == 1
    assert problem.count("criterion 'greets' failed on case 2 ('Bob')") == 1
    assert "case 3" not in problem and "case 6" not in problem
    page = ines_client.get(f"/teach/exercises/{exercise.id}/cases/").content.decode()
    assert '<span class="num">1</span>' in page and '<span class="num">2</span>' in page


def test_a_reference_run_no_worker_takes_says_it_waits_for_one(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    check = PublishCheck.objects.get()
    assert 'data-publish="checking"' in status(ines_client, exercise, check).content.decode()
    Attempt.objects.filter(pk=check.reference_id).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    html = status(ines_client, exercise, check).content.decode()
    assert 'data-publish="waiting"' in html and "queued for 2\xa0minutes" in html
    assert "every 500ms" in html  # it goes on watching
    heard = "Waiting for a worker to run the reference solution."
    assert heard in html  # once: the poll that first shows it
    assert '"shown": "waiting"' in html
    url = f"/teach/exercises/{exercise.id}/publish/{check.pk}/?shown=waiting"
    assert heard not in ines_client.get(url, headers=HTMX).content.decode()
    run_queued()  # a worker starts
    html = status(ines_client, exercise, check).content.decode()
    assert 'data-publish="published"' in html


def test_a_failed_check_outlives_the_account_that_started_it(ines_client, instructor):
    exercise = make_exercise(solution={"user": "Say hello to {name}."})
    carl = make_user("carl", is_staff=True)
    exercise.lesson.course.instructors.add(carl)
    exercise.rubric = {"criteria": [{"id": "bye", "kind": "contains", "params": {"text": "bye"}}]}
    exercise.save()
    publishing.start_check(exercise, carl, PublishCheck.RECHECK)
    run_queued()
    assert PublishCheck.objects.get().status == "failed"
    carl.delete()  # and with him his reference run
    check = PublishCheck.objects.get()
    assert (check.status, check.reference, check.requested_by) == ("failed", None, None)
    assert "failed its reference check" in ines_client.get("/teach/").content.decode()


def test_a_check_whose_reference_run_was_deleted_is_failed_by_the_reconciler(instructor):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    carl = make_user("carl", is_staff=True)
    check = publishing.start_check(exercise, carl, PublishCheck.PUBLISH)
    carl.delete()  # before a worker ran it
    reconcile.run()
    check.refresh_from_db()
    assert (check.status, check.problems) == ("failed", [publishing.ORPHANED])
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


def test_it_refuses_at_once_a_case_without_a_value_for_a_variable_added_after_it(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(
        status=Exercise.DRAFT,
        solution={"user": "Say hello to {name}, {tone}."},
        cases=[
            {"name": "Ada", "variables": {"name": "Ada", "tone": "warm"}},
            {"name": "Bob", "variables": {"name": "Bob"}},
        ],
    )
    exercise.variables = ["name", "tone"]  # as the exercise form saves an added variable
    exercise.save()
    html = start(ines_client, exercise, django_capture_on_commit_callbacks).content.decode()
    check = PublishCheck.objects.get()
    assert check.status == "failed" and check.reference is None
    assert check.problems == [
        "Test case “Bob” has no value for tone: give it one on the Test cases page (its "
        "prompt would reach the model with the placeholder unfilled)."
    ]
    assert "Test case “Bob” has no value for tone" in html
    delay.assert_not_called()


def test_a_self_test_outlasting_the_reconcilers_wait_is_not_run_again(
    ines_client, delay, django_capture_on_commit_callbacks
):
    """The worker's handler runs the self-test (judge calls: it can take minutes); the
    reconciler, passing meanwhile, sees a check whose reference finished long ago and must not
    decide it a second time (a second self-test, a second judge bill)."""
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    real, self_tests = publishing.self_test, []

    def slow_self_test(exercise, attempt):
        self_tests.append(attempt.pk)
        if len(self_tests) == 1:  # it outlasts RECONCILE_QUEUED_AFTER: two passes meanwhile
            finished_long_ago(attempt)
            assert publishing.finish_stranded_checks() == 0
            assert publishing.finish_stranded_checks() == 0
        return real(exercise, attempt)

    with patch.object(publishing, "self_test", slow_self_test):
        run_queued()
    assert len(self_tests) == 1
    check = PublishCheck.objects.get()
    assert check.status == "passed"


def test_a_stranded_check_the_reconciler_is_deciding_is_not_decided_by_its_next_pass(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    with patch.object(attempt_finished, "send_robust", return_value=[]):  # its worker died
        run_queued()
    finished_long_ago(PublishCheck.objects.get().reference)
    real, self_tests = publishing.self_test, []

    def slow_self_test(exercise, attempt):
        self_tests.append(attempt.pk)
        if len(self_tests) == 1:  # longer than RECONCILE_EVERY: the next pass comes
            assert publishing.finish_stranded_checks() == 0
        return real(exercise, attempt)

    with patch.object(publishing, "self_test", slow_self_test):
        assert publishing.finish_stranded_checks() == 1
    assert len(self_tests) == 1
    assert PublishCheck.objects.get().status == "passed"


def test_a_second_publish_while_the_check_runs_watches_that_check(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    """A double click, or a second instructor clicking Publish at the same moment, starts no
    second reference run (a second bill, and a second decision to publish)."""
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    carl = make_user("carl")
    exercise.lesson.course.instructors.add(carl)
    again = publishing.start_check(exercise, carl, PublishCheck.PUBLISH)
    check = PublishCheck.objects.get()
    assert again == check and Attempt.objects.filter(is_reference=True).count() == 1
    delay.assert_called_once()


def test_a_publish_after_the_run_of_the_check_under_way_was_deleted_starts_a_new_one(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    """A check whose reference run was deleted (with the account that started it) will never
    be decided, only failed by the reconciler: Publish starts a new check, not watch that one."""
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    orphaned = PublishCheck.objects.get()
    orphaned.reference.delete()
    carl = make_user("carl")
    exercise.lesson.course.instructors.add(carl)
    check = publishing.start_check(exercise, carl, PublishCheck.PUBLISH)
    assert check != orphaned and check.reference is not None
    run_queued()
    check.refresh_from_db()
    assert check.status == "passed"


def edit_rubric(client, exercise) -> None:
    loose = "criteria:\n  - id: any\n    kind: length\n    params: {min: 1}\n"
    assert (
        client.post(f"/teach/exercises/{exercise.id}/rubric/yaml/", {"rubric": loose}).status_code
        == 302
    )


def test_an_edit_while_the_reference_is_queued_ends_it_unrun_and_unbilled(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    """A draft's check made obsolete by an edit: its queued run would be billed for a version
    that is gone. It ends superseded, which the worker's claim skips."""
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    # A reference run that is no check's (a health check's replay) is no check's to end.
    replay = Attempt.objects.create(
        learner=instructor, **publishing.reference_attempt_fields(exercise)
    )
    edit_rubric(ines_client, exercise)
    replay.refresh_from_db()
    assert replay.status == Attempt.QUEUED
    check = PublishCheck.objects.get()
    assert (check.status, check.problems) == ("failed", [publishing.CHANGED])
    reference = check.reference
    assert (reference.status, reference.error_code) == (Attempt.ERROR, publishing.SUPERSEDED)
    runs.execute(str(reference.id))  # its message, delivered
    reference.refresh_from_db()
    assert reference.status == Attempt.ERROR and not reference.runs.exists()
    assert not UsageRecord.objects.filter(attempt=reference).exists()
    page = ines_client.get(f"/attempts/{reference.id}/").content.decode()
    assert "the exercise was edited before a worker took this run" in page


def test_an_edit_leaves_a_reference_run_a_worker_holds_and_ends_one_whose_worker_died(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    held = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    died = make_exercise(
        status=Exercise.DRAFT, slug="greet-2", solution={"user": "Say hello to {name}."}
    )
    for exercise in (held, died):
        start(ines_client, exercise, django_capture_on_commit_callbacks)
        Attempt.objects.claim(str(exercise.publish_checks.get().reference_id), lease_seconds=60)
    Attempt.objects.filter(exercise=died).update(lease_expires_at=timezone.now())
    for exercise in (held, died):
        edit_rubric(ines_client, exercise)
    statuses = dict(Attempt.objects.values_list("exercise_id", "status"))
    assert statuses == {held.pk: Attempt.RUNNING, died.pk: Attempt.ERROR}


def test_checks_started_past_the_per_minute_limit_are_refused_at_once(
    ines_client, instructor, delay, django_capture_on_commit_callbacks, settings
):
    """A loop posting Publish (or edits) would queue a reference run, model calls, each time:
    the instructor's checks are limited per minute as a learner's submits are."""
    settings.SUBMISSIONS_PER_MINUTE = 2
    exercises = [
        make_exercise(status=Exercise.DRAFT, slug=f"greet-{n}", solution={"user": "Say hello."})
        for n in range(3)
    ]
    for exercise in exercises:
        html = start(ines_client, exercise, django_capture_on_commit_callbacks).content.decode()
    assert Attempt.objects.filter(is_reference=True).count() == 2 and delay.call_count == 2
    refused = exercises[2].publish_checks.get()
    assert (refused.status, refused.reference) == ("failed", None)
    assert refused.problems == [
        "You have started 2 publish checks in the last minute, the most allowed. "
        "Wait a moment, then check it again."
    ]
    assert "You have started 2 publish checks in the last minute" in html
    # A second click on a check under way starts nothing, so it is not refused.
    html = start(ines_client, exercises[0], django_capture_on_commit_callbacks).content.decode()
    assert 'data-publish="checking"' in html
