"""Issue 12's "done when", as a new instructor and two learners would do it, in real Chromium
on the real web server and worker: create a cohort, the learners join with its code and
submit, then the gradebook, the statistics with the chart, a drill-down with a diff, a
needs-review decision, an override in the audit trail, the queue and both CSVs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons.models import Cohort, Course
from tests.conftest import (
    JUDGED_RUBRIC,
    UNDECIDED_JUDGE_STUB,
    log_in,
    make_exercise,
    make_user,
)


def join_and_submit(page, url: str, code: str, prompts: list[str]) -> None:
    page.goto(f"{url}/join/")
    page.get_by_label("Join code").fill(code.lower())
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text("You joined Spring 2027")).to_be_visible()
    for prompt in prompts:
        page.goto(f"{url}/courses/basics/first/greet/")
        page.get_by_label("User prompt").fill(prompt)
        page.get_by_role("button", name="Submit").click()
        expect(page.locator("#result .score")).to_be_visible(timeout=20_000)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_instructor_reviews_two_learners_from_cohort_to_csv(embedded_stack, page):
    url = embedded_stack.url
    instructor = make_user("ines", is_staff=True)
    make_exercise(rubric=JUDGED_RUBRIC, stub=UNDECIDED_JUDGE_STUB, editable_fields=["user"])
    Course.objects.get(slug="basics").instructors.add(instructor)
    make_user("ana")
    make_user("ben")

    log_in(page, url, "ines")
    page.goto(f"{url}/teach/courses/basics/cohorts/new/")
    page.get_by_label("Cohort name").fill("Spring 2027")
    page.get_by_role("button", name="Create cohort").click()
    code = Cohort.objects.get(name="Spring 2027").join_code
    expect(page.get_by_text(f"{code[:4]}-{code[4:]}").first).to_be_visible()

    for username, prompts in [
        ("ana", ["Tell {name} a story.", "Please say hello to {name}."]),
        ("ben", ["Write to {name}."]),
    ]:
        learner = page.context.browser.new_context().new_page()
        log_in(learner, url, username)
        join_and_submit(learner, url, code, prompts)
        learner.context.close()

    cohort = Cohort.objects.get(name="Spring 2027")
    page.goto(f"{url}/teach/cohorts/{cohort.pk}/")
    table = page.locator("table")
    expect(table.get_by_text("ana", exact=True)).to_be_visible()
    expect(table.get_by_text("ben", exact=True)).to_be_visible()

    page.get_by_role("link", name="Greet someone").first.click()
    expect(page.get_by_role("img", name="Histogram of the best score")).to_be_visible()
    expect(page.get_by_role("heading", name="Failure groups")).to_be_visible()
    expect(page.get_by_role("heading", name="Pass rate per test case")).to_be_visible()

    page.goto(f"{url}/teach/cohorts/{cohort.pk}/")
    page.locator("tbody tr", has_text="ana").locator("td.gb-cell a").click()
    expect(page.get_by_text("Changes since attempt 1")).to_be_visible()
    decide = page.locator(".dd-decide, form[action$='/decide/']").first
    decide.get_by_label("Met", exact=True).check()
    decide.get_by_role("button", name="Save decision").click()
    expect(page.locator(".dd-audit").first).to_contain_text("friendly on Ada: met")

    page.goto(f"{url}/teach/cohorts/{cohort.pk}/")
    page.locator("tbody tr", has_text="ben").locator("td.gb-cell a").click()
    page.get_by_text("Override the score").first.click()
    page.get_by_label("Score (%)").first.fill("80")
    page.get_by_label("Reason").first.fill("Good effort, wrong greeting.")
    page.get_by_role("button", name="Set the score").first.click()
    expect(page.locator(".dd-audit").first).to_contain_text("score 0% → 80%")

    page.goto(f"{url}/teach/review/")
    expect(page.get_by_role("heading", name="ben · Greet someone").first).to_be_visible()

    for name in ("gradebook.csv", "attempts.csv"):
        response = page.request.get(f"{url}/teach/cohorts/{cohort.pk}/{name}")
        assert response.status == 200, name
        text = response.text()
        assert "ana" in text and "ben" in text, name
    assert (
        "Good effort, wrong greeting."
        in page.request.get(f"{url}/teach/cohorts/{cohort.pk}/attempts.csv").text()
    )
    assert page.dialogs == []
