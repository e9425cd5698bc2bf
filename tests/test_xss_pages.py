"""S5: what the model and the judge say is never live HTML, on any page that shows it: the
learner's attempt, exercise and progress pages, and the instructor's review queue, drill-down,
gradebook and statistics. The payloads show as text."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from lessons.models import Course
from lessons.review.models import Cohort, Membership
from sandbox.models import Attempt
from tests.conftest import (
    JUDGED_RUBRIC,
    log_in,
    make_attempt,
    make_exercise,
    make_user,
    run_queued,
)

pytestmark = pytest.mark.django_db

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    '<a href="data:text/html,<script>alert(1)</script>">y</a>',
)
XSS = " ".join(PAYLOADS)
OUTPUT = f"Hello {XSS}"  # one sentence: the judge quotes it whole as its evidence
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HONEST = {
    "rules": [{"if": "say hello", "reply": OUTPUT}],
    "default": "No.",
    "judge": [{"item": "The reply greets the reader.", "if": "hello"}],
}
# A judge that answers the grade call with the payloads in prose: its answer is what the
# instructor reads when deciding.
SPEAKING = {
    "rules": [
        {"if": "one entry per rubric item", "reply": XSS},
        {"if": "say hello", "reply": OUTPUT},
    ],
    "default": "No.",
}


def live_markup(html: str) -> list[str]:
    """Return the payloads' pieces that are live in html: tags and attributes, not text."""
    found = [tag for tag in ("<script>alert", "<img src=x", "<svg onload") if tag in html]
    found += re.findall(r"<[a-z][^>]*\son\w+\s*=[^>]*>", html, re.IGNORECASE)
    found += re.findall(r"""href\s*=\s*["']?\s*(?:javascript|data):""", html, re.IGNORECASE)
    return found


def payload_world() -> dict:
    """Alice's graded attempts on two judged exercises of Ines's course, in her cohort: one
    judged by the honest stub judge, one whose judge answers the payloads in prose."""
    learner, instructor = make_user("alice"), make_user("ines", is_staff=True)
    honest_rubric = json.loads(json.dumps(JUDGED_RUBRIC))
    honest_rubric["criteria"][1]["params"]["model"] = "stub:judge"
    honest = make_exercise(slug="honest", rubric=honest_rubric, stub=HONEST)
    speaking = make_exercise(slug="speaking", rubric=JUDGED_RUBRIC, stub=SPEAKING)
    course = Course.objects.get(slug="basics")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Spring")
    Membership.objects.create(cohort=cohort, learner=learner)
    attempts = [make_attempt(learner, exercise) for exercise in (honest, speaking)]
    run_queued()
    for attempt in attempts:
        attempt.refresh_from_db()
        assert attempt.status == Attempt.GRADED, attempt.error
        assert attempt.runs.get().output == OUTPUT
    return {
        "learner": learner,
        "instructor": instructor,
        "exercises": (honest, speaking),
        "attempts": attempts,
        "cohort": cohort,
    }


@pytest.fixture
def world(db):
    return payload_world()


def review_pages(world) -> list[str]:
    cohort, learner = world["cohort"].pk, world["learner"].pk
    pages = ["/teach/review/", f"/teach/cohorts/{cohort}/"]
    for exercise in world["exercises"]:
        pages.append(f"/teach/cohorts/{cohort}/exercises/{exercise.pk}/")
        pages.append(f"/teach/cohorts/{cohort}/learners/{learner}/exercises/{exercise.pk}/")
    return pages


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_learners_pages_show_the_output_and_judge_feedback_as_text(world):
    client = logged_in(world["learner"])
    pages = [f"/attempts/{a.id}/" for a in world["attempts"]]
    pages += [e.get_absolute_url() for e in world["exercises"]]
    pages.append("/progress/basics/")
    for url in pages:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code in (200, 286), url  # 286: a graded attempt stops polling
            assert live_markup(response.content.decode()) == [], url
    attempt_page = client.get(pages[0]).content.decode()
    assert ESCAPED in attempt_page and "onerror=alert(1)" in attempt_page


def test_the_instructors_review_pages_show_output_and_judge_answers_as_text(world):
    client = logged_in(world["instructor"])
    pages = review_pages(world)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert live_markup(response.content.decode()) == [], url
    queue = client.get("/teach/review/").content.decode()
    assert "The judge could not decide" in queue
    assert queue.count(ESCAPED) >= 2, "the output and the judge's answer, each as text"
    drilldown = client.get(pages[-1]).content.decode()
    assert ESCAPED in drilldown
    honest = client.get(pages[-3]).content.decode()  # the honest judge quotes the payloads
    assert f"met 5/5 (&quot;Hello {ESCAPED}" in honest


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_in_chromium_on_any_of_these_pages(embedded_stack, page):
    world = payload_world()
    base = embedded_stack.url
    log_in(page, base, "alice")
    for url in [f"/attempts/{a.id}/" for a in world["attempts"]] + ["/progress/basics/"]:
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
        if url.startswith("/attempts/"):
            expect(page.locator(".output").first).to_contain_text("<script>alert(1)</script>")
    page.context.clear_cookies()
    log_in(page, base, "ines")
    for url in review_pages(world):
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
    lesson = world["exercises"][0].lesson
    page.goto(f"{base}/teach/courses/basics/lessons/{lesson.pk}/")
    page.locator("#id_body").fill(f"# Payloads\n\n{XSS}\n")
    expect(page.locator("#lesson-preview h1")).to_have_text("Payloads")
    page.wait_for_load_state("networkidle")
    assert page.dialogs == []
