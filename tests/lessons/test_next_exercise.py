"""The result of a passed attempt leads on: a Next exercise button to the next exercise to do
(lessons.journey), or, once every exercise is passed, word that the course is complete."""

from __future__ import annotations

from lessons.review.models import Override
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise

HTMX = {"HX-Request": "true"}


def status(client, attempt: Attempt) -> str:
    """Return the attempt's status block, as the page's htmx poll gets it."""
    return client.get(f"/attempts/{attempt.id}/", headers=HTMX).content.decode()


def graded(learner, exercise, passed: bool) -> Attempt:
    attempt = make_attempt(
        learner, exercise, status=Attempt.GRADED, score=float(passed), passed=passed
    )
    refresh(learner.pk, exercise.pk)  # as the worker does on grading
    return attempt


def test_a_pass_shows_the_next_exercise(alice_client, learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    html = status(alice_client, graded(learner, exercise, passed=True))
    button = f'<a class="button primary" href="{second.get_absolute_url()}">Next exercise →</a>'
    assert button in html
    assert "Up next: Greet twice." in html


def test_a_fail_shows_no_next_button(alice_client, learner, exercise):
    make_exercise(slug="greet-twice", title="Greet twice", position=1)
    html = status(alice_client, graded(learner, exercise, passed=False))
    assert "data-next" not in html
    assert "Next exercise" not in html


def test_an_overridden_fail_leads_on_as_a_pass(alice_client, learner, instructor, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    attempt = graded(learner, exercise, passed=False)
    Override.objects.create(attempt=attempt, score=1.0, passed=True, reason="Fine", by=instructor)
    assert second.get_absolute_url() in status(alice_client, attempt)


def test_passing_the_last_exercise_to_do_completes_the_course(alice_client, learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    graded(learner, exercise, passed=True)
    html = status(alice_client, graded(learner, second, passed=True))
    assert "You have completed Basics:" in html
    assert 'href="/courses/basics/">Back to the course</a>' in html
    assert "Next exercise" not in html


def test_a_skipped_exercise_comes_next_after_the_last(alice_client, learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    html = status(alice_client, graded(learner, second, passed=True))
    assert f'href="{exercise.get_absolute_url()}">Next exercise →' in html


def test_the_exercise_page_shows_it_under_the_latest_pass(alice_client, learner, exercise):
    second = make_exercise(slug="greet-twice", title="Greet twice", position=1)
    graded(learner, exercise, passed=True)
    html = alice_client.get(exercise.get_absolute_url()).content.decode()
    assert f'href="{second.get_absolute_url()}">Next exercise →' in html
