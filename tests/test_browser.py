"""A learner in real Chromium: log in, open an exercise, submit a prompt, see the score."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from lessons.coursefiles import load_course
from sandbox.models import Attempt
from tests.conftest import PASSWORD, make_user
from tests.live import ROOT, Stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = ROOT / "docs" / "images" / "exercise-graded.png"


@pytest.fixture
def stack(tmp_path):
    stack = Stack(workdir=tmp_path, broker="embedded")
    try:
        stack.start_worker()
        stack.start_web()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes around it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        yield page
        browser.close()


def test_a_learner_submits_a_prompt_and_sees_the_score(stack, page):
    load_course(ROOT / "lessons" / "starter" / "prompt-fundamentals")
    make_user("learner")

    page.goto(f"{stack.url}/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()

    page.get_by_role("link", name="Prompt engineering fundamentals").first.click()
    page.get_by_role("link", name="A tagline a program can paste").click()
    prompt = page.get_by_label("User prompt")
    expect(prompt).to_have_value("Write a tagline for {product}.")
    prompt.fill(
        "We sell well-made gadgets to busy people.\n"
        "Write a tagline for this product: {product}\n"
        "Reply with only the tagline, on one line, under 10 words."
    )
    page.get_by_role("button", name="Submit").click()

    result = page.locator("#result")
    expect(result.locator(".score")).to_have_text("100%", timeout=20_000)
    expect(result.get_by_text("Passed", exact=True)).to_be_visible()
    expect(result.locator(".output").first).to_have_text("Fresh grounds, bolder mornings.")
    expect(result.get_by_text("Hidden case 3: passed")).to_be_visible()
    assert Attempt.objects.get().passed
    assert page.dialogs == []

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert Path(SCREENSHOT).stat().st_size > 10_000
