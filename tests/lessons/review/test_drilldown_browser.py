"""An instructor in real Chromium opens a learner's drill-down on a laptop and on a phone: the
diff between attempts unfolds side by side, a decision on a criterion the judge could not
decide regrades the attempt, an override lands in the audit trail, and nothing makes the page
scroll sideways."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from lessons.models import Course
from lessons.review.models import Cohort, Membership
from lessons.review.progress import refresh
from sandbox.models import Attempt
from tests.conftest import JUDGED_RUBRIC, PASSWORD, make_attempt, make_exercise, make_run, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path("/tmp")
CASES = [
    {"name": "Ada", "variables": {"name": "Ada"}},
    {"name": "A rather long hidden case name", "variables": {"name": "Zed"}, "visibility": "hide"},
]
PROMPTS = [
    "Write a reply to {name}.",
    "Write a short, friendly reply to {name}.\nStart with a greeting.",
    "Write a short, friendly reply to {name}.\nStart with the word hello, then thank them"
    " for their message, which was a_very_long_unbroken_token_that_must_wrap_inside_its_cell.",
]
OUTPUTS = [
    "Dear Ada, thanks. <script>alert('x')</script>",
    "Hi Ada! Thanks for writing to us.",
    "Hello Ada! Thank you for your message. We are glad to help with anything you need.",
]


def criteria(output: str) -> list[dict]:
    greets = "hello" in output.lower()
    return [
        {
            "id": "greets",
            "kind": "contains",
            "passed": greets,
            "score": float(greets),
            "weight": 1.0,
            "status": "ok",
            "visible": True,
            "feedback": "",
            "detail": "found" if greets else "'hello' not found",
        },
        {
            "id": "friendly",
            "kind": "llm_judge",
            "passed": False,
            "score": 0.0,
            "weight": 1.0,
            "status": "needs_review",
            "visible": True,
            "feedback": "",
            "detail": "The judge's answer could not be read.",
        },
    ]


def a_learner_who_tried_three_times():
    instructor = make_user("instructor", is_staff=True)
    exercise = make_exercise(rubric=JUDGED_RUBRIC, cases=CASES)
    course = Course.objects.get(slug="basics")
    course.instructors.add(instructor)
    cohort = Cohort.objects.create(course=course, name="Spring 2027")
    learner = make_user("alice")
    Membership.objects.create(cohort=cohort, learner=learner)
    cases = list(exercise.cases.all())
    for index, (prompt, output) in enumerate(zip(PROMPTS, OUTPUTS, strict=True)):
        greets = "hello" in output.lower()
        attempt = make_attempt(
            learner,
            exercise,
            status=Attempt.GRADED,
            user_prompt=prompt,
            system_prompt="You answer customer emails.",
            score=0.5 if greets else 0.0,
            passed=False,
            created_at=timezone.now() - timedelta(minutes=10 - index),
        )
        for position, case in enumerate(cases):
            make_run(
                attempt,
                position,
                case=case,
                case_name=case.name,
                hidden=case.hidden,
                output=output.replace("Ada", case.variables["name"]),
                passed=False,
                score=0.5 if greets else 0.0,
                messages=[
                    {"role": "system", "content": "You answer customer emails."},
                    {"role": "user", "content": prompt.replace("{name}", case.variables["name"])},
                ],
                criteria=criteria(output),
            )
    refresh(learner.pk, exercise.pk)
    return cohort, learner, exercise


def no_sideways_scroll(page, width: int) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"


def test_the_drilldown_on_a_laptop_and_a_phone(embedded_stack, page):
    cohort, learner, exercise = a_learner_who_tried_three_times()
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Teach")).to_be_visible()
    url = reverse("ls-teach-drilldown", args=[cohort.pk, learner.pk, exercise.pk])
    url = f"{embedded_stack.url}{url}"

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        expect(page.get_by_role("heading", name="alice on “Greet someone”")).to_be_visible()
        newest = page.locator("article.dd-attempt").first
        expect(newest.get_by_role("heading", name="Attempt 3")).to_be_visible()
        newest.locator(".dd-changes > summary").click()
        diff = newest.locator("table.sbs").first
        expect(diff).to_be_visible()
        expect(diff.locator("ins").first).to_be_visible()
        box = diff.bounding_box()
        assert box and box["width"] > 300
        expect(newest.get_by_text("hidden from the learner").first).to_be_visible()
        no_sideways_scroll(page, width)
        page.screenshot(path=str(SCREENSHOTS / f"drilldown-{width}.png"), full_page=True)
        diff.screenshot(path=str(SCREENSHOTS / f"drilldown-diff-{width}.png"))
        newest.screenshot(path=str(SCREENSHOTS / f"drilldown-attempt-{width}.png"))

    # The judge could not decide "friendly" on the newest attempt's first case: met.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    newest = page.locator("article.dd-attempt").first
    form = newest.locator("form[action$='/decide/']").first
    form.get_by_label("Met", exact=True).check()
    form.get_by_label("Note").fill("Warm and polite.")
    form.get_by_role("button", name="Save decision").click()
    expect(page.get_by_text("Saved: friendly on Ada is met.")).to_be_visible()
    newest = page.locator("article.dd-attempt").first
    expect(newest.get_by_text("Decided met")).to_be_visible()
    expect(newest.locator(".dd-audit")).to_contain_text("friendly on Ada: met")
    expect(page.locator("script", has_text="alert")).to_have_count(0)

    # An override, with its reason, in the audit trail; then removed.
    newest.locator(".dd-override > summary").click()
    newest.get_by_label("Score (%)").fill("90")
    newest.get_by_label("Reason").fill("The hidden case asks too much.")
    newest.get_by_role("button", name="Set the score").click()
    expect(page.get_by_text("Score set to 90%.")).to_be_visible()
    newest = page.locator("article.dd-attempt").first
    expect(newest.get_by_text("90% · set by hand")).to_be_visible()
    expect(newest.locator(".dd-audit")).to_contain_text("The hidden case asks too much.")
    page.set_viewport_size({"width": 390, "height": 900})
    no_sideways_scroll(page, 390)
    newest.screenshot(path=str(SCREENSHOTS / "drilldown-decided-390.png"))
    assert page.dialogs == []


def test_the_learners_own_progress_on_a_laptop_and_a_phone(embedded_stack, page):
    _, learner, exercise = a_learner_who_tried_three_times()
    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{embedded_stack.url}/courses/basics/")
    page.set_viewport_size({"width": 390, "height": 900})
    page.screenshot(path=str(SCREENSHOTS / "course-390.png"))
    page.get_by_role("link", name="Your progress").click()

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{embedded_stack.url}/progress/basics/")
        expect(page.get_by_role("heading", name="Basics")).to_be_visible()
        expect(page.get_by_role("link", name="Continue")).to_be_visible()
        no_sideways_scroll(page, width)
        page.screenshot(path=str(SCREENSHOTS / f"progress-{width}.png"), full_page=True)

        page.get_by_role("link", name="Your 3 attempts on Greet someone").click()
        newest = page.locator("article.dd-attempt").first
        expect(newest.get_by_role("heading", name="Attempt 3")).to_be_visible()
        expect(newest.get_by_text("Hidden case 2: failed")).to_be_visible()
        newest.locator(".dd-changes > summary").click()
        expect(newest.locator("table.sbs ins").first).to_be_visible()
        expect(page.get_by_text("Zed")).to_have_count(0)
        expect(page.get_by_text("A rather long hidden case name")).to_have_count(0)
        no_sideways_scroll(page, width)
        page.screenshot(path=str(SCREENSHOTS / f"progress-exercise-{width}.png"), full_page=True)
    assert page.dialogs == []
