"""An instructor in real Chromium opens an exercise's statistics, and the needs-review queue,
on a laptop and on a phone: the histogram is drawn, the decision forms are there, and nothing
makes either page scroll sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from lessons.models import Course
from lessons.review.models import Cohort, Membership, Progress
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import PASSWORD, make_attempt, make_exercise, make_run, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path("/tmp")
CASES = [
    {"name": "Ada", "variables": {"name": "Ada"}},
    {"name": "A very long hidden case name", "variables": {"name": "Z"}, "visibility": "hide"},
]
LONG_OUTPUT = "I am not sure what you want me to do, so here is a long reply. " * 20


def a_cohort_that_worked_on_it():
    instructor = make_user("instructor", is_staff=True)
    exercise = make_exercise(cases=CASES)
    course = Course.objects.get(slug="basics")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Spring 2027")
    ada, hidden = (str(case.pk) for case in exercise.cases.all())
    for index in range(30):
        learner = make_user(f"learner{index:02}")
        Membership.objects.create(cohort=cohort, learner=learner)
        attempt = make_attempt(learner, exercise, status=Attempt.GRADED, score=0.5, passed=False)
        make_run(attempt, 0, case_name="Ada", passed=True, output="Hello there!")
        make_run(
            attempt, 1, case_name=CASES[1]["name"], hidden=True, passed=False, output=LONG_OUTPUT
        )
        passed = index % 3 == 0
        Progress.objects.create(
            learner=learner,
            exercise=exercise,
            attempts=1 + index % 4,
            best_score=1.0 if passed else (index % 10) / 10,
            passed=passed,
            first_try_passed=passed and index % 2 == 0,
            attempts_to_pass=1 + index % 4 if passed else None,
            input_tokens=1200,
            output_tokens=300,
            cost_usd="0.0042",
            case_results={ada: [1 + index % 4, 1 + index % 4], hidden: [0, 1 + index % 4]},
            failure_groups=[
                {
                    "criteria": ["short"] if index % 2 else ["greets", "short"],
                    "count": 1,
                    "attempt": str(attempt.pk),
                }
            ],
        )
    return cohort, exercise


def log_in(page, url: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Teach")).to_be_visible()


def test_the_statistics_page_on_a_laptop_and_a_phone(embedded_stack, page):
    cohort, exercise = a_cohort_that_worked_on_it()
    log_in(page, embedded_stack.url)

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{embedded_stack.url}/teach/cohorts/{cohort.pk}/exercises/{exercise.pk}/")
        expect(page.get_by_role("heading", name="Greet someone")).to_be_visible()
        chart = page.get_by_role("img", name="Histogram of the best score of each learner")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 120
        assert page.locator(".chart rect.bar").count() == 10
        expect(page.get_by_role("heading", name="Failure groups")).to_be_visible()
        expect(page.locator("[data-case]").first).to_contain_text("hidden")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(SCREENSHOTS / f"stats-{width}.png"), full_page=True)
        chart.screenshot(path=str(SCREENSHOTS / f"stats-chart-{width}.png"))
    assert page.dialogs == []


def test_the_review_queue_on_a_laptop_and_a_phone(embedded_stack, page):
    cohort, exercise = a_cohort_that_worked_on_it()
    for attempt in Attempt.objects.order_by("created_at")[:3]:
        run = attempt.runs.get(position=1)
        run.criteria = [
            {"id": "greets", "passed": False, "status": "needs_review", "detail": "No verdict."},
            {"id": "short", "passed": False, "status": "ok", "suspected_injection": True},
        ]
        run.save(update_fields=["criteria"])
        refresh(attempt.learner_id, exercise.pk)
    log_in(page, embedded_stack.url)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{embedded_stack.url}/teach/review/")
        expect(page.get_by_role("heading", name="Needs review")).to_be_visible()
        expect(page.locator(".queue-item")).to_have_count(6)
        expect(page.get_by_role("button", name="Not met").first).to_be_visible()
        expect(page.get_by_label("Note").first).to_be_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(SCREENSHOTS / f"queue-{width}.png"), full_page=True)
        page.locator(".queue-item").first.screenshot(
            path=str(SCREENSHOTS / f"queue-item-{width}.png")
        )
    assert page.dialogs == []
