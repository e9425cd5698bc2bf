"""An instructor in real Chromium starts a course and a lesson, which are drafts (a Draft badge,
learners do not see them), and publishes both; the course page fits 1280 and 390 px."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from lessons.models import Course, Lesson
from tests.conftest import PASSWORD, make_exercise, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits(page: Page) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, f"{page.url} scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_new_course_and_lesson_are_drafts_until_published(embedded_stack, page):
    make_user("instructor", is_staff=True)
    learner = Client()
    learner.force_login(make_user("learner"))
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{embedded_stack.url}/teach/courses/new/")
    page.get_by_label("Title").fill("Prompting two")
    page.get_by_label("Slug").fill("prompting-two")
    page.get_by_role("button", name="Create course").click()
    page.get_by_role("link", name="New lesson").click()
    page.get_by_label("Title").fill("First steps")
    page.get_by_label("Slug").fill("first-steps")
    page.get_by_role("button", name="Create lesson").click()
    make_exercise(lesson=Lesson.objects.get(slug="first-steps"))  # published, so only the
    # drafts above keep the course from learners

    page.goto(f"{embedded_stack.url}/teach/courses/prompting-two/")
    expect(page.locator("main .badge.draft")).to_have_count(2)
    fits(page)
    assert "Prompting two" not in learner.get("/").content.decode()

    page.get_by_role("button", name="Publish Prompting two").click()
    expect(page.locator(".flash")).to_contain_text("Published “Prompting two”")
    page.get_by_role("button", name="Publish First steps").click()
    expect(page.locator("main .badge.draft")).to_have_count(0)
    expect(page.get_by_role("button", name="Unpublish Prompting two")).to_be_visible()
    fits(page)
    assert Course.objects.get(slug="prompting-two").published
    assert "Prompting two" in learner.get("/").content.decode()
