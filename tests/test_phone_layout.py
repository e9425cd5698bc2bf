"""Every main learner and teach page on a phone (390 px, real Chromium): nothing scrolls
sideways, nothing logs a console error or fails to load (the favicon included), badges
stay on one line and lesson code keeps its lines (it scrolls inside its block instead), and
every box that scrolls can be scrolled from the keyboard (axe's scrollable-region-focusable)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lessons.authoring.coursefiles import load_course
from lessons.models import Course, Exercise, Lesson
from lessons.review import cohorts
from lessons.review.models import Cohort
from sandbox.models import Attempt
from tests.conftest import (
    JUDGED_RUBRIC,
    STARTER,
    UNDECIDED_JUDGE_STUB,
    log_in,
    make_attempt,
    make_exercise,
    make_user,
    run_queued,
)
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
IMAGES = ROOT / "docs" / "images"

# Lines of text a badge or a code block is laid out on, as the browser drew them (text for
# screen readers only, clipped to 1 px, is not drawn).
LINES = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const drawn = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
  return new Set(drawn.map(r => Math.round(r.top))).size;
}"""
# The innermost elements that reach past the right edge of the window: what to fix.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 0.5))
  .slice(0, 4)
  .map(e => e.tagName.toLowerCase() + [...e.classList].map(c => "." + c).join("")
    + (e.name ? `[name=${e.name}]` : ""))"""

# Boxes that scroll but that a keyboard cannot reach: neither focusable nor holding anything
# focusable, so Tab never gets there and the arrow keys never scroll them.
UNREACHABLE_SCROLLERS = """() => [...document.querySelectorAll("body *")].filter(e => {
  const style = getComputedStyle(e), scrolls = /auto|scroll/;
  return ((scrolls.test(style.overflowX) && e.scrollWidth > e.clientWidth)
    || (scrolls.test(style.overflowY) && e.scrollHeight > e.clientHeight))
    && e.tabIndex < 0
    && !e.querySelector("a[href], button, input, select, textarea, summary, [tabindex='0']");
}).slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
  + [...e.classList].map(c => "." + c).join(""))"""


def layout_faults(page: Page, path: str) -> list[str]:
    """Return what is wrong with the page's layout at this width."""
    faults = []
    if not page.locator("link[rel=icon]").count():
        faults.append(f"{path} links no favicon (the browser asks for /favicon.ico, a 404)")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        wide = ", ".join(page.evaluate(OVERFLOWING))
        faults.append(f"{path} scrolls sideways: {width} px wide, past the edge: {wide}")
    for badge in page.locator(".badge").all():
        if badge.is_visible() and badge.evaluate(LINES) > 1:
            faults.append(f"{path}: the badge {badge.inner_text()!r} wraps")
    for block in page.locator(".prose pre").all():
        text_lines = block.inner_text().rstrip("\n").count("\n") + 1
        if block.evaluate(LINES) > text_lines:
            faults.append(f"{path}: a code block wraps its lines")
    if unreachable := page.evaluate(UNREACHABLE_SCROLLERS):
        faults.append(f"{path}: a keyboard cannot scroll {', '.join(unreachable)}")
    return faults


def side_by_side(page: Page, selector: str) -> bool:
    """Return whether the two elements the selector finds share a row."""
    first, second = (box for box in (e.bounding_box() for e in page.locator(selector).all()) if box)
    return second["y"] < first["y"] + first["height"]


def visit_all(page: Page, url: str, paths: list[str]) -> list[str]:
    problems = page.problems
    faults = []
    for path in paths:
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        faults += layout_faults(page, path)
        faults += [f"{path} {p}" for p in problems]
        problems.clear()
    return faults


@pytest.fixture
def course(db) -> Course:
    load_course(STARTER)
    return Course.objects.get(slug="prompt-fundamentals")


def test_signed_out_pages_fit_a_phone(embedded_stack, page, course):
    page.set_viewport_size(PHONE)
    paths = ["/", "/accounts/login/", "/accounts/signup/"]
    faults = visit_all(page, embedded_stack.url, paths)
    assert faults == [], "\n".join(faults)
    href = page.locator("link[rel=icon]").get_attribute("href") or ""
    icon = page.request.get(embedded_stack.url + href)
    assert icon.ok and icon.headers["content-type"] == "image/svg+xml"


def test_learner_pages_fit_a_phone(embedded_stack, page, course):
    url = embedded_stack.url
    make_user("learner")
    page.set_viewport_size(PHONE)
    problems = page.problems
    log_in(page, url, "learner")

    exercise = Exercise.objects.get(title="A tagline a program can paste")
    page.goto(url + exercise.get_absolute_url())
    page.get_by_label("User prompt").fill("Write a tagline for {product}, on one line.")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#result .score")).to_be_visible(timeout=20_000)

    page.goto(f"{url}/playground/")
    page.get_by_label("User prompt").first.fill("Summarise {email} in one sentence.")
    page.get_by_label("User prompt").nth(1).fill(
        "Summarise the email below.\n<email>\n{email}\n</email>"
    )
    page.get_by_label("Variables").fill("email=My order #4411 is a week late.")
    page.get_by_label("Offline stub · echo").uncheck()
    page.get_by_label("Offline stub · scripted").check()
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#result .run")).to_have_count(2, timeout=20_000)
    expect(page.locator("#result .run").first).to_contain_text("Offline stub model")
    assert not side_by_side(page, ".prompt-set") and not side_by_side(page, "#result .run")
    page.screenshot(path=str(IMAGES / "phone-playground.png"), full_page=True)
    assert problems == []

    attempts = Attempt.objects.filter(learner__username="learner")
    lesson = Lesson.objects.get(course=course, slug="anatomy")
    paths = [
        "/",
        course.get_absolute_url(),
        lesson.get_absolute_url(),
        exercise.get_absolute_url(),
        attempts.get(exercise=exercise).get_absolute_url(),
        "/playground/",
        attempts.get(exercise=None).get_absolute_url(),
        f"/progress/{course.slug}/",
        f"/progress/{course.slug}/{exercise.id}/",
        "/join/",
    ]
    faults = visit_all(page, url, paths)
    assert faults == [], "\n".join(faults)
    page.goto(url + lesson.get_absolute_url())
    page.screenshot(path=str(IMAGES / "phone-lesson.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{url}/playground/")
    assert side_by_side(page, ".prompt-set")  # on a laptop, prompts A and B sit side by side


def test_teach_pages_fit_a_phone(embedded_stack, page, course):
    url = embedded_stack.url
    instructor = make_user("instructor", is_staff=True)
    learner = make_user("learner")
    # A username has no space to break at and may be 150 characters long.
    long_named = make_user("maximiliana.konstantinopoulou-" + "x" * 60 + "@example.org")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Demo cohort", created_by=instructor)
    cohorts.join(cohort, learner)
    cohorts.join(cohort, long_named)
    exercise = Exercise.objects.get(title="A tagline a program can paste")
    judged = Exercise.objects.get(slug="late-delivery-reply")
    make_attempt(learner, exercise, user_prompt="Write a tagline for {product}.")
    make_attempt(long_named, exercise, user_prompt="Write a tagline for {product}.")
    run_queued()  # so that the gradebook, the statistics and the drill-down have a grade
    teach = f"/teach/exercises/{exercise.id}"
    page.set_viewport_size(PHONE)
    log_in(page, url, "instructor")
    paths = [
        "/teach/",
        f"/teach/courses/{course.slug}/",
        f"/teach/courses/{course.slug}/lessons/{exercise.lesson_id}/",
        f"{teach}/",
        f"{teach}/cases/",
        f"{teach}/rubric/",
        f"/teach/exercises/{judged.id}/calibration/",
        f"/teach/cohorts/{cohort.id}/",
        f"/teach/cohorts/{cohort.id}/settings/",
        f"/teach/cohorts/{cohort.id}/exercises/{exercise.id}/",
        f"/teach/cohorts/{cohort.id}/learners/{learner.id}/exercises/{exercise.id}/",
        f"/teach/cohorts/{cohort.id}/learners/{long_named.id}/exercises/{exercise.id}/",
        "/teach/review/",
        "/teach/courses/new/",
        f"/teach/courses/{course.slug}/lessons/new/",
        f"/teach/courses/{course.slug}/lessons/{exercise.lesson_id}/exercises/new/",
        f"/teach/courses/{course.slug}/cohorts/new/",
    ]
    faults = visit_all(page, url, paths)
    assert faults == [], "\n".join(faults)
    page.goto(f"{url}{teach}/cases/")
    page.screenshot(path=str(IMAGES / "phone-teach-cases.png"), full_page=True)


def test_the_review_queue_fits_a_phone_with_long_names(embedded_stack, page):
    """A judge criterion's id and a username have no space to break at: the queue's grid
    grew to their width (1fr is at least its content) and the page scrolled sideways."""
    instructor = make_user("instructor", is_staff=True)
    long_named = make_user("maximiliana.konstantinopoulou-" + "x" * 60 + "@example.org")
    criterion = dict(
        JUDGED_RUBRIC["criteria"][1], id="friendly_and_acknowledges_the_delay_in_a_warm_tone"
    )
    rubric = {"pass_threshold": 1.0, "criteria": [criterion]}
    exercise = make_exercise(rubric=rubric, stub=UNDECIDED_JUDGE_STUB, editable_fields=["user"])
    exercise.lesson.course.instructors.add(instructor)
    make_attempt(long_named, exercise)
    run_queued()
    page.set_viewport_size(PHONE)
    log_in(page, embedded_stack.url, "instructor")
    faults = visit_all(page, embedded_stack.url, ["/teach/review/"])
    expect(page.locator(".queue-item")).to_have_count(1)
    assert faults == [], "\n".join(faults)
