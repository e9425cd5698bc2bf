"""An instructor in real Chromium presses "Calibrate judge": a worker process grades the labelled
outputs with the scripted judge while the panel polls, and the report shows on the exercise."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons.models import JudgeCalibration
from tests.conftest import PASSWORD, make_user
from tests.lessons.test_calibrating import LABELLED, judged_exercise

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_instructor_calibrates_the_judge_and_reads_the_report(embedded_stack, page, tmp_path):
    instructor = make_user("instructor", is_staff=True)
    exercise = judged_exercise(labelled=[*LABELLED, {"output": "Sorry, <b>no</b>.", "met": False}])
    exercise.lesson.course.instructors.add(instructor)

    page.goto(f"{embedded_stack.url}/accounts/login/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{embedded_stack.url}/teach/exercises/{exercise.pk}/")
    page.get_by_role("link", name="Judge calibration").click()
    expect(page.get_by_text("Not calibrated yet.")).to_be_visible()

    page.get_by_role("button", name="Calibrate judge").click()
    panel = page.locator("#calibration-panel")
    expect(panel.locator("[data-accuracy]")).to_have_text("86%", timeout=30_000)
    expect(panel.locator("[data-false-pass]")).to_have_text("25%")
    panel.get_by_text("1 output the latest run misjudged").click()
    expect(panel.locator("pre")).to_have_text("Sorry, <b>no</b>.")
    expect(panel.get_by_role("button", name="Calibrate judge")).to_be_visible()
    row = JudgeCalibration.objects.get()
    assert (row.status, row.n, row.requested_by) == (JudgeCalibration.DONE, 7, instructor)
    assert page.dialogs == []
    page.screenshot(path=str(tmp_path / "calibration.png"), full_page=True)
