"""GET /courses/<course>/<lesson>/: the lesson's Markdown, sanitized, and its exercises."""

from __future__ import annotations

import re

import pytest

from lessons.models import Lesson
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import make_attempt

URL = "/courses/basics/first/"


def with_body(exercise, body: str) -> None:
    Lesson.objects.filter(id=exercise.lesson_id).update(body=body)


def test_it_renders_the_markdown(alice_client, exercise):
    with_body(
        exercise,
        "## Roles\n\nA **bold** claim, [a link](https://example.com/) and `code`.\n\n"
        "| role | job |\n| --- | --- |\n| system | rules |\n",
    )
    html = alice_client.get(URL).content.decode()
    assert "<h2>Roles</h2>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com/" rel="noopener noreferrer">a link</a>' in html
    assert "<code>code</code>" in html
    assert "<table>" in html
    assert "<td>system</td>" in html


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "[click me](javascript:alert(1))",
        "[click me](JavaScript:alert(1))",
        '<a href="javascript:alert(1)">click me</a>',
        "[click me](data:text/html,<script>alert(1)</script>)",
        '<a href="data:text/html,<script>alert(1)</script>">click me</a>',
        "<javascript:alert(1)>",
    ],
)
def test_it_sanitizes_the_lesson_body(alice_client, exercise, body):
    with_body(exercise, f"Before.\n\n{body}\n\nAfter.")
    html = alice_client.get(URL).content.decode().lower()
    assert "<script>alert" not in html
    assert "<img" not in html
    assert "<svg" not in html
    assert not re.search(r"<a\s[^>]*href=\"?\s*(javascript|data):", html)
    assert not re.search(r"<[a-z]+\s[^>]*\bon[a-z]+=", html)
    assert "after." in html


def test_it_lists_the_exercises_with_my_status(alice_client, learner, exercise):
    make_attempt(learner, exercise, status=Attempt.GRADED, score=1.0, passed=True)
    refresh(learner.pk, exercise.pk)  # as the worker does on grading
    html = alice_client.get(URL).content.decode()
    assert 'href="/courses/basics/first/greet/"' in html
    assert "Greet someone" in html
    assert '<span class="badge pass">Passed</span>' in html


def test_it_links_the_previous_and_next_lessons(alice_client, exercise):
    course = exercise.lesson.course
    course.lessons.create(slug="second", title="Second lesson", position=1)
    course.lessons.create(slug="third", title="Third lesson", position=2)
    html = alice_client.get("/courses/basics/second/").content.decode()
    assert 'href="/courses/basics/first/">← First lesson' in html
    assert 'href="/courses/basics/third/">Third lesson →' in html
    html = alice_client.get("/courses/basics/first/").content.decode()
    assert "←" not in html


def test_it_returns_404_for_an_unknown_lesson(alice_client, exercise):
    assert alice_client.get("/courses/basics/nope/").status_code == 404
    assert alice_client.get("/courses/nope/first/").status_code == 404


def test_it_requires_login(client, exercise):
    r = client.get(URL)
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/?next={URL}"
