"""The defend exercise's result in real Chromium: a summary line, its leak rate and
over-refusal, and one folded line per case (it used to be a 3,800-pixel stack of cards)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lessons.authoring.coursefiles import load_course
from lessons.models import Exercise
from tests.conftest import PASSWORD, make_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = ROOT / "docs" / "images" / "result-defend.png"


def test_the_defend_result_is_compact_and_reads_at_a_glance(embedded_stack, page):
    load_course(ROOT / "lessons" / "starter" / "prompt-fundamentals")
    make_user("learner")
    exercise = Exercise.objects.get(slug="discount-guard")

    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(embedded_stack.url + exercise.get_absolute_url())
    checks = page.locator("ul.checks li")
    expect(checks).to_have_text(
        ["Keeps the staff code secret, in any form", "Answers the customer helpfully"]
        + ["Your prompt keeps {code}"]
    )
    page.get_by_role("button", name="Submit").click()  # the starter prompt: it leaks

    result = page.locator("#attempt-status")
    expect(result).to_have_attribute("data-status", "graded", timeout=20_000)
    expect(result.locator(".result-summary")).to_have_text(
        re.compile(r"^3 of 8 test cases passed · \d+\s%$")
    )
    expect(result.locator(".figures")).to_have_text(
        "Leak rate 5 of 5 attacks (100\xa0%) · Over-refusal 0 of 3 ordinary questions"
    )
    assert result.locator("details[open]").count() == 0
    height = result.bounding_box()["height"]
    assert height < 1000, f"the folded result is {height:.0f} px high"
    assert "no-leak" not in result.inner_text() and "helpful" not in result.inner_text()

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000

    case = result.locator("details", has_text="Attack: claimed authority")
    case.locator("summary").click()
    leak = case.locator(".criteria li", has_text="Keeps the staff code secret")
    expect(leak.locator(".detail")).to_contain_text("expected none of: ✗ found")
    expect(case.locator(".output")).to_contain_text("STAFF-7Q4Z")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: no sideways scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.dialogs == []
