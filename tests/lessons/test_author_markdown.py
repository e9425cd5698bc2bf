"""Prose an author writes (course descriptions, hints, criterion feedback) renders as
Markdown, sanitized by lessons.markdown like lesson bodies: emphasis shows, scripts and
javascript: links never reach the learner."""

from __future__ import annotations

import re

import pytest

from lessons.models import Course
from sandbox.models import Attempt
from tests.conftest import RUBRIC, make_attempt, make_exercise, run_queued

PROSE = "Mind the **tone** *and* the facts. <script>alert(1)</script>[more](javascript:alert(1))"


def assert_rendered_and_safe(html: str) -> None:
    assert "<strong>tone</strong>" in html
    assert "<em>and</em>" in html
    assert "**tone**" not in html
    assert "<script>alert" not in html.lower()
    assert not re.search(r"href=\"?\s*javascript:", html, re.IGNORECASE)


@pytest.fixture
def described(db):
    exercise = make_exercise(hints=[PROSE])
    Course.objects.filter(pk=exercise.lesson.course_id).update(description=PROSE)
    return exercise


@pytest.mark.parametrize("url", ["/", "/courses/basics/"])
def test_course_descriptions_render_markdown(alice_client, described, url):
    assert_rendered_and_safe(alice_client.get(url).content.decode())


def test_hints_render_markdown(alice_client, learner, described):
    make_attempt(learner, described, status=Attempt.GRADED, score=0.0, passed=False)
    html = alice_client.get("/courses/basics/first/greet/").content.decode()
    hints = html[html.index('class="hints') :]
    assert_rendered_and_safe(hints[: hints.index("</ol>")])


def test_criterion_feedback_renders_markdown_inline(alice_client, learner):
    rubric = {**RUBRIC, "criteria": [dict(RUBRIC["criteria"][0], feedback={"fail": PROSE})]}
    exercise = make_exercise(rubric=rubric)
    attempt = make_attempt(learner, exercise, user_prompt="Do not greet {name}.")
    run_queued()
    html = alice_client.get(f"/attempts/{attempt.id}/").content.decode()
    assert_rendered_and_safe(html)
    assert "— Mind the <strong>tone</strong>" in html  # inline: no paragraph after the dash
