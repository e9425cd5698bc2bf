"""GET and POST /teach/exercises/<id>/calibration/: the exercise's judge calibrations, newest
first, and the "Calibrate judge" button that runs one in the worker while the panel polls."""

from __future__ import annotations

from unittest.mock import Mock, patch

import pytest
from django.test import Client

from lessons.authoring import calibrating, jobs
from lessons.models import JudgeCalibration
from tests.conftest import HTMX, make_exercise
from tests.lessons.test_calibrating import LABELLED, judged_exercise

pytestmark = pytest.mark.django_db


def url(exercise) -> str:
    return f"/teach/exercises/{exercise.pk}/calibration/"


def test_the_instructor_sees_the_button_and_the_judge_criteria(ines_client):
    exercise = judged_exercise()
    r = ines_client.get(url(exercise))
    html = r.content.decode()
    assert r.status_code == 200
    assert "Calibrate judge</button>" in html
    assert 'data-criterion="polite"' in html and "Not calibrated yet." in html
    # 3 labels met (3 calls each), 3 not met: at most 6 × 3 calls, each asked twice.
    assert "Up to 36 judge calls, on your model budget." in html
    assert f'href="{url(exercise)}" aria-current="page">Judge calibration</a>' in html


def test_the_tab_shows_only_when_the_rubric_has_a_judge(ines_client):
    exercise = make_exercise()
    assert (
        "Judge calibration</a>"
        not in ines_client.get(f"/teach/exercises/{exercise.pk}/").content.decode()
    )
    html = ines_client.get(url(exercise)).content.decode()
    assert "no judge criterion" in html and "Calibrate judge</button>" not in html


def test_a_post_starts_one_calibration_per_judge_in_the_worker(
    ines_client, instructor, django_capture_on_commit_callbacks
):
    exercise = judged_exercise()
    with patch("lessons.authoring.views.calibrate_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            r = ines_client.post(url(exercise), headers=HTMX)
    row = JudgeCalibration.objects.get()
    delay.assert_called_once_with(row.pk)
    assert (row.status, row.requested_by, row.n) == (JudgeCalibration.QUEUED, instructor, 6)
    html = r.content.decode()
    assert f'hx-get="{url(exercise)}"' in html and 'hx-trigger="every 1s"' in html
    assert "Calibrating <code>polite</code>: 0 of 6 outputs judged" in html
    assert "Calibrate judge</button>" not in html


def test_without_htmx_a_post_redirects_to_the_page(ines_client):
    exercise = judged_exercise()
    with patch("lessons.authoring.views.calibrate_task.delay"):
        r = ines_client.post(url(exercise))
    assert (r.status_code, r["Location"]) == (302, url(exercise))


def test_the_panel_polls_until_the_worker_is_done_then_shows_the_figures(ines_client, instructor):
    exercise = judged_exercise()
    [row] = calibrating.create(exercise, instructor)
    assert ines_client.get(url(exercise), headers=HTMX).status_code == 200
    calibrating.run(row.pk, Mock())  # the worker
    r = ines_client.get(url(exercise), headers=HTMX)
    assert r.status_code == 286  # htmx: stop polling
    html = r.content.decode()
    assert (
        f'data-calibration="{row.pk}"' in html and '<span class="badge pass">current</span>' in html
    )
    assert '<td class="numeric" data-accuracy>100%</td>' in html
    assert '<td class="numeric" data-kappa>1.00</td>' in html
    assert '<td class="numeric" data-false-pass>0%</td>' in html
    assert "<td>ines</td>" in html


def test_misjudged_outputs_are_shown_escaped(ines_client):
    script = "<script>alert('sorry')</script> We are sorry."
    exercise = judged_exercise(labelled=[*LABELLED, {"output": script, "met": False}])
    calibrating.calibrate(exercise)
    html = ines_client.get(url(exercise)).content.decode()
    assert "1 output the latest run misjudged" in html
    assert "&lt;script&gt;alert(&#x27;sorry&#x27;)&lt;/script&gt; We are sorry." in html
    assert "<script>alert" not in html


def test_over_budget_it_refuses_and_starts_nothing(ines_client, settings):
    settings.DAILY_TOKEN_BUDGET = 0
    exercise = judged_exercise()
    with patch("lessons.authoring.views.calibrate_task.delay") as delay:
        r = ines_client.post(url(exercise), headers=HTMX)
    assert "Not calibrated: You have used your 0 tokens" in r.content.decode()
    assert not JudgeCalibration.objects.exists()
    delay.assert_not_called()


def test_it_refuses_a_second_calibration_while_one_runs(ines_client, instructor):
    exercise = judged_exercise()
    calibrating.create(exercise, instructor)
    with patch("lessons.authoring.views.calibrate_task.delay") as delay:
        r = ines_client.post(url(exercise))
    assert r.status_code == 422
    assert "A calibration of this exercise is under way" in r.content.decode()
    assert JudgeCalibration.objects.count() == 1
    delay.assert_not_called()


def test_a_stalled_calibration_shows_as_stopped_and_does_not_block(
    ines_client, instructor, settings
):
    exercise = judged_exercise()
    [row] = calibrating.create(exercise, instructor)
    settings.ATTEMPT_LEASE_SECONDS = -1  # every running row is past its lease
    jobs.claim(JudgeCalibration, row.pk)  # its worker took it and died
    html = ines_client.get(url(exercise)).content.decode()
    assert "its worker did not finish" in html and "Calibrate judge</button>" in html


def test_learners_and_other_instructors_find_nothing(alice_client, client, other_instructor):
    exercise = judged_exercise()
    for as_client in (alice_client,):
        assert as_client.get(url(exercise)).status_code == 404
        assert as_client.post(url(exercise)).status_code == 404
    client.force_login(other_instructor)
    assert client.get(url(exercise)).status_code == 404
    assert client.post(url(exercise)).status_code == 404
    assert not JudgeCalibration.objects.exists()


def test_a_post_needs_a_csrf_token(instructor):
    exercise = judged_exercise()
    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    assert client.post(url(exercise)).status_code == 403
    assert not JudgeCalibration.objects.exists()
