"""A learner in real Chromium: log in, open an exercise, submit a prompt, see the score."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from lessons.authoring.coursefiles import load_course
from sandbox.models import Attempt
from tests.conftest import PASSWORD, log_in, make_exercise, make_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = ROOT / "docs" / "images" / "exercise-graded.png"


def test_a_learner_submits_a_prompt_and_sees_the_score(embedded_stack, page):
    load_course(ROOT / "lessons" / "starter" / "prompt-fundamentals")
    make_user("learner")

    page.goto(f"{embedded_stack.url}/accounts/login/")
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
    page.evaluate("scrollTo(0, 0)")  # the submit scrolled to the result; the top bar is sticky
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert Path(SCREENSHOT).stat().st_size > 10_000


XSS = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) "
    '"><svg onload=alert(4)> <a href="data:text/html,<script>alert(5)</script>">y</a>'
)


def test_model_output_never_runs_in_the_learners_browser(embedded_stack, page):
    make_user("learner")
    exercise = make_exercise(stub={"default": XSS})

    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(embedded_stack.url + exercise.get_absolute_url())
    page.get_by_role("button", name="Submit").click()

    output = page.locator("#result .output").first
    expect(output).to_contain_text("<script>alert(1)</script>", timeout=20_000)
    page.reload()  # the stored result, rendered by the full page as well
    expect(page.locator("#result .output").first).to_contain_text("onerror=alert(2)")
    assert page.dialogs == []


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_the_result_comes_into_view_after_a_submit(embedded_stack, page, width, height):
    """The result area is below the task (laptop) or the editor (phone): a submit brings it
    into view, and a submit refused on the field leaves the page where it is."""
    load_course(ROOT / "lessons" / "starter" / "prompt-fundamentals")
    make_user("learner")
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("learner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(embedded_stack.url + "/courses/prompt-fundamentals/anatomy/tagline/")
    heading = page.locator("#result-heading")
    if width > 400:
        expect(heading).not_to_be_in_viewport()

    prompt = page.get_by_label("User prompt")
    prompt.fill("Write a tagline for {prodcut}.")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".field-error")).to_contain_text("{prodcut}")
    scrolled = page.evaluate("scrollY")
    page.wait_for_timeout(300)
    assert page.evaluate("scrollY") == scrolled

    prompt.fill("Write a tagline for {product}. Reply with only the tagline, on one line.")
    page.get_by_role("button", name="Submit").click()
    expect(heading).to_be_in_viewport()
    expect(page.locator("#result .score")).to_be_in_viewport(timeout=20_000)
    # Clear of the sticky top bar, not under it.
    assert heading.bounding_box()["y"] >= page.locator(".topbar").bounding_box()["height"]


def test_a_playground_run_clears_a_refused_runs_error_and_joins_the_earlier_runs(
    embedded_stack, page
):
    """After a refused run, the next run's output came in under the old error, and the list
    of earlier runs stayed as the page was loaded (absent, before the first run); Ctrl+Enter,
    which submits an exercise, did nothing here."""
    make_user("learner")
    log_in(page, embedded_stack.url, "learner")
    page.goto(f"{embedded_stack.url}/playground/")
    page.get_by_role("button", name="Run").click()
    error = page.locator("#playground-form .field-error")
    expect(error).to_have_text("Write a user prompt to run.")

    page.get_by_label("User prompt").first.fill("Say hello.")
    page.get_by_label("User prompt").first.press("Control+Enter")  # as on an exercise
    expect(page.locator("#result .output")).to_contain_text("Say hello.", timeout=20_000)
    expect(error).to_have_count(0)
    expect(page.get_by_label("User prompt").first).to_have_value("Say hello.")
    runs = page.locator("#earlier-runs li")
    expect(runs).to_have_count(1)
    expect(runs).to_contain_text("Graded")
    assert page.problems == []


ARABIC = "شعار قصير: قهوة أفضل، صباح أجمل."


def test_right_to_left_prompts_and_outputs_read_right_to_left(embedded_stack, page):
    """An Arabic or Hebrew prompt and answer were laid out left to right, flush left, with
    the sentence's full stop at its start; each box now takes the direction of its text."""
    make_user("learner")
    exercise = make_exercise(stub={"default": ARABIC})
    log_in(page, embedded_stack.url, "learner")
    page.goto(embedded_stack.url + exercise.get_absolute_url())
    prompt = page.get_by_label("User prompt")
    direction = "e => getComputedStyle(e).direction"
    assert prompt.evaluate(direction) == "ltr"  # "Talk to {name}."
    prompt.fill("اكتب شعارًا لـ {name}.")
    assert prompt.evaluate(direction) == "rtl"
    page.get_by_role("button", name="Submit").click()
    output = page.locator("#result .output").first
    expect(output).to_have_text(ARABIC, timeout=20_000)
    assert output.evaluate(direction) == "rtl"


def test_a_diff_shows_where_it_folds_unchanged_lines(embedded_stack, page):
    """The "⋯ n unchanged lines" rows of a diff were moved off the page by the skip link's
    rule (.skip), so the diff jumped from line 4 to line 35 without a word."""
    make_user("learner")
    before = "\n".join(f"row {i}" for i in range(40))
    after = before.replace("row 20", "ROW 20")
    rules = [{"if": "again", "reply": after}]
    exercise = make_exercise(stub={"rules": rules, "default": before}, max_tokens=200)
    log_in(page, embedded_stack.url, "learner")
    page.goto(embedded_stack.url + exercise.get_absolute_url())
    history = page.locator("#history .history-list li")
    for count, prompt in enumerate(("Talk to {name}.", "Talk to {name} again."), start=1):
        page.get_by_label("User prompt").fill(prompt)
        page.get_by_role("button", name="Submit").click()
        expect(history).to_have_count(count)
        expect(page.locator("#result .score")).to_be_visible(timeout=20_000)
    expect(history.first.locator(".badge")).to_contain_text("%")
    history.first.get_by_role("link").click()
    folds = page.locator("table.sbs tr.skip")
    expect(folds).to_have_count(2)
    expect(folds.first).to_have_text("⋯ 17 unchanged lines")
    table = page.locator("table.sbs").last.bounding_box()
    for fold in folds.all():
        fold.scroll_into_view_if_needed()
        box = fold.bounding_box()
        assert box["x"] >= table["x"] and box["width"] > table["width"] / 2
