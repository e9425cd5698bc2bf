"""An instructor in real Chromium starts a course: its slug follows the title as it is typed,
stays as the instructor edits it, and a lesson's slug follows its title the same way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons.models import Course
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_slug_follows_the_title_until_the_instructor_edits_it(embedded_stack, page):
    make_user("instructor", is_staff=True)
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{embedded_stack.url}/teach/courses/new/")

    title, slug = page.get_by_label("Title"), page.get_by_label("Slug")
    title.press_sequentially("Prompts, Café Edition!")
    expect(slug).to_have_value("prompts-cafe-edition")
    slug.fill("cafe")
    title.fill("Prompts, Café Edition! 2")
    expect(slug).to_have_value("cafe")  # the instructor's own slug stays
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("heading", name="Prompts, Café Edition! 2")).to_be_visible()
    assert Course.objects.get(slug="cafe").title == "Prompts, Café Edition! 2"

    page.get_by_role("link", name="New lesson").click()
    page.get_by_label("Title").press_sequentially("Roles & Tone")
    expect(page.get_by_label("Slug")).to_have_value("roles-tone")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    page.get_by_role("button", name="Create lesson").click()
    expect(page.get_by_text("Lesson created.")).to_be_visible()
    assert Course.objects.get(slug="cafe").lessons.get().slug == "roles-tone"
    assert page.problems == []
