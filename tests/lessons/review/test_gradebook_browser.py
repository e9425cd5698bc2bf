"""An instructor in real Chromium opens a cohort's gradebook on a laptop and on a phone: the
heat map is there, the table scrolls inside its own box and never the page, search as you
type narrows it (and Back to a searched address shows the page), and a header sorts it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lessons.models import Course, Exercise, Lesson
from lessons.review.models import Deadline
from tests.conftest import PASSWORD, RUBRIC, make_user
from tests.lessons.review.test_gradebook import enrol, make_cohort, progress

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path("/tmp")
NOW = timezone.now()


def a_cohort_with_work():
    instructor = make_user("instructor", is_staff=True)
    course = Course.objects.create(slug="fundamentals", title="Prompt fundamentals")
    course.instructors.add(instructor)
    exercises = []
    for number, title in enumerate(("Clear instructions", "Structured output with JSON")):
        lesson = Lesson.objects.create(
            course=course, slug=f"l{number}", title=title, position=number
        )
        for position in range(6):
            exercises.append(
                Exercise.objects.create(
                    lesson=lesson,
                    slug=f"e{position}",
                    title=f"Exercise {number + 1}.{position + 1}: a fairly long title",
                    status=Exercise.PUBLISHED,
                    position=position,
                    rubric=RUBRIC,
                )
            )
    cohort = make_cohort("Spring 2027", course_slug="fundamentals")
    Deadline.objects.create(cohort=cohort, exercise=exercises[0], due_at=NOW - timedelta(days=1))
    learners = [
        make_user(f"learner{i:02}", first_name=f"Learner {i}", last_name="Longname-Surname")
        for i in range(60)
    ]
    enrol(cohort, *learners)
    for i, learner in enumerate(learners):
        for j, exercise in enumerate(exercises):
            if (i + j) % 4:
                progress(learner, exercise, ((i * 7 + j * 13) % 11) / 10, attempts=1 + (i + j) % 6)
    return cohort


def test_the_gradebook_on_a_laptop_and_a_phone(embedded_stack, page):
    cohort = a_cohort_with_work()
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Teach")).to_be_visible()
    address = f"{embedded_stack.url}/teach/cohorts/{cohort.pk}/"

    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(address)
        table = page.locator("table.gradebook")
        expect(table).to_be_visible()
        expect(page.get_by_role("heading", name="Spring 2027")).to_be_visible()
        expect(table.locator("tbody tr")).to_have_count(50)
        expect(table.locator("td.gb-cell.pass").first).to_contain_text("✓")
        expect(page.get_by_role("link", name="Gradebook CSV")).to_be_visible()
        sideways = page.evaluate("document.scrollingElement.scrollWidth - innerWidth")
        assert sideways <= 1, f"the page scrolls sideways by {sideways}px at {width}px"
        inner = page.evaluate(
            "(() => { const b = document.querySelector('.gb-scroll');"
            " return b.scrollWidth - b.clientWidth })()"
        )
        assert inner > 0  # twelve exercises do not fit: the table scrolls in its box
        page.screenshot(path=str(SCREENSHOTS / f"gradebook-{width}.png"))
        page.screenshot(path=str(SCREENSHOTS / f"gradebook-{width}-full.png"), full_page=True)

    # Search as you type narrows the table, and the address follows.
    page.get_by_label("Search learners").press_sequentially("learner05")
    expect(page.locator("table.gradebook tbody tr")).to_have_count(1)
    expect(page.locator("table.gradebook tbody")).to_contain_text("Learner 5")
    expect(page.locator("#gb-count")).to_have_text("Learners 1–1 of 1 matching “learner05”.")
    expect(page.locator("#gb-count")).to_have_count(1)
    assert "q=learner05" in page.url
    # Back to that address from another page: the whole page, not the part htmx got there.
    page.goto(f"{embedded_stack.url}/teach/")
    page.go_back()
    expect(page.get_by_role("heading", name="Spring 2027")).to_be_visible()
    expect(page.get_by_label("Search learners")).to_have_value("learner05")

    # A header sorts, and says so.
    page.goto(address)
    page.get_by_role("link", name="Total").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Total")
    assert "sort=total" in page.url
    assert page.dialogs == []
