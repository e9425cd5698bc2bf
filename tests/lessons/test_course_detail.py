"""GET /courses/<slug>/: the lessons, each exercise's status for me, and my progress."""

from __future__ import annotations

import re

from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt, make_exercise

URL = "/courses/basics/"


def badge(html: str, title: str) -> str:
    """Return the text of the status badge after the exercise link with this title."""
    pattern = rf'>{re.escape(title)}</a>\s*<span class="badge[^"]*">([^<]*)</span>'
    match = re.search(pattern, html)
    assert match, f"no badge for {title!r}"
    return match.group(1)


def test_it_lists_the_lessons_and_their_exercises(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    assert "Basics" in html
    assert 'href="/courses/basics/first/"' in html
    assert "First lesson" in html
    assert 'href="/courses/basics/first/greet/"' in html


def test_an_untried_exercise_says_not_tried(alice_client, exercise):
    html = alice_client.get(URL).content.decode()
    assert badge(html, "Greet someone") == "Not tried"
    assert "0 of 1 exercise passed" in html
    assert 'value="0"' in html


def test_a_tried_exercise_shows_my_best_score(alice_client, learner, exercise):
    make_attempt(learner, exercise, status=Attempt.GRADED, score=0.25, passed=False)
    make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    refresh(learner.pk, exercise.pk)  # as the worker does on grading
    html = alice_client.get(URL).content.decode()
    assert badge(html, "Greet someone") == "Best 50%"
    assert "0 of 1 exercise passed" in html


def test_a_passed_exercise_says_passed_and_counts_in_the_progress(alice_client, learner, exercise):
    other = make_exercise(slug="greet-twice", title="Greet twice")
    make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
    make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    refresh(learner.pk, exercise.pk)  # as the worker does on grading
    html = alice_client.get(URL).content.decode()
    assert badge(html, "Greet someone") == "Passed"
    assert badge(html, other.title) == "Not tried"
    assert "1 of 2 exercises passed" in html
    assert 'max="100" value="50"' in html


def test_work_with_no_graded_attempt_says_in_progress_or_errors_only(
    alice_client, learner, exercise
):
    # A learner whose every attempt ended in error did try: "Not tried" would say otherwise.
    other = make_exercise(slug="greet-twice", title="Greet twice")
    make_attempt(learner, exercise, status=Attempt.ERROR, error_code="time_limit")
    make_attempt(learner, other, status=Attempt.ERROR, error_code="provider")
    make_attempt(learner, other, status=Attempt.QUEUED)
    html = alice_client.get(URL).content.decode()
    assert badge(html, "Greet someone") == "Errors only"
    assert badge(html, "Greet twice") == "In progress"
    lesson = alice_client.get("/courses/basics/first/").content.decode()
    assert badge(lesson, "Greet someone") == "Errors only"
    assert "0 of 2 exercises passed" in html


def test_another_learners_attempts_do_not_count(alice_client, other_learner, exercise):
    make_attempt(other_learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    html = alice_client.get(URL).content.decode()
    assert badge(html, "Greet someone") == "Not tried"
    assert "0 of 1 exercise passed" in html


def test_it_returns_404_for_an_unknown_course(alice_client, exercise):
    assert alice_client.get("/courses/nope/").status_code == 404


def test_it_requires_login(client, exercise):
    r = client.get(URL)
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={URL}"
