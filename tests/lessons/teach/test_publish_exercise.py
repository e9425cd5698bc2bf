"""POST /teach/exercises/<id>/publish/, GET …/publish/<attempt>/, POST …/finish/: the publish
check runs the reference solution through the real pipeline, then publishes or says why not."""

from __future__ import annotations

from lessons.models import Exercise
from sandbox.models import Attempt
from tests.conftest import HTMX, make_exercise, run_queued


def start(client, exercise, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/teach/exercises/{exercise.id}/publish/", headers=HTMX)
    return r


def finish(client, exercise, attempt):
    return client.post(f"/teach/exercises/{exercise.id}/publish/{attempt.id}/finish/", headers=HTMX)


def test_it_queues_a_reference_run_and_polls_it(
    ines_client, instructor, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    r = start(ines_client, exercise, django_capture_on_commit_callbacks)
    attempt = Attempt.objects.get()
    assert attempt.is_reference and attempt.learner == instructor
    assert attempt.user_prompt == "Say hello to {name}."
    delay.assert_called_once_with()
    html = r.content.decode()
    assert f'hx-get="/teach/exercises/{exercise.id}/publish/{attempt.id}/"' in html
    assert 'hx-trigger="every 500ms"' in html
    # While it runs, the status stays "checking"; once final, the panel asks to finish.
    status = ines_client.get(f"/teach/exercises/{exercise.id}/publish/{attempt.id}/", headers=HTMX)
    assert 'data-publish="checking"' in status.content.decode()
    run_queued()
    status = ines_client.get(f"/teach/exercises/{exercise.id}/publish/{attempt.id}/", headers=HTMX)
    assert f'hx-post="/teach/exercises/{exercise.id}/publish/{attempt.id}/finish/"' in (
        status.content.decode()
    )
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT  # a GET publishes nothing


def test_it_publishes_when_the_reference_passes(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Say hello to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    attempt = Attempt.objects.get()
    run_queued()
    r = finish(ines_client, exercise, attempt)
    assert r.status_code == 200
    assert 'data-publish="published"' in r.content.decode()
    exercise.refresh_from_db()
    assert exercise.status == Exercise.PUBLISHED


def test_it_refuses_while_the_reference_fails_and_says_which_check(
    ines_client, delay, django_capture_on_commit_callbacks
):
    exercise = make_exercise(status=Exercise.DRAFT, solution={"user": "Talk to {name}."})
    start(ines_client, exercise, django_capture_on_commit_callbacks)
    attempt = Attempt.objects.get()
    run_queued()
    r = finish(ines_client, exercise, attempt)
    html = r.content.decode()
    assert r.status_code == 422
    assert "Reference solution: it scored 0% (needs 100%)" in html
    assert "criterion &#x27;greets&#x27; failed on case 1" in html
    assert f'href="/attempts/{attempt.id}/"' in html
    exercise.refresh_from_db()
    assert exercise.status == Exercise.DRAFT


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
    attempt = Attempt.objects.get()
    run_queued()
    html = finish(ines_client, exercise, attempt).content.decode()
    assert "Self-test: bad sample 1" in html and "should have failed" in html
    assert "Reference solution:" not in html


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
