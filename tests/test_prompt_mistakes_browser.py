"""A learner's mistakes in real Chromium cost no call: a misspelt placeholder is named by the
preview and refused by Ctrl+Enter before anything is sent; fixed, the prompt runs and the old
error is gone. What was sent is clear, on a phone too: the example turns in the preview, the
attempt page's conversation and its diffs. Typing, previews and submits log no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lessons.authoring.coursefiles import load_course
from lessons.models import Exercise
from sandbox.models import Attempt
from tests.conftest import STARTER, log_in, make_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = ROOT / "docs" / "images" / "exercise-placeholder-caught.png"
TYPO = "The product: {prodcut}\nWrite a tagline for it."
FIXED = (
    "We sell well-made gadgets to busy people.\n"
    "Write a tagline for this product: {product}\n"
    "Reply with only the tagline, on one line, under 10 words."
)


def open_exercise(page: Page, url: str, slug: str) -> None:
    load_course(STARTER)
    make_user("learner")
    log_in(page, url, "learner")
    page.goto(url + Exercise.objects.get(slug=slug).get_absolute_url())


def test_a_typo_is_caught_before_the_call_and_its_error_goes_once_fixed(embedded_stack, page):
    open_exercise(page, embedded_stack.url, "tagline")

    prompt = page.get_by_label("User prompt")
    prompt.fill("")
    prompt.press("Control+Enter")
    expect(page.locator("#prompt-form .field-error")).to_have_text(
        "Write the user prompt before submitting."
    )

    prompt = page.get_by_label("User prompt")
    prompt.press_sequentially(TYPO, delay=5)  # every keystroke, as a learner types
    warning = page.locator("#prompt-warnings")
    expect(warning).to_contain_text(
        "{prodcut} is not a variable of this exercise; its variables are {product}."
    )
    expect(page.locator("#preview")).to_contain_text("The product: {prodcut}")
    prompt.press("Control+Enter")
    field_error = page.locator("#prompt-form .field-error")
    expect(field_error).to_have_text(
        "{prodcut} is not a variable of this exercise; its variables are {product}."
    )
    expect(page.get_by_label("User prompt")).to_be_focused()
    assert Attempt.objects.count() == 0
    page.locator(".editor").screenshot(path=str(SCREENSHOT), caret="initial")  # no injected style

    prompt = page.get_by_label("User prompt")
    prompt.fill(FIXED)
    expect(warning).to_be_empty()
    expect(page.locator("#preview")).to_contain_text("this product: coffee grinder")
    prompt.press("Meta+Enter")
    expect(page.locator("#result .score")).to_have_text("100%", timeout=20_000)
    expect(field_error).to_have_count(0)
    expect(page.locator("#prompt-form .has-error")).to_have_count(0)
    expect(page.get_by_label("User prompt")).to_have_value(FIXED)
    assert Attempt.objects.get().passed
    assert page.problems == []


def test_ctrl_enter_pressed_again_while_a_submit_is_on_its_way_sends_nothing(embedded_stack, page):
    open_exercise(page, embedded_stack.url, "tagline")
    held = []
    page.route("**/submit/", lambda route: held.append(route))  # the first stays on its way
    prompt = page.get_by_label("User prompt")
    prompt.fill(FIXED)
    prompt.press("Control+Enter")
    expect(page.get_by_role("button", name="Submit")).to_be_disabled()
    prompt.press("Control+Enter")
    prompt.press("Meta+Enter")
    held[0].continue_()
    expect(page.locator("#result .score")).to_have_text("100%", timeout=20_000)
    page.wait_for_timeout(500)
    assert len(held) == 1  # htmx queues a trigger that comes while its element's request runs
    assert Attempt.objects.count() == 1


def test_on_a_phone_the_example_turns_and_the_diffs_show_what_was_sent(embedded_stack, page):
    page.set_viewport_size({"width": 390, "height": 844})
    open_exercise(page, embedded_stack.url, "commit-messages")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Added a dark mode toggle to the settings page")
    expect(preview).to_contain_text("Added CSV export to the reports page")  # {change}, filled
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result .score")).to_be_visible(timeout=20_000)

    answer = page.get_by_label("Example answer 2")
    answer.fill("feat: add a dark mode toggle to settings")
    expect(preview).to_contain_text("feat: add a dark mode toggle to settings")
    answer.press("Control+Enter")
    expect(page.locator("#history time")).to_have_count(2, timeout=20_000)
    expect(page.locator("#result .score")).to_be_visible(timeout=20_000)

    page.locator("#history a").first.click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("The conversation the model received")).to_be_visible()
    expect(page.locator(".prompt.rendered")).to_contain_text("Added CSV export to the reports page")
    expect(page.locator(".sbs ins").first).to_be_visible()
    expect(page.get_by_role("heading", name="Outputs")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.problems == []
