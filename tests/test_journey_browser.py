"""A new learner's way in and way on, in real Chromium: the landing page says what the
product is; sign up; Start goes to the first exercise; a misspelt placeholder is caught before
anything is sent; fixed, a pass shows Next exercise, which goes to the second; the home then
says 1 passed and Continue. At laptop and phone widths no page scrolls sideways, and none logs
a console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lessons.authoring.coursefiles import load_course
from lessons.models import Exercise
from sandbox.models import Attempt
from tests.conftest import STARTER
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = ROOT / "docs" / "images" / "landing.png"
WIDTHS = (1280, 390)


def scrolls_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def at_every_width(page: Page) -> None:
    """Assert the page, as it is now, fits each width."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert not scrolls_sideways(page), f"{page.url} scrolls sideways at {width} px"
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_landing_sign_up_start_pass_next_and_continue(embedded_stack, page):
    load_course(STARTER)
    first, second = Exercise.objects.live().in_course_order()[:2]
    total = Exercise.objects.live().count()

    page.goto(f"{embedded_stack.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Learn to write prompts by writing them."
    )
    expect(page.locator("main")).to_contain_text("Prompt engineering fundamentals")
    at_every_width(page)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.locator("main").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    page.get_by_label("Password confirmation").fill("a-long-pass-phrase-9")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{embedded_stack.url}/")
    expect(page.locator("main")).to_contain_text(f"0 of {total} exercises passed")
    at_every_width(page)
    page.goto(embedded_stack.url + first.lesson.course.get_absolute_url())
    expect(page.get_by_role("link", name="Start Prompt engineering fundamentals")).to_be_visible()
    at_every_width(page)
    page.goto(f"{embedded_stack.url}/")

    page.get_by_role("link", name="Start Prompt engineering fundamentals").click()
    page.wait_for_url(embedded_stack.url + first.get_absolute_url())
    solution = first.solution["user"]
    placeholder = "{" + first.variable_names()[0] + "}"
    typo = placeholder.replace("}", "z}")
    prompt = page.get_by_label("User prompt")
    prompt.fill(solution.replace(placeholder, typo))
    expect(page.locator("#prompt-warnings")).to_contain_text(f"{typo} is not a variable")
    prompt.press("Control+Enter")
    expect(page.locator("#prompt-form .field-error")).to_contain_text(typo)
    assert not Attempt.objects.exists()  # caught before anything was sent

    page.get_by_label("User prompt").fill(solution)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result .score")).to_have_text("100%", timeout=20_000)
    next_button = page.get_by_role("link", name="Next exercise →")
    expect(next_button).to_be_visible()
    at_every_width(page)

    next_button.click()
    page.wait_for_url(embedded_stack.url + second.get_absolute_url())
    page.goto(f"{embedded_stack.url}/")
    expect(page.locator("main")).to_contain_text(f"1 of {total} exercises passed")
    continue_button = page.get_by_role("link", name="Continue Prompt engineering fundamentals")
    expect(continue_button).to_have_attribute("href", second.get_absolute_url())
    assert page.problems == []
