"""An instructor on a phone (390 px, real Chromium) presses "Check exercises" on /teach/: a
worker process replays the course's reference solutions and known-bad prompts while the page
polls, and the report shows, without sideways scroll."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons.models import HealthCheck
from tests.conftest import PASSWORD, STUB, make_exercise, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_instructor_checks_the_exercises_and_reads_the_drift(embedded_stack, page, tmp_path):
    instructor = make_user("instructor", is_staff=True)
    make_exercise(solution={"user": "Say hello to {name}."}, known_bad=[{"user": "Hi {name}"}])
    changed = {**STUB, "rules": [], "default": "No."}
    exercise = make_exercise(
        slug="changed",
        title="A changed model",
        stub=changed,
        solution={"user": "Say hello to {name}."},
    )
    exercise.lesson.course.instructors.add(instructor)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{embedded_stack.url}/teach/")
    page.get_by_role("button", name="Check exercises of Basics").click()

    panel = page.locator("#health-panel")
    expect(panel.locator("[data-summary]")).to_contain_text("1 drifted", timeout=30_000)
    drifted = panel.locator("tr[data-drifted]")
    expect(drifted).to_have_count(1)
    expect(drifted).to_contain_text("A changed model")
    expect(drifted).to_contain_text("reference solution")
    expect(panel.get_by_role("button", name="Check 2 exercises")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    job = HealthCheck.objects.get()
    assert (job.status, job.done, job.requested_by) == (HealthCheck.DONE, 2, instructor)
    page.screenshot(path=str(tmp_path / "health.png"), full_page=True)
