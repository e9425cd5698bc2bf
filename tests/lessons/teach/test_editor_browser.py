"""An instructor in real Chromium: write a lesson and an exercise with a hidden test case and a
regex + JSON-schema rubric, see publishing refused while the reference fails, fix it, publish.

The reference solution runs on the real pipeline: a web process and a worker process."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons.models import Course, Exercise
from sandbox.models import Attempt
from tests.conftest import PASSWORD, log_in, make_exercise, make_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = ROOT / "docs" / "images" / "exercise-editor.png"
STUB = """\
rules:
  - if: ['json', '\\{ticket\\}|#\\d+']
    unless: 'no json'
    reply: '{"ticket": "#4471", "label": "billing"}'
default: 'This customer has a billing problem with order #4471.'
"""
FAILING = "Read this ticket and say what it is about.\n\n{ticket}"
PASSING = (
    "Classify the support ticket below for a program.\n"
    'Reply with JSON only: {"ticket": the ticket number, "label": billing|refund|other}.\n\n'
    "{ticket}"
)


def publish_and_wait(page, outcome: str):
    page.get_by_role("button", name="Publish").or_(
        page.get_by_role("button", name="Check again and publish")
    ).click()
    panel = page.locator("#publish-panel")
    expect(panel.locator(f'[data-publish="{outcome}"]')).to_be_visible(timeout=30_000)
    # What the page's status region (outside the replaced panel) reads out.
    said = "Published." if outcome == "published" else "Not published"
    expect(page.locator("#publish-announcement")).to_contain_text(said)
    return panel


def test_an_instructor_authors_and_publishes_an_exercise(embedded_stack, page):
    instructor = make_user("instructor", is_staff=True)
    course = Course.objects.create(slug="support", title="Support desk prompts")
    course.instructors.add(instructor)

    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Teach").click()
    page.get_by_role("link", name="Support desk prompts").first.click()

    # A lesson, with its markdown previewed as learners will see it.
    page.get_by_role("link", name="New lesson").click()
    page.get_by_label("Title").fill("Tickets a program can read")
    page.get_by_label("Slug").fill("tickets")
    page.get_by_label("Lesson text").fill("# Structured replies\n\nAsk for **JSON**.")
    expect(page.locator("#lesson-preview strong")).to_have_text("JSON")
    page.get_by_role("button", name="Create lesson").click()

    # An exercise.
    page.get_by_role("link", name="New exercise").first.click()
    page.get_by_label("Title").fill("Classify a ticket as JSON")
    page.get_by_label("Slug").fill("classify")
    page.get_by_role("button", name="Create exercise").click()
    expect(page.get_by_role("heading", name="Classify a ticket as JSON")).to_be_visible()

    page.get_by_label("Instructions").fill("Turn `{ticket}` into JSON with a `label`.")
    page.get_by_label("Variables").fill("ticket")
    page.get_by_label("Starter user prompt").fill("What is this ticket about?\n\n{ticket}")
    page.get_by_label("Solution user prompt").fill(FAILING)
    page.get_by_label("Stub rules").fill(STUB)
    page.get_by_label("Hints").fill("Say a program reads the reply.\n---\nAsk for JSON only.")
    page.get_by_role("button", name="Save exercise").click()
    expect(page.get_by_text("Exercise saved.")).to_be_visible()

    # A hidden test case.
    page.get_by_role("link", name="Test cases").click()
    page.locator('[name="cases-0-name"]').fill("Double charge")
    page.locator('[name="cases-0-visibility"]').select_option("hide")
    page.locator('[name="cases-0-var_ticket"]').fill("Ticket #4471: I was charged twice.")
    page.get_by_role("button", name="Save test cases").click()
    expect(page.get_by_text("Test cases saved.")).to_be_visible()

    # A regex + JSON-schema rubric, criterion by criterion; a bad regex is caught on its row.
    page.get_by_role("link", name="Rubric").click()
    page.locator('[name="criteria-0-id"]').fill("ticket-number")
    page.locator('[name="criteria-0-kind"]').select_option("regex")
    page.locator('[name="criteria-0-params"]').fill("pattern: '(#)\\1'")
    page.locator('[name="criteria-0-on_fail"]').fill("Keep the ticket number.")
    page.locator('[name="criteria-1-id"]').fill("shape")
    page.locator('[name="criteria-1-kind"]').select_option("json_schema")
    page.locator('[name="criteria-1-params"]').fill(
        "schema:\n  type: object\n  required: [label]\n  properties:\n"
        "    label: {enum: [billing, refund, other]}\n"
    )
    page.get_by_role("button", name="Save rubric").click()
    expect(page.locator('[data-criterion="ticket-number"] .field-error')).to_contain_text(
        "backreference"
    )
    page.locator('[name="criteria-0-params"]').fill("pattern: '#\\d{4}'")
    page.get_by_role("button", name="Save rubric").click()
    expect(page.get_by_text("Rubric saved.")).to_be_visible()

    # Try the rubric on a pasted output: no model call.
    page.get_by_label("A model output").fill('{"label": "billing"}')
    page.get_by_role("button", name="Grade it").click()
    expect(page.locator("#try-result")).to_contain_text("ticket-number")

    # Publishing is refused while the reference solution fails, naming the check.
    panel = publish_and_wait(page, "refused")
    expect(panel).to_contain_text("Reference solution: it scored 50% (needs 100%)")
    expect(panel).to_contain_text("criterion 'shape' failed on case 1 ('Double charge')")
    assert Exercise.objects.get().status == Exercise.DRAFT

    # Fix the solution, publish.
    page.get_by_role("link", name="Task & prompt").click()
    page.get_by_label("Solution user prompt").fill(PASSING)
    page.get_by_role("button", name="Save exercise").click()
    expect(page.get_by_text("Exercise saved.")).to_be_visible()
    page.get_by_role("link", name="Rubric").click()
    panel = publish_and_wait(page, "published")
    expect(panel.get_by_text("Published", exact=True)).to_be_visible()

    exercise = Exercise.objects.get()
    assert exercise.status == Exercise.PUBLISHED
    assert exercise.cases.get().visibility == "hide"
    assert [c["kind"] for c in exercise.rubric["criteria"]] == ["regex", "json_schema"]
    assert Attempt.objects.filter(is_reference=True).count() == 2
    assert not Attempt.objects.by_learners().exists()
    assert page.dialogs == []

    # Show a per-criterion result beside the rubric in the screenshot.
    page.get_by_label("A model output").fill('{"ticket": "#4471", "label": "billing"}')
    page.get_by_role("button", name="Grade it").click()
    expect(page.locator("#try-result")).to_contain_text("Passes")
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


# The focused element, if the sticky top bar or save bar covers part of it: of a textarea,
# its first line, where the caret is (the browser scrolls the caret into view, not the box);
# the skip link shows over the top bar on purpose.
COVERED = """() => {
  const e = document.activeElement, bar = document.querySelector(".save-bar");
  const top = document.querySelector(".topbar");
  if (e === document.body || top.contains(e) || bar.contains(e)) return "";
  const box = e.getBoundingClientRect(), under = bar.getBoundingClientRect();
  const bottom = e.matches("textarea") ? box.top + 32 : box.bottom;
  const covered = (bottom > under.top + 1 && box.top < under.bottom
    && box.right > under.left && box.left < under.right)
    || (box.top < top.getBoundingClientRect().bottom - 1 && !e.matches(".skip-link"));
  return covered ? `${e.name || e.tagName} at ${Math.round(box.top)}` : "";
}"""


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_a_field_reached_by_tab_is_not_under_the_save_bar(embedded_stack, page, width, height):
    """Tab scrolled each field just into view at the bottom edge, under the sticky save bar:
    the instructor typed into a field they could not see."""
    instructor = make_user("ines", is_staff=True)
    exercise = make_exercise(status=Exercise.DRAFT)
    exercise.lesson.course.instructors.add(instructor)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, embedded_stack.url, "ines")
    covered = []
    for tab in ("", "cases/", "rubric/"):
        page.goto(f"{embedded_stack.url}/teach/exercises/{exercise.id}/{tab}")
        for _ in range(60):
            page.keyboard.press("Tab")
            if name := page.evaluate(COVERED):
                covered.append(f"{tab or 'task/'} {name}")
    assert covered == []


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_every_sample_rule_reads_in_full(embedded_stack, page, width, height):
    """In a select at half the Model card's width the rule read "when the mean score of it",
    the rest of the choice cut off on a laptop (and more of it on a phone): the choices are
    radio buttons whose labels wrap inside the card."""
    instructor = make_user("ines", is_staff=True)
    exercise = make_exercise(status=Exercise.DRAFT)
    exercise.lesson.course.instructors.add(instructor)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, embedded_stack.url, "ines")
    page.goto(f"{embedded_stack.url}/teach/exercises/{exercise.id}/")
    rules = page.get_by_role("group", name="With several samples, a test case passes")
    card = page.locator("section", has=rules).bounding_box()
    choices = rules.locator("label.choice")
    expect(choices).to_have_count(4)
    for choice in choices.all():
        box = choice.bounding_box()
        assert box and box["x"] + box["width"] <= card["x"] + card["width"], choice.inner_text()
    expect(
        rules.get_by_label("when the mean score of its samples reaches the pass threshold")
    ).to_be_checked()
    rules.get_by_label("if at least n of its k samples pass").check()
    page.get_by_label("Samples that must pass (n)").fill("1")
    page.get_by_role("button", name="Save exercise").click()
    expect(rules.get_by_label("if at least n of its k samples pass")).to_be_checked()
    exercise.refresh_from_db()
    assert exercise.sample_rule == "at_least"
